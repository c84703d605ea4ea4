/* lifecycle.c -- keeping data alive on functions: warm-up invocations, backup scheduling, and
 * the relay port where a backing-up node meets the peer instance of its own function.
 *
 * A backup (docs/ARCHITECTURE.md, "Backup"): the proxy sends the node BACKUP with a relay
 * address and a fresh token; the node invokes its own function, so the platform runs the
 * "backup-peer" event on a second instance; both dial the relay port and introduce themselves
 * with `RELAY token source|peer`; once both are there the relay splices bytes both ways without
 * looking at them (it never holds more than a pipe's worth). The node reports the outcome with
 * BACKUPDONE. Every step is bounded: the pairing by node-connect-timeout, the whole backup by
 * backup-timeout; a failed backup is tried again at the next interval. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "proxy.h"
#include "resp.h"

#define RELAY_HELLO_MAX 512         /* bytes of the RELAY introduction */
#define RELAY_PIPE_SIZE (1 << 20)
#define RELAY_MAX_PER_PUMP (8u << 20) /* bytes per direction per wake-up */

/* One end of a relay: a node instance's connection. */
typedef struct {
    int fd;
    int eof;      /* read side finished */
    int events;   /* what is registered with the loop */
    char hello[RELAY_HELLO_MAX];
    size_t hello_len;
} relay_end_t;

typedef struct sync_relay {
    server_t *srv;
    node_t *node;
    relay_end_t end[2];     /* 0: source, 1: peer */
    int pipe[2][2];         /* pipe[d]: bytes from end d to end 1-d */
    size_t in_pipe[2];
    uint64_t moved[2];
    uint64_t pair_timer;
} sync_relay_t;

/* A connection to the relay port that has not said who it is yet. */
typedef struct {
    server_t *srv;
    int fd;
    char buf[RELAY_HELLO_MAX];
    size_t len;
    uint64_t timer;
    char challenge[NODEAUTH_NONCE_HEX + 1]; /* sent on accept; RELAY carries a proof over it */
} relay_intro_t;

static void relay_close(sync_relay_t *r, const char *why);

/* ---------------- warm-up ---------------- */

static void warmup_tick(ev_loop_t *loop, void *arg)
{
    server_t *srv = arg;
    int warmed = 0;
    for (int i = 0; i < srv->nnodes; i++) {
        node_t *n = &srv->nodes[i];
        if (!sched_warmup_wanted(n->state == NODE_AWAKE || n->state == NODE_INVOKING)) continue;
        node_invoke(n, "warmup");
        /* A warm-up returns at once, but while it runs the instance is busy: requests for the
         * node wait this long rather than start a second instance (node_kick). */
        n->warming_until_ms = ev_now_ms() + SCHED_WARMUP_GRACE_MS;
        srv->stats.warmups++;
        warmed++;
    }
    log_debug("event=warmup nodes=%d", warmed);
    ev_timer_add(loop, proxy_scaled_ms(&srv->cfg, srv->cfg.warmup_interval_ms), warmup_tick, srv);
}

/* ---------------- backup scheduling ---------------- */

static void backup_end(node_t *n, int ok, const char *why)
{
    server_t *srv = n->srv;
    if (n->backup_state == BACKUP_IDLE) return;
    n->backup_state = BACKUP_IDLE;
    n->last_backup_ms = ev_now_ms();
    srv->backups_active--;
    ev_timer_cancel(srv->loop, n->backup_timer);
    n->backup_timer = 0;
    if (ok) {
        srv->stats.backups_ok++;
    } else {
        srv->stats.backups_failed++;
        log_warn("event=backup_failed node=%d reason=\"%s\"", n->id, why);
    }
    if (n->relay) relay_close(n->relay, ok ? "backup finished" : why);
    n->backup_token[0] = 0;
}

static void backup_timeout_cb(ev_loop_t *loop, void *arg)
{
    node_t *n = arg;
    n->backup_timer = 0;
    backup_end(n, 0, "timed out");
}

