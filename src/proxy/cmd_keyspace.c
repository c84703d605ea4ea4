/* cmd_keyspace.c -- commands on keys whatever their values: DEL (UNLINK, ICDEL), EXISTS, TTL and
 * PTTL. */
#include "clock.h"
#include "client.h"
#include "command.h"
#include "meta.h"
#include "op.h"

static cmd_status_t proc_del(client_t *c, op_t *op, int argc, const char **argv,
                             const size_t *argl)
{
    cmd_del(c, op, argc, argv, argl); /* answers once its deletes are done */
    return CMD_PENDING;
}

static cmd_status_t proc_exists(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    int64_t n = 0;
    for (int i = 1; i < argc; i++)
        if (meta_lookup(c->srv, argv[i], argl[i])) n++;
    resp_add_int(&op->reply, n);
    return CMD_REPLIED;
}

/* The time to live in ms, rounded to seconds when in_seconds; -2 without the key, -1 without an
 * expiry (Redis's answers). */
static void reply_ttl(client_t *c, op_t *op, const char *key, size_t keylen, int in_seconds)
{
    meta_t *m = meta_lookup(c->srv, key, keylen);
    if (!m) {
        resp_add_int(&op->reply, -2);
    } else if (!m->expire_ms) {
        resp_add_int(&op->reply, -1);
    } else {
        int64_t left = (int64_t)(m->expire_ms - clock_wall_ms());
        if (left < 0) left = 0;
        resp_add_int(&op->reply, in_seconds ? (left + 500) / 1000 : left);
    }
}

static cmd_status_t proc_ttl(client_t *c, op_t *op, int argc, const char **argv,
                             const size_t *argl)
{
    (void)argc;
    reply_ttl(c, op, argv[1], argl[1], 1);
    return CMD_REPLIED;
}

static cmd_status_t proc_pttl(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    (void)argc;
    reply_ttl(c, op, argv[1], argl[1], 0);
    return CMD_REPLIED;
}

/* clang-format off */
const command_t cmd_keyspace_commands[] = {
    {"del",    -2, 0, CMD_WRITE,               1, -1, 1, proc_del,    NULL},
    {"unlink", -2, 0, CMD_WRITE,               1, -1, 1, proc_del,    NULL},
    {"icdel",  -2, 0, CMD_WRITE,               1, -1, 1, proc_del,    NULL},
    {"exists", -2, 0, CMD_READONLY | CMD_FAST, 1, -1, 1, proc_exists, NULL},
    {"ttl",     2, 0, CMD_READONLY | CMD_FAST, 1, 1, 1,  proc_ttl,    NULL},
    {"pttl",    2, 0, CMD_READONLY | CMD_FAST, 1, 1, 1,  proc_pttl,   NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
