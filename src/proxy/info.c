/* info.c -- the INFO command: Redis's sections (server, clients, memory, persistence, stats,
 * replication, cpu, keyspace, commandstats, latencystats) and ours (aws, pool with the
 * platform's billing, lifecycle). */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "clock.h"
#include "awscreds.h"
#include "backing.h"
#include "bill.h"
#include "client.h"
#include "cmdstats.h"
#include "command.h"
#include "invoker.h"
#include "mover.h"
#include "nodepool.h"
#include "op.h"
#include "server.h"
#include "resp.h"

long info_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return rss * sysconf(_SC_PAGESIZE);
}

/* Sections Redis's INFO (and INFO default) prints, with ours; "all" and "everything" add
 * latencystats, as on Redis. */
static const char *const default_sections[] = {
    "server",  "clients",  "memory", "persistence", "stats",     "replication", "cpu",
    "cluster", "keyspace", "aws",    "pool",        "lifecycle", "billing",     "backing"};

static int want(const info_select_t *section, const char *name)
{
    if (section->all) return 1;
    if (section->deflt)
        for (size_t i = 0; i < sizeof default_sections / sizeof *default_sections; i++)
            if (!strcmp(default_sections[i], name)) return 1;
    for (int i = 0; i < section->n; i++)
        if (!strcasecmp(section->names[i], name)) return 1;
    return 0;
}

void info_select_parse(info_select_t *sel, int argc, const char **argv, const size_t *argl)
{
    memset(sel, 0, sizeof *sel);
    sel->deflt = argc == 0;
    for (int i = 0; i < argc; i++) {
        if (arg_is(argv[i], argl[i], "all") || arg_is(argv[i], argl[i], "everything"))
            sel->all = 1;
        else if (arg_is(argv[i], argl[i], "default"))
            sel->deflt = 1;
        else if (sel->n < INFO_SECTIONS_MAX && argl[i] < sizeof sel->names[0])
            snprintf(sel->names[sel->n++], sizeof sel->names[0], "%.*s", (int)argl[i], argv[i]);
    }
}

/* Redis's run_id: 40 random hex digits, drawn once per process. */
static const char *run_id(void)
{
    static char id[41];
    if (!id[0]) {
        unsigned char r[20] = {0};
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
            uint64_t t = ev_now_us() ^ (uint64_t)getpid();
            memcpy(r, &t, sizeof t);
        }
        for (int i = 0; i < 20; i++)
            snprintf(id + 2 * i, 3, "%02x", r[i]);
    }
    return id;
}

static void cpu_line(buf_t *b, const char *name, const struct timeval *tv)
{
    buf_printf(b, "%s:%ld.%06ld\r\n", name, (long)tv->tv_sec, (long)tv->tv_usec);
}

/* The sections Redis has and the proxy fills from what it is: its server, clients and memory
 * as Redis names their fields, and stubs where Redis's feature does not exist here (no
 * persistence, no replicas) with the values a Redis without them reports. */
