/* cmd_server.c -- commands about the server rather than the data: PING, ECHO, INFO, DBSIZE,
 * QUIT, SELECT, FLUSHALL and FLUSHDB. */
#include <stdio.h>

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
    char section[32] = "";
    if (argc == 2)
        snprintf(section, sizeof section, "%.*s", (int)(argl[1] < 31 ? argl[1] : 31), argv[1]);
    cmd_info(c, op, section);
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
    if (arg_is(argv[1], argl[1], "0"))
        resp_add_simple(&op->reply, "OK");
    else
        resp_add_error(&op->reply, "ERR DB index is out of range (this server has one database)");
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
    {"info",     -1, 2, CMD_ADMIN,            0, 0, 0, proc_info,   NULL},
    {"dbsize",    1, 0, CMD_READONLY | CMD_FAST, 0, 0, 0, proc_dbsize, NULL},
    {"quit",     -1, 0, CMD_NO_AUTH | CMD_FAST, 0, 0, 0, proc_quit,   NULL},
    {"select",    2, 0, CMD_FAST,             0, 0, 0, proc_select, NULL},
    {"flushall", -1, 0, CMD_WRITE,            0, 0, 0, proc_flush,  NULL},
    {"flushdb",  -1, 0, CMD_WRITE,            0, 0, 0, proc_flush,  NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
