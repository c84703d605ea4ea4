/* client.c -- client connections: RESP command reading, the in-order reply queue (pipelining),
 * dispatch, and the small Redis commands that need no node. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "clock.h"
#include "proxy.h"

#define CLIENT_READ_SIZE (256 * 1024)
#define CLIENT_READ_SMALL (16 * 1024)
#define SMALL_ARG_MAX (64 * 1024)
/* Before AUTH a client may send only small requests (Redis's limits for unauthenticated clients):
 * a stranger must not make the proxy allocate a value's worth of memory. */
#define UNAUTH_BULK_MAX (16 * 1024)
#define UNAUTH_ARGS_MAX 10
/* The codec's ceiling on a declared bulk: the largest max-object-size the option allows. A value
 * over the configured max-object-size is answered on its header and its body drained (handle_big);
 * only a length no configuration could accept is a protocol error that closes the connection. */
#define PROTO_BULK_MAX ((int64_t)64 << 30)

static void client_process(client_t *c);

/* ---- ops ---- */

/* Finished ops are recycled, reply buffers included: a small command costs no allocation. */
#define OP_POOL_MAX 1024
static op_t *op_pool;
static int op_pooled;

static op_t *op_new(client_t *c, op_kind_t kind)
{
    op_t *op;
    if (op_pool) {
        op = op_pool;
        op_pool = op->next;
        op_pooled--;
        buf_t reply = op->reply;
        memset(op, 0, sizeof *op);
        op->reply = reply;
    } else {
        op = calloc(1, sizeof *op);
        if (!op) return NULL;
        buf_init(&op->reply);
    }
    op->kind = kind;
    op->client = c;
    op->srv = c->srv;
    op->refs = 1; /* the client's queue */
    op->started_us = ev_now_us();
    op->next = NULL;
    if (c->ops_tail)
        c->ops_tail->next = op;
    else
        c->ops_head = op;
    c->ops_tail = op;
    c->nops++;
    return op;
}

op_t *op_ref(op_t *op)
{
    op->refs++;
    return op;
}

void op_unref(op_t *op)
{
    if (--op->refs > 0) return;
    /* Normally out of its index long before; never leave a recycled op findable there. */
    if (op->indexed) opindex_remove(op->indexed, op);
    ev_timer_cancel(op->srv->loop, op->timer);
    objbuf_unref(op->reply_ref);
    objbuf_unref(op->obj);
    free(op->meta);
    free(op->key);
    if (op_pooled < OP_POOL_MAX && op->reply.cap <= 4096) {
        buf_clear(&op->reply);
        op->next = op_pool;
        op_pool = op;
        op_pooled++;
        return;
    }
    buf_free(&op->reply);
    free(op);
}

/* Sends the replies of finished ops at the head of the queue, in order. */
static void flush_replies(client_t *c)
{
    conn_t *conn = c->conn;
    while (c->ops_head && c->ops_head->done) {
        op_t *op = c->ops_head;
        if (buf_len(&op->reply)) conn_write(conn, buf_head(&op->reply), buf_len(&op->reply));
        if (op->reply_ref) {
            conn_write_ref(conn, op->reply_ref, op->reply_ref->data, op->reply_ref_len);
            conn_write(conn, "\r\n", 2);
        }
        c->ops_head = op->next;
        if (!c->ops_head) c->ops_tail = NULL;
        c->nops--;
        op->client = NULL;
        op_unref(op);
        if (!c->ops_head) c->last_active_ms = ev_now_ms();
    }
    if (c->quit_after_reply && !c->ops_head) {
        conn_flush(conn);
        client_conn_failed(conn, "quit");
    }
}

op_t *op_new_background(server_t *srv, op_kind_t kind)
{
    op_t *op = calloc(1, sizeof *op);
    if (!op) return NULL;
    buf_init(&op->reply);
    op->kind = kind;
    op->srv = srv;
    op->refs = 1;
    op->started_us = ev_now_us();
    return op;
}

void client_on_op_done(op_t *op)
{
    int first = !op->done;
    op->done = 1;
    client_t *c = op->client;
    if (!c) {
        if (first && op->bg_done) op->bg_done(op);
        return;
    }
    /* A store that waited for this one may commit now. Only the first is retried here: its own
     * completion comes back through this function for the next, and the queue may change under
     * a loop that went on. */
    for (op_t *o = op->next; o; o = o->next) {
        if (o->commit_waiting && !client_key_busy(c, o, o->key, o->keylen)) {
            o->commit_waiting = 0;
            op_retry_commit(o);
            break;
        }
    }
    flush_replies(c);
    if (!c->conn->closing) client_resume_input(c);
}

