/* main.c -- icnode: the InfiniCache cache node as a Lambda custom runtime (bootstrap). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bill.h"
#include "billing.h"
#include "clock.h"
#include "ev.h"
#include "lanes.h"
#include "log.h"
#include "node.h"
#include "nodeproto.h"
#include "sync.h"
#include "tls.h"

typedef struct {
    runtime_t rt;
    node_config_t cfg;
    store_t store;
    policy_t policy;
    node_conn_t conn;    /* to the proxy (lane 0); survives freezing */
    lanes_t lanes;       /* the extra lanes to the proxy that LANES asks for; survive it too */
    node_conn_t peer;    /* to the relay, while this instance is a backup peer */
    sync_t sync;         /* a backup this instance runs as the source */
    throttle_t throttle; /* network emulation toward the proxy, when configured */
    char instance[17];
    uint64_t invocations;
    nodeauth_secrets_t secrets; /* IC_NODE_SECRET: events, HELLO and RELAY proofs */
    node_replay_t replay;       /* nonces of accepted events */
    /* The highest takeover epoch of the events this instance accepted (docs/STANDBY.md): an
     * event of a lower one comes from a proxy that has been replaced and is refused. */
    int64_t epoch;
    node_conn_t notice; /* a short connection that tells a replaced proxy so */
    tls_ctx_t *tls_ca; /* verifies the proxy and relay against IC_NODE_TLS_CA; made on first need */
    node_bill_t bill;  /* this instance's billing records, until lane 0 carries them */
} node_t;

/* The event asked for TLS (node-tls on the proxy; a backup peer's event says so when its source
 * reaches the proxy over TLS): connection c uses a context that verifies the far end's
 * certificate against the CA bundle in IC_NODE_TLS_CA. Without one the invocation fails: a node
 * never dials TLS unverified. 0, or -1 with the error posted to the platform. */
static int tls_setup(node_t *n, node_conn_t *c, const runtime_invocation_t *inv,
                     const node_event_t *ev)
{
    if (!ev->tls) {
        c->tls_ctx = NULL;
        return 0;
    }
    if (!n->tls_ca) {
        const char *ca = getenv("IC_NODE_TLS_CA");
        char why[400], msg[480];
        if (!ca || !*ca) {
            snprintf(why, sizeof why,
                     "the proxy asks for TLS and IC_NODE_TLS_CA (a CA bundle "
                     "to verify it against) is not set");
        } else {
            n->tls_ca = tls_client_ctx_new(ca, NULL, NULL, why, sizeof why);
        }
        if (!n->tls_ca) {
            snprintf(msg, sizeof msg, "%s", why);
            log_warn("event=tls_not_configured error_type=Node.TlsNotConfigured err=\"%s\"", msg);
            runtime_fail(&n->rt, inv->request_id, "Node.TlsNotConfigured", msg);
            return -1;
        }
    }
    c->tls_ctx = n->tls_ca;
    return 0;
}

static void make_instance_id(char out[17])
{
    unsigned char r[8];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* No entropy source: time and pid still tell instances apart. */
        uint64_t x = clock_wall_ms() * 2654435761u ^ (uint64_t)getpid();
        memcpy(r, &x, sizeof r);
    }
    for (int i = 0; i < 8; i++)
        sprintf(out + 2 * i, "%02x", r[i]);
}

/* The invocation's deadline (wall clock, 0 = none) on the monotonic clock the loops use. */
static uint64_t monotonic_deadline(const runtime_invocation_t *inv, uint64_t now)
{
    if (!inv->deadline_ms) return 0;
    int64_t left = inv->deadline_ms - (int64_t)clock_wall_ms();
    return left > 0 ? now + (uint64_t)left : now;
}

static int respond(node_t *n, const char *request_id, int64_t node_id, uint64_t served)
{
    char body[160];
    int len = snprintf(body, sizeof body, "{\"node_id\":%lld,\"instance\":\"%s\",\"served\":%llu}",
                       (long long)node_id, n->instance, (unsigned long long)served);
    return runtime_respond(&n->rt, request_id, body, (size_t)len);
}

