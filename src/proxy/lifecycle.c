/* lifecycle.c -- keeping data alive on functions: warm-up invocations, backup scheduling, and
 * the relay port where a backing-up node meets the peer instance of its own function.
 *
 * A backup (docs/ARCHITECTURE.md, "Backup"): the proxy sends the node BACKUP with a relay
 * address and a fresh token; the node invokes its own function, so the platform runs the
 * "backup-peer" event on a second instance; both dial the relay port and introduce themselves
 * with `RELAY token source|peer`; once both are there the relay splices bytes both ways without
 * looking at them (it never holds more than a pipe's worth). With node-tls the relay port speaks
 * TLS only, as the node port does: each end's bytes are decrypted into a buffer and encrypted
 * again toward the other end (no kernel TLS here to splice through). The node reports the
 * outcome with BACKUPDONE. Every step is bounded: the pairing by node-connect-timeout, the whole backup by
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
#include "lifecycle.h"
#include "nodepool.h"
#include "nodeproto.h"
#include "proxy_config.h"
#include "server.h"
#include "resp.h"
#include "tls.h"
#include "schedule.h"

#define RELAY_HELLO_MAX 512         /* bytes of the RELAY introduction */
#define RELAY_PIPE_SIZE (1 << 20)
#define RELAY_MAX_PER_PUMP (8u << 20) /* bytes per direction per wake-up */
#define RELAY_TLS_BUF (256u << 10)    /* TLS: decrypted bytes held per direction */

/* One end of a relay: a node instance's connection. */
typedef struct {
    int fd;
    tls_t *tls;       /* node-tls: the end's TLS state (then the relay copies, never splices) */
    int eof;          /* read side finished */
    int events;       /* what is registered with the loop */
    int read_blocked; /* TLS: a read needs the socket writable first */
} relay_end_t;

typedef struct sync_relay {
    server_t *srv;
    node_t *node;
    relay_end_t end[2]; /* 0: source, 1: peer */
    int tls;            /* the ends speak TLS: bytes go through buf, not pipe */
    int pipe[2][2];     /* plaintext: pipe[d] carries bytes from end d to end 1-d */
    size_t in_pipe[2];
    char *buf[2]; /* TLS: buf[d] holds bytes from end d to end 1-d, from off for len */
    size_t off[2], len[2];
    uint64_t moved[2];
    uint64_t pair_timer;
    uint64_t kick_timer; /* TLS: input waits inside OpenSSL, where epoll cannot see it */
} sync_relay_t;

/* A connection to the relay port that has not said who it is yet. */
typedef enum { INTRO_HANDSHAKE, INTRO_CHALLENGE, INTRO_READ } intro_stage_t;
typedef struct {
    server_t *srv;
    int fd;
    tls_t *tls; /* node-tls: the handshake comes first */
    intro_stage_t stage;
    char buf[RELAY_HELLO_MAX];
    size_t len;
    uint64_t timer;
    char challenge[NODEAUTH_NONCE_HEX + 1]; /* sent on accept; RELAY carries a proof over it */
    char msg[96];                           /* the CHALLENGE message, sent from msg_off */
    size_t msg_len, msg_off;
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
    const char *sigv4 = srv->aws_sigv4;
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
        int eligible = sched_backup_source_ok(n->conn != NULL, n->inventoried,
                                              n->state != NODE_AWAKE && n->state != NODE_ASLEEP);
        if (sched_backup_check(&n->last_backup_ms, n->backup_state == BACKUP_IDLE,
                               n->room.chunks_placed, eligible, now, interval,
                               (uint64_t)rand()) == SCHED_BACKUP_START)
            backup_start(n);
    }
    ev_timer_add(loop, sched_backup_tick_ms(interval), backup_tick, srv);
}