/* ---- connection lifecycle ---- */

/* At most one line a second: a scanner must not flood the log. */
static void log_protected_refusal(server_t *srv, const struct sockaddr *peer)
{
    static uint64_t last_log_ms;
    uint64_t now = ev_now_ms();
    if (last_log_ms && now - last_log_ms < 1000) return;
    last_log_ms = now;
    char host[INET6_ADDRSTRLEN] = "?";
    if (peer->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, host, sizeof host);
    else if (peer->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, host, sizeof host);
    log_warn("event=protected_mode_refused peer=%s refused_total=%" PRIu64, host,
             srv->stats.auth_denied);
}

void client_accept(server_t *srv, int fd, struct tls_ctx *tls)
{
    if (srv->nclients >= srv->cfg.max_clients) {
        if (tls) { /* a plaintext error would only confuse a TLS client */
            close(fd);
            return;
        }
        const char msg[] = "-ERR max number of clients reached\r\n";
        ssize_t w = write(fd, msg, sizeof msg - 1);
        (void)w;
        close(fd);
        return;
    }
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0 ||
        auth_protected_refuses((int)srv->cfg.protected_mode, &srv->auth, srv->cfg.bind,
                               (struct sockaddr *)&peer)) {
        /* One short write into a fresh socket's empty buffer: it fits, or the peer is gone. A
         * TLS client would only see garbage before its handshake: it is just closed. */
        if (!tls) {
            ssize_t w = write(fd, AUTH_DENIED_REPLY, sizeof AUTH_DENIED_REPLY - 1);
            (void)w;
        }
        srv->stats.auth_denied++;
        log_protected_refusal(srv, (struct sockaddr *)&peer);
        close(fd);
        return;
    }
    client_t *c = calloc(1, sizeof *c);
    conn_t *conn = c ? conn_new(srv, fd, CONN_CLIENT, c) : NULL;
    if (!conn) {
        free(c);
        close(fd);
        return;
    }
    c->conn = conn;
    c->srv = srv;
    c->id = ++srv->next_client_id;
    c->created_ms = ev_now_ms();
    c->user = auth_initial_user(&srv->auth);
    resp_cmd_init(&c->cmd);
    c->next = srv->clients;
    if (srv->clients) srv->clients->prev = c;
    srv->clients = c;
    srv->nclients++;
    srv->stats.connections++;
    if (tls && conn_tls_accept(conn, tls) < 0) {
        client_conn_failed(conn, "out of memory");
        return;
    }
    conn_update_events(conn);
}

void client_conn_failed(conn_t *conn, const char *why)
{
    client_t *c = conn->owner;
    if (conn->closing) return;
    if (conn->rx_relay) relay_fail_source(conn->rx_relay);
    if (conn->tx_relay) relay_drop_sink(conn->tx_relay);
    conn->owner = NULL;
    if (c) {
        log_debug("event=client_closed id=%" PRIu64 " reason=\"%s\"", c->id, why);
        op_t *op = c->ops_head;
        while (op) {
            op_t *next = op->next;
            op->client = NULL;
            op_unref(op);
            op = next;
        }
        if (c->prev)
            c->prev->next = c->next;
        else
            c->srv->clients = c->next;
        if (c->next) c->next->prev = c->prev;
        c->srv->nclients--;
        resp_cmd_free(&c->cmd);
        c->ops_head = c->ops_tail = NULL;
        c->nops = 0;
        /* Callers up the stack may still look at c: it is freed with the connection. */
        conn->owner_to_free = c;
    }
    conn_close_async(conn);
}

/* Idle means nothing asked and nothing owed: no command in the queue (a client waiting for a slow
 * GET is not idle), no body moving, no output waiting for the client to read it. */
