/* metrics.c -- the Prometheus endpoint: libmicrohttpd driven from the proxy's event loop, the
 * exposition of INFO's counters, and latency histograms per command and per object size. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backing.h"
#include "awscreds.h"
#include "bearer.h"
#include "bill.h"
#include "billing.h"
#include "command.h"
#include "config.h"
#include "invoker.h"
#include "log.h"
#include "metrics.h"
#include "mover.h"
#include "net.h"
#include "nodepool.h"
#include "op.h"
#include "prom.h"
#include "server.h"

/* A scrape is one GET with a few headers: MHD's per-connection pool (request line, headers and
 * the reply's headers; the body is a buffer of its own) needs no more, and a peer that sends
 * more is answered 431 and closed. Not an option: no scraper has cause to need more. */
#define METRICS_CONN_MEMORY (16 * 1024)
#define TOKEN_MIN 16
#define TOKEN_MAX 512

/* Latency buckets in microseconds, 100 us to 60 s: a small GET answered from a warm node takes
 * about a millisecond, a cold invocation tens to hundreds, a GiB object seconds. */
static const uint64_t latency_bounds_us[] = {
    100,    250,    500,    1000,    2500,    5000,    10000,    25000,    50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};
#define NLATENCY ((int)(sizeof latency_bounds_us / sizeof *latency_bounds_us))

/* Object size classes of GET and SET, by the object's size (upper bounds inclusive). */
static const uint64_t size_class_max[] = {1 << 10, 64 << 10, 1 << 20, 16 << 20};
static const char *const size_class_name[] = {"<=1KiB", "<=64KiB", "<=1MiB", "<=16MiB", ">16MiB"};
#define NSIZE_CLASSES 5

enum { OBJECT_GET, OBJECT_SET, OBJECT_KINDS };
static const char *const object_command[OBJECT_KINDS] = {"get", "set"};

/* A connection held past the deadline is shut down; MHD then sees it end and frees it. */
typedef struct {
    int fd; /* -1: free */
    uint64_t started_ms;
} metrics_conn_t;

typedef struct metrics {
    server_t *srv;
    struct MHD_Daemon *daemon;
    int epoll_fd;
    uint64_t mhd_timer, sweep_timer;
    char token[TOKEN_MAX + 1]; /* "": none needed (loopback) */
    size_t token_len;
    uint64_t auth_failures;
    /* Per command: one histogram per row of the command table, found by the row's address in an
     * open-addressing table built once (command_index). */
    const command_t *const *rows;
    size_t nrows;
    prom_hist_t *command_latency;
    const command_t **index_keys;
    size_t *index_values;
    size_t index_mask;
    prom_hist_t object_latency[OBJECT_KINDS][NSIZE_CLASSES];
    metrics_conn_t *conns;
    int nconns;
} metrics_t;

/* The loop is the only thread that touches it; a process runs one proxy. */
static metrics_t *active;

/* ---- histograms ---- */

static size_t pointer_hash(const void *p)
{
    return (size_t)(((uintptr_t)p >> 3) * 0x9E3779B97F4A7C15ull);
}

static int command_index_build(metrics_t *m)
{
    size_t cap = 16;
    while (cap < 2 * m->nrows)
        cap <<= 1;
    m->index_keys = calloc(cap, sizeof *m->index_keys);
    m->index_values = calloc(cap, sizeof *m->index_values);
    if (!m->index_keys || !m->index_values) return -1;
    m->index_mask = cap - 1;
    for (size_t i = 0; i < m->nrows; i++) {
        size_t h = pointer_hash(m->rows[i]) & m->index_mask;
        while (m->index_keys[h])
            h = (h + 1) & m->index_mask;
        m->index_keys[h] = m->rows[i];
        m->index_values[h] = i;
    }
    return 0;
}

/* The row's position in m->rows, or -1 (a row not in the table). */
static long command_index(const metrics_t *m, const command_t *row)
{
    for (size_t h = pointer_hash(row) & m->index_mask; m->index_keys[h];
         h = (h + 1) & m->index_mask)
        if (m->index_keys[h] == row) return (long)m->index_values[h];
    return -1;
}

