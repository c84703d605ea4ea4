/* lanes.c -- the extra connections to the proxy that LANES asks for (see lanes.h). */
#include "lanes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "log.h"
#include "net.h"
#include "nodeauth.h"
#include "tls.h"

void lanes_init(lanes_t *l, node_conn_t *lane0, const char *instance, const char *secret,
                int connect_timeout_ms)
{
    memset(l, 0, sizeof *l);
    l->lane0 = lane0;
    l->instance = instance;
    l->secret = secret;
    l->connect_timeout_ms = connect_timeout_ms;
    l->wanted = 1;
}

static void lane_free(lanes_t *l, unsigned i)
{
    if (!l->lane[i]) return;
    node_conn_free(&l->lane[i]->conn);
    free(l->lane[i]);
    l->lane[i] = NULL;
}

/* Closes and frees lanes from..NODE_LANES_MAX-1. */
static void lanes_free_from(lanes_t *l, unsigned from)
{
    for (unsigned i = from < 1 ? 1 : from; i < NODE_LANES_MAX; i++)
        lane_free(l, i);
}

void lanes_free(lanes_t *l)
{
    lanes_free_from(l, 1);
    l->wanted = 1;
}

/* Lane i's state, allocated on first use so that a node whose proxy asks for no lanes carries
 * none. NULL when out of memory. */
static lane_t *lane_get(lanes_t *l, unsigned i)
{
    if (l->lane[i]) return l->lane[i];
    lane_t *ln = calloc(1, sizeof *ln);
    if (!ln) return NULL;
    node_conn_t *z = l->lane0;
    node_conn_init(&ln->conn, z->store, z->policy, z->invocations);
    ln->conn.role = "lane";
    ln->conn.lane = i;
    ln->backoff = LANES_REDIAL_MIN_MS;
    l->lane[i] = ln;
    return ln;
}

static const char *step_name(lane_state_t s)
{
    switch (s) {
    case LANE_CONNECTING:
        return "connect";
    case LANE_TLS:
        return "tls";
    case LANE_CHALLENGE:
        return "challenge";
    default:
        return "open";
    }
}

/* The lane is closed: dialled again after its backoff, which doubles for the next time. */
static void lane_down(lane_t *ln, uint64_t now)
{
    node_conn_close(&ln->conn);
    ln->state = LANE_DOWN;
    ln->retry_at = now + ln->backoff;
    ln->backoff = ln->backoff * 2 > LANES_REDIAL_MAX_MS ? LANES_REDIAL_MAX_MS : ln->backoff * 2;
}

static void lane_fail(lane_t *ln, int err, uint64_t now)
{
    log_warn("event=lane_open_failed lane=%u step=%s addr=%s:%d err=\"%s\" retry_ms=%llu",
             ln->conn.lane, step_name(ln->state), ln->conn.host, ln->conn.port, strerror(-err),
             (unsigned long long)ln->backoff);
    lane_down(ln, now);
}

/* An open lane was closed (by the proxy, or for its malformed input, in serve.c). */
static void lane_lost(lane_t *ln, uint64_t now)
{
    node_conn_t *c = &ln->conn;
    if (c->refused[0]) {
        /* The proxy did not accept the LANE proof: not again before the next invocation. */
        log_warn("event=lane_refused lane=%u reason=%s", c->lane, c->refused);
        c->refused[0] = '\0';
        ln->refused = 1;
    } else {
        log_info("event=lane_lost lane=%u retry_ms=%llu", c->lane, (unsigned long long)ln->backoff);
    }
    lane_down(ln, now);
}

/* Starts dialling lane i: a connect to lane 0's peer, completed in lane_advance. */
static void lane_dial(lanes_t *l, unsigned i, uint64_t now)
{
    lane_t *ln = lane_get(l, i);
    if (!ln) {
        log_error("event=out_of_memory where=lane lane=%u", i);
        return;
    }
    node_conn_t *c = &ln->conn, *z = l->lane0;
    node_conn_close(c);
    snprintf(c->host, sizeof c->host, "%s", z->host);
    c->port = z->port;
    c->tls_ctx = z->tls_ctx; /* lane 0's: TLS (verified against the same host) or none */
    c->throttle = z->throttle;
    ln->state = LANE_CONNECTING;
    int fd = net_connect_start((const struct sockaddr *)&l->addr, l->addrlen);
    if (fd < 0) {
        lane_fail(ln, fd, now);
        return;
    }
    c->fd = fd;
    c->generation++;
    ln->step_deadline = now + (uint64_t)l->connect_timeout_ms;
}