static void timeout_sweep(ev_loop_t *loop, void *arg)
{
    server_t *srv = arg;
    uint64_t now = ev_now_ms(), limit = (uint64_t)srv->cfg.timeout_s * 1000;
    for (client_t *c = srv->clients, *next; c; c = next) {
        next = c->next;
        conn_t *conn = c->conn;
        if (c->nops || c->reading || conn->rx_relay || conn->tx_relay || conn->out_head) continue;
        uint64_t last = conn->last_rx_ms > c->last_active_ms ? conn->last_rx_ms : c->last_active_ms;
        if (now - last <= limit) continue;
        srv->stats.idle_closed++;
        log_debug("event=client_idle_timeout id=%" PRIu64 " idle_ms=%" PRIu64, c->id, now - last);
        client_conn_failed(conn, "idle timeout");
    }
    ev_timer_add(loop, 1000, timeout_sweep, srv);
}

void client_start_timeout_sweep(server_t *srv)
{
    if (srv->cfg.timeout_s > 0) ev_timer_add(srv->loop, 1000, timeout_sweep, srv);
}

void client_close_all(server_t *srv)
{
    while (srv->clients)
        client_conn_failed(srv->clients->conn, "shutdown");
}

void client_io(ev_loop_t *loop, int fd, int events, void *arg)
{
    conn_t *conn = arg;
    events = conn_io_events(conn, events);
    if (events & EV_WRITE) {
        if (conn_flush(conn) < 0) {
            client_conn_failed(conn, "write failed");
            return;
        }
        if (conn->tx_relay) relay_pump(conn->tx_relay);
        /* The client took replies: reading may resume if that is what held it. */
        if (!conn->closing && conn->read_paused && conn->owner &&
            conn->out_bytes <= (size_t)conn->srv->cfg.client_output_limit)
            client_resume_input(conn->owner);
    }
    if (conn->closing) return;
    if ((events & EV_READ) && conn->owner) {
        if (conn->rx_relay) {
            relay_pump(conn->rx_relay);
        } else if (!conn->read_paused) {
            /* Reads start small and the small buffer is freed once drained, so an idle client
             * holds no input buffer; a client that fills it is streaming and keeps a big one. */
            size_t want = conn->in.cap > CLIENT_READ_SMALL ? CLIENT_READ_SIZE : CLIENT_READ_SMALL;
            ssize_t n = conn_read(conn, want);
            if (n == 0 || (n < 0 && n != -EAGAIN)) {
                client_conn_failed(conn, n == 0 ? "connection closed" : "read failed");
                return;
            }
            client_process(conn->owner);
            if (!conn->closing && !conn->rx_relay && conn->in.cap <= CLIENT_READ_SMALL)
                buf_shrink_if_empty(&conn->in, 0);
        }
    }
    if (!conn->closing) conn_update_events(conn);
}

void client_resume_input(client_t *c)
{
    if (c->conn->closing || c->processing) return; /* the running loop will get to it */
    client_process(c);
    if (!c->conn->closing) conn_update_events(c->conn);
}

/* ---- small commands ---- */

static int arg_is(const char *a, size_t l, const char *s)
{
    return strlen(s) == l && strncasecmp(a, s, l) == 0;
}

static void cmd_command(op_t *op, int argc, const char **argv, const size_t *argl, int ncommands)
{
    /* Enough for redis-cli: it asks for COMMAND DOCS to build hints and copes with none. */
    if (argc >= 2 && arg_is(argv[1], argl[1], "COUNT"))
        resp_add_int(&op->reply, ncommands);
    else
        resp_add_array_header(&op->reply, 0);
}

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

static void cmd_auth(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    if (argc > 3) {
        resp_add_error(&op->reply, "ERR syntax error");
        return;
    }
    if (argc == 2) {
        if (auth_default_nopass(&c->srv->auth)) {
            resp_add_error(&op->reply, "ERR AUTH <password> called without any password "
                                       "configured for the default user. Are you sure your "
                                       "configuration is correct?");
            return;
        }
        if (auth_as(c, op, "default", 7, argv[1], argl[1]) == 0) resp_add_simple(&op->reply, "OK");
        return;
    }
    if (auth_as(c, op, argv[1], argl[1], argv[2], argl[2]) == 0) resp_add_simple(&op->reply, "OK");
}

/* HELLO [protover [AUTH user pass] [SETNAME name]]: options are checked, then AUTH, then the
 * client must be authenticated (as Redis orders them). */
