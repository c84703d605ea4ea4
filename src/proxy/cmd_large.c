/* cmd_large.c -- the large-object protocol of libinfinicache: ICSET (chunks streamed to their
 * nodes), ICGET and ICGETCHUNKS (chunks streamed back), ICREPAIR (one chunk re-stored). */
#include <stdio.h>

#include "client.h"
#include "command.h"
#include "op.h"
#include "transport.h"
#include "server.h"

/* ICSET key size d p crc... chunk...: small enough to have arrived whole, or the rest of a big
 * one whose chunks big_icset has streamed. */
static cmd_status_t proc_icset(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl)
{
    if (op->kind == OP_ICSET) {
        op->all_args = 1;
        icset_check_done(op);
        return CMD_PENDING;
    }
    op->kind = OP_ICSET;
    icset_small(c, op, argc, argv, argl);
    return CMD_PENDING;
}

/* Each chunk of an ICSET goes to its node as it arrives; the first one places the object. */
static big_status_t big_icset(client_t *c, op_t *op, size_t len)
{
    if (op->kind == OP_SIMPLE) {
        if (c->cmd.argi < 5) return BIG_REFUSE_NOW; /* a big key or header field */
        op->kind = OP_ICSET;
        cmd_icset_begin(c, op); /* a bad header fails the op; its chunks are still drained */
    }
    cmd_icset_chunk(c, op, len);
    return BIG_TAKEN;
}

static cmd_status_t proc_icget(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    op->kind = OP_ICGET;
    cmd_icget(c, op);
    return CMD_PENDING;
}

static cmd_status_t proc_icgetchunks(client_t *c, op_t *op, int argc, const char **argv,
                                     const size_t *argl)
{
    op->kind = OP_ICGET;
    cmd_icgetchunks(c, op, argc, argv, argl);
    return CMD_PENDING;
}

/* ICREPAIR key version index crc chunk: the chunk, when big, was read into op->obj. */
static cmd_status_t proc_icrepair(client_t *c, op_t *op, int argc, const char **argv,
                                  const size_t *argl)
{
    (void)argc;
    objbuf_t *body = op->kind == OP_ICREPAIR ? op->obj : NULL;
    op->kind = OP_ICREPAIR;
    cmd_icrepair(c, op, argv, argl, body);
    return CMD_PENDING;
}

static big_status_t big_icrepair(client_t *c, op_t *op, size_t len)
{
    resp_cmd_t *cmd = &c->cmd;
    if (op->kind != OP_SIMPLE) return BIG_DRAIN;
    if (cmd->argi != 5 || cmd->nsmall != 5) return BIG_REFUSE_NOW;
    op->kind = OP_ICREPAIR;
    if (len > (size_t)c->srv->cfg.max_object_size || len > EC_MAX_CHUNK_SIZE ||
        !(op->obj = objbuf_new(len))) {
        snprintf(op->err, sizeof op->err, "ERR chunk too large");
        return BIG_REFUSE_NOW;
    }
    op_ref(op);
    relay_start(c->conn, RELAY_TO_MEMORY, NULL, op->obj->data, len, command_big_moved, op);
    return BIG_TAKEN;
}

/* clang-format off */
const command_t cmd_large_commands[] = {
    {"icset",       -6, 0, CMD_WRITE | CMD_STORE | CMD_LARGE_ARG | CMD_NO_MULTI, 1, 1, 1, proc_icset, big_icset},
    {"icget",       -2, 3, CMD_READONLY | CMD_STREAMS | CMD_NO_MULTI, 1, 1, 1, proc_icget, NULL},
    {"icgetchunks", -5, 4 + EC_MAX_CHUNKS, CMD_READONLY | CMD_STREAMS | CMD_NO_MULTI, 1, 1, 1, proc_icgetchunks,
     NULL},
    {"icrepair",     6, 0, CMD_WRITE | CMD_LARGE_ARG | CMD_NO_MULTI, 1, 1, 1, proc_icrepair, big_icrepair},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
