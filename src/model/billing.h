/* billing.h -- pure billing logic of the local platform: rounding, event kinds, log lines, totals.
 */
#ifndef IC_MODEL_BILLING_H
#define IC_MODEL_BILLING_H

#include <stddef.h>
#include <stdint.h>

/* What an invocation was for, from the "cmd" field of its JSON event (docs/PROTOCOL.md section 3).
 */
typedef enum {
    BILLING_KIND_ACTIVATE = 0,
    BILLING_KIND_WARMUP,
    BILLING_KIND_BACKUP,
    BILLING_KIND_OTHER,
    BILLING_KIND_COUNT
} billing_kind_t;

typedef enum { BILLING_OK = 0, BILLING_ERROR, BILLING_TIMEOUT } billing_outcome_t;

/* One finished invocation. Strings are borrowed from the caller. */
typedef struct {
    const char *function;
    uint64_t instance;
    const char *request_id;
    billing_kind_t kind;
    int64_t start_ms, end_ms; /* wall clock, epoch milliseconds */
    int64_t duration_us;      /* measured on the monotonic clock */
    int64_t billed_ms;
    int64_t memory_mb;
    billing_outcome_t outcome;
} billing_record_t;

/* Running totals kept by the platform (GET /admin/stats); the cost report splits them by kind. */
typedef struct {
    uint64_t requests;
    uint64_t requests_by_kind[BILLING_KIND_COUNT];
    int64_t billed_ms;
    int64_t billed_ms_by_kind[BILLING_KIND_COUNT];
    double gb_seconds;
    double gb_seconds_by_kind[BILLING_KIND_COUNT];
    uint64_t timeouts;
    uint64_t errors;
} billing_totals_t;

/* Billed duration: duration rounded UP to a multiple of granularity_ms, at least one unit
 * (Lambda bills 1 ms minimum). A duration of 0 or less bills one unit. */
int64_t billing_round_ms(int64_t duration_us, int64_t granularity_ms);

/* Kind of an event: parses the JSON payload and reads its string "cmd": "activate", "warmup", and
 * "backup" or "backup-peer" (both ends of a backup bill as BILLING_KIND_BACKUP). Anything that is
 * not valid JSON, not an object, or has another cmd is BILLING_KIND_OTHER. */
billing_kind_t billing_kind_of_event(const char *payload, size_t len);
/* The same for the command itself (what the proxy invokes a function with). */
billing_kind_t billing_kind_of_command(const char *cmd);
const char *billing_kind_name(billing_kind_t kind);
const char *billing_outcome_name(billing_outcome_t outcome);

/* GB-seconds of one billed duration: billed_ms/1000 * memory_mb/1024. */
double billing_gb_seconds(int64_t billed_ms, int64_t memory_mb);

/* Adds one record to the totals. */
void billing_totals_add(billing_totals_t *totals, const billing_record_t *rec);

/* Formats the record as one JSON object followed by '\n' into out. Returns the length written
 * (excluding the NUL), or -ENOSPC if it does not fit. */
int billing_record_format(const billing_record_t *rec, char *out, size_t outlen);

#endif