static void cmd_hello(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    int64_t proto = 2;
    if (argc >= 2 && (resp_parse_i64(argv[1], argl[1], &proto) < 0 || proto != 2)) {
        resp_add_error(&op->reply, "NOPROTO this server supports RESP2 only");
        return;
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
            return;
        }
    }
    if (auth_at && auth_as(c, op, argv[auth_at + 1], argl[auth_at + 1], argv[auth_at + 2],
                           argl[auth_at + 2]) < 0)
        return;
    if (!c->user) {
        resp_add_error(&op->reply,
                       "NOAUTH HELLO must be called with the client already authenticated, "
                       "otherwise the HELLO AUTH <user> <pass> option can be used to authenticate "
                       "the client and select the RESP protocol version at the same time");
        return;
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
}

static void cmd_client(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
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
}

static void cmd_exists_strlen_ttl(client_t *c, op_t *op, int which, int argc, const char **argv,
                                  const size_t *argl)
{
    server_t *srv = c->srv;
    if (which == 0) { /* EXISTS */
        int64_t n = 0;
        for (int i = 1; i < argc; i++)
            if (meta_lookup(srv, argv[i], argl[i])) n++;
        resp_add_int(&op->reply, n);
        return;
    }
    meta_t *m = meta_lookup(srv, argv[1], argl[1]);
    if (which == 1) { /* STRLEN */
        resp_add_int(&op->reply, m ? (int64_t)m->size : 0);
        return;
    }
    if (!m)
        resp_add_int(&op->reply, -2);
    else if (!m->expire_ms)
        resp_add_int(&op->reply, -1);
    else {
        int64_t left = (int64_t)(m->expire_ms - clock_wall_ms());
        if (left < 0) left = 0;
        resp_add_int(&op->reply, which == 2 ? (left + 500) / 1000 : left);
    }
}

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

/* ---- dispatch ---- */

typedef enum {
    CMD_GET,
    CMD_SET,
    CMD_DEL,
    CMD_EXISTS,
    CMD_STRLEN,
    CMD_TTL,
    CMD_PTTL,
    CMD_PING,
    CMD_ECHO,
    CMD_INFO,
    CMD_DBSIZE,
    CMD_QUIT,
    CMD_HELLO,
    CMD_CLIENT,
    CMD_COMMAND,
    CMD_SELECT,
    CMD_FLUSH,
    CMD_ICSET,
    CMD_ICGET,
    CMD_ICGETCHUNKS,
    CMD_ICREPAIR,
    CMD_AUTH,
} command_id_t;

/* Key positions drive ordering: a command waits for earlier unfinished writes of its keys
 * (arguments first_key..last_key; last_key -1 means to the end; 0 = no keys), except stores,
 * which start at once and commit in order (see store_check_done). */
typedef struct {
    const char *name;
    command_id_t id;
    int min_args; /* including the command name */
    int max_args; /* -1: any */
    int first_key, last_key;
    int store;
    int no_auth; /* allowed before the client has authenticated */
} command_spec_t;

/* clang-format off */
static const command_spec_t commands[] = {
    {"GET", CMD_GET, 2, 2, 1, 1, 0, 0},          {"SET", CMD_SET, 3, -1, 1, 1, 1, 0},
    {"DEL", CMD_DEL, 2, -1, 1, -1, 0, 0},        {"UNLINK", CMD_DEL, 2, -1, 1, -1, 0, 0},
    {"ICDEL", CMD_DEL, 2, -1, 1, -1, 0, 0},      {"EXISTS", CMD_EXISTS, 2, -1, 1, -1, 0, 0},
    {"STRLEN", CMD_STRLEN, 2, 2, 1, 1, 0, 0},    {"TTL", CMD_TTL, 2, 2, 1, 1, 0, 0},
    {"PTTL", CMD_PTTL, 2, 2, 1, 1, 0, 0},        {"PING", CMD_PING, 1, 2, 0, 0, 0, 0},
    {"ECHO", CMD_ECHO, 2, 2, 0, 0, 0, 0},        {"INFO", CMD_INFO, 1, 2, 0, 0, 0, 0},
    {"DBSIZE", CMD_DBSIZE, 1, 1, 0, 0, 0, 0},    {"QUIT", CMD_QUIT, 1, 1, 0, 0, 0, 1},
    {"HELLO", CMD_HELLO, 1, -1, 0, 0, 0, 1},  {"CLIENT", CMD_CLIENT, 2, -1, 0, 0, 0, 0},
    {"COMMAND", CMD_COMMAND, 1, -1, 0, 0, 0, 0}, {"SELECT", CMD_SELECT, 2, 2, 0, 0, 0, 0},
    {"FLUSHALL", CMD_FLUSH, 1, 2, 0, 0, 0, 0},   {"FLUSHDB", CMD_FLUSH, 1, 2, 0, 0, 0, 0},
    {"ICSET", CMD_ICSET, 6, -1, 1, 1, 1, 0},     {"ICGET", CMD_ICGET, 2, 3, 1, 1, 0, 0},
    {"ICREPAIR", CMD_ICREPAIR, 6, 6, 1, 1, 0, 0}, {"AUTH", CMD_AUTH, 2, -1, 0, 0, 0, 1},
    {"ICGETCHUNKS", CMD_ICGETCHUNKS, 5, 4 + EC_MAX_CHUNKS, 1, 1, 0, 0},
    {NULL, 0, 0, 0, 0, 0, 0, 0},
};
/* clang-format on */

