/* info.c -- the INFO command: server, clients, memory, stats, pool (with the platform's billing).
 */
#include <limits.h>
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "awscreds.h"
#include "client.h"
#include "command.h"
#include "invoker.h"
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

static int want(const char *section, const char *name)
{
    return !section[0] || !strcasecmp(section, "all") || !strcasecmp(section, "everything") ||
           !strcasecmp(section, "default") || !strcasecmp(section, name);
}

static double json_num(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

void cmd_info(client_t *c, op_t *op, const char *section)
{
    server_t *srv = c->srv;
    buf_t b;
    buf_init(&b);
    uint64_t up = (ev_now_ms() - srv->start_ms) / 1000;
    if (want(section, "server")) {
        buf_printf(
            &b,
            "# Server\r\nredis_version:7.0.0\r\ninfinicache_version:0.1.0\r\nprocess_id:%d\r\n"
            "tcp_port:%d\r\ntls_port:%d\r\nnode_port:%d\r\nuptime_in_seconds:%" PRIu64
            "\r\nplatform_endpoint:%s\r\n\r\n",
            getpid(), srv->client_port, srv->tls_port, srv->node_port, up, srv->platform_endpoint);
    }
    if (want(section, "clients"))
        buf_printf(&b, "# Clients\r\nconnected_clients:%d\r\n\r\n", srv->nclients);
    if (want(section, "memory")) {
        meta_table_t *t = &srv->meta;
        buf_printf(&b,
                   "# Memory\r\nused_memory_rss:%ld\r\nobjects:%zu\r\nobject_bytes:%" PRIu64 "\r\n"
                   "max_object_size:%" PRId64 "\r\n\r\n",
                   info_rss_bytes(), t->count, t->bytes, srv->cfg.max_object_size);
    }
    if (want(section, "stats")) {
        proxy_stats_t *s = &srv->stats;
        uint64_t throttled = 0, retries = 0;
        if (srv->invoker) invoker_counters(srv->invoker, &throttled, &retries);
        buf_printf(
            &b,
            "# Stats\r\ntotal_connections_received:%" PRIu64 "\r\ntotal_commands_processed:%" PRIu64
            "\r\nkeyspace_hits:%" PRIu64 "\r\nkeyspace_misses:%" PRIu64 "\r\ntotal_sets:%" PRIu64
            "\r\nerror_replies:%" PRIu64 "\r\nevicted_keys:%" PRIu64 "\r\nexpired_keys:%" PRIu64
            "\r\ntotal_net_input_bytes:%" PRIu64 "\r\ntotal_net_output_bytes:%" PRIu64
            "\r\ninvocations:%" PRIu64 "\r\ninvoke_failures:%" PRIu64 "\r\ninvoke_throttled:%" PRIu64
            "\r\ninvoke_retries:%" PRIu64 "\r\nnode_timeouts:%" PRIu64
            "\r\nchunks_lost:%" PRIu64 "\r\nchunks_repaired:%" PRIu64
            "\r\nchunks_corrupt_repaired:%" PRIu64 "\r\nicget_spare_reads:%" PRIu64
            "\r\nobjects_lost:%" PRIu64 "\r\nrelays:%" PRIu64 "\r\ngets_coalesced:%" PRIu64
            "\r\nsets_coalesced:%" PRIu64 "\r\nnodes_refused:%" PRIu64
            "\r\nauth_failures:%" PRIu64 "\r\nprotected_mode_refused:%" PRIu64
            "\r\nidle_clients_closed:%" PRIu64 "\r\ntls_connections:%" PRIu64
            "\r\ntls_handshake_failures:%" PRIu64 "\r\n\r\n",
            s->connections, s->commands, s->get_hits, s->get_misses, s->sets, s->errors,
            srv->meta.evictions, srv->meta.expired, srv->tp.stats.bytes_in, srv->tp.stats.bytes_out, s->invocations,
            s->invoke_failures, throttled, retries, s->node_timeouts, s->chunks_lost, s->chunks_repaired,
            s->chunks_corrupt_repaired, s->icget_spare_reads, s->objects_lost, srv->tp.stats.relays,
            s->gets_coalesced, s->sets_coalesced, s->nodes_refused, s->auth_failures,
            s->auth_denied, s->idle_closed, srv->tp.stats.tls_connections,
            srv->tp.stats.tls_handshake_failures);
    }
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
                   "\r\nec_p:%" PRId64 "\r\n",
                   srv->nnodes, srv->cfg.function_prefix, srv->cfg.node_memory_mb, st[NODE_AWAKE],
                   st[NODE_ASLEEP], st[NODE_INVOKING], st[NODE_DOWN], cap, placed, srv->cfg.d,
                   srv->cfg.p);
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
        buf_printf(&b,
                   "# Lifecycle\r\nwarmups:%" PRIu64 "\r\nbackups_started:%" PRIu64
                   "\r\nbackups_ok:%" PRIu64 "\r\nbackups_failed:%" PRIu64
                   "\r\nbackups_active:%d\r\nbackup_chunks:%" PRIu64 "\r\nbackup_bytes:%" PRIu64
                   "\r\nbackup_deletes:%" PRIu64 "\r\nlast_backup_ms:%" PRIu64
                   "\r\nlast_backup_bytes:%" PRIu64 "\r\nchunks_lost:%" PRIu64
                   "\r\nchunks_repaired:%" PRIu64 "\r\nobjects_lost:%" PRIu64
                   "\r\nrepairs_started:%" PRIu64 "\r\nrepair_bytes:%" PRIu64
                   "\r\ninventories:%" PRIu64 "\r\nrebuilt_objects:%" PRIu64
                   "\r\ndeletes_deferred:%" PRIu64 "\r\ndeletes_pending:%zu"
                   "\r\ndeletes_dropped:%" PRIu64 "\r\nstale_chunks:%" PRIu64 "\r\n\r\n",
                   s->warmups, s->backups_started, s->backups_ok, s->backups_failed,
                   srv->backups_active, s->backup_chunks, s->backup_bytes, s->backup_deletes,
                   s->last_backup_ms, s->last_backup_bytes, s->chunks_lost, s->chunks_repaired, s->objects_lost, s->repairs_started,
                   s->repair_bytes, s->inventories, s->rebuilt_objects, s->deletes_deferred,
                   deferred, s->deletes_dropped, s->stale_chunks);
    }
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
    resp_add_bulk(&op->reply, buf_head(&b), buf_len(&b));
    buf_free(&b);
}