/* HELLO on connection c, carrying this instance's epoch: at the start of an invocation, and to a
 * replaced proxy as the proof that it is. */
static void send_hello(node_t *n, node_conn_t *c, int64_t node_id)
{
    /* The proof covers the node id and the epoch as the proxy reads them: their decimal text. */
    char id[24], epoch[24];
    snprintf(id, sizeof id, "%lld", (long long)node_id);
    snprintf(epoch, sizeof epoch, "%lld", (long long)n->epoch);
    char proof[NODEAUTH_MAC_HEX + 1];
    nodeauth_hello_epoch_proof(n->secrets.current, c->challenge, strlen(c->challenge), id,
                               strlen(id), n->instance, strlen(n->instance), epoch, strlen(epoch),
                               proof);
    nodeproto_hello_t h = {.node_id = node_id,
                           .has_epoch = 1,
                           .epoch = n->epoch,
                           .instance = n->instance,
                           .instance_len = strlen(n->instance),
                           .proof = proof,
                           .proof_len = NODEAUTH_MAC_HEX,
                           .mem_limit = (int64_t)n->store.limit,
                           .mem_used = (int64_t)n->store.used,
                           .chunks = (int64_t)n->store.count,
                           .invocation = (int64_t)n->invocations};
    if (nodeproto_put_hello(&c->out.small, &h) < 0) log_error("event=out_of_memory where=hello");
}

/* An event of a lower epoch than this instance accepted names a proxy that has been replaced.
 * It is not obeyed; but the proxy is told, so that it stops serving instead of waiting for nodes
 * that will never come: a connection of its own, the CHALLENGE, a HELLO with this instance's
 * epoch (the proof covers it), and a close. Nothing else is sent or read on it. */
static void tell_replaced_proxy(node_t *n, const node_event_t *ev)
{
    node_conn_t *c = &n->notice;
    int timeout = (int)n->cfg.connect_timeout_ms;
    c->tls_ctx = ev->tls ? n->tls_ca : NULL;
    if (ev->tls && !c->tls_ctx) return; /* never dial TLS unverified; the proxy times out */
    int rc = node_conn_ensure(c, ev->proxy_host, ev->proxy_port, timeout);
    if (rc == 0) rc = node_conn_await_challenge(c, timeout);
    if (rc == 0) {
        send_hello(n, c, ev->node_id);
        rc = node_conn_flush(c, (int)n->cfg.bye_timeout_ms);
    }
    log_info("event=told_replaced_proxy proxy=%s:%d sent=%d", ev->proxy_host, ev->proxy_port,
             rc == 0);
    node_conn_close(c);
}

/* Takeover fencing (docs/STANDBY.md). Returns 1 if the event may be obeyed. An event of a lower
 * epoch than one this instance accepted is refused. One of a higher epoch comes from a proxy
 * that replaced the one this instance is connected to: that connection is closed, after a HELLO
 * with the new epoch that tells the old proxy it is replaced (it may be frozen or cut off, and
 * read it only when it is back). The same proxy address under a higher epoch is a restart there:
 * the old process is gone, and the connection, if still open, is the new one's. */
static int fence(node_t *n, const runtime_invocation_t *inv, const node_event_t *ev)
{
    int dials_proxy = ev->cmd == NODE_EVENT_ACTIVATE || ev->cmd == NODE_EVENT_BACKUP;
    if (ev->epoch < n->epoch) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "event of takeover epoch %lld: this instance serves epoch %lld, a proxy that "
                 "replaced the sender; refused",
                 (long long)ev->epoch, (long long)n->epoch);
        log_warn("event=fenced_event id=%s epoch=%lld node_epoch=%lld", inv->request_id,
                 (long long)ev->epoch, (long long)n->epoch);
        if (dials_proxy) tell_replaced_proxy(n, ev);
        runtime_fail(&n->rt, inv->request_id, "Node.Fenced", msg);
        return 0;
    }
    if (ev->epoch == n->epoch) return 1;
    node_conn_t *c = &n->conn;
    int same_proxy = dials_proxy && c->fd >= 0 && c->port == ev->proxy_port &&
                     strcmp(c->host, ev->proxy_host) == 0;
    log_info("event=epoch_raised old=%lld new=%lld", (long long)n->epoch, (long long)ev->epoch);
    n->epoch = ev->epoch;
    if (c->fd >= 0 && !same_proxy && node_conn_check_alive(c)) {
        if (c->challenge[0]) {
            send_hello(n, c, ev->node_id);
            node_conn_flush(c, (int)n->cfg.bye_timeout_ms);
        }
        log_info("event=left_replaced_proxy proxy=%s:%d", c->host, c->port);
        node_conn_close(c);
    }
    return 1;
}