static const command_spec_t *find_command(const char *name, size_t len)
{
    for (const command_spec_t *s = commands; s->name; s++)
        if (arg_is(name, len, s->name)) return s;
    return NULL;
}

static void unknown_command(op_t *op, int argc, const char **argv, const size_t *argl)
{
    char args[200] = "";
    size_t off = 0;
    for (int i = 1; i < argc && off < sizeof args - 40; i++)
        off += (size_t)snprintf(args + off, sizeof args - off, "'%.*s' ",
                                (int)(argl[i] < 32 ? argl[i] : 32), argv[i]);
    resp_add_error(&op->reply, "ERR unknown command '%.*s', with args beginning with: %s",
                   (int)(argl[0] < 64 ? argl[0] : 64), argv[0], args);
}

/* True if an earlier, unfinished write of this client touches the key: pipelined commands must
 * see the effects of the writes before them, as on Redis. */
int client_key_busy(client_t *c, op_t *before, const char *key, size_t keylen)
{
    for (op_t *op = c->ops_head; op && op != before; op = op->next) {
        if (op->done || (op->kind != OP_SET && op->kind != OP_ICSET && op->kind != OP_ICREPAIR))
            continue;
        /* A SET riding on `before` is answered with it: waiting for it would wait for itself. */
        if (op->carrier && op_carrier_root(op) == before) continue;
        if (op->keylen == keylen && op->key && memcmp(op->key, key, keylen) == 0) return 1;
    }
    return 0;
}

static int command_must_wait(client_t *c, op_t *self, const command_spec_t *spec)
{
    resp_cmd_t *cmd = &c->cmd;
    if (!spec || spec->store || !spec->first_key || !c->ops_head) return 0;
    int last = spec->last_key < 0 ? cmd->nsmall - 1 : spec->last_key;
    for (int i = spec->first_key; i <= last && i < cmd->nsmall; i++)
        if (client_key_busy(c, self, cmd->argv[i], cmd->argl[i])) return 1;
    return 0;
}

/* Runs a fully read command. Returns 0, or 1 if the command must wait (ICGET behind replies,
 * or a key with an earlier write still in flight). */