static void info_redis_sections(buf_t *b, server_t *srv, const info_select_t *section)
{
    uint64_t now_ms = ev_now_ms(), up = (now_ms - srv->start_ms) / 1000;
    if (want(section, "server")) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        char exe[512] = "";
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        buf_printf(b,
                   "# Server\r\nredis_version:%s\r\nredis_git_sha1:00000000\r\n"
                   "redis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\n"
                   "os:Linux\r\narch_bits:%d\r\nmultiplexing_api:epoll\r\n"
                   "infinicache_version:0.1.0\r\nprocess_id:%d\r\nprocess_supervised:no\r\n"
                   "run_id:%s\r\ntcp_port:%d\r\ntls_port:%d\r\nnode_port:%d\r\n"
                   "server_time_usec:%lld\r\nuptime_in_seconds:%" PRIu64
                   "\r\nuptime_in_days:%" PRIu64 "\r\nhz:10\r\nconfigured_hz:10\r\n"
                   "executable:%s\r\nconfig_file:%s\r\nio_threads_active:%d\r\n"
                   "threads:%d\r\nplatform_endpoint:%s\r\n\r\n",
                   IC_REDIS_VERSION, (int)(sizeof(void *) * 8), getpid(), run_id(),
                   srv->client_port, srv->tls_port, srv->node_port,
                   (long long)tv.tv_sec * 1000000 + tv.tv_usec, up, up / 86400, exe,
                   srv->cfg.config_file ? srv->cfg.config_file : "", srv->tp.mover != NULL,
                   1 + mover_threads(srv->tp.mover), srv->platform_endpoint);
    }
    if (want(section, "clients")) {
        size_t max_in = 0, max_out = 0;
        for (const client_t *c = srv->clients; c; c = c->next) {
            if (c->conn->in.cap > max_in) max_in = c->conn->in.cap;
            if (c->conn->out_bytes > max_out) max_out = c->conn->out_bytes;
        }
        buf_printf(b,
                   "# Clients\r\nconnected_clients:%d\r\ncluster_connections:0\r\n"
                   "maxclients:%" PRId64 "\r\nclient_recent_max_input_buffer:%zu\r\n"
                   "client_recent_max_output_buffer:%zu\r\nblocked_clients:0\r\n"
                   "tracking_clients:0\r\nclients_in_timeout_table:0\r\n\r\n",
                   srv->nclients, srv->cfg.max_clients, max_in, max_out);
    }
    if (want(section, "memory")) {
        meta_table_t *t = &srv->meta;
        long rss = info_rss_bytes();
        buf_printf(b,
                   "# Memory\r\nused_memory:%ld\r\nused_memory_human:%.2fM\r\n"
                   "used_memory_rss:%ld\r\nused_memory_rss_human:%.2fM\r\nmaxmemory:0\r\n"
                   "maxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\n"
                   "mem_fragmentation_ratio:1.00\r\nobjects:%zu\r\nobject_bytes:%" PRIu64
                   "\r\nmax_object_size:%" PRId64 "\r\n\r\n",
                   rss, (double)rss / (1 << 20), rss, (double)rss / (1 << 20), t->count, t->bytes,
                   srv->cfg.max_object_size);
    }
    if (want(section, "persistence"))
        buf_printf(b,
                   "# Persistence\r\nloading:0\r\nasync_loading:0\r\n"
                   "rdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\n"
                   "rdb_last_save_time:%lld\r\nrdb_last_bgsave_status:ok\r\n"
                   "aof_enabled:0\r\naof_rewrite_in_progress:0\r\n"
                   "aof_last_bgrewrite_status:ok\r\naof_last_write_status:ok\r\n\r\n",
                   (long long)(time(NULL) - (time_t)up));
}

static void info_replication_cpu(buf_t *b, const info_select_t *section)
{
    if (want(section, "replication"))
        buf_printf(b, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
                      "master_failover_state:no-failover\r\n"
                      "master_replid:0000000000000000000000000000000000000000\r\n"
                      "master_replid2:0000000000000000000000000000000000000000\r\n"
                      "master_repl_offset:0\r\nsecond_repl_offset:-1\r\n"
                      "repl_backlog_active:0\r\nrepl_backlog_size:0\r\n"
                      "repl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n\r\n");
    if (want(section, "cpu")) {
        struct rusage self, children;
        getrusage(RUSAGE_SELF, &self);
        getrusage(RUSAGE_CHILDREN, &children);
        buf_printf(b, "# CPU\r\n");
        cpu_line(b, "used_cpu_sys", &self.ru_stime);
        cpu_line(b, "used_cpu_user", &self.ru_utime);
        cpu_line(b, "used_cpu_sys_children", &children.ru_stime);
        cpu_line(b, "used_cpu_user_children", &children.ru_utime);
        /* INFO runs on the event-loop thread: its own share, beside the byte movers'. */
        struct rusage main_thread;
        getrusage(RUSAGE_THREAD, &main_thread);
        cpu_line(b, "used_cpu_sys_main_thread", &main_thread.ru_stime);
        cpu_line(b, "used_cpu_user_main_thread", &main_thread.ru_utime);
        buf_printf(b, "\r\n");
    }
}