/* The challenge is known: queue LANE node_id instance lane proof. 0, or -ENOMEM. */
static int lane_prove(lanes_t *l, lane_t *ln)
{
    node_conn_t *c = &ln->conn;
    char lane_text[8], proof[NODEAUTH_MAC_HEX + 1];
    snprintf(lane_text, sizeof lane_text, "%u", c->lane);
    nodeauth_lane_proof(l->secret, c->challenge, strlen(c->challenge), l->node_id,
                        strlen(l->node_id), l->instance, strlen(l->instance), lane_text,
                        strlen(lane_text), proof);
    nodeproto_lane_t m = {.node_id = strtoll(l->node_id, NULL, 10),
                          .lane = c->lane,
                          .instance = l->instance,
                          .instance_len = strlen(l->instance),
                          .proof = proof,
                          .proof_len = NODEAUTH_MAC_HEX};
    return nodeproto_put_lane(&c->out.small, &m) < 0 ? -ENOMEM : 0;
}

/* Moves a lane on with the events poll gave it: through the opening steps (each may complete at
 * once, so the next is tried in the same call), then requests and replies as on lane 0. */
static void lane_advance(lanes_t *l, lane_t *ln, short revents, uint64_t now)
{
    node_conn_t *c = &ln->conn;
    uint64_t step_end = now + (uint64_t)l->connect_timeout_ms;
    if (ln->state == LANE_CONNECTING) {
        if (!(revents & (POLLOUT | POLLERR | POLLHUP))) return;
        int rc = net_connect_result(c->fd);
        if (rc < 0) {
            lane_fail(ln, rc, now);
            return;
        }
        if (c->tls_ctx) {
            c->tls = tls_new_client(c->tls_ctx, c->fd, c->host);
            if (!c->tls) {
                lane_fail(ln, -ENOMEM, now);
                return;
            }
            ln->state = LANE_TLS;
        } else {
            ln->state = LANE_CHALLENGE;
        }
        ln->step_deadline = step_end;
    }
    if (ln->state == LANE_TLS) {
        int rc = tls_handshake(c->tls);
        if (rc == TLS_WANT_READ || rc == TLS_WANT_WRITE) {
            ln->tls_want = rc == TLS_WANT_READ ? POLLIN : POLLOUT;
            return;
        }
        if (rc != 0) {
            log_warn("event=lane_tls_failed lane=%u addr=%s:%d err=\"%s\"", c->lane, c->host,
                     c->port, tls_last_error(c->tls));
            lane_fail(ln, -EPROTO, now);
            return;
        }
        ln->state = LANE_CHALLENGE;
        ln->step_deadline = step_end;
    }
    if (ln->state == LANE_CHALLENGE) {
        int rc = node_conn_challenge_step(c);
        if (rc == 0) return;
        if (rc < 0 || lane_prove(l, ln) < 0) {
            lane_fail(ln, rc < 0 ? rc : -ENOMEM, now);
            return;
        }
        ln->state = LANE_OPEN;
        log_info("event=lane_open lane=%u addr=%s:%d tls=%d", c->lane, c->host, c->port,
                 c->tls != NULL);
        /* Writes LANE and serves whatever came behind the challenge. */
        if (node_conn_handle(c, 0) < 0) lane_lost(ln, now);
        return;
    }
    if (ln->state == LANE_OPEN && revents && node_conn_handle(c, revents) < 0) lane_lost(ln, now);
}

