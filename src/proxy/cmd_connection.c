/* cmd_connection.c -- commands about the client's own connection: AUTH, HELLO, RESET and
 * CLIENT. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "client.h"
#include "command.h"
#include "op.h"
#include "log.h"
#include "server.h"
#include "tx.h"

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

/* Redis's rule for client names (and library names): printable ASCII without spaces, so that
 * CLIENT LIST can be split on spaces. The empty name clears it. */
static int name_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '!' || p[i] > '~') return 0;
    return 1;
}

/* Sets the name, or answers Redis's error and returns -1. */
static int set_name(client_t *c, op_t *op, const char *p, size_t n)
{
    if (!name_ok(p, n)) {
        resp_add_error(&op->reply,
                       "ERR Client names cannot contain spaces, newlines or special characters.");
        return -1;
    }
    if (n >= sizeof c->name) {
        resp_add_error(&op->reply, "ERR Client names are limited to %zu bytes", sizeof c->name - 1);
        return -1;
    }
    memcpy(c->name, p, n);
    c->name[n] = 0;
    return 0;
}

/* HELLO [protover [AUTH user pass] [SETNAME name]]: the version is checked, then the options,
 * then AUTH, then the client must be authenticated (as Redis 7 orders them). The reply is
 * already in the new protocol. */
