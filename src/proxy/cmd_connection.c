/* cmd_connection.c -- commands about the client's own connection: AUTH, HELLO and CLIENT. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "command.h"
#include "op.h"
#include "log.h"
#include "server.h"

/* A refused AUTH: counted, and logged at most once a second (a password guesser must not flood
 * the log). The user name comes from the client: it is cut and cleaned; the password never
 * appears. */
static void auth_failed(client_t *c, const char *user, size_t userlen)
{
    static uint64_t last_log_ms;
    static uint64_t suppressed;
    c->srv->stats.auth_failures++;
    uint64_t now = ev_now_ms();
    if (last_log_ms && now - last_log_ms < 1000) {
        suppressed++;
        return;
    }
    char name[AUTH_NAME_MAX + 1];
    size_t n = userlen < AUTH_NAME_MAX ? userlen : AUTH_NAME_MAX;
    for (size_t i = 0; i < n; i++)
        name[i] = user[i] > ' ' && user[i] <= '~' && user[i] != '"' ? user[i] : '?';
    name[n] = 0;
    log_warn("event=auth_failed client=%" PRIu64 " user=\"%s\" suppressed=%" PRIu64, c->id, name,
             suppressed);
    last_log_ms = now;
    suppressed = 0;
}

/* Authenticates c as user/pass. 0, or -1 with the WRONGPASS error in the reply. A failure leaves
 * an earlier authentication in place, as on Redis. */
static int auth_as(client_t *c, op_t *op, const char *user, size_t userlen, const char *pass,
                   size_t passlen)
{
    const auth_user_t *u = auth_check(&c->srv->auth, user, userlen, pass, passlen);
    if (!u) {
        auth_failed(c, user, userlen);
        resp_add_error(&op->reply, "WRONGPASS invalid username-password pair or user is disabled.");
        return -1;
    }
    c->user = u;
    return 0;
}

static cmd_status_t proc_auth(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    if (argc > 3) {
        resp_add_error(&op->reply, "ERR syntax error");
        return CMD_REPLIED;
    }
    if (argc == 2) {
        if (auth_default_nopass(&c->srv->auth)) {
            resp_add_error(&op->reply, "ERR AUTH <password> called without any password "
                                       "configured for the default user. Are you sure your "
                                       "configuration is correct?");
            return CMD_REPLIED;
        }
        if (auth_as(c, op, "default", 7, argv[1], argl[1]) == 0) resp_add_simple(&op->reply, "OK");
        return CMD_REPLIED;
    }
    if (auth_as(c, op, argv[1], argl[1], argv[2], argl[2]) == 0) resp_add_simple(&op->reply, "OK");
    return CMD_REPLIED;
}

/* HELLO [protover [AUTH user pass] [SETNAME name]]: options are checked, then AUTH, then the
 * client must be authenticated (as Redis orders them). */
static cmd_status_t proc_hello(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl)
{
    int64_t proto = 2;
    if (argc >= 2 && (resp_parse_i64(argv[1], argl[1], &proto) < 0 || proto != 2)) {
        resp_add_error(&op->reply, "NOPROTO this server supports RESP2 only");
        return CMD_REPLIED;
    }
    int auth_at = 0, name_at = 0;
    for (int i = 2; i < argc; i++) {
        int left = argc - i - 1;
        if (arg_is(argv[i], argl[i], "AUTH") && left >= 2) {
            auth_at = i;
            i += 2;
        } else if (arg_is(argv[i], argl[i], "SETNAME") && left >= 1) {
            name_at = i;
            i++;
        } else {
            resp_add_error(&op->reply, "ERR Syntax error in HELLO option '%.*s'",
                           (int)(argl[i] < 64 ? argl[i] : 64), argv[i]);
            return CMD_REPLIED;
        }
    }
    if (auth_at && auth_as(c, op, argv[auth_at + 1], argl[auth_at + 1], argv[auth_at + 2],
                           argl[auth_at + 2]) < 0)
        return CMD_REPLIED;
    if (!c->user) {
        resp_add_error(&op->reply,
                       "NOAUTH HELLO must be called with the client already authenticated, "
                       "otherwise the HELLO AUTH <user> <pass> option can be used to authenticate "
                       "the client and select the RESP protocol version at the same time");
        return CMD_REPLIED;
    }
    if (name_at)
        snprintf(c->name, sizeof c->name, "%.*s", (int)argl[name_at + 1], argv[name_at + 1]);
    buf_t *b = &op->reply;
    resp_add_array_header(b, 14);
    resp_add_bulk(b, "server", 6);
    resp_add_bulk(b, "infinicache", 11);
    resp_add_bulk(b, "version", 7);
    resp_add_bulk(b, "7.0.0", 5);
    resp_add_bulk(b, "proto", 5);
    resp_add_int(b, 2);
    resp_add_bulk(b, "id", 2);
    resp_add_int(b, (int64_t)c->id);
    resp_add_bulk(b, "mode", 4);
    resp_add_bulk(b, "standalone", 10);
    resp_add_bulk(b, "role", 4);
    resp_add_bulk(b, "master", 6);
    resp_add_bulk(b, "modules", 7);
    resp_add_array_header(b, 0);
    return CMD_REPLIED;
}

static cmd_status_t proc_client(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    buf_t *b = &op->reply;
    if (argc >= 3 && arg_is(argv[1], argl[1], "SETNAME")) {
        snprintf(c->name, sizeof c->name, "%.*s", (int)argl[2], argv[2]);
        resp_add_simple(b, "OK");
    } else if (argc == 2 && arg_is(argv[1], argl[1], "GETNAME")) {
        if (c->name[0])
            resp_add_bulk(b, c->name, strlen(c->name));
        else
            resp_add_null(b);
    } else if (argc == 2 && arg_is(argv[1], argl[1], "ID")) {
        resp_add_int(b, (int64_t)c->id);
    } else if (argc >= 2 && arg_is(argv[1], argl[1], "SETINFO")) {
        resp_add_simple(b, "OK");
    } else if (argc == 2 &&
               (arg_is(argv[1], argl[1], "INFO") || arg_is(argv[1], argl[1], "LIST"))) {
        char line[256];
        int n = snprintf(line, sizeof line, "id=%" PRIu64 " name=%s age=%" PRIu64 " cmd=client\n",
                         c->id, c->name, (ev_now_ms() - c->created_ms) / 1000);
        resp_add_bulk(b, line, (size_t)n);
    } else {
        resp_add_error(b, "ERR unknown subcommand or wrong number of arguments for 'CLIENT'");
    }
    return CMD_REPLIED;
}

/* clang-format off */
const command_t cmd_connection_commands[] = {
    {"auth",   -2, 0, CMD_NO_AUTH | CMD_FAST, 0, 0, 0, proc_auth,   NULL},
    {"hello",  -1, 0, CMD_NO_AUTH | CMD_FAST, 0, 0, 0, proc_hello,  NULL},
    {"client", -2, 0, CMD_ADMIN,              0, 0, 0, proc_client, NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
