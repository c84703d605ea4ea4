/* trace.c -- streaming parser for the IBM Docker registry trace: JSON (array or lines) and CSV. */
#include "trace.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"

/* JSON records are found by a small scanner that tracks strings and nesting, so a record may span
 * lines (a pretty-printed array) yet a broken one costs only itself: a newline inside a string,
 * or a '{' that starts a line while a record is open, ends the broken record, and the scanner
 * resumes there (records start lines in both published layouts; nested values never do). */

enum { SCAN_TOP, SCAN_RECORD, SCAN_SKIP_LINE };

struct trace_parser {
    trace_format_t format;
    int state;
    int in_string, escaped;
    int depth;        /* of braces and brackets inside the record */
    int line_blank;   /* nothing but blanks seen on the current line so far */
    long line;        /* current line, 1-based */
    long record_line; /* where the record being collected starts */
    char *buf;        /* the record (JSON object or CSV line) being collected */
    size_t len;
    int overflow; /* the record passed TRACE_RECORD_MAX; it is reported at its end */
    int header_done;
    int col_method, col_uri, col_written, col_time; /* CSV column indexes */
    uint64_t ignored;
};

static const char *const FIELD_METHOD = "http.request.method";
static const char *const FIELD_URI = "http.request.uri";
static const char *const FIELD_WRITTEN = "http.response.written";
static const char *const FIELD_TIME = "timestamp";

trace_parser_t *trace_parser_new(trace_format_t format)
{
    trace_parser_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->buf = malloc(TRACE_RECORD_MAX + 1);
    if (!p->buf) {
        free(p);
        return NULL;
    }
    p->format = format;
    p->line = 1;
    p->line_blank = 1;
    p->col_method = p->col_uri = p->col_written = p->col_time = -1;
    return p;
}

void trace_parser_free(trace_parser_t *p)
{
    if (!p) return;
    free(p->buf);
    free(p);
}

uint64_t trace_parser_ignored(const trace_parser_t *p)
{
    return p->ignored;
}

trace_format_t trace_parser_format(const trace_parser_t *p)
{
    return p->format;
}

uint64_t trace_key_hash(const char *s, size_t len)
{
    return hash_fnv1a64(s, len);
}