static void backup_reply(nreq_t *q, nres_t res, const char *err)
{
    node_t *n = q->node;
    int current = n->backup_state == BACKUP_REQUESTED &&
                  memmem(q->key, q->keylen, n->backup_token, strlen(n->backup_token)) != NULL;
    nreq_free(q);
    if (!current) return;
    if (res == NRES_OK)
        n->backup_state = BACKUP_RUNNING;
    else
        backup_end(n, 0, err ? err : "BACKUP refused");
}

static int relay_open(node_t *n);

static void backup_start(node_t *n)
{
    server_t *srv = n->srv;
    unsigned char r[8];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        uint64_t x = ev_now_us() * 6364136223846793005ull + (uint64_t)n->id;
        memcpy(r, &x, sizeof r);
    }
    for (int i = 0; i < 8; i++)
        sprintf(n->backup_token + 2 * i, "%02x", r[i]);
    if (relay_open(n) < 0) {
        n->last_backup_ms = ev_now_ms();
        return;
    }
    /* Arguments travel in the request's key field: "relay token endpoint [sigv4]". The relay is
     * on the host nodes already dial (node-advertise), at the relay port. The node signs its
     * invocation as the proxy signs its own (--aws-sigv4), with its function's credentials. */
    const char *colon = strrchr(srv->node_addr, ':');
    int hostlen = colon ? (int)(colon - srv->node_addr) : (int)strlen(srv->node_addr);
    char args[512];
    const char *sigv4 = srv->cfg.aws_sigv4 ? srv->cfg.aws_sigv4 : "";
    int len = snprintf(args, sizeof args, "%.*s:%d %s %s%s%s", hostlen, srv->node_addr,
                       srv->relay_port, n->backup_token, srv->platform_endpoint,
                       sigv4[0] ? " " : "", sigv4);
    nreq_t *q = nreq_new(NREQ_BACKUP, NULL, 0, args, (size_t)len, 0, 0);
    if (!q) {
        relay_close(n->relay, "out of memory");
        return;
    }
    q->done = backup_reply;
    n->backup_state = BACKUP_REQUESTED;
    n->backup_started_ms = ev_now_ms();
    srv->backups_active++;
    srv->stats.backups_started++;
    n->backup_timer =
        ev_timer_add(srv->loop, (uint64_t)srv->cfg.backup_timeout_ms, backup_timeout_cb, n);
    log_info("event=backup_start node=%d chunks=%" PRIu64 " bytes=%" PRIu64, n->id,
             n->room.chunks_placed, n->room.mem_placed);
    node_submit(n, q);
}

static void backup_tick(ev_loop_t *loop, void *arg)
{
    server_t *srv = arg;
    uint64_t interval = proxy_scaled_ms(&srv->cfg, srv->cfg.backup_interval_ms);
    uint64_t now = ev_now_ms();
    for (int i = 0; i < srv->nnodes && srv->backups_active < srv->cfg.backup_concurrency; i++) {
        node_t *n = &srv->nodes[i];
        /* Only an instance the proxy knows and has reconciled may be the source: a sync makes
         * the peer a mirror of the source, so an instance that came up empty (the function's
         * primary was reclaimed and a cold start took its place) must never overwrite a peer
         * that still holds the data. A sleeping node is woken by the BACKUP itself. */
        int eligible =
            n->conn && n->inventoried && (n->state == NODE_AWAKE || n->state == NODE_ASLEEP);
        if (sched_backup_check(&n->last_backup_ms, n->backup_state == BACKUP_IDLE,
                               n->room.chunks_placed, eligible, now, interval,
                               (uint64_t)rand()) == SCHED_BACKUP_START)
            backup_start(n);
    }
    ev_timer_add(loop, sched_backup_tick_ms(interval), backup_tick, srv);
}

