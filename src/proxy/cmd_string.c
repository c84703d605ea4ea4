/* cmd_string.c -- the string commands: GET, SET (with its options, and values read straight
 * into memory when they are large) and STRLEN. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "client.h"
#include "command.h"
#include "meta.h"
#include "op.h"
#include "transport.h"

/* Parses SET options (argv[3..]) into op. 0, or -1 with the error already in op->reply. */
static int parse_set_options(op_t *op, int argc, const char **argv, const size_t *argl)
{
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        size_t l = argl[i];
        int has_next = i + 1 < argc;
        int64_t v;
        if (arg_is(a, l, "NX"))
            op->nx = 1;
        else if (arg_is(a, l, "XX"))
            op->xx = 1;
        else if (arg_is(a, l, "KEEPTTL"))
            op->keepttl = 1;
        else if (arg_is(a, l, "GET")) {
            resp_add_error(&op->reply, "ERR SET with GET is not supported by this server");
            return -1;
        } else if ((arg_is(a, l, "EX") || arg_is(a, l, "PX") || arg_is(a, l, "EXAT") ||
                    arg_is(a, l, "PXAT")) &&
                   has_next) {
            if (op->expire_ms || resp_parse_i64(argv[i + 1], argl[i + 1], &v) < 0 || v <= 0 ||
                v > INT64_MAX / 1000) {
                resp_add_error(&op->reply, "ERR invalid expire time in 'set' command");
                return -1;
            }
            if (arg_is(a, l, "EX"))
                op->expire_ms = (int64_t)clock_wall_ms() + v * 1000;
            else if (arg_is(a, l, "PX"))
                op->expire_ms = (int64_t)clock_wall_ms() + v;
            else if (arg_is(a, l, "EXAT"))
                op->expire_ms = v * 1000;
            else
                op->expire_ms = v;
            i++;
        } else {
            resp_add_error(&op->reply, "ERR syntax error");
            return -1;
        }
    }
    if ((op->nx && op->xx) || (op->keepttl && op->expire_ms)) {
        resp_add_error(&op->reply, "ERR syntax error");
        return -1;
    }
    return 0;
}

static cmd_status_t proc_get(client_t *c, op_t *op, int argc, const char **argv,
                             const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    op->kind = OP_GET;
    cmd_get(c, op);
    return CMD_PENDING;
}

static int set_key(op_t *op, const char *key, size_t keylen)
{
    op->key = malloc(keylen + 1);
    if (!op->key) return -1;
    memcpy(op->key, key, keylen);
    op->keylen = keylen;
    return 0;
}

/* SET key value [options]. A value too big for the small-argument buffer was read into op->obj
 * by big_set: then argv is [SET, key, options...] and the options are shifted into place. */
static cmd_status_t proc_set(client_t *c, op_t *op, int argc, const char **argv,
                             const size_t *argl)
{
    if (op->kind == OP_SET) {
        const char *av[RESP_CMD_MAX_SMALL_ARGS + 1];
        size_t al[RESP_CMD_MAX_SMALL_ARGS + 1];
        av[0] = argv[0], al[0] = argl[0];
        av[1] = argv[1], al[1] = argl[1];
        av[2] = "", al[2] = 0;
        for (int i = 2; i < argc; i++) av[i + 1] = argv[i], al[i + 1] = argl[i];
        buf_clear(&op->reply);
        if (parse_set_options(op, argc + 1, av, al) < 0) return CMD_REPLIED;
        cmd_set(c, op);
        return CMD_PENDING;
    }
    if (parse_set_options(op, argc, argv, argl) < 0) return CMD_REPLIED;
    op->kind = OP_SET;
    if (set_key(op, argv[1], argl[1]) < 0) {
        resp_add_error(&op->reply, "ERR out of memory");
        return CMD_REPLIED;
    }
    if (set_prepare_value(op, argv[2], argl[2]) < 0) return CMD_REPLIED;
    cmd_set(c, op);
    return CMD_PENDING;
}

/* The value of SET key value, when it is big: read straight into the object's memory. Anything
 * else big in a SET is refused. */
static big_status_t big_set(client_t *c, op_t *op, size_t len)
{
    resp_cmd_t *cmd = &c->cmd;
    if (op->kind != OP_SIMPLE) return BIG_DRAIN; /* a second big argument */
    if (cmd->nsmall != 2 || cmd->argi != 2) return BIG_REFUSE_NOW;
    op->kind = OP_SET;
    if (set_key(op, cmd->argv[1], cmd->argl[1]) < 0 || set_prepare_value(op, NULL, len) < 0) {
        /* set_prepare_value put its error in the reply: it goes out now, through op->err */
        snprintf(op->err, sizeof op->err, "%.*s",
                 (int)(buf_len(&op->reply) > 3 ? buf_len(&op->reply) - 3 : 0),
                 buf_len(&op->reply) ? buf_head(&op->reply) + 1 : "");
        buf_clear(&op->reply);
        return BIG_REFUSE_NOW;
    }
    op_ref(op);
    relay_start(c->conn, RELAY_TO_MEMORY, NULL, op->obj->data, len, command_big_moved, op);
    return BIG_TAKEN;
}

static cmd_status_t proc_strlen(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    (void)argc;
    meta_t *m = meta_lookup(c->srv, argv[1], argl[1]);
    resp_add_int(&op->reply, m ? (int64_t)m->size : 0);
    return CMD_REPLIED;
}

/* clang-format off */
const command_t cmd_string_commands[] = {
    {"get",    2, 0, CMD_READONLY,                          1, 1, 1, proc_get,    NULL},
    {"set",   -3, 0, CMD_WRITE | CMD_STORE | CMD_LARGE_ARG, 1, 1, 1, proc_set,    big_set},
    {"strlen", 2, 0, CMD_READONLY | CMD_FAST,               1, 1, 1, proc_strlen, NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