/* Reads exactly n digits at s into *v. */
static int digits(const char *s, size_t n, int *v)
{
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

int trace_parse_time(const char *s, size_t len, double *out)
{
    if (len == 0 || len > 64) return -1;
    char tmp[65];
    memcpy(tmp, s, len);
    tmp[len] = 0;
    if (len >= 19 && tmp[4] == '-' && tmp[7] == '-' && (tmp[10] == 'T' || tmp[10] == ' ')) {
        int Y, M, D, h, m, sec;
        if (digits(tmp, 4, &Y) || digits(tmp + 5, 2, &M) || digits(tmp + 8, 2, &D) ||
            tmp[13] != ':' || tmp[16] != ':' || digits(tmp + 11, 2, &h) ||
            digits(tmp + 14, 2, &m) || digits(tmp + 17, 2, &sec))
            return -1;
        if (Y < 1970 || Y > 2099 || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 ||
            sec > 60)
            return -1;
        size_t i = 19;
        double frac = 0, scale = 0.1;
        if (i < len && tmp[i] == '.') {
            i++;
            size_t start = i;
            while (i < len && isdigit((unsigned char)tmp[i])) {
                frac += (tmp[i] - '0') * scale;
                scale /= 10;
                i++;
            }
            if (i == start) return -1;
        }
        int offset = 0;
        if (i < len && tmp[i] == 'Z') {
            i++;
        } else if (i < len && (tmp[i] == '+' || tmp[i] == '-')) {
            int oh, om;
            if (len - i != 6 || tmp[i + 3] != ':' || digits(tmp + i + 1, 2, &oh) ||
                digits(tmp + i + 4, 2, &om) || oh > 23 || om > 59)
                return -1;
            offset = (tmp[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
            i += 6;
        }
        if (i != len) return -1;
        struct tm tm = {.tm_year = Y - 1900,
                        .tm_mon = M - 1,
                        .tm_mday = D,
                        .tm_hour = h,
                        .tm_min = m,
                        .tm_sec = sec};
        time_t t = timegm(&tm);
        if (t == (time_t)-1) return -1;
        *out = (double)t - offset + frac;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (errno || end == tmp || *end || !isfinite(v) || v < 0 || v >= TRACE_TIME_MAX) return -1;
    *out = v;
    return 0;
}

/* A byte count from text: decimal digits only, at most TRACE_SIZE_MAX. */
static int parse_size_text(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > TRACE_SIZE_MAX) return -1;
    }
    *out = v;
    return 0;
}

/* 1 if the method is replayed (op set), 0 if it is a valid method that is not, -1 if garbage. */
static int parse_method(const char *s, size_t len, trace_op_t *op)
{
    if (len == 0 || len > 16) return -1;
    for (size_t i = 0; i < len; i++)
        if (!isupper((unsigned char)s[i])) return -1;
    if (len == 3 && !memcmp(s, "GET", 3)) {
        *op = TRACE_OP_GET;
        return 1;
    }
    if (len == 3 && !memcmp(s, "PUT", 3)) {
        *op = TRACE_OP_SET;
        return 1;
    }
    return 0;
}

static int check_uri(const char *s, size_t len, const char **why)
{
    if (len == 0) {
        *why = "empty http.request.uri";
        return -1;
    }
    if (len > TRACE_URI_MAX) {
        *why = "http.request.uri longer than 2048 bytes";
        return -1;
    }
    return 0;
}

/* Reports a finished record; returns nonzero if the callback asked to stop. */
static int emit(trace_parser_t *p, const trace_record_t *rec, const char *error,
                trace_callback_t cb, void *arg)
{
    return cb(arg, rec, p->record_line, error) ? 1 : 0;
}

static int finish_json_record(trace_parser_t *p, trace_callback_t cb, void *arg)
{
    cJSON *root = cJSON_ParseWithLength(p->buf, p->len);
    const char *why = NULL;
    trace_record_t rec = {0};
    if (!root || !cJSON_IsObject(root)) {
        why = "not a valid JSON object";
        goto bad;
    }
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(root, FIELD_METHOD);
    const cJSON *uri = cJSON_GetObjectItemCaseSensitive(root, FIELD_URI);
    const cJSON *written = cJSON_GetObjectItemCaseSensitive(root, FIELD_WRITTEN);
    const cJSON *stamp = cJSON_GetObjectItemCaseSensitive(root, FIELD_TIME);
    if (!cJSON_IsString(method)) {
        why = "http.request.method missing or not a string";
        goto bad;
    }
    int m = parse_method(method->valuestring, strlen(method->valuestring), &rec.op);
    if (m < 0) {
        why = "http.request.method is not an HTTP method";
        goto bad;
    }
    if (!cJSON_IsString(uri)) {
        why = "http.request.uri missing or not a string";
        goto bad;
    }
    size_t ulen = strlen(uri->valuestring);
    if (check_uri(uri->valuestring, ulen, &why) < 0) goto bad;
    if (cJSON_IsNumber(written)) {
        double w = written->valuedouble;
        if (!isfinite(w) || w < 0 || w > (double)TRACE_SIZE_MAX || w != floor(w)) {
            why = "http.response.written is not a byte count from 0 to 1 TiB";
            goto bad;
        }
        rec.size = (uint64_t)w;
    } else if (!cJSON_IsString(written) ||
               parse_size_text(written->valuestring, strlen(written->valuestring), &rec.size) < 0) {
        why = "http.response.written missing or not a byte count from 0 to 1 TiB";
        goto bad;
    }
    if (cJSON_IsNumber(stamp)) {
        rec.time = stamp->valuedouble;
        if (!isfinite(rec.time) || rec.time < 0 || rec.time >= TRACE_TIME_MAX) {
            why = "timestamp out of range";
            goto bad;
        }
    } else if (!cJSON_IsString(stamp) ||
               trace_parse_time(stamp->valuestring, strlen(stamp->valuestring), &rec.time) < 0) {
        why = "timestamp missing or not a time (Unix seconds or ISO 8601)";
        goto bad;
    }
    rec.key = trace_key_hash(uri->valuestring, ulen);
    cJSON_Delete(root);
    if (m == 0) {
        p->ignored++;
        return 0;
    }
    return emit(p, &rec, NULL, cb, arg);
bad:
    cJSON_Delete(root);
    return emit(p, NULL, why, cb, arg);
}

/* Splits one CSV line into fields (double quotes with "" escapes), in place. -1 if malformed. */
static int csv_split(char *s, size_t len, char **field, size_t *flen, int max)
{
    int n = 0;
    size_t i = 0;
    for (;;) {
        if (n == max) return -1;
        if (i < len && s[i] == '"') {
            size_t out = i, j = i + 1;
            field[n] = s + i;
            for (;;) {
                if (j >= len) return -1; /* unterminated quote */
                if (s[j] == '"') {
                    if (j + 1 < len && s[j + 1] == '"') {
                        s[out++] = '"';
                        j += 2;
                        continue;
                    }
                    j++;
                    break;
                }
                s[out++] = s[j++];
            }
            flen[n++] = out - i;
            if (j < len && s[j] != ',') return -1;
            i = j;
        } else {
            field[n] = s + i;
            size_t j = i;
            while (j < len && s[j] != ',') {
                if (s[j] == '"') return -1;
                j++;
            }
            flen[n++] = j - i;
            i = j;
        }
        if (i >= len) return n;
        i++; /* the comma */
    }
}

static int csv_header(trace_parser_t *p, char **field, size_t *flen, int n)
{
    for (int i = 0; i < n; i++) {
        const char *f = field[i];
        size_t l = flen[i];
        while (l > 0 && isspace((unsigned char)*f))
            f++, l--;
        while (l > 0 && isspace((unsigned char)f[l - 1]))
            l--;
        if (l == strlen(FIELD_METHOD) && !memcmp(f, FIELD_METHOD, l)) p->col_method = i;
        if (l == strlen(FIELD_URI) && !memcmp(f, FIELD_URI, l)) p->col_uri = i;
        if (l == strlen(FIELD_WRITTEN) && !memcmp(f, FIELD_WRITTEN, l)) p->col_written = i;
        if (l == strlen(FIELD_TIME) && !memcmp(f, FIELD_TIME, l)) p->col_time = i;
    }
    return p->col_method >= 0 && p->col_uri >= 0 && p->col_written >= 0 && p->col_time >= 0;
}

static int finish_csv_line(trace_parser_t *p, trace_callback_t cb, void *arg)
{
    size_t len = p->len;
    if (len > 0 && p->buf[len - 1] == '\r') len--;
    size_t k = 0;
    while (k < len && isspace((unsigned char)p->buf[k]))
        k++;
    if (k == len) return 0; /* blank line */
    char *field[TRACE_CSV_FIELDS_MAX];
    size_t flen[TRACE_CSV_FIELDS_MAX];
    int n = csv_split(p->buf, len, field, flen, TRACE_CSV_FIELDS_MAX);
    if (!p->header_done) {
        p->header_done = 1;
        if (n < 0 || !csv_header(p, field, flen, n)) {
            emit(p, NULL,
                 "CSV header must name the columns http.request.method, http.request.uri, "
                 "http.response.written and timestamp",
                 cb, arg);
            return -1;
        }
        return 0;
    }
    trace_record_t rec = {0};
    const char *why = NULL;
    if (n < 0) {
        why = "malformed CSV (quotes or more than 64 columns)";
        goto bad;
    }
    int need = p->col_method;
    if (p->col_uri > need) need = p->col_uri;
    if (p->col_written > need) need = p->col_written;
    if (p->col_time > need) need = p->col_time;
    if (n <= need) {
        why = "too few columns";
        goto bad;
    }
    int m = parse_method(field[p->col_method], flen[p->col_method], &rec.op);
    if (m < 0) {
        why = "http.request.method is not an HTTP method";
        goto bad;
    }
    if (check_uri(field[p->col_uri], flen[p->col_uri], &why) < 0) goto bad;
    if (parse_size_text(field[p->col_written], flen[p->col_written], &rec.size) < 0) {
        why = "http.response.written is not a byte count from 0 to 1 TiB";
        goto bad;
    }
    if (trace_parse_time(field[p->col_time], flen[p->col_time], &rec.time) < 0) {
        why = "timestamp is not a time (Unix seconds or ISO 8601)";
        goto bad;
    }
    rec.key = trace_key_hash(field[p->col_uri], flen[p->col_uri]);
    if (m == 0) {
        p->ignored++;
        return 0;
    }
    return emit(p, &rec, NULL, cb, arg);
bad:
    return emit(p, NULL, why, cb, arg);
}

/* Appends one byte to the record, noting (not failing) an overflow. */
static void append(trace_parser_t *p, char c)
{
    if (p->len < TRACE_RECORD_MAX)
        p->buf[p->len++] = c;
    else
        p->overflow = 1;
}

static int feed_csv(trace_parser_t *p, char c, trace_callback_t cb, void *arg)
{
    if (c != '\n') {
        if (p->len == 0 && !p->overflow) p->record_line = p->line;
        append(p, c);
        return 0;
    }
    int rc = 0;
    if (p->overflow) {
        rc = emit(p, NULL, "line longer than 65536 bytes", cb, arg);
        if (!p->header_done) rc = -1;
    } else {
        if (p->len == 0) p->record_line = p->line;
        rc = finish_csv_line(p, cb, arg);
    }
    p->len = 0;
    p->overflow = 0;
    p->line++;
    return rc;
}

static void start_record(trace_parser_t *p)
{
    p->state = SCAN_RECORD;
    p->record_line = p->line;
    p->len = 0;
    p->overflow = 0;
    p->in_string = p->escaped = 0;
    p->depth = 1;
    append(p, '{');
}

static int feed_json(trace_parser_t *p, char c, trace_callback_t cb, void *arg)
{
    int rc = 0;
    int first_on_line = p->line_blank; /* c is the first non-blank character of its line */
    if (c == '\n')
        p->line_blank = 1;
    else if (!isspace((unsigned char)c))
        p->line_blank = 0;
    switch (p->state) {
    case SCAN_SKIP_LINE:
        if (c == '\n') p->state = SCAN_TOP;
        break;
    case SCAN_TOP:
        if (c == '{') {
            start_record(p);
        } else if (!(isspace((unsigned char)c) || c == ',' || c == '[' || c == ']')) {
            p->record_line = p->line;
            rc = emit(p, NULL, "expected a JSON object", cb, arg);
            p->state = SCAN_SKIP_LINE;
        }
        break;
    case SCAN_RECORD:
        if (p->in_string) {
            if (c == '\n') {
                rc = emit(p, NULL, "unterminated string", cb, arg);
                p->state = SCAN_TOP;
                break;
            }
            append(p, c);
            if (p->escaped)
                p->escaped = 0;
            else if (c == '\\')
                p->escaped = 1;
            else if (c == '"')
                p->in_string = 0;
            break;
        }
        if (c == '{' && first_on_line) {
            /* Records start lines; a record starting inside another means that one was cut. */
            rc = emit(p, NULL, "record not closed", cb, arg);
            if (!rc) start_record(p);
            break;
        }
        append(p, c);
        if (c == '"') {
            p->in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++p->depth > TRACE_DEPTH_MAX) {
                rc = emit(p, NULL, "JSON nested too deep", cb, arg);
                p->state = SCAN_SKIP_LINE;
            }
        } else if (c == '}' || c == ']') {
            if (--p->depth > 0) break;
            p->state = SCAN_TOP;
            if (c == ']')
                rc = emit(p, NULL, "not a valid JSON object", cb, arg);
            else if (p->overflow)
                rc = emit(p, NULL, "record longer than 65536 bytes", cb, arg);
            else
                rc = finish_json_record(p, cb, arg);
        }
        break;
    }
    if (c == '\n') p->line++;
    return rc;
}

int trace_parser_feed(trace_parser_t *p, const char *data, size_t len, trace_callback_t cb,
                      void *arg)
{
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (p->format == TRACE_FORMAT_AUTO) {
            if (isspace((unsigned char)c)) {
                if (c == '\n') p->line++;
                continue;
            }
            p->format = (c == '[' || c == '{') ? TRACE_FORMAT_JSON : TRACE_FORMAT_CSV;
        }
        int rc =
            p->format == TRACE_FORMAT_JSON ? feed_json(p, c, cb, arg) : feed_csv(p, c, cb, arg);
        if (rc < 0) return TRACE_EFATAL;
        if (rc > 0) return TRACE_STOPPED;
    }
    return TRACE_OK;
}

