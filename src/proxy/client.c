/* client.c -- client connections: RESP command reading, the in-order reply queue (pipelining),
 * and dispatch through the command table (command.h; the commands live in cmd_*.c). */
#include <ctype.h>
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
#include "metrics.h"
#include "nodepool.h"
#include "net.h"
#include "clock.h"
#include "client.h"
#include "cluster.h"
#include "cmdstats.h"
#include "command.h"
#include "op.h"
#include "proxy_config.h"
#include "server.h"
#include "transport.h"
#include "tx.h"

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

/* ---- the reply queue ---- */

/* A new op at the tail of the client's queue; its reply goes out after those before it. */
static op_t *op_new(client_t *c, op_kind_t kind)
{
    op_t *op = op_alloc(c->srv, kind);
    if (!op) return NULL;
    op->client = c;
    op->reply.resp_proto = (uint8_t)c->resp; /* every resp_add_* into it speaks c's RESP */
    QUEUE_PUSH_TAIL(&c->ops, op, next);
    c->nops++;
    return op;
}

op_t *client_queue_op(client_t *c, int kind)
{
    return op_new(c, (op_kind_t)kind);
}

/* Sends the replies of finished ops at the head of the queue, in order. */
static void flush_replies(client_t *c)
{
    conn_t *conn = c->conn;
    while (c->ops.head && (c->ops.head->done || c->ops.head->kind == OP_TX_END)) {
        op_t *op;
        QUEUE_POP_HEAD(&c->ops, op, next);
        if (op->commit_waiting) c->ncommit_waiting--; /* answered without committing */
        if (op->kind == OP_TX_END) tx_exec_end(c); /* every reply of the EXEC is out */
        if (buf_len(&op->reply)) conn_write(conn, buf_head(&op->reply), buf_len(&op->reply));
        if (op->reply_ref) {
            conn_write_ref(conn, op->reply_ref, op->reply_ref->data + op->reply_ref_off,
                           op->reply_ref_len);
            conn_write(conn, "\r\n", 2);
        }
        c->nops--;
        op->client = NULL;
        op_unref(op);
        if (!c->ops.head) c->last_active_ms = ev_now_ms();
    }
    if (c->quit_after_reply && !c->ops.head) {
        conn_flush(conn);
        client_conn_failed(conn, "quit");
    }
}

void client_flush(client_t *c)
{
    flush_replies(c);
}