static int dispatch(client_t *c)
{
    server_t *srv = c->srv;
    resp_cmd_t *cmd = &c->cmd;
    int argc = cmd->nsmall;
    const char **argv = cmd->argv;
    const size_t *argl = cmd->argl;
    op_t *op = c->reading;
    const command_spec_t *spec = argc ? find_command(argv[0], argl[0]) : NULL;

    if (command_must_wait(c, op, spec)) return 1;
    if (op) {
        /* The command had a big argument that an op is holding. */
        c->reading = NULL;
        if (op->big_discard) {
            resp_add_error(&op->reply, "%s", op->err[0] ? op->err : "ERR argument too large");
            client_on_op_done(op);
            return 0;
        }
        switch (op->kind) {
        case OP_SET: {
            /* argv is [SET, key, options...]; shift so options start at index 3. */
            const char *av[RESP_CMD_MAX_SMALL_ARGS + 1];
            size_t al[RESP_CMD_MAX_SMALL_ARGS + 1];
            av[0] = argv[0];
            al[0] = argl[0];
            av[1] = argv[1];
            al[1] = argl[1];
            av[2] = "";
            al[2] = 0;
            for (int i = 2; i < argc; i++) {
                av[i + 1] = argv[i];
                al[i + 1] = argl[i];
            }
            buf_clear(&op->reply);
            if (parse_set_options(op, argc + 1, av, al) < 0) {
                client_on_op_done(op);
                return 0;
            }
            cmd_set(c, op);
            return 0;
        }
        case OP_ICSET:
            op->all_args = 1;
            icset_check_done(op);
            return 0;
        case OP_ICREPAIR:
            cmd_icrepair(c, op, argv, argl, op->obj);
            return 0;
        default:
            client_on_op_done(op);
            return 0;
        }
    }

    if (argc == 0) return 0; /* empty inline line */
    c->cmds++;
    srv->stats.commands++;
    /* ICGET writes its reply while it streams: it starts when the replies before it are out. */
    if (spec && (spec->id == CMD_ICGET || spec->id == CMD_ICGETCHUNKS) && c->ops_head) return 1;

    op = op_new(c, OP_SIMPLE);
    if (!op) {
        client_conn_failed(c->conn, "out of memory"); /* a command without a reply would desync */
        return 0;
    }
    buf_t *r = &op->reply;
    if (!spec) {
        unknown_command(op, argc, argv, argl);
        srv->stats.errors++;
        client_on_op_done(op);
        return 0;
    }
    if (argc < spec->min_args || (spec->max_args >= 0 && argc > spec->max_args)) {
        resp_add_error(r, "ERR wrong number of arguments for '%s' command", spec->name);
        client_on_op_done(op);
        return 0;
    }
    if (!c->user && !spec->no_auth) {
        resp_add_error(r, "NOAUTH Authentication required.");
        client_on_op_done(op);
        return 0;
    }
    switch (spec->id) {
    case CMD_GET:
        op->kind = OP_GET;
        cmd_get(c, op);
        return 0;
    case CMD_ICGET:
        op->kind = OP_ICGET;
        cmd_icget(c, op);
        return 0;
    case CMD_ICGETCHUNKS:
        op->kind = OP_ICGET;
        cmd_icgetchunks(c, op, argc, argv, argl);
        return 0;
    case CMD_SET:
        if (parse_set_options(op, argc, argv, argl) < 0) break;
        op->kind = OP_SET;
        op->key = malloc(argl[1] + 1);
        if (!op->key) goto oom;
        memcpy(op->key, argv[1], argl[1]);
        op->keylen = argl[1];
        if (set_prepare_value(op, argv[2], argl[2]) < 0) break;
        cmd_set(c, op);
        return 0;
    case CMD_ICSET:
        op->kind = OP_ICSET;
        icset_small(c, op, argc, argv, argl);
        return 0;
    case CMD_ICREPAIR:
        op->kind = OP_ICREPAIR;
        cmd_icrepair(c, op, argv, argl, NULL);
        return 0;
    case CMD_DEL:
        cmd_del(c, op, argc, argv, argl); /* answers once its deletes are done */
        return 0;
    case CMD_EXISTS:
        cmd_exists_strlen_ttl(c, op, 0, argc, argv, argl);
        break;
    case CMD_STRLEN:
        cmd_exists_strlen_ttl(c, op, 1, argc, argv, argl);
        break;
    case CMD_TTL:
        cmd_exists_strlen_ttl(c, op, 2, argc, argv, argl);
        break;
    case CMD_PTTL:
        cmd_exists_strlen_ttl(c, op, 3, argc, argv, argl);
        break;
    case CMD_PING:
        if (argc == 2)
            resp_add_bulk(r, argv[1], argl[1]);
        else
            resp_add_simple(r, "PONG");
        break;
    case CMD_ECHO:
        resp_add_bulk(r, argv[1], argl[1]);
        break;
    case CMD_INFO: {
        char section[32] = "";
        if (argc == 2)
            snprintf(section, sizeof section, "%.*s", (int)(argl[1] < 31 ? argl[1] : 31), argv[1]);
        cmd_info(c, op, section);
        break;
    }
    case CMD_DBSIZE:
        resp_add_int(r, (int64_t)srv->meta.count);
        break;
    case CMD_QUIT:
        resp_add_simple(r, "OK");
        c->quit_after_reply = 1;
        break;
    case CMD_HELLO:
        cmd_hello(c, op, argc, argv, argl);
        break;
    case CMD_AUTH:
        cmd_auth(c, op, argc, argv, argl);
        break;
    case CMD_CLIENT:
        cmd_client(c, op, argc, argv, argl);
        break;
    case CMD_COMMAND:
        cmd_command(op, argc, argv, argl, (int)(sizeof commands / sizeof *commands) - 1);
        break;
    case CMD_SELECT:
        if (arg_is(argv[1], argl[1], "0"))
            resp_add_simple(r, "OK");
        else
            resp_add_error(r, "ERR DB index is out of range (this server has one database)");
        break;
    case CMD_FLUSH:
        for (size_t i = srv->meta.clock_len; i-- > 0;)
            if (srv->meta.clock[i]) meta_delete(srv, srv->meta.clock[i]);
        resp_add_simple(r, "OK");
        break;
    }
    client_on_op_done(op);
    return 0;
oom:
    resp_add_error(r, "ERR out of memory");
    client_on_op_done(op);
    return 0;
}