static int size_class(uint64_t size)
{
    int i = 0;
    while (i < NSIZE_CLASSES - 1 && size > size_class_max[i])
        i++;
    return i;
}

void metrics_op_done(op_t *op)
{
    metrics_t *m = active;
    if (!m || !op->cmd) return;
    uint64_t us = ev_now_us() - op->started_us;
    long i = command_index(m, op->cmd);
    if (i >= 0) prom_hist_observe(&m->command_latency[i], us);
    /* Sizes are known for a SET and for a GET that found its object (a miss has none). */
    if (op->kind == OP_SET)
        prom_hist_observe(&m->object_latency[OBJECT_SET][size_class(op->size)], us);
    else if (op->kind == OP_GET && op->meta)
        prom_hist_observe(&m->object_latency[OBJECT_GET][size_class(op->size)], us);
}

/* ---- the exposition ---- */

static void counter(buf_t *b, const char *name, const char *help, uint64_t v)
{
    prom_family(b, name, "counter", help);
    prom_sample_u64(b, name, NULL, v);
}

static void gauge(buf_t *b, const char *name, const char *help, double v)
{
    prom_family(b, name, "gauge", help);
    prom_sample_double(b, name, NULL, v);
}

static double json_number(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* One family from a "<figure>_by_kind" object of the platform's stats, labelled by kind. */
static void platform_by_kind(buf_t *b, const cJSON *stats, const char *key, const char *name,
                             const char *help, double scale)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(stats, key);
    if (!cJSON_IsObject(o)) return;
    prom_family(b, name, "counter", help);
    const cJSON *k;
    cJSON_ArrayForEach(k, o)
    {
        if (!cJSON_IsNumber(k) || !k->string) continue;
        prom_label_t l = {"kind", k->string};
        prom_sample_double(b, name, &l, k->valuedouble * scale);
    }
}

/* What the platform bills, from its admin stats (the invoker fetches them every second): exact
 * for the embedded platform; absent when the platform has no admin API (AWS Lambda). */
static void render_platform(server_t *srv, buf_t *b)
{
    char js[8192];
    if (!srv->invoker) return;
    invoker_platform_stats(srv->invoker, js, sizeof js);
    cJSON *o = js[0] ? cJSON_Parse(js) : NULL;
    if (!o) return;
    platform_by_kind(b, o, "requests_by_kind", "infinicache_platform_requests_total",
                     "Invocations the platform ran, by what they were for.", 1);
    platform_by_kind(b, o, "billed_ms_by_kind", "infinicache_platform_billed_seconds_total",
                     "Billed duration of the platform's invocations, by kind.", 1e-3);
    platform_by_kind(b, o, "gb_seconds_by_kind", "infinicache_platform_billed_gb_seconds_total",
                     "Billed GB-seconds (billed duration x function memory), by kind.", 1);
    counter(b, "infinicache_platform_cold_starts_total", "Function instances the platform started.",
            (uint64_t)json_number(o, "cold_starts"));
    counter(b, "infinicache_platform_timeouts_total",
            "Invocations the platform ended at the function timeout.",
            (uint64_t)json_number(o, "timeouts"));
    gauge(b, "infinicache_platform_instances", "Function instances alive on the platform.",
          json_number(o, "instances"));
    cJSON_Delete(o);
}

/* What the pool is billed, from the source INFO's billing section names (bill.h), and how the
 * nodes' own records fared. */