void client_on_op_done(op_t *op)
{
    int first = !op->done;
    op->done = 1;
    if (first) metrics_op_done(op);
    client_t *c = op->client;
    if (first && c) diag_op_done(c->srv, ev_now_us() - op->started_us);
    if (first && op->cmd && !op->rejected)
        cmdstats_done(op->cmd, ev_now_us() - op->started_us,
                      op->err[0] || (buf_len(&op->reply) && buf_head(&op->reply)[0] == '-'));
    if (!c) {
        if (first && op->bg_done) op->bg_done(op);
        return;
    }
    /* A store that waited for this one may commit now. Only the first is retried here: its own
     * completion comes back through this function for the next, and the queue may change under
     * a loop that went on. The walk is skipped when no store waits: with a deep pipeline (an
     * MGET of many keys queues an op for each) it made every completion cost the whole queue. */
    for (op_t *o = c->ncommit_waiting ? op->next : NULL; o; o = o->next) {
        if (o->commit_waiting && !client_key_busy(c, o, o->key, o->keylen)) {
            o->commit_waiting = 0;
            c->ncommit_waiting--;
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

void server_fence(server_t *srv, uint64_t epoch, int node_id)
{
    if (srv->fenced) return;
    srv->fenced = 1;
    srv->fenced_by_epoch = epoch;
    log_error("event=fenced epoch=%" PRIu64 " node_epoch=%" PRIu64 " node=%d hint=\"another proxy "
              "took the pool over (docs/STANDBY.md): this one serves nothing more\"",
              srv->epoch, epoch, node_id);
    /* Replies computed from what this proxy knew are not sent: its clients go, and the ones that
     * come back are told why. */
    client_close_all(srv);
    for (int i = 0; i < srv->nnodes; i++)
        if (srv->nodes[i].conn)
            node_conn_failed(srv->nodes[i].conn, "fenced: another proxy took the pool over");
}

static void client_io(ev_loop_t *loop, int fd, int events, void *arg);

/* A relay out of the connection finished, or replies held for a slow reader went out: the
 * commands waiting behind them run now. */
static void client_conn_resumed(conn_t *conn)
{
    if (conn->owner) client_resume_input(conn->owner);
}

static void client_conn_freed(conn_t *conn)
{
    free(conn->owner_state);
}

static const conn_handlers_t client_handlers = {
    .role = "client",
    .io = client_io,
    .failed = client_conn_failed,
    .resumed = client_conn_resumed,
    .drained = client_conn_resumed,
    .freed = client_conn_freed,
};

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
    conn_t *conn = c ? conn_new(&srv->tp, fd, &client_handlers, c) : NULL;
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
    c->resp = 2;
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
        tx_client_gone(c); /* before the ops go: its keys are released, its queue dropped */
        op_t *op = c->ops.head;
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
        QUEUE_CLEAR(&c->ops);
        c->nops = 0;
        /* Callers up the stack may still look at c: it is freed with the connection. */
        conn->owner_state = c;
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
        if (!limit) break; /* CONFIG SET timeout 0 */
        if (c->nops || c->reading || conn->rx_relay || conn->tx_relay || conn->out.head) continue;
        uint64_t last = conn->last_rx_ms > c->last_active_ms ? conn->last_rx_ms : c->last_active_ms;
        if (now - last <= limit) continue;
        srv->stats.idle_closed++;
        log_debug("event=client_idle_timeout id=%" PRIu64 " idle_ms=%" PRIu64, c->id, now - last);
        client_conn_failed(conn, "idle timeout");
    }
    ev_timer_add(loop, 1000, timeout_sweep, srv);
}

/* Always armed: CONFIG SET may turn the timeout on while the proxy runs. */
void client_start_timeout_sweep(server_t *srv)
{
    ev_timer_add(srv->loop, 1000, timeout_sweep, srv);
}

void client_close_all(server_t *srv)
{
    while (srv->clients)
        client_conn_failed(srv->clients->conn, "shutdown");
}

static void client_io(ev_loop_t *loop, int fd, int events, void *arg)
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
            conn->out_bytes <= (size_t)((client_t *)conn->owner)->srv->cfg.client_output_limit)
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

/* ---- dispatch ---- */

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

/* The command CLIENT LIST shows as the client's last, as Redis 7 names it: "get", or
 * "client|list" for a command with subcommands. */
static void note_last_command(client_t *c, const command_t *row, int argc, const char **argv,
                              const size_t *argl)
{
    static const char *const containers[] = {"client", "command", "config", "latency", "slowlog"};
    int container = 0;
    for (size_t i = 0; i < sizeof containers / sizeof *containers; i++)
        container |= strcmp(row->name, containers[i]) == 0;
    if (!container || argc < 2 || argl[1] > 20) {
        snprintf(c->last_cmd, sizeof c->last_cmd, "%s", row->name);
        return;
    }
    int n = snprintf(c->last_cmd, sizeof c->last_cmd, "%s|%.*s", row->name, (int)argl[1], argv[1]);
    for (int i = (int)strlen(row->name) + 1; i < n && i < (int)sizeof c->last_cmd; i++)
        c->last_cmd[i] = (char)tolower((unsigned char)c->last_cmd[i]);
}

/* True if an earlier, unfinished write of this client touches the key: pipelined commands must
 * see the effects of the writes before them, as on Redis. */
int client_key_busy(client_t *c, op_t *before, const char *key, size_t keylen)
{
    for (op_t *op = c->ops.head; op && op != before; op = op->next) {
        if (op->done || (op->kind != OP_SET && op->kind != OP_ICSET && op->kind != OP_ICREPAIR))
            continue;
        /* A SET riding on `before` is answered with it: waiting for it would wait for itself. */
        if (op->carrier && op_carrier_root(op) == before) continue;
        if (op->keylen == keylen && op->key && memcmp(op->key, key, keylen) == 0) return 1;
    }
    return 0;
}

/* True if an unfinished write (SET, ICSET, ICREPAIR) is queued before `before`: one walk of the
 * queue, so that a command of many keys (MGET) asks each key only when some write is pending. */
static int write_pending(client_t *c, op_t *before)
{
    for (op_t *op = c->ops.head; op && op != before; op = op->next)
        if (!op->done && (op->kind == OP_SET || op->kind == OP_ICSET || op->kind == OP_ICREPAIR))
            return 1;
    return 0;
}