/* The body of a big argument has been read into its op's buffer, or drained because nobody
 * wants it (the connection stays in sync either way): the command reader goes on. */
static void big_body_moved(relay_t *r, relay_status_t st, void *arg)
{
    op_t *op = arg;
    client_t *c = op->client;
    op_unref(op);
    if (st == RELAY_OK && c) resp_cmd_big_done(&c->cmd);
}

/* A body of a command already answered has been drained: the command reader goes on. The
 * connection is alive whenever the relay reports success (it pumps from this connection). */
static void skipped_body_moved(relay_t *r, relay_status_t st, void *arg)
{
    conn_t *conn = arg;
    client_t *c = conn->owner;
    if (st == RELAY_OK && c && !conn->closing) resp_cmd_big_done(&c->cmd);
}

/* A bulk longer than SMALL_ARG_MAX: decide where its body goes. */
static void handle_big(client_t *c)
{
    server_t *srv = c->srv;
    resp_cmd_t *cmd = &c->cmd;
    size_t len = (size_t)cmd->big_len;
    op_t *op = c->reading;
    const char **argv = cmd->argv;
    const size_t *argl = cmd->argl;
    if (c->skip_rest) {
        relay_start(srv, c->conn, RELAY_DISCARD, NULL, NULL, len, skipped_body_moved, c->conn);
        return;
    }
    if (!op) {
        op = op_new(c, OP_SIMPLE);
        if (!op) {
            client_conn_failed(c->conn, "out of memory");
            return;
        }
        c->reading = op;
        c->cmds++;
        srv->stats.commands++;
        const command_spec_t *spec = cmd->nsmall ? find_command(argv[0], argl[0]) : NULL;
        command_id_t id = spec ? spec->id : CMD_PING; /* any id without a big argument */
        if (id == CMD_SET && cmd->nsmall == 2 && cmd->argi == 2) {
            op->kind = OP_SET;
            op->key = malloc(argl[1] + 1);
            if (op->key) {
                memcpy(op->key, argv[1], argl[1]);
                op->keylen = argl[1];
            }
            if (!op->key || set_prepare_value(op, NULL, len) < 0) {
                op->big_discard = 1;
                snprintf(op->err, sizeof op->err, "%.*s",
                         (int)(buf_len(&op->reply) > 3 ? buf_len(&op->reply) - 3 : 0),
                         buf_len(&op->reply) ? buf_head(&op->reply) + 1 : "");
                buf_clear(&op->reply);
            } else {
                op_ref(op);
                relay_start(srv, c->conn, RELAY_TO_MEMORY, NULL, op->obj->data, len, big_body_moved,
                            op);
                return;
            }
        } else if (id == CMD_ICSET && cmd->argi >= 5) {
            op->kind = OP_ICSET;
            if (cmd_icset_begin(c, op) < 0) op->big_discard = 1;
        } else if (id == CMD_ICREPAIR && cmd->argi == 5 && cmd->nsmall == 5) {
            op->kind = OP_ICREPAIR;
            if (len > (size_t)srv->cfg.max_object_size || len > EC_MAX_CHUNK_SIZE ||
                !(op->obj = objbuf_new(len))) {
                op->big_discard = 1;
                snprintf(op->err, sizeof op->err, "ERR chunk too large");
            } else {
                op_ref(op);
                relay_start(srv, c->conn, RELAY_TO_MEMORY, NULL, op->obj->data, len, big_body_moved,
                            op);
                return;
            }
        } else {
            op->big_discard = 1;
            snprintf(op->err, sizeof op->err, "ERR argument of %zu bytes is too large for '%.*s'",
                     len, cmd->nsmall ? (int)(argl[0] < 32 ? argl[0] : 32) : 0,
                     cmd->nsmall ? argv[0] : "");
        }
        if (op->big_discard && op->kind != OP_ICSET) {
            /* Refused on its header (a value over max-object-size, an argument nobody takes):
             * the answer goes out now, not after the body, and the body and the command's other
             * arguments are drained unread so the connection stays in sync. */
            resp_add_error(&op->reply, "%s", op->err[0] ? op->err : "ERR argument too large");
            c->reading = NULL;
            c->skip_rest = 1;
            client_on_op_done(op);
            if (c->conn->closing) return;
            relay_start(srv, c->conn, RELAY_DISCARD, NULL, NULL, len, skipped_body_moved, c->conn);
            return;
        }
    }
    if (op->kind == OP_ICSET && !op->big_discard) {
        cmd_icset_chunk(c, op, len);
        return;
    }
    op->big_discard = 1;
    op_ref(op);
    relay_start(srv, c->conn, RELAY_DISCARD, NULL, NULL, len, big_body_moved, op);
}