static void render_billing(server_t *srv, buf_t *b)
{
    bill_view_t v;
    bill_view(srv, &v);
    static const char src[] = "infinicache_billing_source";
    prom_family(b, src, "gauge",
                "Where the billed figures come from: the platform's admin API or the nodes' own "
                "records (1 on the source in use).");
    for (int s = BILL_SOURCE_NODES; s <= BILL_SOURCE_PLATFORM; s++) {
        prom_label_t l = {"source", bill_source_name((bill_source_t)s)};
        prom_sample_u64(b, src, &l, v.source == (bill_source_t)s);
    }
    static const struct {
        const char *name, *help;
        size_t offset;
        double scale;
    } fams[] = {
        {"infinicache_billed_requests_total", "Billed invocations, by kind.",
         offsetof(bill_view_t, requests_by_kind), 1},
        {"infinicache_billed_seconds_total", "Billed duration, by kind.",
         offsetof(bill_view_t, billed_ms_by_kind), 1e-3},
        {"infinicache_billed_gb_seconds_total", "Billed GB-seconds, by kind.",
         offsetof(bill_view_t, gb_seconds_by_kind), 1},
    };
    for (size_t f = 0; f < sizeof fams / sizeof *fams; f++) {
        prom_family(b, fams[f].name, "counter", fams[f].help);
        const double *by_kind = (const double *)((const char *)&v + fams[f].offset);
        for (int k = 0; k < BILLING_KIND_COUNT; k++) {
            prom_label_t l = {"kind", billing_kind_name((billing_kind_t)k)};
            prom_sample_double(b, fams[f].name, &l, by_kind[k] * fams[f].scale);
        }
    }
    const proxy_stats_t *s = &srv->stats;
    static const char rec[] = "infinicache_node_billing_records_total";
    prom_family(b, rec, "counter",
                "Nodes' billing records: counted, refused (malformed or out of bounds), duplicate "
                "(sent again), unreported (dropped by a node for lack of room).");
    const struct {
        const char *outcome;
        uint64_t n;
    } outcomes[] = {{"counted", s->node_billing.requests},
                    {"refused", s->bills_refused},
                    {"duplicate", s->bills_duplicate},
                    {"unreported", s->bills_unreported}};
    for (size_t i = 0; i < sizeof outcomes / sizeof *outcomes; i++) {
        prom_label_t l = {"outcome", outcomes[i].outcome};
        prom_sample_u64(b, rec, &l, outcomes[i].n);
    }
}

static void render_histograms(metrics_t *m, buf_t *b)
{
    static const char lat[] = "infinicache_command_duration_seconds";
    prom_family(b, lat, "histogram",
                "Time from a command's arrival to its complete reply, by command (commands "
                "never run have no series).");
    for (size_t i = 0; i < m->nrows; i++) {
        if (!m->command_latency[i].count) continue;
        prom_label_t l = {"command", m->rows[i]->name};
        prom_hist_write(b, lat, &l, NULL, &m->command_latency[i], 1e-6);
    }
    static const char obj[] = "infinicache_object_duration_seconds";
    prom_family(b, obj, "histogram",
                "Latency of GETs that found their object and of SETs, by the object's size class "
                "(<=1KiB, <=64KiB, <=1MiB, <=16MiB, >16MiB).");
    for (int k = 0; k < OBJECT_KINDS; k++) {
        for (int s = 0; s < NSIZE_CLASSES; s++) {
            prom_label_t c = {"command", object_command[k]};
            prom_label_t l = {"size_class", size_class_name[s]};
            prom_hist_write(b, obj, &c, &l, &m->object_latency[k][s], 1e-6);
        }
    }
}

/* INFO's counters kept in proxy_stats_t (stats and lifecycle sections): a row each. */
typedef struct {
    const char *name, *help;
    size_t offset;
} stat_row_t;
#define STAT(name, field, help)                                                                    \
    {                                                                                              \
        "infinicache_" name, help, offsetof(proxy_stats_t, field)                                  \
    }