void lanes_follow(lanes_t *l)
{
    node_conn_t *z = l->lane0;
    if (l->wanted <= 1 || (z->fd >= 0 && z->generation == l->session)) return;
    log_info("event=lanes_dropped lanes=%u reason=%s", l->wanted,
             z->fd < 0 ? "lane0_closed" : "lane0_replaced");
    lanes_free(l);
    l->epoch++;
}

int lanes_request(lanes_t *l, unsigned n, uint64_t now)
{
    node_conn_t *z = l->lane0;
    if (n < 1 || n > NODE_LANES_MAX) return -EINVAL;
    if (z->fd < 0) return -ENOTCONN;
    if (n > 1) {
        /* The address lane 0 reached, not its name again: no lookup that could block or land
         * on another proxy behind the same name. */
        struct sockaddr_storage a;
        socklen_t len = sizeof a;
        if (getpeername(z->fd, (struct sockaddr *)&a, &len) < 0) return -errno;
        l->addr = a;
        l->addrlen = (unsigned)len;
    }
    lanes_follow(l); /* lanes of an earlier lane-0 connection go first */
    l->session = z->generation;
    lanes_free_from(l, n);
    l->wanted = n;
    l->epoch++;
    for (unsigned i = 1; i < n; i++) {
        lane_t *ln = l->lane[i];
        if (ln && ln->state != LANE_DOWN) continue;
        if (ln) {
            ln->refused = 0;
            ln->backoff = LANES_REDIAL_MIN_MS;
        }
        lane_dial(l, i, now);
    }
    log_info("event=lanes wanted=%u", n);
    return 0;
}

void lanes_begin(lanes_t *l, int64_t node_id, uint64_t now)
{
    lanes_follow(l);
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)node_id);
    /* LANE carries the node id: lanes opened under another one are opened again. */
    int renamed = strcmp(id, l->node_id) != 0;
    memcpy(l->node_id, id, sizeof id);
    for (unsigned i = 1; i < l->wanted; i++) {
        lane_t *ln = l->lane[i];
        if (ln) {
            ln->conn.served = ln->conn.stored = 0;
            ln->refused = 0;
            ln->backoff = LANES_REDIAL_MIN_MS;
            if (ln->state == LANE_OPEN && !renamed) {
                if (!node_conn_check_alive(&ln->conn)) ln->state = LANE_DOWN;
            } else if (ln->state != LANE_DOWN) {
                node_conn_close(&ln->conn); /* caught half-open by the freeze, or renamed */
                ln->state = LANE_DOWN;
            }
        }
        if (!ln || ln->state == LANE_DOWN) lane_dial(l, i, now);
    }
    l->epoch++;
}

void lanes_step(lanes_t *l, uint64_t now)
{
    lanes_follow(l);
    for (unsigned i = 1; i < l->wanted; i++) {
        lane_t *ln = l->lane[i];
        if (!ln || ln->state == LANE_DOWN) {
            if (ln && (ln->refused || now < ln->retry_at)) continue;
            lane_dial(l, i, now);
        } else if (ln->state != LANE_OPEN && now >= ln->step_deadline) {
            lane_fail(ln, -ETIMEDOUT, now);
        }
    }
}

int lanes_inflight(const lanes_t *l)
{
    for (unsigned i = 1; i < l->wanted; i++) {
        const lane_t *ln = l->lane[i];
        if (!ln || ln->state == LANE_DOWN) continue;
        if (ln->state != LANE_OPEN || node_conn_inflight(&ln->conn)) return 1;
    }
    return 0;
}

int lanes_wait_ms(const lanes_t *l, uint64_t now)
{
    int wait = -1;
    for (unsigned i = 1; i < l->wanted; i++) {
        const lane_t *ln = l->lane[i];
        if (!ln) continue;
        int w;
        if (ln->state == LANE_OPEN) {
            w = node_conn_wait_ms(&ln->conn, now);
        } else if (ln->state == LANE_DOWN && ln->refused) {
            continue;
        } else {
            uint64_t at = ln->state == LANE_DOWN ? ln->retry_at : ln->step_deadline;
            w = at <= now ? 0 : at - now > 60000 ? 60000 : (int)(at - now);
        }
        if (w >= 0 && (wait < 0 || w < wait)) wait = w;
    }
    return wait;
}