int trace_parser_finish(trace_parser_t *p, trace_callback_t cb, void *arg)
{
    int rc = 0;
    if (p->format == TRACE_FORMAT_JSON && p->state == SCAN_RECORD) {
        rc = emit(p, NULL, "record not closed at end of input", cb, arg);
        p->state = SCAN_TOP;
    } else if (p->format == TRACE_FORMAT_CSV && (p->len > 0 || p->overflow)) {
        rc = feed_csv(p, '\n', cb, arg);
    }
    if (rc == 0 && p->format == TRACE_FORMAT_CSV && !p->header_done) {
        p->record_line = 1; /* where the header belongs */
        emit(p, NULL, "CSV trace has no header line", cb, arg);
        rc = -1;
    }
    return rc < 0 ? TRACE_EFATAL : rc > 0 ? TRACE_STOPPED : TRACE_OK;
}

/* ---- loading a file ---- */

typedef struct {
    const char *path;
    int strict;
    FILE *diag;
    trace_t *out;
    size_t cap;
    int oom;
    char *err;
    size_t errlen;
} load_ctx_t;

static int load_record(void *arg, const trace_record_t *rec, long line, const char *error)
{
    load_ctx_t *c = arg;
    if (error) {
        c->out->malformed++;
        snprintf(c->err, c->errlen, "%s:%ld: %s", c->path, line, error);
        if (c->diag && !c->strict) fprintf(c->diag, "%s:%ld: %s (skipped)\n", c->path, line, error);
        return c->strict;
    }
    if (c->out->count == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 1024;
        trace_record_t *r = realloc(c->out->records, ncap * sizeof *r);
        if (!r) {
            c->oom = 1;
            snprintf(c->err, c->errlen, "%s: out of memory after %zu records", c->path,
                     c->out->count);
            return 1;
        }
        c->out->records = r;
        c->cap = ncap;
    }
    c->out->records[c->out->count++] = *rec;
    return 0;
}