static cmd_status_t proc_hello(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl)
{
    int64_t proto = 0;
    if (argc >= 2) {
        if (resp_parse_i64(argv[1], argl[1], &proto) < 0) {
            resp_add_error(&op->reply, "ERR Protocol version is not an integer or out of range");
            return CMD_REPLIED;
        }
        if (proto < 2 || proto > 3) {
            resp_add_error(&op->reply, "NOPROTO unsupported protocol version");
            return CMD_REPLIED;
        }
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
    if (name_at && set_name(c, op, argv[name_at + 1], argl[name_at + 1]) < 0) return CMD_REPLIED;
    if (proto) c->resp = (int)proto;
    buf_t *b = &op->reply;
    b->resp_proto = (uint8_t)c->resp;
    resp_add_map_header(b, 7);
    resp_add_cstr(b, "server");
    resp_add_cstr(b, "redis");
    resp_add_cstr(b, "version");
    resp_add_cstr(b, IC_REDIS_VERSION);
    resp_add_cstr(b, "proto");
    resp_add_int(b, c->resp);
    resp_add_cstr(b, "id");
    resp_add_int(b, (int64_t)c->id);
    resp_add_cstr(b, "mode");
    resp_add_cstr(b, "standalone");
    resp_add_cstr(b, "role");
    resp_add_cstr(b, "master");
    resp_add_cstr(b, "modules");
    resp_add_array_header(b, 0);
    return CMD_REPLIED;
}

/* RESET: the connection as it was when it opened (RESP2, no name, out of MONITOR, the default
 * user's rights: a server with a password asks for AUTH again). */
static cmd_status_t proc_reset(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    c->resp = 2;
    op->reply.resp_proto = 2;
    c->name[0] = 0;
    c->lib_name[0] = c->lib_ver[0] = 0;
    c->no_evict = 0;
    c->monitor = 0;
    tx_reset(c); /* out of MULTI, nothing watched */
    c->asking = c->readonly = 0;
    c->user = auth_initial_user(&c->srv->auth);
    resp_add_simple(&op->reply, "RESET");
    return CMD_REPLIED;
}

/* "ip:port" of a socket's peer or local end, as Redis formats it ("[ip6]:port"). */
static void format_addr(int fd, int local, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    int rc = local ? getsockname(fd, (struct sockaddr *)&ss, &len)
                   : getpeername(fd, (struct sockaddr *)&ss, &len);
    if (rc == 0 && ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
    } else if (rc == 0 && ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(out, outlen, "[%s]:%d", host, port);
        return;
    }
    snprintf(out, outlen, "%s:%d", host, port);
}

void client_peer_addr(const client_t *c, char *out, size_t cap)
{
    format_addr(c->conn->fd, 0, out, cap);
}

/* One line of CLIENT LIST / CLIENT INFO with Redis 7's fields in Redis's order. Fields about
 * features the proxy does not have (pub/sub, replication) hold Redis's idle values. */
static void describe_client(buf_t *b, const client_t *c)
{
    const conn_t *conn = c->conn;
    char addr[INET6_ADDRSTRLEN + 16], laddr[INET6_ADDRSTRLEN + 16];
    format_addr(conn->fd, 0, addr, sizeof addr);
    format_addr(conn->fd, 1, laddr, sizeof laddr);
    uint64_t now = ev_now_ms();
    uint64_t last = conn->last_rx_ms > c->created_ms ? conn->last_rx_ms : c->created_ms;
    int multi, flag_x, flag_d;
    size_t multi_mem;
    tx_describe(c, &multi, &flag_x, &flag_d, &multi_mem);
    char flags[8];
    snprintf(flags, sizeof flags, "%s%s%s", flag_x ? "x" : "", flag_d ? "d" : "",
             c->no_evict ? "e" : "");
    if (!flags[0]) snprintf(flags, sizeof flags, "N");
    size_t qbuf = buf_len(&conn->in), qfree = conn->in.cap - conn->in.end;
    size_t argv_mem = buf_len(&c->cmd.store);
    buf_printf(
        b,
        "id=%" PRIu64 " addr=%s laddr=%s fd=%d name=%s age=%" PRIu64 " idle=%" PRIu64
        " flags=%s db=0 sub=0 psub=0 ssub=0 multi=%d qbuf=%zu qbuf-free=%zu argv-mem=%zu"
        " multi-mem=%zu rbs=%zu rbp=%zu obl=0 oll=%d omem=%zu tot-mem=%zu events=%s cmd=%s user=%s"
        " redir=-1 resp=%d lib-name=%s lib-ver=%s\n",
        c->id, addr, laddr, conn->fd, c->name, (now - c->created_ms) / 1000, (now - last) / 1000,
        flags, multi, qbuf, qfree, argv_mem, multi_mem, conn->in.cap, conn->in.cap, c->nops, conn->out_bytes,
        sizeof *c + conn->in.cap + c->cmd.store.cap + conn->out_bytes, conn->out_bytes ? "rw" : "r",
        c->last_cmd[0] ? c->last_cmd : "NULL", c->user ? c->user->name : "default", c->resp,
        c->lib_name, c->lib_ver);
}

/* Parses a CLIENT id argument (a positive integer). */
static int parse_client_id(const char *a, size_t l, uint64_t *out)
{
    int64_t v;
    if (resp_parse_i64(a, l, &v) < 0 || v < 1) return -1;
    *out = (uint64_t)v;
    return 0;
}

static void client_list(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    buf_t text;
    buf_init(&text);
    uint64_t ids[64];
    int nids = 0, none = 0;
    for (int i = 2; i < argc; i++) {
        if (arg_is(argv[i], argl[i], "TYPE") && i + 1 < argc) {
            i++;
            if (arg_is(argv[i], argl[i], "normal")) continue;
            if (arg_is(argv[i], argl[i], "master") || arg_is(argv[i], argl[i], "replica") ||
                arg_is(argv[i], argl[i], "slave") || arg_is(argv[i], argl[i], "pubsub")) {
                none = 1; /* the proxy has no such clients */
                continue;
            }
            resp_add_error(&op->reply, "ERR Unknown client type '%.*s'",
                           (int)(argl[i] < 64 ? argl[i] : 64), argv[i]);
            return;
        } else if (arg_is(argv[i], argl[i], "ID") && i + 1 < argc) {
            for (i++; i < argc; i++) {
                if (parse_client_id(argv[i], argl[i], &ids[nids]) < 0) {
                    resp_add_error(&op->reply, "ERR Invalid client ID");
                    return;
                }
                if (nids < (int)(sizeof ids / sizeof *ids) - 1) nids++;
            }
            if (!nids) none = 1;
        } else {
            resp_add_error(&op->reply, "ERR syntax error");
            return;
        }
    }
    /* Redis lists the newest client last: the list here is newest first. */
    const client_t *tail = c->srv->clients;
    while (tail && tail->next)
        tail = tail->next;
    for (const client_t *o = tail; o && !none; o = o->prev) {
        int want = nids == 0;
        for (int k = 0; k < nids && !want; k++)
            want = ids[k] == o->id;
        if (want) describe_client(&text, o);
    }
    resp_add_verbatim(&op->reply, "txt", buf_head(&text), buf_len(&text));
    buf_free(&text);
}

/* CLIENT KILL addr:port (the old form: OK or "No such client"), or CLIENT KILL with filters
 * ID, ADDR, LADDR, USER, SKIPME, TYPE (the count of clients killed). A client that kills itself
 * gets its reply first. */
static void client_kill(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    const char *addr = NULL, *laddr = NULL, *user = NULL;
    size_t addrl = 0, laddrl = 0, userl = 0;
    uint64_t id = 0;
    int skipme = 1, old_form = argc == 3, none = 0;
    if (old_form) {
        addr = argv[2], addrl = argl[2];
        skipme = 0;
    } else if (argc < 3) {
        resp_add_error(&op->reply, "ERR wrong number of arguments for 'client|kill' command");
        return;
    } else {
        for (int i = 2; i < argc; i += 2) {
            if (i + 1 >= argc) {
                resp_add_error(&op->reply, "ERR syntax error");
                return;
            }
            const char *v = argv[i + 1];
            size_t vl = argl[i + 1];
            if (arg_is(argv[i], argl[i], "ID")) {
                if (parse_client_id(v, vl, &id) < 0) {
                    resp_add_error(&op->reply, "ERR client-id should be greater than 0");
                    return;
                }
            } else if (arg_is(argv[i], argl[i], "TYPE")) {
                if (arg_is(v, vl, "master") || arg_is(v, vl, "replica") || arg_is(v, vl, "slave") ||
                    arg_is(v, vl, "pubsub"))
                    none = 1;
                else if (!arg_is(v, vl, "normal")) {
                    resp_add_error(&op->reply, "ERR Unknown client type '%.*s'",
                                   (int)(vl < 64 ? vl : 64), v);
                    return;
                }
            } else if (arg_is(argv[i], argl[i], "ADDR")) {
                addr = v, addrl = vl;
            } else if (arg_is(argv[i], argl[i], "LADDR")) {
                laddr = v, laddrl = vl;
            } else if (arg_is(argv[i], argl[i], "USER")) {
                int known = 0;
                for (int u = 0; u < c->srv->auth.nusers && !known; u++)
                    known = strlen(c->srv->auth.users[u].name) == vl &&
                            memcmp(c->srv->auth.users[u].name, v, vl) == 0;
                if (!known) {
                    resp_add_error(&op->reply, "ERR No such user '%.*s'", (int)(vl < 64 ? vl : 64),
                                   v);
                    return;
                }
                user = v, userl = vl;
            } else if (arg_is(argv[i], argl[i], "SKIPME")) {
                if (arg_is(v, vl, "yes"))
                    skipme = 1;
                else if (arg_is(v, vl, "no"))
                    skipme = 0;
                else {
                    resp_add_error(&op->reply, "ERR syntax error");
                    return;
                }
            } else {
                resp_add_error(&op->reply, "ERR syntax error");
                return;
            }
        }
    }
    int64_t killed = 0;
    for (client_t *o = c->srv->clients, *next; o && !none; o = next) {
        next = o->next;
        char a[INET6_ADDRSTRLEN + 16];
        if (id && o->id != id) continue;
        if (addr) {
            format_addr(o->conn->fd, 0, a, sizeof a);
            if (strlen(a) != addrl || memcmp(a, addr, addrl) != 0) continue;
        }
        if (laddr) {
            format_addr(o->conn->fd, 1, a, sizeof a);
            if (strlen(a) != laddrl || memcmp(a, laddr, laddrl) != 0) continue;
        }
        const char *un = o->user ? o->user->name : "default";
        if (user && (strlen(un) != userl || memcmp(un, user, userl) != 0)) continue;
        if (o == c && skipme) continue;
        killed++;
        if (o == c)
            c->quit_after_reply = 1; /* closed once this reply is out */
        else
            client_conn_failed(o->conn, "killed");
    }
    if (!old_form)
        resp_add_int(&op->reply, killed);
    else if (killed)
        resp_add_simple(&op->reply, "OK");
    else
        resp_add_error(&op->reply, "ERR No such client");
}

/* CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2): what CLIENT LIST reports. */
static void client_setinfo(client_t *c, op_t *op, const char **argv, const size_t *argl)
{
    int is_name = arg_is(argv[2], argl[2], "LIB-NAME");
    if (!is_name && !arg_is(argv[2], argl[2], "LIB-VER")) {
        resp_add_error(&op->reply, "ERR Unrecognized option '%.*s'",
                       (int)(argl[2] < 64 ? argl[2] : 64), argv[2]);
        return;
    }
    if (!name_ok(argv[3], argl[3])) {
        resp_add_error(&op->reply, "ERR %s cannot contain spaces, newlines or special characters.",
                       is_name ? "lib-name" : "lib-ver");
        return;
    }
    char *dst = is_name ? c->lib_name : c->lib_ver;
    size_t cap = is_name ? sizeof c->lib_name : sizeof c->lib_ver;
    snprintf(dst, cap, "%.*s", (int)argl[3], argv[3]);
    resp_add_simple(&op->reply, "OK");
}

/* CLIENT subcommands, each with its own arity as Redis 7 declares it ("client|setname"). */
static cmd_status_t proc_client(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    static const struct {
        const char *name;
        int arity;
    } subs[] = {{"id", 2},      {"info", 2},     {"list", -2},   {"kill", -3}, {"setname", 3},
                {"getname", 2}, {"no-evict", 3}, {"setinfo", 4}, {"help", 2}};
    buf_t *b = &op->reply;
    int sub = -1;
    for (size_t i = 0; i < sizeof subs / sizeof *subs && sub < 0; i++)
        if (arg_is(argv[1], argl[1], subs[i].name)) sub = (int)i;
    if (sub < 0) {
        resp_add_error(b, "ERR unknown subcommand '%.*s'. Try CLIENT HELP.",
                       (int)(argl[1] < 64 ? argl[1] : 64), argv[1]);
        return CMD_REPLIED;
    }
    int arity = subs[sub].arity;
    if (arity >= 0 ? argc != arity : argc < -arity) {
        resp_add_error(b, "ERR wrong number of arguments for 'client|%s' command", subs[sub].name);
        return CMD_REPLIED;
    }
    const char *name = subs[sub].name;
    if (!strcmp(name, "id")) {
        resp_add_int(b, (int64_t)c->id);
    } else if (!strcmp(name, "info")) {
        buf_t text;
        buf_init(&text);
        describe_client(&text, c);
        resp_add_verbatim(b, "txt", buf_head(&text), buf_len(&text));
        buf_free(&text);
    } else if (!strcmp(name, "list")) {
        client_list(c, op, argc, argv, argl);
    } else if (!strcmp(name, "kill")) {
        client_kill(c, op, argc, argv, argl);
    } else if (!strcmp(name, "setname")) {
        if (set_name(c, op, argv[2], argl[2]) == 0) resp_add_simple(b, "OK");
    } else if (!strcmp(name, "getname")) {
        if (c->name[0])
            resp_add_cstr(b, c->name);
        else
            resp_add_null(b);
    } else if (!strcmp(name, "no-evict")) {
        if (arg_is(argv[2], argl[2], "on") || arg_is(argv[2], argl[2], "off")) {
            c->no_evict = arg_is(argv[2], argl[2], "on");
            resp_add_simple(b, "OK");
        } else {
            resp_add_error(b, "ERR syntax error");
        }
    } else if (!strcmp(name, "setinfo")) {
        client_setinfo(c, op, argv, argl);
    } else {
        static const char *const help[] = {
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are: ID, ADDR, LADDR, USER, SKIPME, TYPE.",
            "LIST [options ...]",
            "    Return information about client connections.",
            "NO-EVICT (ON|OFF)",
            "    Accepted; the proxy does not evict clients.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <LIB-NAME|LIB-VER> <value>",
            "    Set client meta attributes.",
            "HELP",
            "    Print this help."};
        command_add_help(b, help, sizeof help / sizeof *help);
    }
    return CMD_REPLIED;
}

/* clang-format off */
const command_t cmd_connection_commands[] = {
    {"auth",   -2, 0, CMD_NO_AUTH | CMD_FAST, 0, 0, 0, proc_auth,   NULL},
    {"hello",  -1, 0, CMD_NO_AUTH | CMD_FAST, 0, 0, 0, proc_hello,  NULL},
    {"client", -2, 0, CMD_ADMIN,              0, 0, 0, proc_client, NULL},
    {"reset",   1, 0, CMD_NO_AUTH | CMD_FAST, 0, 0, 0, proc_reset,  NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
