/* client.c -- client connections: RESP command reading, the in-order reply queue (pipelining),
 * dispatch, and the small Redis commands that need no node. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "clock.h"
#include "proxy.h"

#define CLIENT_READ_SIZE (256 * 1024)
#define SMALL_ARG_MAX (64 * 1024)

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

void client_accept(server_t *srv, int fd)
{
    if (srv->nclients >= srv->cfg.max_clients) {
        const char msg[] = "-ERR max number of clients reached\r\n";
        ssize_t w = write(fd, msg, sizeof msg - 1);
        (void)w;
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
    resp_cmd_init(&c->cmd);
    c->next = srv->clients;
    if (srv->clients) srv->clients->prev = c;
    srv->clients = c;
    srv->nclients++;
    srv->stats.connections++;
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

void client_close_all(server_t *srv)
{
    while (srv->clients)
        client_conn_failed(srv->clients->conn, "shutdown");
}

void client_io(ev_loop_t *loop, int fd, int events, void *arg)
{
    conn_t *conn = arg;
    if (events & EV_WRITE) {
        if (conn_flush(conn) < 0) {
            client_conn_failed(conn, "write failed");
            return;
        }
        if (conn->tx_relay) relay_pump(conn->tx_relay);
    }
    if (conn->closing) return;
    if ((events & EV_READ) && conn->owner) {
        if (conn->rx_relay) {
            relay_pump(conn->rx_relay);
        } else if (!conn->read_paused) {
            ssize_t n = conn_read(conn, CLIENT_READ_SIZE);
            if (n == 0 || (n < 0 && n != -EAGAIN)) {
                client_conn_failed(conn, n == 0 ? "connection closed" : "read failed");
                return;
            }
            client_process(conn->owner);
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

static void cmd_hello(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    int64_t proto = 2;
    if (argc >= 2 && (resp_parse_i64(argv[1], argl[1], &proto) < 0 || proto != 2)) {
        resp_add_error(&op->reply, "NOPROTO this server supports RESP2 only");
        return;
    }
    for (int i = 2; i + 1 < argc; i++) {
        if (arg_is(argv[i], argl[i], "SETNAME")) {
            snprintf(c->name, sizeof c->name, "%.*s", (int)argl[i + 1], argv[i + 1]);
            i++;
        }
    }
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
    CMD_ICREPAIR,
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
} command_spec_t;

/* clang-format off */
static const command_spec_t commands[] = {
    {"GET", CMD_GET, 2, 2, 1, 1, 0},          {"SET", CMD_SET, 3, -1, 1, 1, 1},
    {"DEL", CMD_DEL, 2, -1, 1, -1, 0},        {"UNLINK", CMD_DEL, 2, -1, 1, -1, 0},
    {"ICDEL", CMD_DEL, 2, -1, 1, -1, 0},      {"EXISTS", CMD_EXISTS, 2, -1, 1, -1, 0},
    {"STRLEN", CMD_STRLEN, 2, 2, 1, 1, 0},    {"TTL", CMD_TTL, 2, 2, 1, 1, 0},
    {"PTTL", CMD_PTTL, 2, 2, 1, 1, 0},        {"PING", CMD_PING, 1, 2, 0, 0, 0},
    {"ECHO", CMD_ECHO, 2, 2, 0, 0, 0},        {"INFO", CMD_INFO, 1, 2, 0, 0, 0},
    {"DBSIZE", CMD_DBSIZE, 1, 1, 0, 0, 0},    {"QUIT", CMD_QUIT, 1, 1, 0, 0, 0},
    {"HELLO", CMD_HELLO, 1, -1, 0, 0, 0},     {"CLIENT", CMD_CLIENT, 2, -1, 0, 0, 0},
    {"COMMAND", CMD_COMMAND, 1, -1, 0, 0, 0}, {"SELECT", CMD_SELECT, 2, 2, 0, 0, 0},
    {"FLUSHALL", CMD_FLUSH, 1, 2, 0, 0, 0},   {"FLUSHDB", CMD_FLUSH, 1, 2, 0, 0, 0},
    {"ICSET", CMD_ICSET, 6, -1, 1, 1, 1},     {"ICGET", CMD_ICGET, 2, 3, 1, 1, 0},
    {"ICREPAIR", CMD_ICREPAIR, 6, 6, 1, 1, 0},
    {NULL, 0, 0, 0, 0, 0, 0},
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
    if (spec && spec->id == CMD_ICGET && c->ops_head) return 1;

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
    switch (spec->id) {
    case CMD_GET:
        op->kind = OP_GET;
        cmd_get(c, op);
        return 0;
    case CMD_ICGET:
        op->kind = OP_ICGET;
        cmd_icget(c, op);
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

/* A bulk longer than SMALL_ARG_MAX: decide where its body goes. */
static void handle_big(client_t *c)
{
    server_t *srv = c->srv;
    resp_cmd_t *cmd = &c->cmd;
    size_t len = (size_t)cmd->big_len;
    op_t *op = c->reading;
    const char **argv = cmd->argv;
    const size_t *argl = cmd->argl;
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
            if (len > (size_t)srv->cfg.max_object_size || !(op->obj = objbuf_new(len))) {
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
                     len, (int)(argl[0] < 32 ? argl[0] : 32), cmd->nsmall ? argv[0] : "");
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

static void client_process(client_t *c)
{
    server_t *srv = c->srv;
    resp_limits_t lim = resp_default_limits;
    lim.max_bulk = (int64_t)8 << 30;
    c->processing = 1;
    while (!c->conn->closing && !c->conn->rx_relay && !c->quit_after_reply) {
        if (c->nops >= srv->cfg.max_pipeline || c->waiting_body) break;
        int rc = resp_cmd_feed(&c->cmd, &c->conn->in, &lim, SMALL_ARG_MAX);
        if (rc == RESP_CMD_NEED_MORE) break;
        if (rc < 0) {
            op_t *op = op_new(c, OP_SIMPLE);
            if (op) {
                resp_add_error(&op->reply, "ERR %s", resp_strerror(rc));
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
        if (dispatch(c) == 1) break; /* resumes when the queue drains */
        resp_cmd_reset(&c->cmd);
    }
    c->processing = 0;
    /* Stop reading while enough work is queued; resumes from client_on_op_done. */
    c->conn->read_paused = c->nops >= srv->cfg.max_pipeline || c->waiting_body;
}
