/* bill.c -- counts the nodes' billing records and chooses the billing figures to report. */
#include "bill.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invoker.h"
#include "log.h"
#include "nodepool.h"
#include "server.h"

_Static_assert(BILLING_KIND_COUNT == NODEPROTO_BILL_KINDS, "BILL kinds are billing_kind_t's");

void bill_from_node(node_t *n, const nodeproto_msg_t *m)
{
    server_t *srv = n->srv;
    nodeproto_bill_t r;
    if (nodeproto_bill_decode(m, &r) < 0) {
        srv->stats.bills_refused++;
        log_warn("event=bill_refused node=%d instance=%s", n->id, n->instance);
        return;
    }
    /* A new instance numbers its invocations from 1 again. */
    if (strcmp(n->bill_instance, n->instance) != 0) {
        snprintf(n->bill_instance, sizeof n->bill_instance, "%s", n->instance);
        n->bill_seq = n->bill_dropped = 0;
    }
    if (r.dropped > n->bill_dropped) {
        srv->stats.bills_unreported += (uint64_t)(r.dropped - n->bill_dropped);
        n->bill_dropped = r.dropped;
    }
    if (r.seq <= n->bill_seq) {
        srv->stats.bills_duplicate++;
        return;
    }
    n->bill_seq = r.seq;
    billing_record_t rec = {.kind = (billing_kind_t)r.kind,
                            .duration_us = r.duration_us,
                            .billed_ms = r.billed_ms,
                            .memory_mb = r.memory_mb,
                            .outcome = BILLING_OK};
    billing_totals_add(&srv->stats.node_billing, &rec);
    log_debug("event=bill node=%d seq=%lld kind=%s duration_us=%lld billed_ms=%lld memory_mb=%lld "
              "max_rss_kb=%lld",
              n->id, (long long)r.seq, billing_kind_name(rec.kind), (long long)r.duration_us,
              (long long)r.billed_ms, (long long)r.memory_mb, (long long)r.max_rss_kb);
}

const char *bill_source_name(bill_source_t s)
{
    return s == BILL_SOURCE_PLATFORM ? "platform" : "nodes";
}

static double json_number(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

void bill_view(server_t *srv, bill_view_t *out)
{
    memset(out, 0, sizeof *out);
    char js[8192];
    js[0] = 0;
    if (srv->invoker) invoker_platform_stats(srv->invoker, js, sizeof js);
    cJSON *o = js[0] ? cJSON_Parse(js) : NULL;
    if (o && cJSON_IsObject(o)) {
        out->source = BILL_SOURCE_PLATFORM;
        out->requests = json_number(o, "requests");
        out->billed_ms = json_number(o, "billed_ms");
        out->gb_seconds = json_number(o, "gb_seconds");
        const cJSON *gran = cJSON_GetObjectItemCaseSensitive(o, "billing");
        out->unit_ms = cJSON_IsString(gran) && gran->valuestring ? atoll(gran->valuestring) : 0;
        const cJSON *req = cJSON_GetObjectItemCaseSensitive(o, "requests_by_kind");
        const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "billed_ms_by_kind");
        const cJSON *gbs = cJSON_GetObjectItemCaseSensitive(o, "gb_seconds_by_kind");
        for (int k = 0; k < BILLING_KIND_COUNT; k++) {
            const char *name = billing_kind_name((billing_kind_t)k);
            out->requests_by_kind[k] = json_number(req, name);
            out->billed_ms_by_kind[k] = json_number(ms, name);
            out->gb_seconds_by_kind[k] = json_number(gbs, name);
        }
        cJSON_Delete(o);
        return;
    }
    cJSON_Delete(o);
    const billing_totals_t *t = &srv->stats.node_billing;
    out->source = BILL_SOURCE_NODES;
    out->requests = (double)t->requests;
    out->billed_ms = (double)t->billed_ms;
    out->gb_seconds = t->gb_seconds;
    out->unit_ms = srv->cfg.billing_ms;
    for (int k = 0; k < BILLING_KIND_COUNT; k++) {
        out->requests_by_kind[k] = (double)t->requests_by_kind[k];
        out->billed_ms_by_kind[k] = (double)t->billed_ms_by_kind[k];
        out->gb_seconds_by_kind[k] = t->gb_seconds_by_kind[k];
    }
}
