/* billing.c -- rounding, event kinds and log lines for the platform's per-invocation billing. */
#include "billing.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int64_t billing_round_ms(int64_t duration_us, int64_t granularity_ms)
{
    if (granularity_ms <= 0) granularity_ms = 1;
    int64_t unit_us = granularity_ms * 1000;
    int64_t units = duration_us <= 0 ? 1 : (duration_us + unit_us - 1) / unit_us;
    if (units < 1) units = 1;
    return units * granularity_ms;
}

billing_kind_t billing_kind_of_command(const char *cmd)
{
    if (!strcmp(cmd, "activate")) return BILLING_KIND_ACTIVATE;
    if (!strcmp(cmd, "warmup")) return BILLING_KIND_WARMUP;
    if (!strcmp(cmd, "backup") || !strcmp(cmd, "backup-peer")) return BILLING_KIND_BACKUP;
    return BILLING_KIND_OTHER;
}

billing_kind_t billing_kind_of_event(const char *payload, size_t len)
{
    if (!payload || len == 0) return BILLING_KIND_OTHER;
    cJSON *root = cJSON_ParseWithLength(payload, len);
    billing_kind_t kind = BILLING_KIND_OTHER;
    /* A sealed event carries the event as text in "signed" (docs/PROTOCOL.md section 3); the
     * platform reads its kind for the bill without checking the seal (the node does that). */
    const cJSON *sealed = root ? cJSON_GetObjectItemCaseSensitive(root, "signed") : NULL;
    if (cJSON_IsString(sealed) && sealed->valuestring) {
        cJSON *inner = cJSON_Parse(sealed->valuestring);
        cJSON_Delete(root);
        root = inner;
    }
    if (root && cJSON_IsObject(root)) {
        const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(root, "cmd");
        if (cJSON_IsString(cmd) && cmd->valuestring)
            kind = billing_kind_of_command(cmd->valuestring);
    }
    cJSON_Delete(root);
    return kind;
}

const char *billing_kind_name(billing_kind_t kind)
{
    switch (kind) {
    case BILLING_KIND_ACTIVATE:
        return "activate";
    case BILLING_KIND_WARMUP:
        return "warmup";
    case BILLING_KIND_BACKUP:
        return "backup";
    default:
        return "other";
    }
}

const char *billing_outcome_name(billing_outcome_t outcome)
{
    switch (outcome) {
    case BILLING_OK:
        return "ok";
    case BILLING_TIMEOUT:
        return "timeout";
    default:
        return "error";
    }
}

double billing_gb_seconds(int64_t billed_ms, int64_t memory_mb)
{
    return (double)billed_ms / 1000.0 * (double)memory_mb / 1024.0;
}

void billing_totals_add(billing_totals_t *t, const billing_record_t *rec)
{
    billing_kind_t kind = rec->kind < BILLING_KIND_COUNT ? rec->kind : BILLING_KIND_OTHER;
    double gb_seconds = billing_gb_seconds(rec->billed_ms, rec->memory_mb);
    t->requests++;
    t->requests_by_kind[kind]++;
    t->billed_ms += rec->billed_ms;
    t->billed_ms_by_kind[kind] += rec->billed_ms;
    t->gb_seconds += gb_seconds;
    t->gb_seconds_by_kind[kind] += gb_seconds;
    if (rec->outcome == BILLING_TIMEOUT)
        t->timeouts++;
    else if (rec->outcome == BILLING_ERROR)
        t->errors++;
}

int billing_record_format(const billing_record_t *rec, char *out, size_t outlen)
{
    /* Function names and request ids are generated or validated by the platform (no quotes or
     * control characters), so they are written without escaping. */
    int n = snprintf(out, outlen,
                     "{\"function\":\"%s\",\"instance\":%llu,\"request_id\":\"%s\",\"kind\":\"%s\","
                     "\"start_ms\":%lld,\"end_ms\":%lld,\"duration_ms\":%.3f,\"billed_ms\":%lld,"
                     "\"memory_mb\":%lld,\"outcome\":\"%s\"}\n",
                     rec->function, (unsigned long long)rec->instance, rec->request_id,
                     billing_kind_name(rec->kind), (long long)rec->start_ms, (long long)rec->end_ms,
                     (double)rec->duration_us / 1000.0, (long long)rec->billed_ms,
                     (long long)rec->memory_mb, billing_outcome_name(rec->outcome));
    if (n < 0 || (size_t)n >= outlen) return -ENOSPC;
    return n;
}