/* The reply to a request the codec refused; the connection closes after it (as Redis does: the
 * stream cannot be trusted to be in sync, and a declared body is never read). The input's head is
 * the refused header, which tells what was too long. */
static void protocol_error(client_t *c, op_t *op, int rc)
{
    const buf_t *in = &c->conn->in;
    char type = buf_len(in) ? buf_head(in)[0] : 0;
    c->srv->stats.errors++;
    if (rc != RESP_ETOOBIG)
        resp_add_error(&op->reply, "ERR %s", resp_strerror(rc));
    else if (!c->user && (type == '$' || type == '*'))
        resp_add_error(&op->reply, "ERR Protocol error: unauthenticated %s length",
                       type == '$' ? "bulk" : "multibulk");
    else if (type == '$')
        resp_add_error(&op->reply, "ERR Protocol error: invalid bulk length");
    else if (type == '*')
        resp_add_error(&op->reply, "ERR Protocol error: invalid multibulk length");
    else
        resp_add_error(&op->reply, "ERR Protocol error: too big inline request");
}

/* Backpressure: a client with a full queue of commands, or with replies it does not read, is not
 * read further, so its memory stays bounded (max-pipeline commands, client-output-limit bytes). */
static int input_must_pause(const client_t *c)
{
    const proxy_config_t *cfg = &c->srv->cfg;
    return c->nops >= cfg->max_pipeline || c->waiting_body ||
           c->conn->out_bytes > (size_t)cfg->client_output_limit;
}

static void client_process(client_t *c)
{
    c->processing = 1;
    while (!c->conn->closing && !c->conn->rx_relay && !c->quit_after_reply) {
        if (input_must_pause(c)) break;
        /* Limits are checked on each header as it arrives, so an oversized request is refused
         * before its body is sent. Until a client authenticates, requests stay small. */
        resp_limits_t lim = resp_default_limits;
        lim.max_bulk = c->user ? PROTO_BULK_MAX : UNAUTH_BULK_MAX;
        if (!c->user) lim.max_array = UNAUTH_ARGS_MAX, lim.max_line = UNAUTH_BULK_MAX;
        int rc = resp_cmd_feed(&c->cmd, &c->conn->in, &lim, SMALL_ARG_MAX);
        if (rc == RESP_CMD_NEED_MORE) break;
        if (rc < 0) {
            op_t *op = op_new(c, OP_SIMPLE);
            if (op) {
                protocol_error(c, op, rc);
                c->quit_after_reply = 1;
                client_on_op_done(op);
            } else {
                client_conn_failed(c->conn, "protocol error");
            }
            break;
        }
        if (rc == RESP_CMD_BIG) {
            handle_big(c);
            if (c->conn->closing) return;
            continue;
        }
        if (c->skip_rest) { /* answered when its big argument's header came */
            c->skip_rest = 0;
            resp_cmd_reset(&c->cmd);
            continue;
        }
        if (dispatch(c) == 1) break; /* resumes when the queue drains */
        resp_cmd_reset(&c->cmd);
    }
    c->processing = 0;
    /* Stop reading while enough work is queued; resumes from client_on_op_done. */
    c->conn->read_paused = input_must_pause(c);
}