static void activate(node_t *n, const runtime_invocation_t *inv, const node_event_t *ev)
{
    node_conn_t *c = &n->conn;
    node_conn_check_alive(c);
    if (tls_setup(n, c, inv, ev) < 0) return;
    int rc = node_conn_ensure(c, ev->proxy_host, ev->proxy_port, (int)n->cfg.connect_timeout_ms);
    if (rc == 0) rc = node_conn_await_challenge(c, (int)n->cfg.connect_timeout_ms);
    if (rc < 0) {
        char msg[400];
        snprintf(msg, sizeof msg, "cannot connect to proxy %s:%d: %s", ev->proxy_host,
                 ev->proxy_port,
                 rc == -EPROTO ? "TLS handshake failed (the node's log says why)" : strerror(-rc));
        log_warn("event=dial_failed proxy=%s:%d err=\"%s\"", ev->proxy_host, ev->proxy_port,
                 strerror(-rc));
        runtime_fail(&n->rt, inv->request_id, "Node.ProxyUnreachable", msg);
        lanes_follow(&n->lanes); /* no lane 0, no lanes */
        return;
    }
    send_hello(n, c, ev->node_id);
    c->served = c->stored = 0;
    n->sync.node_id = ev->node_id; /* a BACKUP in this invocation backs up this node */
    n->sync.epoch = n->epoch;      /* ... and a peer serving a newer proxy refuses it */

    /* The deadline is wall-clock; the policy runs on the monotonic clock. */
    uint64_t now = ev_now_ms();
    lanes_begin(&n->lanes, ev->node_id, now); /* lanes the proxy asked for, dialled if missing */
    policy_begin(&n->policy, now, monotonic_deadline(inv, now));
    node_conn_serve(c);

    uint64_t served = c->served + lanes_served(&n->lanes);
    if (c->refused[0]) {
        char msg[200];
        snprintf(msg, sizeof msg, "the proxy refused this node (%s): check IC_NODE_SECRET",
                 c->refused);
        c->refused[0] = '\0';
        node_conn_close(c);
        lanes_follow(&n->lanes);
        runtime_fail(&n->rt, inv->request_id, "Node.AuthRefused", msg);
        return;
    }
    respond(n, inv->request_id, ev->node_id, served);
    node_bill_end(&n->bill, n->rt.posted_us, node_bill_max_rss_kb());
    /* What the lanes still owe goes out before BYE (only at the deadline is anything left). */
    lanes_finish(&n->lanes, (int)n->cfg.bye_timeout_ms);
    /* BYE only after the response is posted: once the proxy reads BYE it may invoke again, and
     * the platform must already see this instance as idle to reuse it. The billing records go
     * just before it: this invocation's and those that waited for a connection. */
    if (c->fd >= 0) {
        int bills = node_bill_put(&n->bill, &c->out.small);
        if (bills < 0) log_error("event=out_of_memory where=bill");
        if (nodeproto_put_bye(&c->out.small) < 0) log_error("event=out_of_memory where=bye");
        rc = node_conn_flush(c, (int)n->cfg.bye_timeout_ms);
        if (rc < 0 && c->fd >= 0) {
            log_warn("event=bye_failed err=%s", strerror(-rc));
            node_conn_close(c); /* half-written output: the stream cannot be trusted */
        }
        /* Records not surely written wait for the next connection (the proxy ignores a seq it
         * already counted). */
        if (rc == 0 && bills > 0) node_bill_sent(&n->bill, (unsigned)bills);
    }
    lanes_follow(&n->lanes);
    node_conn_trim(c);
    lanes_trim(&n->lanes);
    log_info("event=invocation_done id=%s cmd=activate node_id=%lld served=%llu duration_ms=%llu "
             "mem_used=%llu chunks=%zu connected=%d lanes=%u",
             inv->request_id, (long long)ev->node_id, (unsigned long long)served,
             (unsigned long long)(ev_now_ms() - now), (unsigned long long)n->store.used,
             n->store.count, c->fd >= 0, lanes_open(&n->lanes));
    if (c->goaway && n->store.count == 0) {
        /* An extra instance (a retried or stray invocation started it) that holds nothing: left
         * idle it would be the next one the platform picks, and a fresh empty store would
         * displace the instance holding the data. Its response is posted; leaving ends it. */
        log_info("event=goaway_exit");
        exit(0);
    }
    c->goaway = 0;
}

