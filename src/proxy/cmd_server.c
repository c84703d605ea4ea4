/* cmd_server.c -- commands about the server rather than the data: PING, ECHO, INFO, DBSIZE,
 * QUIT, SELECT, TIME, WAIT, FLUSHALL and FLUSHDB. */
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>

#include "client.h"
#include "command.h"
#include "meta.h"
#include "op.h"
#include "server.h"

static cmd_status_t proc_ping(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    (void)c;
    if (argc == 2)
        resp_add_bulk(&op->reply, argv[1], argl[1]);
    else
        resp_add_simple(&op->reply, "PONG");
    return CMD_REPLIED;
}

static cmd_status_t proc_echo(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    (void)c, (void)argc;
    resp_add_bulk(&op->reply, argv[1], argl[1]);
    return CMD_REPLIED;
}

static cmd_status_t proc_info(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    info_select_t sel;
    info_select_parse(&sel, argc - 1, argv + 1, argl + 1);
    cmd_info(c, op, &sel);
    return CMD_REPLIED;
}

static cmd_status_t proc_dbsize(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    resp_add_int(&op->reply, (int64_t)c->srv->meta.count);
    return CMD_REPLIED;
}

static cmd_status_t proc_quit(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    resp_add_simple(&op->reply, "OK");
    c->quit_after_reply = 1;
    return CMD_REPLIED;
}

static cmd_status_t proc_select(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    (void)c, (void)argc;
    int64_t db;
    if (resp_parse_i64(argv[1], argl[1], &db) < 0 || db < INT32_MIN || db > INT32_MAX)
        resp_add_error(&op->reply, "ERR value is not an integer or out of range");
    else if (db != 0) /* the proxy has one database, as a Redis cluster node does */
        resp_add_error(&op->reply, "ERR DB index is out of range");
    else
        resp_add_simple(&op->reply, "OK");
    return CMD_REPLIED;
}

/* TIME: seconds and microseconds of the wall clock, as two bulk strings. */
static cmd_status_t proc_time(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    (void)c, (void)argc, (void)argv, (void)argl;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    resp_add_array_header(&op->reply, 2);
    resp_add_bulk_u64(&op->reply, (uint64_t)tv.tv_sec);
    resp_add_bulk_u64(&op->reply, (uint64_t)tv.tv_usec);
    return CMD_REPLIED;
}

/* WAIT numreplicas timeout: the proxy has no replicas (durability comes from erasure coding over
 * the nodes, done before a write is answered), so no replica ever acknowledges: 0 at once. */
static cmd_status_t proc_wait(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    (void)c, (void)argc;
    int64_t replicas, timeout;
    if (resp_parse_i64(argv[1], argl[1], &replicas) < 0)
        resp_add_error(&op->reply, "ERR value is not an integer or out of range");
    else if (resp_parse_i64(argv[2], argl[2], &timeout) < 0)
        resp_add_error(&op->reply, "ERR timeout is not an integer or out of range");
    else if (timeout < 0)
        resp_add_error(&op->reply, "ERR timeout is negative");
    else
        resp_add_int(&op->reply, 0);
    return CMD_REPLIED;
}

/* FLUSHALL / FLUSHDB [ASYNC|SYNC]: DEL of every key, answered once the nodes hold the
 * tombstones. ASYNC waits as SYNC does: answering before the nodes have them would let a proxy
 * restart in between bring the keys back. Any other argument is Redis's syntax error. */
static cmd_status_t proc_flush(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl)
{
    if (argc > 2 ||
        (argc == 2 && !arg_is(argv[1], argl[1], "ASYNC") && !arg_is(argv[1], argl[1], "SYNC"))) {
        resp_add_error(&op->reply, "ERR syntax error");
        return CMD_REPLIED;
    }
    cmd_flush(c, op);
    return CMD_PENDING;
}

/* clang-format off */
const command_t cmd_server_commands[] = {
    {"ping",     -1, 2, CMD_FAST,             0, 0, 0, proc_ping,   NULL},
    {"echo",      2, 0, CMD_FAST,             0, 0, 0, proc_echo,   NULL},
    {"info",     -1, 0, CMD_ADMIN,            0, 0, 0, proc_info,   NULL},
    {"dbsize",    1, 0, CMD_READONLY | CMD_FAST, 0, 0, 0, proc_dbsize, NULL},
    {"quit",     -1, 0, CMD_NO_AUTH | CMD_FAST, 0, 0, 0, proc_quit,   NULL},
    {"select",    2, 0, CMD_FAST,             0, 0, 0, proc_select, NULL},
    {"time",      1, 0, CMD_FAST,             0, 0, 0, proc_time,   NULL},
    {"wait",      3, 0, 0,                    0, 0, 0, proc_wait,   NULL},
    {"flushall", -1, 0, CMD_WRITE | CMD_ALL_KEYS, 0, 0, 0, proc_flush, NULL},
    {"flushdb",  -1, 0, CMD_WRITE | CMD_ALL_KEYS, 0, 0, 0, proc_flush, NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