/* The client waits until a hold goes (op_rmw.c wakes it) or a store ends (op_write.c). */
static int wait_for_hold(client_t *c)
{
    if (!c->hold_wait) c->srv->hold_waiters++;
    c->hold_wait = 1;
    return 1;
}

/* True if one of the keys the row names among argv[0..argc) is held by another than the
 * client's own EXEC (own: the holds of it a command may ignore). */
static int keys_held(client_t *c, const command_t *row, int argc, const char **argv,
                     const size_t *argl, int own)
{
    int last = row->last_key < 0 ? argc + row->last_key : row->last_key;
    int step = row->key_step > 0 ? row->key_step : 1;
    for (int i = row->first_key; row->first_key && i <= last && i < argc; i += step)
        if (rmw_hold_count(c->srv, argv[i], argl[i]) > own) return 1;
    return 0;
}

static int command_must_wait(client_t *c, op_t *self, const command_t *cmd_row, int argc,
                             const char **argv, const size_t *argl, int from_tx)
{
    if (!cmd_row) return 0;
    /* EXEC starts only when none of its keys (nor a watched key) is held or being stored. */
    if (tx_exec_must_wait(c, cmd_row)) return wait_for_hold(c);
    /* FLUSHALL waits until nobody holds a key: a compound command or a transaction is never
     * emptied under it. Its EXEC's own holds do not count for a FLUSHALL inside a transaction. */
    if ((cmd_row->flags & CMD_ALL_KEYS) &&
        rmw_holds_total(c->srv) > (from_tx ? tx_own_holds_total(c) : 0))
        return wait_for_hold(c);
    if (!cmd_row->first_key) return 0;
    /* A key held by a compound command or a transaction (any client's) waits for it, stores
     * included: nothing runs on the key between its read and its write (op_rmw.c wakes the
     * client). A command of an EXEC ignores the EXEC's own hold of its key. */
    if (keys_held(c, cmd_row, argc, argv, argl, from_tx ? tx_own_holds(c) : 0))
        return wait_for_hold(c);
    if ((cmd_row->flags & CMD_STORE) || !c->ops.head || !write_pending(c, self)) return 0;
    int last = cmd_row->last_key < 0 ? argc + cmd_row->last_key : cmd_row->last_key;
    int step = cmd_row->key_step > 0 ? cmd_row->key_step : 1;
    for (int i = cmd_row->first_key; i <= last && i < argc; i += step)
        if (client_key_busy(c, self, argv[i], argl[i])) return 1;
    return 0;
}

/* A replaced proxy (server_fence) answers only what lets a client connect and an operator see
 * why: AUTH, HELLO, QUIT and INFO. Anything else would serve, or change, what it no longer owns. */
static int fenced_refuses(const server_t *srv, const command_t *row)
{
    return srv->fenced && !(row->flags & CMD_NO_AUTH) && strcasecmp(row->name, "info") != 0;
}

static void fenced_error(const server_t *srv, op_t *op)
{
    resp_add_error(&op->reply,
                   "FENCED this proxy was replaced by one of a higher takeover epoch (%" PRIu64
                   " > %" PRIu64 "): use the proxy that took the pool over",
                   srv->fenced_by_epoch, srv->epoch);
}

/* In cluster mode, the slot check of a command about to run or be queued (cmd_cluster.c): 1 if
 * it was answered with a redirection or CROSSSLOT. A transaction's commands are checked as they
 * are queued; keys of different slots among them make its EXEC answer CROSSSLOT, as Redis does.
 * ASKING lasts for one command (or for a transaction, up to its EXEC). */
static int cluster_refuses(client_t *c, op_t *op, const command_t *row, int argc, const char **argv,
                           const size_t *argl, int queuing)
{
    if (!c->srv->cluster) return 0;
    int refused = 0;
    if (!queuing && c->tx && c->tx->crossslot && !strcmp(row->name, "exec")) {
        resp_add_error(&op->reply, "CROSSSLOT Keys in request don't hash to the same slot");
        tx_reset(c);
        refused = 1;
    } else if (cluster_route(c, row, argc, argv, argl, &op->reply)) {
        if (queuing) tx_flag(c);
        refused = 1;
    } else if (queuing) {
        int slot = cluster_key_slot(row, argc, argv, argl);
        if (slot >= 0 && c->tx->slot >= 0 && slot != c->tx->slot) c->tx->crossslot = 1;
        if (slot >= 0) c->tx->slot = slot;
    }
    if (!queuing && strcmp(row->name, "asking") != 0) c->asking = 0;
    return refused;
}