static const stat_row_t stat_counters[] = {
    STAT("connections_received_total", connections, "Client connections accepted."),
    STAT("commands_processed_total", commands, "Commands received from clients."),
    STAT("keyspace_hits_total", get_hits, "Reads that found their object."),
    STAT("keyspace_misses_total", get_misses, "Reads that found no object."),
    STAT("sets_total", sets, "SET commands."),
    STAT("error_replies_total", errors, "Commands answered with an error."),
    STAT("invoke_failures_total", invoke_failures, "Invocations the Invoke API refused or lost."),
    STAT("node_timeouts_total", node_timeouts, "Nodes replaced after a silent request."),
    STAT("chunks_lost_total", chunks_lost, "Chunks found lost (INFO chunks_lost)."),
    STAT("chunks_repaired_total", chunks_repaired, "Lost chunks rebuilt and stored again."),
    STAT("chunks_corrupt_repaired_total", chunks_corrupt_repaired,
         "Chunks a client found corrupt, repaired."),
    STAT("icget_spare_reads_total", icget_spare_reads,
         "ICGETCHUNKS: extra chunks a library asked for."),
    STAT("objects_lost_total", objects_lost, "Objects with more than p chunks lost."),
    STAT("gets_coalesced_total", gets_coalesced, "GETs answered by a read already under way."),
    STAT("sets_coalesced_total", sets_coalesced, "SETs superseded before they were sent."),
    STAT("nodes_refused_total", nodes_refused, "Node connections that failed the secret."),
    STAT("auth_failures_total", auth_failures, "AUTH and HELLO AUTH refused."),
    STAT("protected_mode_refused_total", auth_denied, "Connections refused by protected mode."),
    STAT("idle_clients_closed_total", idle_closed, "Clients closed by the idle timeout."),
    STAT("warmups_total", warmups, "Warm-up invocations."),
    STAT("backups_started_total", backups_started, "Backups started."),
    STAT("backups_ok_total", backups_ok, "Backups finished."),
    STAT("backups_failed_total", backups_failed, "Backups failed or abandoned."),
    STAT("backup_chunks_total", backup_chunks, "Chunks sent to backup peers."),
    STAT("backup_bytes_total", backup_bytes, "Bytes sent to backup peers."),
    STAT("backup_deletes_total", backup_deletes, "Deletes sent to backup peers."),
    STAT("repairs_started_total", repairs_started, "Background repairs started."),
    STAT("repairs_deferred_total", repairs_deferred,
         "Objects --repair hot left to their next GET (not used within repair-hot-window)."),
    STAT("repair_bytes_total", repair_bytes, "Bytes background repair moved."),
    STAT("inventories_total", inventories, "Node inventories taken."),
    STAT("rebuilt_objects_total", rebuilt_objects, "Objects learned again from inventories."),
    STAT("deletes_deferred_total", deletes_deferred, "Chunk deletes kept for an absent node."),
    STAT("deletes_dropped_total", deletes_dropped, "Deferred deletes past the bound."),
    STAT("stale_chunks_total", stale_chunks, "Chunks no object owns, deleted at inventory."),
};

