/* trace.h -- streaming parser for the IBM Docker registry trace (JSON array, JSON lines, or CSV).
 */
#ifndef IC_TRACE_H
#define IC_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Hard limits: input beyond them is a malformed record, never a larger allocation. */
#define TRACE_RECORD_MAX 65536             /* bytes of one JSON object or one CSV line */
#define TRACE_URI_MAX 2048                 /* bytes of http.request.uri */
#define TRACE_SIZE_MAX ((uint64_t)1 << 40) /* http.response.written: at most 1 TiB */
#define TRACE_TIME_MAX 4102444800.0        /* timestamp: before 2100-01-01 (Unix seconds) */
#define TRACE_CSV_FIELDS_MAX 64            /* columns of a CSV line */
#define TRACE_DEPTH_MAX 16                 /* nesting of objects and arrays inside a record */

typedef enum { TRACE_OP_GET = 0, TRACE_OP_SET = 1 } trace_op_t;

/* One request of the trace. GET is a read; PUT (an upload) is a SET. The key is the 64-bit
 * FNV-1a hash of the URI, so records carry no strings and a trace of millions fits in memory. */
typedef struct {
    trace_op_t op;
    uint64_t key;
    uint64_t size;
    double time; /* seconds since the Unix epoch */
} trace_record_t;

typedef enum { TRACE_FORMAT_AUTO = 0, TRACE_FORMAT_JSON, TRACE_FORMAT_CSV } trace_format_t;

/* Results of trace_parser_feed/finish. */
enum {
    TRACE_OK = 0,
    TRACE_STOPPED = 1, /* the callback asked to stop */
    TRACE_EFATAL = -1, /* the input cannot be read further (a CSV header without the columns) */
};

/* Called once per record (rec set, error NULL) or per malformed record (rec NULL, error set);
 * line is the 1-based line where the record starts. Return nonzero to stop parsing. */
typedef int (*trace_callback_t)(void *arg, const trace_record_t *rec, long line, const char *error);

typedef struct trace_parser trace_parser_t;

/* A parser with no I/O: feed it bytes in pieces of any size. NULL if out of memory. */
trace_parser_t *trace_parser_new(trace_format_t format);
void trace_parser_free(trace_parser_t *p);
/* Parses data[0..len), calling cb for each complete record. TRACE_OK, TRACE_STOPPED or
 * TRACE_EFATAL (after reporting the reason through cb). */
int trace_parser_feed(trace_parser_t *p, const char *data, size_t len, trace_callback_t cb,
                      void *arg);
/* Ends the input: a record left open is reported as malformed. Same results as feed. */
int trace_parser_finish(trace_parser_t *p, trace_callback_t cb, void *arg);
/* Records whose method is neither GET nor PUT (HEAD, PATCH, ...): valid but not replayed. */
uint64_t trace_parser_ignored(const trace_parser_t *p);
trace_format_t trace_parser_format(const trace_parser_t *p); /* AUTO until the first byte */

/* The 64-bit FNV-1a hash used for keys. */
uint64_t trace_key_hash(const char *s, size_t len);
/* Parses "1497925084.544" or ISO 8601 "2017-06-20T02:38:04.544Z" (offsets +HH:MM allowed).
 * 0 or -1. */
int trace_parse_time(const char *s, size_t len, double *out);

/* What trace_load read. */
typedef struct {
    trace_record_t *records; /* owned by the caller: free() */
    size_t count;
    uint64_t malformed, ignored;
    long lines;
} trace_t;

/* Reads a whole trace file. Each malformed record is reported on diag (if not NULL) as
 * "PATH:LINE: reason" and skipped; with strict, the first one stops the load. 0, or -1 with err
 * set (cannot open, out of memory, strict stop, fatal format error). */
int trace_load(const char *path, trace_format_t format, int strict, FILE *diag, trace_t *out,
               char *err, size_t errlen);

/* Filters applied in this order: sizes multiplied by scale (rounded), records at or below
 * min_size (if nonzero) dropped, sizes above max_size (if nonzero) capped, records later than hours
 * after the first record (if hours > 0) dropped. Works in place; returns the new count. */
size_t trace_filter(trace_record_t *records, size_t count, double scale, uint64_t min_size,
                    uint64_t max_size, double hours);

#endif