void lifecycle_backup_done(node_t *n, const nodeproto_msg_t *m)
{
    server_t *srv = n->srv;
    nodeproto_backupdone_t b;
    if (nodeproto_backupdone_decode(m, &b) < 0 || n->backup_state == BACKUP_IDLE ||
        b.token_len != strlen(n->backup_token) ||
        memcmp(b.token, n->backup_token, b.token_len) != 0) {
        log_info("event=backup_done_stale node=%d", n->id);
        return;
    }
    int ok = b.ok;
    int64_t chunks = b.chunks_sent, bytes = b.bytes_sent, deleted = b.chunks_deleted;
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
    snprintf(why, sizeof why, "node reported %.*s", (int)(b.status_len < 100 ? b.status_len : 100),
             b.status);
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
static void relay_io(ev_loop_t *loop, int fd, int events, void *arg);

static void relay_close(sync_relay_t *r, const char *why)
{
    server_t *srv = r->srv;
    for (int e = 0; e < 2; e++) {
        if (r->end[e].tls) {
            tls_shutdown(r->end[e].tls);
            tls_free(r->end[e].tls);
        }
        if (r->end[e].fd >= 0) {
            ev_del(srv->loop, r->end[e].fd);
            close(r->end[e].fd);
        }
        for (int k = 0; k < 2; k++)
            if (r->pipe[e][k] >= 0) close(r->pipe[e][k]);
        free(r->buf[e]);
    }
    ev_timer_cancel(srv->loop, r->pair_timer);
    ev_timer_cancel(srv->loop, r->kick_timer);
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
    r->tls = srv->node_tls != NULL;
    for (int e = 0; e < 2; e++) {
        r->end[e].fd = -1;
        r->pipe[e][0] = r->pipe[e][1] = -1;
    }
    for (int d = 0; d < 2; d++) {
        if (r->tls) {
            if (!(r->buf[d] = malloc(RELAY_TLS_BUF))) {
                relay_close(r, "out of memory");
                return -1;
            }
            continue;
        }
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

/* Plaintext: moves what it can from end d into the pipe and from the pipe to the other end.
 * Returns -1 when the relay is finished (closed). */
static int splice_direction(sync_relay_t *r, int d)
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

static void kick_cb(ev_loop_t *loop, void *arg)
{
    sync_relay_t *r = arg;
    r->kick_timer = 0;
    relay_io(loop, -1, 0, r);
}

/* Runs the pump again from the loop: for bytes OpenSSL has read ahead of the socket. */
static void relay_kick(sync_relay_t *r)
{
    if (!r->kick_timer) r->kick_timer = ev_timer_add(r->srv->loop, 0, kick_cb, r);
}

/* TLS: decrypts what it can from end d into buf[d] and encrypts it toward the other end.
 * Returns -1 when the relay is finished (closed). */
static int copy_direction(sync_relay_t *r, int d)
{
    relay_end_t *from = &r->end[d], *to = &r->end[1 - d];
    size_t budget = RELAY_MAX_PER_PUMP;
    from->read_blocked = 0;
    for (;;) {
        int progress = 0;
        if (r->len[d] == 0) r->off[d] = 0;
        size_t room = RELAY_TLS_BUF - r->off[d] - r->len[d];
        if (!from->eof && room > 0 && budget > 0) {
            ssize_t n = tls_read(from->tls, r->buf[d] + r->off[d] + r->len[d], room);
            if (n > 0) {
                r->len[d] += (size_t)n;
                budget = (size_t)n < budget ? budget - (size_t)n : 0;
                progress = 1;
            } else if (n == TLS_WANT_WRITE) {
                from->read_blocked = 1;
            } else if (n != TLS_WANT_READ && n != -EINTR) {
                from->eof = 1; /* the end, a reset, or a TLS failure: nothing more comes */
            }
        }
        if (r->len[d] > 0) {
            struct iovec iov = {r->buf[d] + r->off[d], r->len[d]};
            ssize_t n = tls_writev(to->tls, &iov, 1);
            if (n > 0) {
                r->off[d] += (size_t)n;
                r->len[d] -= (size_t)n;
                r->moved[d] += (uint64_t)n;
                progress = 1;
            } else if (n != TLS_WANT_READ && n != TLS_WANT_WRITE && n != -EINTR) {
                return -1;
            }
        }
        if (!progress || budget == 0) break;
    }
    if (from->eof && r->len[d] == 0) return -1;
    if (!from->eof && r->len[d] < RELAY_TLS_BUF && tls_pending(from->tls) > 0) relay_kick(r);
    return 0;
}

static void relay_io(ev_loop_t *loop, int fd, int events, void *arg)
{
    sync_relay_t *r = arg;
    for (int d = 0; d < 2; d++) {
        if ((r->tls ? copy_direction(r, d) : splice_direction(r, d)) < 0) {
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
    if (r->tls) {
        if (!end->eof && r->off[e] + r->len[e] < RELAY_TLS_BUF) ev |= EV_READ;
        if (r->len[1 - e] > 0 || end->read_blocked) ev |= EV_WRITE;
    } else {
        if (!end->eof && r->in_pipe[e] < RELAY_PIPE_SIZE) ev |= EV_READ;
        if (r->in_pipe[1 - e] > 0) ev |= EV_WRITE;
    }
    if (ev != end->events) {
        ev_set(r->srv->loop, end->fd, ev, relay_io, r);
        end->events = ev;
    }
}

/* Attaches an introduced connection (and its TLS state) to its backup. Takes both either way. */
static void relay_attach(server_t *srv, int fd, tls_t *tls, const char *token, size_t tlen,
                         const char *role, size_t rlen, const char *rest, size_t restlen)
{
    int e = rlen == 6 && !memcmp(role, "source", 6) ? 0 : rlen == 4 && !memcmp(role, "peer", 4) ? 1
                                                                                                : -1;
    sync_relay_t *r = NULL;
    for (int i = 0; i < srv->nnodes && e >= 0; i++) {
        node_t *n = &srv->nodes[i];
        if (n->relay && tlen == strlen(n->backup_token) && !memcmp(token, n->backup_token, tlen))
            r = n->relay;
    }
    if (!r || r->end[e].fd >= 0 || r->tls != (tls != NULL)) {
        log_warn("event=relay_refused role=%.*s", (int)(rlen < 16 ? rlen : 16), role);
        tls_free(tls);
        close(fd);
        return;
    }
    r->end[e].fd = fd;
    r->end[e].tls = tls;
    /* Bytes that came with the introduction belong to the stream. */
    if (restlen && r->tls) {
        memcpy(r->buf[e], rest, restlen); /* restlen < RELAY_HELLO_MAX < RELAY_TLS_BUF */
        r->len[e] = restlen;
    } else if (restlen) {
        ssize_t w = write(r->pipe[e][1], rest, restlen);
        if (w > 0) r->in_pipe[e] += (size_t)w;
    }
    log_info("event=relay_joined node=%d role=%s", r->node->id, e == 0 ? "source" : "peer");
    if (r->end[0].fd >= 0 && r->end[1].fd >= 0) {
        ev_timer_cancel(srv->loop, r->pair_timer);
        r->pair_timer = 0;
        end_set_events(r, 0);
        end_set_events(r, 1);
        /* Input may already wait inside OpenSSL, read with the introduction. */
        if (r->tls) relay_kick(r);
    } else {
        /* Not read until the other side is there: its requests have nowhere to go yet. */
        r->end[e].events = 0;
    }
}

static void intro_free(relay_intro_t *in, int close_fd)
{
    ev_del(in->srv->loop, in->fd);
    if (close_fd) {
        tls_free(in->tls);
        close(in->fd);
    }
    ev_timer_cancel(in->srv->loop, in->timer);
    free(in);
}

static void intro_timeout(ev_loop_t *loop, void *arg)
{
    relay_intro_t *in = arg;
    in->timer = 0;
    log_warn("event=relay_intro_timeout");
    if (in->stage == INTRO_HANDSHAKE) in->srv->tp.stats.tls_handshake_failures++;
    intro_free(in, 1);
}

static void intro_io(ev_loop_t *loop, int fd, int events, void *arg);

/* Reads into the introduction buffer: >0, 0 at the end, -EAGAIN, or another negative. */
static ssize_t intro_read(relay_intro_t *in)
{
    void *p = in->buf + in->len;
    size_t n = sizeof in->buf - in->len;
    if (!in->tls) {
        ssize_t r = read(in->fd, p, n);
        return r < 0 ? -errno : r;
    }
    ssize_t r = tls_read(in->tls, p, n);
    return r == TLS_WANT_READ || r == TLS_WANT_WRITE ? -EAGAIN : r == TLS_ERR ? -EPROTO : r;
}

/* The TLS stages: the handshake, then the challenge through it. 1 when the introduction can be
 * read, 0 to wait (events set), -1 when the connection was dropped. */
static int intro_tls_step(relay_intro_t *in)
{
    ev_loop_t *loop = in->srv->loop;
    if (in->stage == INTRO_HANDSHAKE) {
        int rc = tls_handshake(in->tls);
        if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
            ev_set(loop, in->fd, rc == TLS_WANT_READ ? EV_READ : EV_WRITE, intro_io, in);
            return 0;
        }
        if (rc != 0) {
            char peer[64];
            in->srv->tp.stats.tls_handshake_failures++;
            log_warn("event=tls_handshake_failed kind=relay peer=%s error=\"%s\"",
                     net_peer_name(in->fd, peer, sizeof peer), tls_last_error(in->tls));
            return -1;
        }
        in->srv->tp.stats.tls_connections++;
        in->stage = INTRO_CHALLENGE;
    }
    if (in->stage == INTRO_CHALLENGE) {
        struct iovec iov = {in->msg + in->msg_off, in->msg_len - in->msg_off};
        ssize_t w = tls_writev(in->tls, &iov, 1);
        if (w == TLS_WANT_READ || w == TLS_WANT_WRITE) {
            ev_set(loop, in->fd, w == TLS_WANT_READ ? EV_READ : EV_WRITE, intro_io, in);
            return 0;
        }
        if (w < 0) return -1;
        in->msg_off += (size_t)w;
        if (in->msg_off < in->msg_len) {
            ev_set(loop, in->fd, EV_WRITE, intro_io, in);
            return 0;
        }
        in->stage = INTRO_READ;
        ev_set(loop, in->fd, EV_READ, intro_io, in);
    }
    return 1;
}

static void intro_io(ev_loop_t *loop, int fd, int events, void *arg)
{
    relay_intro_t *in = arg;
    if (in->tls) {
        int rc = intro_tls_step(in);
        if (rc < 0) intro_free(in, 1);
        if (rc <= 0) return;
    }
    /* TLS may hold more than one read's worth: read until the socket is dry or RELAY parses. */
    for (;;) {
        ssize_t n = intro_read(in);
        if (n == -EAGAIN || n == -EINTR) return;
        if (n <= 0) {
            intro_free(in, 1);
            return;
        }
        in->len += (size_t)n;
        /* Expect exactly: *4 $5 RELAY $<n> token $<n> role $64 proof, each bulk small. The proof
         * (HMAC of the challenge, token and role under the node secret) shows the end holds the
         * secret: a token alone, seen in an event, does not let anyone join a backup. */
        nodeproto_msg_t m;
        ssize_t used = nodeproto_parse_relay(in->buf, in->len, &m);
        int argc = m.argc;
        const char *const *argv = m.argv;
        const size_t *argl = m.argl;
        if (used > 0 && (argc != 4 || !nodeproto_msg_is(&m, "RELAY") ||
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
            relay_attach(in->srv, fd, in->tls, argv[1], argl[1], argv[2], argl[2],
                         in->buf + used, in->len - (size_t)used);
            free(in);
            return;
        }
        if (used != 0 || in->len == sizeof in->buf) {
            log_warn("event=relay_bad_intro");
            intro_free(in, 1);
            return;
        }
        if (!in->tls) return; /* level-triggered: the loop says when there is more */
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
    if (nodeauth_random_hex(in->challenge, NODEAUTH_NONCE_BYTES) < 0 ||
        !(in->msg_len = nodeauth_challenge_message(in->challenge, in->msg, sizeof in->msg))) {
        close(fd);
        free(in);
        return;
    }
    if (srv->node_tls) {
        /* TLS only, as on the node port: the challenge goes out once the handshake is done. */
        if (!(in->tls = tls_new_server(srv->node_tls, fd))) {
            close(fd);
            free(in);
            return;
        }
        in->stage = INTRO_HANDSHAKE;
    } else {
        in->stage = INTRO_READ;
        if (write(fd, in->msg, in->msg_len) != (ssize_t)in->msg_len) {
            /* A fresh socket takes 80 bytes at once; anything else is a dead peer. */
            close(fd);
            free(in);
            return;
        }
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