void metrics_render(server_t *srv, buf_t *b)
{
    proxy_stats_t *s = &srv->stats;
    transport_stats_t *t = &srv->tp.stats;
    uint64_t throttled = 0, retries = 0;
    if (srv->invoker) invoker_counters(srv->invoker, &throttled, &retries);

    /* ---- counters ---- */
    for (size_t i = 0; i < sizeof stat_counters / sizeof *stat_counters; i++) {
        const stat_row_t *row = &stat_counters[i];
        counter(b, row->name, row->help, *(const uint64_t *)((const char *)s + row->offset));
    }
    counter(b, "infinicache_evicted_keys_total", "Objects evicted to make room.",
            srv->meta.evictions);
    counter(b, "infinicache_expired_keys_total", "Objects removed when their TTL ran out.",
            srv->meta.expired);
    counter(b, "infinicache_net_input_bytes_total", "Bytes read from clients and nodes.",
            t->bytes_in);
    counter(b, "infinicache_net_output_bytes_total", "Bytes written to clients and nodes.",
            t->bytes_out);
    counter(b, "infinicache_relays_total", "Bodies moved by relay (splice or copy).", t->relays);
    mover_stats_t mv;
    mover_stats(srv->tp.mover, &mv);
    gauge(b, "infinicache_threads", "Threads moving bytes: the event loop and its byte movers.",
          1 + mover_threads(srv->tp.mover));
    counter(b, "infinicache_mover_jobs_total", "Transfers handed to byte movers.", mv.jobs);
    counter(b, "infinicache_mover_bytes_total", "Bytes the byte movers carried.", mv.bytes);
    prom_family(b, "infinicache_mover_busy_seconds_total", "counter",
                "Time the byte movers spent moving bytes.");
    prom_sample_double(b, "infinicache_mover_busy_seconds_total", NULL, mv.busy_us / 1e6);
    counter(b, "infinicache_tls_connections_total", "TLS handshakes completed.",
            t->tls_connections);
    counter(b, "infinicache_tls_handshake_failures_total", "TLS handshakes failed or timed out.",
            t->tls_handshake_failures);
    counter(b, "infinicache_invoke_throttled_total", "Invoke API answers 429 (throttled).",
            throttled);
    counter(b, "infinicache_invoke_retries_total", "Invoke calls retried after a 429 or 5xx.",
            retries);
    counter(b, "infinicache_metrics_auth_failures_total",
            "Scrapes refused for a missing or wrong bearer token.",
            active ? active->auth_failures : 0);
    static const char inv[] = "infinicache_invocations_total";
    prom_family(b, inv, "counter", "Function invocations the proxy made, by what they were for.");
    for (int k = 0; k < BILLING_KIND_COUNT; k++) {
        prom_label_t l = {"kind", billing_kind_name((billing_kind_t)k)};
        prom_sample_u64(b, inv, &l, s->invocations_by_kind[k]);
    }
    static const char reads[] = "infinicache_chunk_reads_total";
    prom_family(b, reads, "counter",
                "Chunk reads by outcome: first_d (among the first d, used), late (after the read "
                "had d), lost (the node lacks it), corrupt (failed its CRC), failed (node "
                "unreachable), repaired (rebuilt and stored again).");
    static const char *const outcome[CHUNK_READ_OUTCOMES] = {"first_d", "late", "lost", "corrupt",
                                                             "failed"};
    for (int k = 0; k < CHUNK_READ_OUTCOMES; k++) {
        prom_label_t l = {"outcome", outcome[k]};
        prom_sample_u64(b, reads, &l, s->chunk_reads[k]);
    }
    prom_label_t repaired = {"outcome", "repaired"};
    prom_sample_u64(b, reads, &repaired, s->chunks_repaired);

    /* ---- gauges: clients, keys, memory, the pool ---- */
    size_t deferred = 0;
    int states[4] = {0};
    uint64_t limit = 0, placed = 0;
    for (int i = 0; i < srv->nnodes; i++) {
        deferred += srv->nodes[i].ndeferred;
        states[srv->nodes[i].state]++;
        limit += srv->nodes[i].room.mem_limit;
        placed += srv->nodes[i].room.mem_placed;
    }
    gauge(b, "infinicache_deletes_pending", "Deferred chunk deletes waiting for their node.",
          (double)deferred);
    gauge(b, "infinicache_backups_active", "Backups running.", srv->backups_active);
    gauge(b, "infinicache_last_backup_duration_seconds", "Duration of the latest good backup.",
          (double)s->last_backup_ms / 1000);
    gauge(b, "infinicache_last_backup_bytes", "Bytes of the latest good backup.",
          (double)s->last_backup_bytes);
    gauge(b, "infinicache_connected_clients", "Client connections open.", srv->nclients);
    gauge(b, "infinicache_keys", "Objects in the cache.", (double)srv->meta.count);
    gauge(b, "infinicache_object_bytes", "Sum of the objects' sizes.", (double)srv->meta.bytes);
    gauge(b, "infinicache_resident_memory_bytes", "The proxy's resident memory.",
          (double)info_rss_bytes());
    gauge(b, "infinicache_uptime_seconds", "Time since the proxy started.",
          (double)(ev_now_ms() - srv->start_ms) / 1000);
    static const char nodes[] = "infinicache_nodes";
    static const char *const state_name[4] = {"down", "invoking", "awake", "asleep"};
    prom_family(b, nodes, "gauge", "Nodes of the pool, by state.");
    for (int k = 0; k < 4; k++) {
        prom_label_t l = {"state", state_name[k]};
        prom_sample_u64(b, nodes, &l, (uint64_t)states[k]);
    }
    gauge(b, "infinicache_pool_memory_limit_bytes", "Chunk memory the pool's nodes offer.",
          (double)limit);
    gauge(b, "infinicache_pool_memory_used_bytes", "Chunk memory placed on the pool's nodes.",
          (double)placed);

    if (srv->aws) {
        /* How fresh the signing keys are; never the keys, not even the key id. */
        awscreds_status_t a;
        awscreds_status(srv->aws, &a);
        counter(b, "infinicache_aws_credentials_refreshes_total",
                "Temporary AWS keys fetched again before they expired.", a.refreshes);
        counter(b, "infinicache_aws_credentials_refresh_failures_total",
                "Failed fetches of temporary AWS keys (the old keys stay in use).",
                a.refresh_failures);
        gauge(b, "infinicache_aws_credentials_expiry_seconds",
              "Time until the AWS keys in use expire (-1: they do not).", (double)a.expires_in_s);
    }
    backing_metrics(srv, b);
    if (active) render_histograms(active, b);
    render_platform(srv, b);
    render_billing(srv, b);
}