/* A backup peer: dial the relay, say who we are, and serve the source's requests (INVENTORY, CSET,
 * CDEL, SYNCDONE) into this instance's store until SYNCDONE, a close, the deadline or the backup
 * timeout. The proxy connection, if this instance has one from an earlier life, is left alone. */
static void backup_peer(node_t *n, const runtime_invocation_t *inv, const node_event_t *ev)
{
    node_conn_t *c = &n->peer;
    uint64_t now = ev_now_ms();
    if (tls_setup(n, c, inv, ev) < 0) return;
    int rc = node_conn_ensure(c, ev->relay_host, ev->relay_port, (int)n->cfg.connect_timeout_ms);
    if (rc == 0) rc = node_conn_await_challenge(c, (int)n->cfg.connect_timeout_ms);
    if (rc < 0) {
        char msg[400];
        snprintf(msg, sizeof msg, "cannot connect to relay %s:%d: %s", ev->relay_host,
                 ev->relay_port,
                 rc == -EPROTO ? "TLS handshake failed (the node's log says why)" : strerror(-rc));
        log_warn("event=relay_dial_failed relay=%s:%d err=\"%s\"", ev->relay_host, ev->relay_port,
                 strerror(-rc));
        runtime_fail(&n->rt, inv->request_id, "Node.RelayUnreachable", msg);
        return;
    }
    char proof[NODEAUTH_MAC_HEX + 1];
    nodeauth_relay_proof(n->secrets.current, c->challenge, strlen(c->challenge), ev->token,
                         strlen(ev->token), "peer", 4, proof);
    if (nodeproto_put_relay(&c->out.small, ev->token, "peer", proof) < 0)
        log_error("event=out_of_memory where=relay_intro");
    c->served = c->stored = 0;
    c->sync_done = 0;
    uint64_t deadline = monotonic_deadline(inv, now), stop_at = 0;
    if (deadline)
        stop_at = deadline > (uint64_t)n->cfg.deadline_margin_ms
                      ? deadline - (uint64_t)n->cfg.deadline_margin_ms
                      : 1;
    node_peer_end_t end = node_conn_serve_peer(c, stop_at, (uint64_t)n->cfg.backup_timeout_ms);
    static const char *const ends[] = {"", "synced", "closed", "deadline", "timeout"};
    uint64_t stored = c->stored;
    char body[200];
    int len = snprintf(body, sizeof body, "{\"node_id\":%lld,\"instance\":\"%s\",\"synced\":%llu}",
                       (long long)ev->node_id, n->instance, (unsigned long long)stored);
    runtime_respond(&n->rt, inv->request_id, body, (size_t)len);
    /* The +OK to SYNCDONE goes out only now: the source reports the backup done, and the proxy
     * may lose the source right after, when this instance must already be idle to be reused. */
    if (end == NODE_PEER_SYNCED) node_conn_flush(c, (int)n->cfg.bye_timeout_ms);
    node_conn_close(c);
    node_conn_trim(c);
    log_info("event=invocation_done id=%s cmd=backup-peer node_id=%lld end=%s synced=%llu "
             "served=%llu duration_ms=%llu mem_used=%llu chunks=%zu",
             inv->request_id, (long long)ev->node_id, ends[end], (unsigned long long)stored,
             (unsigned long long)c->served, (unsigned long long)(ev_now_ms() - now),
             (unsigned long long)n->store.used, n->store.count);
}