void lifecycle_backup_done(node_t *n, int argc, const char **argv, const size_t *argl)
{
    server_t *srv = n->srv;
    if (argc < 3 || n->backup_state == BACKUP_IDLE || argl[1] != strlen(n->backup_token) ||
        memcmp(argv[1], n->backup_token, argl[1]) != 0) {
        log_info("event=backup_done_stale node=%d", n->id);
        return;
    }
    int ok = argl[2] == 2 && memcmp(argv[2], "ok", 2) == 0;
    int64_t chunks = 0, bytes = 0, deleted = 0;
    if (argc >= 6) {
        resp_parse_i64(argv[3], argl[3], &chunks);
        resp_parse_i64(argv[4], argl[4], &bytes);
        resp_parse_i64(argv[5], argl[5], &deleted);
    }
    if (ok) {
        srv->stats.backup_chunks += (uint64_t)chunks;
        srv->stats.backup_bytes += (uint64_t)bytes;
        srv->stats.backup_deletes += (uint64_t)deleted;
        srv->stats.last_backup_ms = ev_now_ms() - n->backup_started_ms;
        srv->stats.last_backup_bytes = (uint64_t)bytes;
        log_info("event=backup_done node=%d ms=%" PRIu64 " chunks=%" PRId64 " bytes=%" PRId64
                 " deleted=%" PRId64,
                 n->id, ev_now_ms() - n->backup_started_ms, chunks, bytes, deleted);
    }
    char why[128];
    snprintf(why, sizeof why, "node reported %.*s", (int)(argl[2] < 100 ? argl[2] : 100), argv[2]);
    backup_end(n, ok, why);
}

void lifecycle_node_lost(node_t *n)
{
    /* Its BACKUPDONE could only come on this connection: the backup is over. The relay closes
     * with it, which ends the sync on both instances. */
    if (n->backup_state != BACKUP_IDLE) backup_end(n, 0, "node connection lost");
}

/* ---------------- the relay ---------------- */

static void end_set_events(sync_relay_t *r, int e);

static void relay_close(sync_relay_t *r, const char *why)
{
    server_t *srv = r->srv;
    for (int e = 0; e < 2; e++) {
        if (r->end[e].fd >= 0) {
            ev_del(srv->loop, r->end[e].fd);
            close(r->end[e].fd);
        }
        for (int k = 0; k < 2; k++)
            if (r->pipe[e][k] >= 0) close(r->pipe[e][k]);
    }
    ev_timer_cancel(srv->loop, r->pair_timer);
    log_debug("event=relay_closed node=%d to_peer=%" PRIu64 " to_source=%" PRIu64 " why=\"%s\"",
              r->node->id, r->moved[0], r->moved[1], why);
    if (r->node->relay == r) r->node->relay = NULL;
    free(r);
}

static void pair_timeout_cb(ev_loop_t *loop, void *arg)
{
    sync_relay_t *r = arg;
    r->pair_timer = 0;
    if (r->end[0].fd >= 0 && r->end[1].fd >= 0) return;
    node_t *n = r->node;
    log_warn("event=backup_peer_missing node=%d source=%d peer=%d", n->id, r->end[0].fd >= 0,
             r->end[1].fd >= 0);
    /* Closing the source's end makes the node give up; without a source there is nothing to
     * wait for. */
    backup_end(n, 0, "the peer instance never connected to the relay");
}

static int relay_open(node_t *n)
{
    server_t *srv = n->srv;
    sync_relay_t *r = calloc(1, sizeof *r);
    if (!r) return -1;
    r->srv = srv;
    r->node = n;
    for (int e = 0; e < 2; e++) {
        r->end[e].fd = -1;
        r->pipe[e][0] = r->pipe[e][1] = -1;
    }
    for (int d = 0; d < 2; d++) {
        if (pipe2(r->pipe[d], O_NONBLOCK | O_CLOEXEC) < 0) {
            relay_close(r, "no pipe");
            return -1;
        }
        fcntl(r->pipe[d][0], F_SETPIPE_SZ, RELAY_PIPE_SIZE);
    }
    n->relay = r;
    r->pair_timer =
        ev_timer_add(srv->loop, (uint64_t)srv->cfg.node_connect_timeout_ms, pair_timeout_cb, r);
    return 0;
}

/* Moves what it can from end d into the pipe and from the pipe to the other end.
 * Returns -1 when the relay is finished (closed). */