/* ---- the HTTP listener ---- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             const char *header, const char *value)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    if (header) MHD_add_response_header(r, header, value);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Answers on the request's first call, before any body is read: a scrape has none, and an
 * unwanted one is never read (MHD closes the connection after the reply). The token is checked
 * before anything else is looked at, so a stranger learns nothing, not even which paths exist. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **state)
{
    metrics_t *m = cls;
    if (m->token_len &&
        !bearer_check(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"), m->token,
                      m->token_len)) {
        m->auth_failures++;
        return reply(c, 401, "401 unauthorized: send 'Authorization: Bearer <token>'\n",
                     "WWW-Authenticate", "Bearer realm=\"icproxy metrics\"");
    }
    if (strcmp(url, "/metrics") != 0) return reply(c, 404, "404 not found: try /metrics\n", 0, 0);
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, 405, "405 method not allowed\n", "Allow", "GET, HEAD");
    buf_t b;
    buf_init(&b);
    metrics_render(m->srv, &b);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(buf_len(&b), buf_head(&b), MHD_RESPMEM_MUST_COPY);
    buf_free(&b);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", PROM_CONTENT_TYPE);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_state,
                          enum MHD_ConnectionNotificationCode code)
{
    metrics_t *m = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        for (int i = 0; info && i < m->nconns; i++) {
            if (m->conns[i].fd >= 0) continue;
            m->conns[i].fd = info->connect_fd;
            m->conns[i].started_ms = ev_now_ms();
            *socket_state = &m->conns[i];
            return;
        }
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_state) {
        ((metrics_conn_t *)*socket_state)->fd = -1;
        *socket_state = NULL;
    }
}

static void mhd_timer_cb(ev_loop_t *loop, void *arg);

/* Lets MHD do what its sockets and timeouts ask, then sets the timer of its next timeout. */
static void mhd_run(metrics_t *m)
{
    MHD_run(m->daemon);
    ev_timer_cancel(m->srv->loop, m->mhd_timer);
    m->mhd_timer = 0;
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(m->daemon, &ms) == MHD_YES)
        m->mhd_timer = ev_timer_add(m->srv->loop, ms, mhd_timer_cb, m);
}

static void mhd_timer_cb(ev_loop_t *loop, void *arg)
{
    metrics_t *m = arg;
    m->mhd_timer = 0;
    mhd_run(m);
}

static void mhd_io(ev_loop_t *loop, int fd, int events, void *arg)
{
    mhd_run(arg);
}

/* MHD's own timeout restarts with every byte, so a peer that trickles a header holds its slot
 * for as long as it likes: past the deadline, whatever it is doing, the connection is shut
 * down (not closed: MHD owns the descriptor, sees the end and frees the connection itself). */
static void deadline_sweep(ev_loop_t *loop, void *arg)
{
    metrics_t *m = arg;
    uint64_t now = ev_now_ms(), limit = (uint64_t)m->srv->cfg.metrics_timeout_ms;
    int cut = 0;
    for (int i = 0; i < m->nconns; i++) {
        if (m->conns[i].fd < 0 || now - m->conns[i].started_ms <= limit) continue;
        shutdown(m->conns[i].fd, SHUT_RDWR);
        cut = 1;
    }
    if (cut) mhd_run(m);
    m->sweep_timer = ev_timer_add(loop, 1000, deadline_sweep, m);
}

static void metrics_free(metrics_t *m)
{
    if (!m) return;
    if (m->daemon) {
        ev_del(m->srv->loop, m->epoll_fd);
        MHD_stop_daemon(m->daemon);
    }
    ev_timer_cancel(m->srv->loop, m->mhd_timer);
    ev_timer_cancel(m->srv->loop, m->sweep_timer);
    explicit_bzero(m->token, sizeof m->token);
    free(m->command_latency);
    free(m->index_keys);
    free(m->index_values);
    free(m->conns);
    free(m);
}