static void handle(node_t *n, const runtime_invocation_t *inv)
{
    node_event_t ev;
    char err[256];
    node_event_auth_t auth = {.secrets = &n->secrets,
                              .function = getenv("AWS_LAMBDA_FUNCTION_NAME"),
                              .now_ms = (int64_t)clock_wall_ms(),
                              .max_age_ms = n->cfg.event_max_age_ms,
                              .replay = &n->replay};
    int rc = node_event_open(inv->body, inv->body_len, &auth, &ev, err, sizeof err);
    if (rc == -EACCES) {
        /* Nothing in it is obeyed: an attacker could name any proxy or relay to dial. */
        log_warn("event=event_refused id=%s err=\"%s\"", inv->request_id, err);
        runtime_fail(&n->rt, inv->request_id, "Node.Unauthenticated", err);
        return;
    }
    if (rc < 0) {
        log_warn("event=bad_payload id=%s err=\"%s\"", inv->request_id, err);
        runtime_fail(&n->rt, inv->request_id, "Node.InvalidEvent", err);
        return;
    }
    node_bill_kind(&n->bill, ev.cmd == NODE_EVENT_WARMUP     ? BILLING_KIND_WARMUP
                             : ev.cmd == NODE_EVENT_ACTIVATE ? BILLING_KIND_ACTIVATE
                                                             : BILLING_KIND_BACKUP);
    if (!fence(n, inv, &ev)) return;
    if (ev.cmd == NODE_EVENT_WARMUP) {
        respond(n, inv->request_id, ev.node_id, 0);
        log_info("event=invocation_done id=%s cmd=warmup", inv->request_id);
        return;
    }
    if (ev.cmd == NODE_EVENT_BACKUP_PEER) {
        backup_peer(n, inv, &ev);
        return;
    }
    activate(n, inv, &ev); /* activate, or backup: the proxy then sends BACKUP */
}

/* Reports a start-up failure to the platform (when it can be reached) and exits. */
static void init_fail(node_t *n, int have_runtime, const char *msg)
{
    log_error("event=init_failed err=\"%s\"", msg);
    if (have_runtime) runtime_fail(&n->rt, NULL, "Node.InitError", msg);
    exit(1);
}

static int parse_memory_mb(const char *s, int64_t *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v <= 0 || v > (1 << 20)) return -1;
    *out = v;
    return 0;
}