static int pump_direction(sync_relay_t *r, int d)
{
    relay_end_t *from = &r->end[d], *to = &r->end[1 - d];
    size_t budget = RELAY_MAX_PER_PUMP;
    for (;;) {
        int progress = 0;
        if (!from->eof && r->in_pipe[d] < RELAY_PIPE_SIZE && budget > 0) {
            ssize_t n = splice(from->fd, NULL, r->pipe[d][1], NULL, RELAY_PIPE_SIZE - r->in_pipe[d],
                               SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
            if (n > 0) {
                r->in_pipe[d] += (size_t)n;
                budget = (size_t)n < budget ? budget - (size_t)n : 0;
                progress = 1;
            } else if (n == 0) {
                from->eof = 1;
            } else if (errno != EAGAIN && errno != EINTR) {
                from->eof = 1;
            }
        }
        if (r->in_pipe[d] > 0) {
            ssize_t n = splice(r->pipe[d][0], NULL, to->fd, NULL, r->in_pipe[d],
                               SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
            if (n > 0) {
                r->in_pipe[d] -= (size_t)n;
                r->moved[d] += (uint64_t)n;
                progress = 1;
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                return -1; /* the other end is gone: nothing more can be delivered */
            }
        }
        if (!progress || budget == 0) break;
    }
    /* A side that finished sending, with everything delivered, ends the relay: the sync
     * protocol is request/response, so the other side has nothing left to say that matters. */
    if (from->eof && r->in_pipe[d] == 0) return -1;
    return 0;
}

static void relay_io(ev_loop_t *loop, int fd, int events, void *arg)
{
    sync_relay_t *r = arg;
    for (int d = 0; d < 2; d++) {
        if (pump_direction(r, d) < 0) {
            node_t *n = r->node;
            log_info("event=relay_end node=%d to_peer=%" PRIu64 " to_source=%" PRIu64, n->id,
                     r->moved[0], r->moved[1]);
            relay_close(r, d == 0 ? "source closed" : "peer closed");
            return;
        }
    }
    end_set_events(r, 0);
    end_set_events(r, 1);
}

static void end_set_events(sync_relay_t *r, int e)
{
    relay_end_t *end = &r->end[e];
    if (end->fd < 0) return;
    int ev = 0;
    if (!end->eof && r->in_pipe[e] < RELAY_PIPE_SIZE) ev |= EV_READ;
    if (r->in_pipe[1 - e] > 0) ev |= EV_WRITE;
    if (ev != end->events) {
        ev_set(r->srv->loop, end->fd, ev, relay_io, r);
        end->events = ev;
    }
}

/* Attaches an introduced connection to its backup. Takes the fd either way. */
static void relay_attach(server_t *srv, int fd, const char *token, size_t tlen, const char *role,
                         size_t rlen, const char *rest, size_t restlen)
{
    int e = rlen == 6 && !memcmp(role, "source", 6) ? 0 : rlen == 4 && !memcmp(role, "peer", 4) ? 1
                                                                                                : -1;
    sync_relay_t *r = NULL;
    for (int i = 0; i < srv->nnodes && e >= 0; i++) {
        node_t *n = &srv->nodes[i];
        if (n->relay && tlen == strlen(n->backup_token) && !memcmp(token, n->backup_token, tlen))
            r = n->relay;
    }
    if (!r || r->end[e].fd >= 0) {
        log_warn("event=relay_refused role=%.*s", (int)(rlen < 16 ? rlen : 16), role);
        close(fd);
        return;
    }
    r->end[e].fd = fd;
    /* Bytes that came with the introduction belong to the stream. */
    if (restlen) {
        ssize_t w = write(r->pipe[e][1], rest, restlen);
        if (w > 0) r->in_pipe[e] += (size_t)w;
    }
    log_info("event=relay_joined node=%d role=%s", r->node->id, e == 0 ? "source" : "peer");
    if (r->end[0].fd >= 0 && r->end[1].fd >= 0) {
        ev_timer_cancel(srv->loop, r->pair_timer);
        r->pair_timer = 0;
        end_set_events(r, 0);
        end_set_events(r, 1);
    } else {
        /* Not read until the other side is there: its requests have nowhere to go yet. */
        r->end[e].events = 0;
    }
}

static void intro_free(relay_intro_t *in, int close_fd)
{
    ev_del(in->srv->loop, in->fd);
    if (close_fd) close(in->fd);
    ev_timer_cancel(in->srv->loop, in->timer);
    free(in);
}

static void intro_timeout(ev_loop_t *loop, void *arg)
{
    relay_intro_t *in = arg;
    in->timer = 0;
    log_warn("event=relay_intro_timeout");
    intro_free(in, 1);
}

static void intro_io(ev_loop_t *loop, int fd, int events, void *arg)
{
    relay_intro_t *in = arg;
    ssize_t n = read(fd, in->buf + in->len, sizeof in->buf - in->len);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        intro_free(in, 1);
        return;
    }
    if (n < 0) return;
    in->len += (size_t)n;
    /* Expect exactly: *4 $5 RELAY $<n> token $<n> role $64 proof, each bulk small. The proof
     * (HMAC of the challenge, token and role under the node secret) shows the end holds the
     * secret: a token alone, seen in an event, does not let anyone join a backup. */
    const char *argv[4];
    size_t argl[4];
    int argc = 0;
    resp_limits_t lim = resp_default_limits;
    lim.max_bulk = 128;
    lim.max_array = 4;
    ssize_t used = resp_parse_bulk_array(in->buf, in->len, &lim, &argc, argv, argl);
    if (used > 0 && (argc != 4 || argl[0] != 5 || strncasecmp(argv[0], "RELAY", 5) ||
                     !nodeauth_relay_ok(&in->srv->node_secrets, in->challenge, argv[1], argl[1],
                                    argv[2], argl[2], argv[3], argl[3]))) {
        in->srv->stats.nodes_refused++;
        log_warn("event=relay_refused reason=%s", argc == 4 ? "bad_proof" : "no_proof");
        intro_free(in, 1);
        return;
    }
    if (used > 0) {
        /* The connection leaves the introduction stage; the bytes after it go with it. */
        ev_del(loop, fd);
        ev_timer_cancel(loop, in->timer);
        relay_attach(in->srv, fd, argv[1], argl[1], argv[2], argl[2], in->buf + used,
                     in->len - (size_t)used);
        free(in);
        return;
    }
    if (used != 0 || in->len == sizeof in->buf) {
        log_warn("event=relay_bad_intro");
        intro_free(in, 1);
    }
}

void lifecycle_relay_adopt(server_t *srv, int fd)
{
    relay_intro_t *in = calloc(1, sizeof *in);
    if (!in) {
        close(fd);
        return;
    }
    in->srv = srv;
    in->fd = fd;
    char msg[96];
    size_t len;
    if (nodeauth_random_hex(in->challenge, NODEAUTH_NONCE_BYTES) < 0 ||
        !(len = nodeauth_challenge_message(in->challenge, msg, sizeof msg)) ||
        write(fd, msg, len) != (ssize_t)len) {
        /* A fresh socket takes 80 bytes at once; anything else is a dead peer. */
        close(fd);
        free(in);
        return;
    }
    in->timer =
        ev_timer_add(srv->loop, (uint64_t)srv->cfg.node_connect_timeout_ms, intro_timeout, in);
    ev_set(srv->loop, fd, EV_READ, intro_io, in);
}

static void relay_accept(ev_loop_t *loop, int lfd, int events, void *arg)
{
    server_t *srv = arg;
    for (int i = 0; i < 64; i++) {
        int fd = net_accept(lfd);
        if (fd < 0) return;
        net_set_bufsizes(fd, 4 << 20);
        lifecycle_relay_adopt(srv, fd);
    }
}

int lifecycle_start(server_t *srv, char *err, size_t errlen)
{
    srv->relay_lfd = net_listen(srv->cfg.bind, (int)srv->cfg.relay_port, 128);
    if (srv->relay_lfd < 0) {
        snprintf(err, errlen, "cannot listen on %s:%" PRId64 " (relay): %s", srv->cfg.bind,
                 srv->cfg.relay_port, strerror(-srv->relay_lfd));
        return -1;
    }
    srv->relay_port = net_local_port(srv->relay_lfd);
    ev_set(srv->loop, srv->relay_lfd, EV_READ, relay_accept, srv);
    if (srv->cfg.warmup_interval_ms > 0)
        ev_timer_add(srv->loop, proxy_scaled_ms(&srv->cfg, srv->cfg.warmup_interval_ms),
                     warmup_tick, srv);
    if (srv->cfg.backup_interval_ms > 0) ev_timer_add(srv->loop, 100, backup_tick, srv);
    return 0;
}
