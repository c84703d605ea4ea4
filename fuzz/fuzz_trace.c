/* fuzz_trace.c -- libFuzzer driver for icbench's trace parser: JSON and CSV, fed whole and in
 * pieces, must agree and stay within limits. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A digest of every callback, so two parses of the same bytes can be compared. */
typedef struct {
    uint64_t digest;
    long calls, max_line;
} events_t;

static void mix(events_t *e, uint64_t v)
{
    e->digest = (e->digest ^ v) * 0x100000001b3ull;
}

static int on_event(void *arg, const trace_record_t *rec, long line, const char *error)
{
    events_t *e = arg;
    if (line < 1 || line > e->max_line) __builtin_trap();
    if ((rec == NULL) == (error == NULL)) __builtin_trap();
    e->calls++;
    mix(e, (uint64_t)line);
    if (rec) {
        if (rec->size > TRACE_SIZE_MAX || !(rec->time >= 0 && rec->time < TRACE_TIME_MAX) ||
            (rec->op != TRACE_OP_GET && rec->op != TRACE_OP_SET))
            __builtin_trap();
        mix(e, rec->key);
        mix(e, rec->size);
        mix(e, (uint64_t)rec->op);
    } else {
        mix(e, strlen(error));
    }
    return 0;
}

static int parse(const uint8_t *data, size_t size, trace_format_t fmt, size_t step, events_t *e)
{
    trace_parser_t *p = trace_parser_new(fmt);
    if (!p) return -2;
    int rc = TRACE_OK;
    for (size_t off = 0; rc == TRACE_OK && off < size;) {
        size_t n = step && step < size - off ? step : size - off;
        rc = trace_parser_feed(p, (const char *)data + off, n, on_event, e);
        off += n;
    }
    if (rc == TRACE_OK) rc = trace_parser_finish(p, on_event, e);
    trace_parser_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    /* The first byte picks the format and the piece size; the rest is the trace. */
    trace_format_t fmt = (trace_format_t)(data[0] % 3);
    size_t step = (size_t)(data[0] >> 2) + 1;
    data++;
    size--;
    long lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    events_t whole = {0xcbf29ce484222325ull, 0, lines}, pieces = whole;
    int a = parse(data, size, fmt, 0, &whole);
    int b = parse(data, size, fmt, step, &pieces);
    if (a == -2 || b == -2) return 0;
    if (a != b || whole.digest != pieces.digest || whole.calls != pieces.calls) __builtin_trap();
    return 0;
}