unsigned lanes_poll(lanes_t *l, struct pollfd *p, int *held)
{
    unsigned n = 0;
    l->held_mask = 0;
    for (unsigned i = 1; i < l->wanted; i++) {
        lane_t *ln = l->lane[i];
        if (!ln || ln->conn.fd < 0 || ln->state == LANE_DOWN) continue;
        short ev = 0;
        switch (ln->state) {
        case LANE_CONNECTING:
            ev = POLLOUT;
            break;
        case LANE_TLS:
            ev = ln->tls_want ? ln->tls_want : POLLIN;
            break;
        case LANE_CHALLENGE:
            ev = POLLIN;
            break;
        default:
            ev = node_conn_poll_events(&ln->conn);
            break;
        }
        int reads = ln->state == LANE_CHALLENGE || ln->state == LANE_OPEN;
        if (reads && (ev & POLLIN) && node_conn_input_held(&ln->conn)) {
            l->held_mask |= (uint64_t)1 << i;
            *held = 1;
        }
        p[n] = (struct pollfd){ln->conn.fd, ev, 0};
        l->polled[n++] = (unsigned char)i;
    }
    l->npolled = n;
    l->polled_epoch = l->epoch;
    return n;
}

void lanes_handle(lanes_t *l, const struct pollfd *p, uint64_t now)
{
    /* LANES (on lane 0, handled first) or a drop since the poll: these events may belong to
     * lanes that are gone or to a new lane on a reused descriptor. Poll reports them again. */
    if (l->polled_epoch != l->epoch) return;
    for (unsigned k = 0; k < l->npolled; k++) {
        unsigned i = l->polled[k];
        lane_t *ln = l->lane[i];
        if (!ln || ln->conn.fd != p[k].fd) continue;
        short rev = p[k].revents;
        if (l->held_mask & ((uint64_t)1 << i)) rev |= POLLIN;
        if (rev) lane_advance(l, ln, rev, now);
    }
}

void lanes_finish(lanes_t *l, int timeout_ms)
{
    lanes_follow(l);
    uint64_t end = ev_now_ms() + (uint64_t)timeout_ms;
    for (unsigned i = 1; i < l->wanted; i++) {
        lane_t *ln = l->lane[i];
        if (!ln || ln->state == LANE_DOWN) continue;
        if (ln->state != LANE_OPEN) {
            /* A freeze would find it half-open: dialled afresh at the next invocation. */
            node_conn_close(&ln->conn);
            ln->state = LANE_DOWN;
            continue;
        }
        if (outq_pending(&ln->conn.out)) {
            uint64_t now = ev_now_ms();
            int rc = node_conn_flush(&ln->conn, now < end ? (int)(end - now) : 0);
            if (rc < 0) {
                log_warn("event=lane_flush_failed lane=%u err=%s", i, strerror(-rc));
                node_conn_close(&ln->conn); /* cut mid-reply: the stream cannot be trusted */
            }
        }
        if (ln->conn.fd < 0) ln->state = LANE_DOWN;
    }
    l->epoch++;
}

uint64_t lanes_served(const lanes_t *l)
{
    uint64_t n = 0;
    for (unsigned i = 1; i < NODE_LANES_MAX; i++)
        if (l->lane[i]) n += l->lane[i]->conn.served;
    return n;
}

uint64_t lanes_stored(const lanes_t *l)
{
    uint64_t n = 0;
    for (unsigned i = 1; i < NODE_LANES_MAX; i++)
        if (l->lane[i]) n += l->lane[i]->conn.stored;
    return n;
}

unsigned lanes_open(const lanes_t *l)
{
    unsigned n = 0;
    for (unsigned i = 1; i < l->wanted; i++)
        if (l->lane[i] && l->lane[i]->state == LANE_OPEN) n++;
    return n;
}

void lanes_trim(lanes_t *l)
{
    for (unsigned i = 1; i < l->wanted; i++)
        if (l->lane[i]) node_conn_trim(&l->lane[i]->conn);
}