int trace_load(const char *path, trace_format_t format, int strict, FILE *diag, trace_t *out,
               char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open trace %s: %s", path, strerror(errno));
        return -1;
    }
    trace_parser_t *p = trace_parser_new(format);
    char *chunk = malloc(1 << 16);
    load_ctx_t c = {path, strict, diag, out, 0, 0, err, errlen};
    int rc = TRACE_OK;
    if (!p || !chunk) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    size_t n;
    char last = '\n';
    while (rc == TRACE_OK && (n = fread(chunk, 1, 1 << 16, f)) > 0) {
        rc = trace_parser_feed(p, chunk, n, load_record, &c);
        last = chunk[n - 1];
    }
    if (rc == TRACE_OK && ferror(f)) {
        snprintf(err, errlen, "cannot read trace %s: %s", path, strerror(errno));
        goto fail;
    }
    if (rc == TRACE_OK) rc = trace_parser_finish(p, load_record, &c);
    if (rc != TRACE_OK) goto fail;
    out->ignored = trace_parser_ignored(p);
    out->lines = p->line - (last == '\n' ? 1 : 0); /* a final newline starts no line */
    trace_parser_free(p);
    free(chunk);
    fclose(f);
    return 0;
fail:
    trace_parser_free(p);
    free(chunk);
    fclose(f);
    free(out->records);
    out->records = NULL;
    out->count = 0;
    return -1;
}

size_t trace_filter(trace_record_t *records, size_t count, double scale, uint64_t min_size,
                    uint64_t max_size, double hours)
{
    size_t kept = 0;
    double first = count > 0 ? records[0].time : 0;
    for (size_t i = 0; i < count; i++) {
        trace_record_t r = records[i];
        if (hours > 0 && r.time - first >= hours * 3600.0) continue;
        double s = (double)r.size * scale + 0.5;
        r.size = s >= (double)TRACE_SIZE_MAX ? TRACE_SIZE_MAX : (uint64_t)s;
        if (min_size > 0 && r.size <= min_size) continue;
        if (max_size > 0 && r.size > max_size) r.size = max_size;
        records[kept++] = r;
    }
    return kept;
}