static double json_num(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

void cmd_info(client_t *c, op_t *op, const info_select_t *section)
{
    server_t *srv = c->srv;
    buf_t b;
    buf_init(&b);
    info_redis_sections(&b, srv, section);
    if (want(section, "stats")) {
        proxy_stats_t *s = &srv->stats;
        uint64_t throttled = 0, retries = 0;
        if (srv->invoker) invoker_counters(srv->invoker, &throttled, &retries);
        mover_stats_t mv;
        mover_stats(srv->tp.mover, &mv);
        buf_printf(
            &b,
            "# Stats\r\ntotal_connections_received:%" PRIu64 "\r\ntotal_commands_processed:%" PRIu64
            "\r\nkeyspace_hits:%" PRIu64 "\r\nkeyspace_misses:%" PRIu64 "\r\ntotal_sets:%" PRIu64
            "\r\nerror_replies:%" PRIu64 "\r\nevicted_keys:%" PRIu64 "\r\nexpired_keys:%" PRIu64
            "\r\ntotal_net_input_bytes:%" PRIu64 "\r\ntotal_net_output_bytes:%" PRIu64
            "\r\ninvocations:%" PRIu64 "\r\ninvoke_failures:%" PRIu64
            "\r\ninvoke_throttled:%" PRIu64 "\r\ninvoke_retries:%" PRIu64
            "\r\nnode_timeouts:%" PRIu64 "\r\nchunks_lost:%" PRIu64 "\r\nchunks_repaired:%" PRIu64
            "\r\nchunks_corrupt_repaired:%" PRIu64 "\r\nicget_spare_reads:%" PRIu64
            "\r\nobjects_lost:%" PRIu64 "\r\nrelays:%" PRIu64 "\r\ngets_coalesced:%" PRIu64
            "\r\nsets_coalesced:%" PRIu64 "\r\nnodes_refused:%" PRIu64 "\r\nauth_failures:%" PRIu64
            "\r\nprotected_mode_refused:%" PRIu64 "\r\nidle_clients_closed:%" PRIu64
            "\r\ntls_connections:%" PRIu64 "\r\ntls_handshake_failures:%" PRIu64
            "\r\ngetrange_requests:%" PRIu64 "\r\ngetrange_chunk_bytes:%" PRIu64
            "\r\ngetrange_decoded:%" PRIu64 "\r\nmover_threads:%d\r\nmover_active:%d"
            "\r\nmover_switches:%" PRIu64 "\r\nmover_jobs:%" PRIu64
            "\r\nmover_bytes:%" PRIu64 "\r\nmover_jobs_taken_back:%" PRIu64
            "\r\nmover_busy_us:%" PRIu64 "\r\n\r\n",
            s->connections, s->commands, s->get_hits, s->get_misses, s->sets, s->errors,
            srv->meta.evictions, srv->meta.expired, srv->tp.stats.bytes_in, srv->tp.stats.bytes_out,
            s->invocations, s->invoke_failures, throttled, retries, s->node_timeouts,
            s->chunks_lost, s->chunks_repaired, s->chunks_corrupt_repaired, s->icget_spare_reads,
            s->objects_lost, srv->tp.stats.relays, s->gets_coalesced, s->sets_coalesced,
            s->nodes_refused, s->auth_failures, s->auth_denied, s->idle_closed,
            srv->tp.stats.tls_connections, srv->tp.stats.tls_handshake_failures,
            s->getrange_requests, s->getrange_chunk_bytes, s->getrange_decoded,
            mover_threads(srv->tp.mover), srv->tp.moving, srv->tp.moving_switches, mv.jobs, mv.bytes,
            mv.cancelled, mv.busy_us);
    }
    info_replication_cpu(&b, section);
    if (want(section, "aws") && srv->aws) {
        /* Where the signing keys come from and how fresh they are; never a secret. */
        awscreds_status_t a;
        awscreds_status(srv->aws, &a);
        buf_printf(&b,
                   "# AWS\r\naws_credentials_source:%s\r\naws_region:%s\r\naws_key_id:%s\r\n"
                   "aws_credentials_expires_in_s:%" PRId64 "\r\naws_credentials_refreshes:%" PRIu64
                   "\r\naws_credentials_refresh_failures:%" PRIu64 "\r\n\r\n",
                   a.source, a.region[0] ? a.region : "-", a.key_id_hint, a.expires_in_s,
                   a.refreshes, a.refresh_failures);
    }
    if (want(section, "pool")) {
        int st[4] = {0};
        uint64_t cap = 0, placed = 0;
        for (int i = 0; i < srv->nnodes; i++) {
            st[srv->nodes[i].state]++;
            cap += srv->nodes[i].room.mem_limit;
            placed += srv->nodes[i].room.mem_placed;
        }
        buf_printf(&b,
                   "# Pool\r\npool_size:%d\r\nfunction_prefix:%s\r\nnode_memory_mb:%" PRId64
                   "\r\nnodes_awake:%d\r\nnodes_asleep:%d\r\nnodes_invoking:%d\r\nnodes_down:%d\r\n"
                   "capacity_bytes:%" PRIu64 "\r\nplaced_bytes:%" PRIu64 "\r\nec_d:%" PRId64
                   "\r\nec_p:%" PRId64 "\r\nepoch:%" PRIu64
                   "\r\nfenced:%d\r\nfenced_by_epoch:%" PRIu64 "\r\n",
                   srv->nnodes, srv->cfg.function_prefix, srv->cfg.node_memory_mb, st[NODE_AWAKE],
                   st[NODE_ASLEEP], st[NODE_INVOKING], st[NODE_DOWN], cap, placed, srv->cfg.d,
                   srv->cfg.p, srv->epoch, srv->fenced, srv->fenced_by_epoch);
        char js[8192];
        invoker_platform_stats(srv->invoker, js, sizeof js);
        cJSON *o = js[0] ? cJSON_Parse(js) : NULL;
        if (o) {
            buf_printf(
                &b,
                "platform_requests:%.0f\r\nplatform_billed_ms:%.0f\r\nplatform_gb_seconds:%.6f\r\n"
                "platform_cold_starts:%.0f\r\nplatform_instances:%.0f\r\nplatform_timeouts:%."
                "0f\r\n",
                json_num(o, "requests"), json_num(o, "billed_ms"), json_num(o, "gb_seconds"),
                json_num(o, "cold_starts"), json_num(o, "instances"), json_num(o, "timeouts"));
            /* The granularity the platform rounds each invocation to ("1ms" or "100ms"), so a
             * cost report can say how its GB-seconds were billed. */
            cJSON *gran = cJSON_GetObjectItemCaseSensitive(o, "billing");
            if (cJSON_IsString(gran) && gran->valuestring)
                buf_printf(&b, "platform_billing_ms:%ld\r\nplatform_memory_mb:%.0f\r\n",
                           strtol(gran->valuestring, NULL, 10), json_num(o, "memory_mb"));
            /* Every "<figure>_by_kind" object becomes platform_<figure>_<kind> lines (requests,
             * billed time and GB-seconds of serving, warm-up and backup). 15 digits: counts stay
             * exact integers, and a long run's GB-seconds keep their fractions for the cost
             * report. */
            cJSON *fig;
            cJSON_ArrayForEach(fig, o)
            {
                size_t fl = fig->string ? strlen(fig->string) : 0;
                if (!cJSON_IsObject(fig) || fl <= 8 || strcmp(fig->string + fl - 8, "_by_kind"))
                    continue;
                cJSON *k;
                cJSON_ArrayForEach(k, fig) if (cJSON_IsNumber(k))
                    buf_printf(&b, "platform_%.*s_%s:%.15g\r\n", (int)(fl - 8), fig->string,
                               k->string, k->valuedouble);
            }
            cJSON_Delete(o);
        }
        buf_printf(&b, "\r\n");
    }
    if (want(section, "lifecycle")) {
        proxy_stats_t *s = &srv->stats;
        size_t deferred = 0;
        for (int i = 0; i < srv->nnodes; i++)
            deferred += srv->nodes[i].ndeferred;
        buf_printf(
            &b,
            "# Lifecycle\r\nwarmups:%" PRIu64 "\r\nbackups_started:%" PRIu64
            "\r\nbackups_ok:%" PRIu64 "\r\nbackups_failed:%" PRIu64
            "\r\nbackups_active:%d\r\nbackup_chunks:%" PRIu64 "\r\nbackup_bytes:%" PRIu64
            "\r\nbackup_deletes:%" PRIu64 "\r\nlast_backup_ms:%" PRIu64
            "\r\nlast_backup_bytes:%" PRIu64 "\r\nchunks_lost:%" PRIu64
            "\r\nchunks_repaired:%" PRIu64 "\r\nobjects_lost:%" PRIu64
            "\r\nrepairs_started:%" PRIu64 "\r\nrepairs_deferred:%" PRIu64
            "\r\nrepair_bytes:%" PRIu64 "\r\ninventories:%" PRIu64
            "\r\nrebuilt_objects:%" PRIu64 "\r\ndeletes_deferred:%" PRIu64 "\r\ndeletes_pending:%zu"
            "\r\ndeletes_dropped:%" PRIu64 "\r\nstale_chunks:%" PRIu64 "\r\n\r\n",
            s->warmups, s->backups_started, s->backups_ok, s->backups_failed, srv->backups_active,
            s->backup_chunks, s->backup_bytes, s->backup_deletes, s->last_backup_ms,
            s->last_backup_bytes, s->chunks_lost, s->chunks_repaired, s->objects_lost,
            s->repairs_started, s->repairs_deferred, s->repair_bytes, s->inventories,
            s->rebuilt_objects,
            s->deletes_deferred, deferred, s->deletes_dropped, s->stale_chunks);
    }
    if (want(section, "billing")) {
        /* The figures cost is computed from, named by their source (bill.h says which is
         * chosen), then the nodes' own records whatever the source, so the two can be compared. */
        bill_view_t v;
        bill_view(srv, &v);
        buf_printf(&b,
                   "# Billing\r\nbilling_source:%s\r\nbilling_unit_ms:%lld\r\nbilling_requests:%.0f"
                   "\r\nbilling_billed_ms:%.0f\r\nbilling_gb_seconds:%.15g\r\n",
                   bill_source_name(v.source), (long long)v.unit_ms, v.requests, v.billed_ms,
                   v.gb_seconds);
        for (int k = 0; k < BILLING_KIND_COUNT; k++) {
            const char *kind = billing_kind_name((billing_kind_t)k);
            buf_printf(&b,
                       "billing_requests_%s:%.0f\r\nbilling_billed_ms_%s:%.0f\r\n"
                       "billing_gb_seconds_%s:%.15g\r\n",
                       kind, v.requests_by_kind[k], kind, v.billed_ms_by_kind[k], kind,
                       v.gb_seconds_by_kind[k]);
        }
        const proxy_stats_t *s = &srv->stats;
        const billing_totals_t *t = &s->node_billing;
        buf_printf(&b,
                   "node_billing_records:%" PRIu64 "\r\nnode_billing_refused:%" PRIu64
                   "\r\nnode_billing_duplicates:%" PRIu64 "\r\nnode_billing_unreported:%" PRIu64
                   "\r\nnode_billing_billed_ms:%" PRId64 "\r\nnode_billing_gb_seconds:%.15g\r\n",
                   t->requests, s->bills_refused, s->bills_duplicate, s->bills_unreported,
                   t->billed_ms, t->gb_seconds);
        for (int k = 0; k < BILLING_KIND_COUNT; k++) {
            const char *kind = billing_kind_name((billing_kind_t)k);
            buf_printf(&b,
                       "node_billing_requests_%s:%" PRIu64 "\r\nnode_billing_billed_ms_%s:%" PRId64
                       "\r\nnode_billing_gb_seconds_%s:%.15g\r\n",
                       kind, t->requests_by_kind[k], kind, t->billed_ms_by_kind[k], kind,
                       t->gb_seconds_by_kind[k]);
        }
        buf_printf(&b, "\r\n");
    }
    if (want(section, "cluster"))
        buf_printf(&b, "# Cluster\r\ncluster_enabled:%d\r\n\r\n", srv->cluster ? 1 : 0);
    if (want(section, "backing") && srv->backing) backing_info(srv, &b);
    if (want(section, "keyspace") && srv->meta.count) {
        /* avg_ttl is exact here (Redis's is an estimate from its expiry sampling), in ms. */
        long double avg = srv->meta.expires ? srv->meta.expire_sum / srv->meta.expires -
                                                  (long double)clock_wall_ms()
                                            : 0;
        buf_printf(&b, "# Keyspace\r\ndb0:keys=%zu,expires=%zu,avg_ttl=%lld\r\n", srv->meta.count,
                   srv->meta.expires,
                   avg <= 0                        ? 0LL
                   : avg >= (long double)LLONG_MAX ? LLONG_MAX
                                                   : (long long)avg);
    }
    if (want(section, "commandstats")) {
        buf_printf(&b, "# Commandstats\r\n");
        cmdstats_info_commandstats(&b);
        buf_printf(&b, "\r\n");
    }
    if (want(section, "latencystats")) {
        buf_printf(&b, "# Latencystats\r\n");
        cmdstats_info_latencystats(&b);
        buf_printf(&b, "\r\n");
    }
    /* Sections are separated by a blank line, with none after the last (as Redis). */
    if (buf_len(&b) >= 4 && !memcmp(buf_head(&b) + buf_len(&b) - 4, "\r\n\r\n", 4)) b.end -= 2;
    /* RESP3 clients get a verbatim string, as from Redis. */
    resp_add_verbatim(&op->reply, "txt", buf_head(&b), buf_len(&b));
    buf_free(&b);
}