/* Runs a command line through its row of the command table, or queues it when the client is
 * in MULTI. Returns 0, or 1 if the command must wait (a streaming reply behind other replies, a
 * held key, or a key with an earlier write still in flight). */
int client_dispatch(client_t *c, int argc, const char **argv, const size_t *argl, op_t *op,
                    int from_tx)
{
    server_t *srv = c->srv;
    const command_t *row = argc ? command_find(argv[0], argl[0]) : NULL;
    int queuing = !from_tx && tx_queuing(c, row);

    if (!queuing && command_must_wait(c, op, row, argc, argv, argl, from_tx)) return 1;
    if (op) {
        /* The command had a big argument that this op holds (or drained). */
        if (c->reading == op) c->reading = NULL;
        if (op->big_discard || !row) {
            resp_add_error(&op->reply, "%s", op->err[0] ? op->err : "ERR argument too large");
            if (queuing) tx_flag(c);
            client_on_op_done(op);
        } else if (fenced_refuses(srv, row)) {
            fenced_error(srv, op);
            client_on_op_done(op);
        } else if (queuing) {
            tx_queue(c, op, row, argc, argv, argl);
            client_on_op_done(op);
        } else if (row->proc(c, op, argc, argv, argl) == CMD_REPLIED) {
            client_on_op_done(op);
        }
        return 0;
    }

    if (argc == 0) return 0; /* empty inline line */
    if (row) note_last_command(c, row, argc, argv, argl);
    c->cmds++;
    srv->stats.commands++;
    if (!queuing && row && (row->flags & CMD_STREAMS) && c->ops.head) return 1;

    op = op_new(c, OP_SIMPLE);
    if (!op) {
        client_conn_failed(c->conn, "out of memory"); /* a command without a reply would desync */
        return 0;
    }
    op->cmd = row;
    if (!row) {
        unknown_command(op, argc, argv, argl);
        srv->stats.errors++;
        tx_flag(c); /* a queuing error: EXEC answers EXECABORT */
    } else if (!command_arity_ok(row, argc)) {
        resp_add_error(&op->reply, "ERR wrong number of arguments for '%s' command", row->name);
        op->rejected = 1;
        cmdstats_rejected(row);
        tx_rejected(c, op, row);
    } else if (!c->user && !(row->flags & CMD_NO_AUTH)) {
        resp_add_error(&op->reply, "NOAUTH Authentication required.");
        op->rejected = 1;
        cmdstats_rejected(row);
        tx_rejected(c, op, row);
    } else if (fenced_refuses(srv, row)) {
        fenced_error(srv, op);
        op->rejected = 1;
        cmdstats_rejected(row);
    } else if (queuing && tx_refused(row)) {
        resp_add_error(&op->reply, "ERR Command not allowed inside a transaction");
        tx_flag(c);
    } else if (!from_tx && cluster_refuses(c, op, row, argc, argv, argl, queuing)) {
        srv->stats.errors++;
    } else if (queuing) {
        tx_queue(c, op, row, argc, argv, argl);
    } else {
        uint64_t t0 = clock_mono_us();
        cmd_status_t st = row->proc(c, op, argc, argv, argl);
        diag_command_ran(c, row, argc, argv, argl, clock_mono_us() - t0);
        if (st == CMD_PENDING) return 0;
    }
    client_on_op_done(op);
    return 0;
}

static int dispatch(client_t *c)
{
    return client_dispatch(c, c->cmd.nsmall, c->cmd.argv, c->cmd.argl, c->reading, 0);
}

/* The body of a big argument has been read into its op's buffer, or drained because nobody
 * wants it (the connection stays in sync either way): the command reader goes on. */
void command_big_moved(relay_t *r, relay_status_t st, void *arg)
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

/* The slot check of a command with a big argument, on its header (the keys come before the
 * value): 1 with the redirection in op->err, answered before the body is drained. */