int metrics_start(server_t *srv, char *err, size_t errlen)
{
    const proxy_config_t *cfg = &srv->cfg;
    if (!cfg->metrics_port) return 0;
    if (!cfg->metrics_token_file[0] && !net_host_is_loopback(cfg->metrics_bind)) {
        snprintf(err, errlen,
                 "metrics-bind %s is not a loopback address: set --metrics-token-file FILE too, "
                 "so that scrapers must send 'Authorization: Bearer <token>' (docs/SECURITY.md)",
                 cfg->metrics_bind);
        return -1;
    }
    metrics_t *m = calloc(1, sizeof *m);
    if (!m) goto nomem;
    m->srv = srv;
    if (cfg->metrics_token_file[0]) {
        int rc = conf_token_read_file(cfg->metrics_token_file, TOKEN_MIN, TOKEN_MAX, m->token,
                                      sizeof m->token);
        if (rc < 0) {
            snprintf(err, errlen, "metrics-token-file %s: %s", cfg->metrics_token_file,
                     rc == -EINVAL ? "the first line must be 16 to 512 printable bytes without "
                                     "blanks"
                                   : strerror(-rc));
            metrics_free(m);
            return -1;
        }
        m->token_len = strlen(m->token);
    }
    m->rows = command_all(&m->nrows);
    m->command_latency = calloc(m->nrows ? m->nrows : 1, sizeof *m->command_latency);
    m->nconns = (int)cfg->metrics_max_connections;
    m->conns = calloc((size_t)m->nconns, sizeof *m->conns);
    if (!m->command_latency || !m->conns || command_index_build(m) < 0) goto nomem;
    for (int i = 0; i < m->nconns; i++)
        m->conns[i].fd = -1;
    for (size_t i = 0; i < m->nrows; i++)
        prom_hist_init(&m->command_latency[i], latency_bounds_us, NLATENCY);
    for (int k = 0; k < OBJECT_KINDS; k++)
        for (int s = 0; s < NSIZE_CLASSES; s++)
            prom_hist_init(&m->object_latency[k][s], latency_bounds_us, NLATENCY);

    int lfd = net_listen(cfg->metrics_bind, (int)cfg->metrics_port, 64);
    if (lfd < 0) {
        snprintf(err, errlen, "cannot listen on %s:%" PRId64 " for metrics: %s", cfg->metrics_bind,
                 cfg->metrics_port, strerror(-lfd));
        metrics_free(m);
        return -1;
    }
    /* No thread of MHD's own: MHD_run is called from the loop when MHD's epoll descriptor is
     * readable, so every handler runs on the loop thread and reads the counters unlocked. MHD
     * never blocks: a slow scraper costs a connection slot, never the loop's time. */
    unsigned timeout_s = (unsigned)((cfg->metrics_timeout_ms + 999) / 1000);
    m->daemon =
        MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, on_request, m, MHD_OPTION_LISTEN_SOCKET, lfd,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->metrics_max_connections,
                         MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
                         MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_CONN_MEMORY,
                         MHD_OPTION_NOTIFY_CONNECTION, on_connection, m, MHD_OPTION_END);
    if (!m->daemon) {
        close(lfd);
        snprintf(err, errlen, "cannot start the metrics listener (libmicrohttpd)");
        metrics_free(m);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    m->epoll_fd = info ? info->epoll_fd : -1;
    if (m->epoll_fd < 0 || ev_set(srv->loop, m->epoll_fd, EV_READ, mhd_io, m) < 0) {
        snprintf(err, errlen, "cannot watch the metrics listener");
        metrics_free(m);
        return -1;
    }
    m->sweep_timer = ev_timer_add(srv->loop, 1000, deadline_sweep, m);
    srv->metrics = m;
    active = m;
    log_info("event=metrics_listening bind=%s port=%d token=%s", cfg->metrics_bind,
             net_local_port(lfd), m->token_len ? "required" : "none");
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    metrics_free(m);
    return -1;
}

void metrics_stop(server_t *srv)
{
    if (!srv->metrics) return;
    if (active == srv->metrics) active = NULL;
    metrics_free(srv->metrics);
    srv->metrics = NULL;
}