int main(void)
{
    static node_t node; /* static: keeps the large request reader off the stack */
    node_t *n = &node;
    char err[300];
    signal(SIGPIPE, SIG_IGN);
    log_set_component("node");

    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (runtime_init(&n->rt, api) < 0) {
        snprintf(err, sizeof err, "AWS_LAMBDA_RUNTIME_API '%s' is not host:port[/prefix]",
                 api ? api : "");
        init_fail(n, 0, err);
    }
    if (node_config_from_env(&n->cfg, err, sizeof err) < 0) init_fail(n, 1, err);
    if (node_secrets_from_env(&n->secrets, err, sizeof err) < 0) init_fail(n, 1, err);
    log_level_t level;
    if (log_level_parse(n->cfg.log_level, &level) < 0) {
        snprintf(err, sizeof err, "IC_NODE_LOG_LEVEL '%s' is not debug, info, warn or error",
                 n->cfg.log_level);
        init_fail(n, 1, err);
    }
    log_set_level(level);
    int64_t memory_mb;
    const char *mem = getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
    if (parse_memory_mb(mem, &memory_mb) < 0) {
        snprintf(err, sizeof err, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE '%s' is not a size in MiB",
                 mem ? mem : "");
        init_fail(n, 1, err);
    }
    /* What the process needs besides chunks: its current footprint plus room for I/O buffers
     * (input, queued replies) and an invocation payload. */
    int64_t floor_mb = node_rss_mb() + 8;
    uint64_t limit;
    if (node_mem_limit(memory_mb, n->cfg.reserved_mb, floor_mb, &limit, err, sizeof err) < 0)
        init_fail(n, 1, err);

    make_instance_id(n->instance);
    node_bill_init(&n->bill, memory_mb, n->cfg.billing_ms);
    store_init(&n->store, limit);
    n->store.tomb_ttl_ms = (uint64_t)n->cfg.tombstone_ttl_ms;
    policy_config_t pc = {.idle_return_ms = (uint64_t)n->cfg.idle_return_ms,
                          .deadline_margin_ms = (uint64_t)n->cfg.deadline_margin_ms,
                          .billing_ms = (uint64_t)n->cfg.billing_ms,
                          .billing_margin_ms = (uint64_t)n->cfg.billing_margin_ms,
                          .billing_idle_ms = (uint64_t)n->cfg.billing_idle_ms};
    if (policy_kind_parse(n->cfg.return_policy, &pc.kind) < 0) {
        snprintf(err, sizeof err, "IC_NODE_RETURN_POLICY '%s' is not anticipatory or idle",
                 n->cfg.return_policy);
        init_fail(n, 1, err);
    }
    policy_init(&n->policy, &pc);
    log_info("event=policy return_policy=%s billing_ms=%llu margin_ms=%llu mode=%s",
             policy_kind_name(pc.kind), (unsigned long long)pc.billing_ms,
             (unsigned long long)n->policy.margin,
             n->policy.boundary_mode ? "boundary" : "idle-spell");
    node_conn_init(&n->conn, &n->store, &n->policy, &n->invocations);
    node_conn_init(&n->peer, &n->store, NULL, &n->invocations);
    n->peer.role = "relay";
    node_conn_init(&n->notice, &n->store, NULL, &n->invocations);
    sync_config_t sc = {.function = getenv("AWS_LAMBDA_FUNCTION_NAME"),
                        .timeout_ms = (uint64_t)n->cfg.backup_timeout_ms,
                        .connect_timeout_ms = (int)n->cfg.connect_timeout_ms,
                        .secret = n->secrets.current};
    sync_init(&n->sync, &n->store, &sc);
    n->conn.sync = &n->sync;
    lanes_init(&n->lanes, &n->conn, n->instance, n->secrets.current,
               (int)n->cfg.connect_timeout_ms);
    n->conn.lanes = &n->lanes;
    if (node_throttle_setup(&n->cfg, sc.function, ev_now_ms(), &n->throttle)) {
        n->conn.throttle = &n->throttle;
        log_info("event=netem bandwidth=%lld straggler_rate=%g straggler_delay_ms=%lld",
                 (long long)n->cfg.bandwidth, n->cfg.straggler_rate,
                 (long long)n->cfg.straggler_delay_ms);
    }
    log_info("event=init instance=%s runtime_api=%s:%d%s memory_mb=%lld mem_limit=%llu",
             n->instance, n->rt.host, n->rt.port, n->rt.prefix, (long long)memory_mb,
             (unsigned long long)limit);

    int failures = 0;
    for (;;) {
        runtime_invocation_t inv;
        int rc = runtime_next(&n->rt, &inv);
        if (rc < 0) {
            /* The Runtime API is the process's lifeline: a few retries cover a restart of the
             * local platform, and beyond that there is nothing to serve. */
            if (++failures >= 5) {
                log_error("event=runtime_lost err=%s", strerror(-rc));
                return 1;
            }
            struct timespec ts = {0, 100 * 1000 * 1000L * failures};
            nanosleep(&ts, NULL);
            continue;
        }
        failures = 0;
        n->invocations++;
        node_bill_begin(&n->bill, (int64_t)n->invocations, inv.started_us);
        handle(n, &inv);
        /* Every way out of an invocation posted a response or an error; one that did not take
         * its record yet (a warm-up, a backup peer, a refusal) keeps it for the next connection. */
        node_bill_end(&n->bill, n->rt.posted_us, node_bill_max_rss_kb());
        free(inv.body);
    }
}