static int cluster_refuses_big(client_t *c, op_t *op, const command_t *row, int queuing)
{
    resp_cmd_t *cmd = &c->cmd;
    if (!c->srv->cluster) return 0;
    int refused = cluster_refuses(c, op, row, cmd->nsmall, cmd->argv, cmd->argl, queuing);
    if (refused) {
        /* op->reply holds "-ERROR text\r\n": BIG_REFUSE_NOW answers op->err instead. */
        size_t n = buf_len(&op->reply);
        const char *e = buf_head(&op->reply);
        snprintf(op->err, sizeof op->err, "%.*s", (int)(n > 3 ? n - 3 : 0), e + 1);
        buf_clear(&op->reply);
    }
    return refused;
}

/* A bulk longer than SMALL_ARG_MAX: its command's row decides where the body goes. Returns 1
 * if it must wait for a held key before its body is read (an ICSET streams its chunks to the
 * nodes as they arrive, before the command is dispatched: it must not start on a key a
 * transaction or a compound command holds). */
static int handle_big(client_t *c)
{
    server_t *srv = c->srv;
    resp_cmd_t *cmd = &c->cmd;
    size_t len = (size_t)cmd->big_len;
    op_t *op = c->reading;
    if (c->skip_rest) {
        relay_start(c->conn, RELAY_DISCARD, NULL, NULL, len, skipped_body_moved, c->conn);
        return 0;
    }
    const command_t *row = cmd->nsmall ? command_find(cmd->argv[0], cmd->argl[0]) : NULL;
    int queuing = tx_queuing(c, row);
    big_status_t st;
    if (!op) {
        if (row && !queuing && keys_held(c, row, cmd->nsmall, cmd->argv, cmd->argl, 0)) {
            c->big_wait = 1;
            return wait_for_hold(c);
        }
        c->big_wait = 0;
        op = op_new(c, OP_SIMPLE);
        if (!op) {
            client_conn_failed(c->conn, "out of memory");
            return 0;
        }
        c->reading = op;
        op->cmd = row;
        c->cmds++;
        srv->stats.commands++;
        if (queuing && row && tx_refused(row)) {
            snprintf(op->err, sizeof op->err, "ERR Command not allowed inside a transaction");
            st = BIG_REFUSE_NOW;
        } else if (row && cluster_refuses_big(c, op, row, queuing)) {
            st = BIG_REFUSE_NOW;
        } else {
            st = row && row->big ? row->big(c, op, len) : BIG_REFUSE_NOW;
        }
        if (st == BIG_REFUSE_NOW && queuing) tx_flag(c);
        if (st == BIG_REFUSE_NOW && !op->err[0])
            snprintf(op->err, sizeof op->err, "ERR argument of %zu bytes is too large for '%.*s'",
                     len, cmd->nsmall ? (int)(cmd->argl[0] < 32 ? cmd->argl[0] : 32) : 0,
                     cmd->nsmall ? cmd->argv[0] : "");
    } else {
        st = !op->big_discard && row && row->big ? row->big(c, op, len) : BIG_DRAIN;
        if (st == BIG_REFUSE_NOW) st = BIG_DRAIN; /* its first argument was accepted */
    }
    switch (st) {
    case BIG_TAKEN:
        return 0;
    case BIG_REFUSE_NOW:
        /* Refused on its header (a value over max-object-size, an argument nobody takes): the
         * answer goes out now, not after the body, and the body and the command's other
         * arguments are drained unread so the connection stays in sync. */
        resp_add_error(&op->reply, "%s", op->err);
        c->reading = NULL;
        c->skip_rest = 1;
        client_on_op_done(op);
        if (c->conn->closing) return 0;
        relay_start(c->conn, RELAY_DISCARD, NULL, NULL, len, skipped_body_moved, c->conn);
        return 0;
    case BIG_DRAIN:
        op->big_discard = 1;
        op_ref(op);
        relay_start(c->conn, RELAY_DISCARD, NULL, NULL, len, command_big_moved, op);
        return 0;
    }
    return 0;
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
        /* An EXEC's queued commands run before anything more is read. */
        int step = tx_exec_step(c);
        if (step == 1) break; /* resumes when what it waits for is done */
        if (step == 0) continue;
        if (c->big_wait) { /* a big argument's header waited for a held key */
            if (handle_big(c)) break;
            if (c->conn->closing) return;
            continue;
        }
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
            if (handle_big(c)) break;
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
