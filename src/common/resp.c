/* resp.c -- streaming RESP codec: the command reader (RESP and inline) and the RESP2/RESP3
 * encoders (see resp.h for the contract). */
#include "resp.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const resp_limits_t resp_default_limits = {
    .max_bulk = (int64_t)1 << 30,
    .max_array = 1 << 20,
    .max_line = 64 * 1024,
};

const char *resp_strerror(int err)
{
    switch (err) {
    case RESP_EPROTO: return "Protocol error: malformed RESP";
    case RESP_ETOOBIG: return "Protocol error: length over the limit";
    case RESP_ENOMEM: return "out of memory";
    case RESP_EQUOTES:
        return "Protocol error: unbalanced quotes in request";
    default: return "unknown RESP error";
    }
}

int resp_parse_i64(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len > 20) return -1;
    size_t i = 0;
    int neg = 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1) return -1;
    }
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    if (!neg && v > (uint64_t)INT64_MAX) return -1;
    if (neg && v > (uint64_t)INT64_MAX + 1) return -1;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int resp_parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Finds CRLF within the first `max` bytes. Returns index of '\r', -1 need more, -2 too long. */
static ssize_t find_crlf(const char *buf, size_t len, size_t max)
{
    size_t lim = len < max ? len : max;
    const char *p = buf;
    for (;;) {
        const char *cr = memchr(p, '\r', lim - (size_t)(p - buf));
        if (!cr) return len >= max ? -2 : -1;
        size_t i = (size_t)(cr - buf);
        if (i + 1 >= len) return len >= max ? -2 : -1;
        /* The CRLF itself must fit in max, or the verdict would depend on how bytes arrive. */
        if (buf[i + 1] == '\n') return i + 2 <= max ? (ssize_t)i : -2;
        p = cr + 1;
        if ((size_t)(p - buf) >= lim) return len >= max ? -2 : -1;
    }
}

ssize_t resp_parse_header(const char *buf, size_t len, const resp_limits_t *lim, resp_header_t *out)
{
    if (len == 0) return 0;
    ssize_t cr = find_crlf(buf, len, lim->max_line);
    if (cr == -1) return 0;
    if (cr == -2) return RESP_ETOOBIG;
    const char *body = buf + 1;
    size_t blen = (size_t)cr - 1;
    out->str = NULL;
    out->len = 0;
    out->n = 0;
    switch (buf[0]) {
    case '+':
    case '-':
        out->type = (resp_type_t)buf[0];
        out->str = body;
        out->len = blen;
        break;
    case ':':
        out->type = RESP_INTEGER;
        if (resp_parse_i64(body, blen, &out->n) < 0) return RESP_EPROTO;
        break;
    case '$':
    case '*':
        out->type = (resp_type_t)buf[0];
        if (resp_parse_i64(body, blen, &out->n) < 0) return RESP_EPROTO;
        if (out->n < -1) return RESP_EPROTO;
        if (buf[0] == '$' && out->n > lim->max_bulk) return RESP_ETOOBIG;
        if (buf[0] == '*' && out->n > lim->max_array) return RESP_ETOOBIG;
        break;
    default:
        return RESP_EPROTO;
    }
    return cr + 2;
}

ssize_t resp_parse_bulk_array(const char *buf, size_t len, const resp_limits_t *lim, int *argc,
                              const char **argv, size_t *argl)
{
    resp_header_t h;
    ssize_t r = resp_parse_header(buf, len, lim, &h);
    if (r <= 0) return r;
    if (h.type != RESP_ARRAY || h.n < 1) return RESP_EPROTO;
    size_t off = (size_t)r;
    for (int64_t i = 0; i < h.n; i++) {
        resp_header_t b;
        r = resp_parse_header(buf + off, len - off, lim, &b);
        if (r <= 0) return r;
        if (b.type != RESP_BULK || b.n < 0) return RESP_EPROTO;
        size_t body = (size_t)r + (size_t)b.n;
        if (len - off < body + 2) return 0;
        if (buf[off + body] != '\r' || buf[off + body + 1] != '\n') return RESP_EPROTO;
        argv[i] = buf + off + r;
        argl[i] = (size_t)b.n;
        off += body + 2;
    }
    *argc = (int)h.n;
    return (ssize_t)off;
}

void resp_cmd_init(resp_cmd_t *c)
{
    memset(c, 0, sizeof *c);
    buf_init(&c->store);
    c->argc = -1;
}

void resp_cmd_reset(resp_cmd_t *c)
{
    c->argc = -1;
    c->argi = 0;
    c->big_len = 0;
    c->after_big = 0;
    c->nsmall = 0;
    buf_clear(&c->store);
    buf_shrink_if_empty(&c->store, 64 * 1024);
    /* A command with many arguments does not leave its arrays behind on an idle connection. */
    if (c->cap > RESP_CMD_KEEP_ARGS) {
        free(c->argv);
        c->argv = NULL;
        c->argl = c->argoff = NULL;
        c->argpos = NULL;
        c->cap = 0;
    }
}

void resp_cmd_free(resp_cmd_t *c)
{
    buf_free(&c->store);
    free(c->argv);
    c->argv = NULL;
    c->cap = 0;
}

/* Makes room for one more small argument: the four arrays live in one block, copied on growth. */
static int grow_args(resp_cmd_t *c)
{
    int cap = c->cap ? c->cap * 2 : 8;
    if (cap > RESP_CMD_MAX_SMALL_ARGS) cap = RESP_CMD_MAX_SMALL_ARGS;
    size_t per = sizeof(const char *) + sizeof(size_t) + sizeof(int64_t) + sizeof(size_t);
    char *block = malloc((size_t)cap * per);
    if (!block) return RESP_ENOMEM;
    const char **argv = (const char **)block;
    size_t *argl = (size_t *)(block + (size_t)cap * sizeof(const char *));
    int64_t *argpos = (int64_t *)((char *)argl + (size_t)cap * sizeof(size_t));
    size_t *argoff = (size_t *)((char *)argpos + (size_t)cap * sizeof(int64_t));
    if (c->nsmall) {
        memcpy(argv, c->argv, (size_t)c->nsmall * sizeof *argv);
        memcpy(argl, c->argl, (size_t)c->nsmall * sizeof *argl);
        memcpy(argpos, c->argpos, (size_t)c->nsmall * sizeof *argpos);
        memcpy(argoff, c->argoff, (size_t)c->nsmall * sizeof *argoff);
    }
    free(c->argv);
    c->argv = argv;
    c->argl = argl;
    c->argpos = argpos;
    c->argoff = argoff;
    c->cap = cap;
    return 0;
}

void resp_cmd_big_done(resp_cmd_t *c)
{
    c->after_big = 1;
}

/* Stores a small argument; argv pointers are refreshed by fix_argv() before the caller sees
 * them, because the store may move while it grows. */
static int keep_small_arg(resp_cmd_t *c, const char *p, size_t n)
{
    if (c->nsmall >= RESP_CMD_MAX_SMALL_ARGS) return RESP_ETOOBIG;
    if (buf_len(&c->store) + n > RESP_CMD_MAX_STORE) return RESP_ETOOBIG;
    if (c->nsmall == c->cap && grow_args(c) < 0) return RESP_ENOMEM;
    size_t off = buf_len(&c->store);
    if (buf_append(&c->store, p, n) < 0 || buf_append(&c->store, "", 1) < 0) return RESP_ENOMEM;
    c->argoff[c->nsmall] = off;
    c->argl[c->nsmall] = n;
    c->argpos[c->nsmall] = c->argi;
    c->nsmall++;
    return 0;
}

static void fix_argv(resp_cmd_t *c)
{
    for (int i = 0; i < c->nsmall; i++) c->argv[i] = buf_head(&c->store) + c->argoff[i];
}

/* sdssplitargs's idea of a blank (C's isspace in the "C" locale). */
static int inline_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Appends one byte to the argument being built at the end of the store. */
static int inline_put(resp_cmd_t *c, char ch)
{
    if (buf_len(&c->store) + 1 > RESP_CMD_MAX_STORE) return RESP_ETOOBIG;
    return buf_append(&c->store, &ch, 1) < 0 ? RESP_ENOMEM : 0;
}

/* Splits line[0..len) into arguments exactly as Redis's sdssplitargs does (see resp.h), each
 * built in place at the end of the store. A NUL ends the line, as it ends sdssplitargs's C
 * string. Returns 0 or a negative RESP_E* code. */
static int split_inline(resp_cmd_t *c, const char *line, size_t len)
{
    size_t i = 0;
#define AT(k) ((k) < len ? line[k] : '\0')
    for (;;) {
        while (AT(i) && inline_blank(AT(i)))
            i++;
        if (!AT(i)) return 0;
        if (c->nsmall >= RESP_CMD_MAX_SMALL_ARGS) return RESP_ETOOBIG;
        if (c->nsmall == c->cap && grow_args(c) < 0) return RESP_ENOMEM;
        size_t off = buf_len(&c->store);
        char quote = 0; /* the quote the word is inside, if any */
        int done = 0, rc = 0;
        while (!done) {
            char ch = AT(i);
            if (quote) {
                int hi, lo;
                if (quote == '"' && ch == '\\' && AT(i + 1) == 'x' &&
                    (hi = hex_value(AT(i + 2))) >= 0 && (lo = hex_value(AT(i + 3))) >= 0) {
                    rc = inline_put(c, (char)(hi * 16 + lo));
                    i += 3;
                } else if (quote == '"' && ch == '\\' && AT(i + 1)) {
                    i++;
                    char e = AT(i);
                    rc = inline_put(c, e == 'n'   ? '\n'
                                       : e == 'r' ? '\r'
                                       : e == 't' ? '\t'
                                       : e == 'b' ? '\b'
                                       : e == 'a' ? '\a'
                                                  : e);
                } else if (quote == '\'' && ch == '\\' && AT(i + 1) == '\'') {
                    i++;
                    rc = inline_put(c, '\'');
                } else if (ch == quote) {
                    /* The closing quote must be followed by a blank or nothing at all. */
                    if (AT(i + 1) && !inline_blank(AT(i + 1))) return RESP_EQUOTES;
                    done = 1;
                } else if (!ch) {
                    return RESP_EQUOTES;
                } else {
                    rc = inline_put(c, ch);
                }
            } else if (!ch || ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') {
                done = 1;
            } else if (ch == '"' || ch == '\'') {
                quote = ch;
            } else {
                rc = inline_put(c, ch);
            }
            if (rc < 0) return rc;
            if (AT(i)) i++;
        }
        size_t n = buf_len(&c->store) - off;
        if (buf_append(&c->store, "", 1) < 0) return RESP_ENOMEM;
        c->argoff[c->nsmall] = off;
        c->argl[c->nsmall] = n;
        c->argpos[c->nsmall] = c->argi++;
        c->nsmall++;
    }
#undef AT
}

/* Inline command: one line without RESP framing (telnet and nc users, Redis's inline protocol).
 * Redis refuses a line that has no newline within its 64 KiB inline limit. */
static int feed_inline(resp_cmd_t *c, buf_t *in, const resp_limits_t *lim)
{
    const char *p = buf_head(in);
    size_t len = buf_len(in);
    size_t max = lim->max_line < len ? lim->max_line : len;
    const char *nl = memchr(p, '\n', max);
    if (!nl) return len >= lim->max_line ? RESP_ETOOBIG : RESP_CMD_NEED_MORE;
    size_t linelen = (size_t)(nl - p);
    if (linelen && p[linelen - 1] == '\r') linelen--;
    c->argi = 0;
    int rc = split_inline(c, p, linelen);
    if (rc < 0) return rc;
    c->argc = c->argi;
    buf_consume(in, (size_t)(nl - p) + 1);
    fix_argv(c);
    return RESP_CMD_DONE;
}

int resp_cmd_feed(resp_cmd_t *c, buf_t *in, const resp_limits_t *lim, size_t small_max)
{
    resp_header_t h;
    if (c->after_big) {
        if (buf_len(in) < 2) return RESP_CMD_NEED_MORE;
        if (memcmp(buf_head(in), "\r\n", 2) != 0) return RESP_EPROTO;
        buf_consume(in, 2);
        c->after_big = 0;
        c->argi++;
    }
    if (c->argc < 0) {
        /* Skip empty lines between commands, as Redis does. */
        while (buf_len(in) > 0 && (buf_head(in)[0] == '\r' || buf_head(in)[0] == '\n'))
            buf_consume(in, 1);
        if (buf_len(in) == 0) return RESP_CMD_NEED_MORE;
        if (buf_head(in)[0] != '*') return feed_inline(c, in, lim);
        ssize_t n = resp_parse_header(buf_head(in), buf_len(in), lim, &h);
        if (n <= 0) return (int)n;
        if (h.n > lim->max_array) return RESP_ETOOBIG;
        buf_consume(in, (size_t)n);
        c->argc = h.n < 0 ? 0 : h.n;
        c->argi = 0;
    }
    while (c->argi < c->argc) {
        ssize_t n = resp_parse_header(buf_head(in), buf_len(in), lim, &h);
        if (n <= 0) return (int)n;
        if (h.type != RESP_BULK || h.n < 0) return RESP_EPROTO;
        if ((size_t)h.n > small_max) {
            buf_consume(in, (size_t)n);
            c->big_len = h.n;
            fix_argv(c);
            return RESP_CMD_BIG;
        }
        if (buf_len(in) < (size_t)n + (size_t)h.n + 2) return RESP_CMD_NEED_MORE;
        const char *body = buf_head(in) + n;
        if (body[h.n] != '\r' || body[h.n + 1] != '\n') return RESP_EPROTO;
        int rc = keep_small_arg(c, body, (size_t)h.n);
        if (rc < 0) return rc;
        buf_consume(in, (size_t)n + (size_t)h.n + 2);
        c->argi++;
    }
    fix_argv(c);
    return RESP_CMD_DONE;
}

int resp_add_simple(buf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (buf_reserve(b, n + 3) < 0) return -ENOMEM;
    char *p = b->data + b->end;
    p[0] = '+';
    memcpy(p + 1, s, n);
    p[n + 1] = '\r';
    p[n + 2] = '\n';
    b->end += n + 3;
    return 0;
}

int resp_add_error(buf_t *b, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* An error line must not contain CR or LF. */
    for (char *p = msg; *p; p++)
        if (*p == '\r' || *p == '\n') *p = ' ';
    return buf_printf(b, "-%s\r\n", msg);
}

/* Writes u in decimal at the end of tmp[24] (after a '-' if negative); returns where it starts. */
static int format_decimal(char tmp[24], uint64_t u, int negative)
{
    int i = 24;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (negative) tmp[--i] = '-';
    return i;
}

/* Writes a type byte, a decimal number and CRLF at p (room for NUMBER_LINE_MAX bytes); returns
 * the bytes written. */
#define NUMBER_LINE_MAX 24 /* type, sign, 20 digits, CRLF */
static size_t put_number_line(char *p, char type, int64_t v)
{
    char tmp[24];
    int i = format_decimal(tmp, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0);
    size_t digits = sizeof tmp - (size_t)i;
    p[0] = type;
    memcpy(p + 1, tmp + i, digits);
    p[digits + 1] = '\r';
    p[digits + 2] = '\n';
    return digits + 3;
}

/* Appends a type byte, a decimal number and CRLF without printf. */
static int add_number_line(buf_t *b, char type, int64_t v)
{
    if (buf_reserve(b, NUMBER_LINE_MAX) < 0) return -ENOMEM;
    b->end += put_number_line(b->data + b->end, type, v);
    return 0;
}

int resp_add_int(buf_t *b, int64_t v)
{
    return add_number_line(b, ':', v);
}

int resp_add_bulk_header(buf_t *b, size_t n)
{
    return add_number_line(b, '$', (int64_t)n);
}

int resp_add_array_header(buf_t *b, int64_t n)
{
    if (n < 0 && b->resp_proto == 3) return buf_append(b, "_\r\n", 3);
    return add_number_line(b, '*', n);
}

int resp_add_null(buf_t *b)
{
    return b->resp_proto == 3 ? buf_append(b, "_\r\n", 3) : buf_append(b, "$-1\r\n", 5);
}

int resp_add_map_header(buf_t *b, int64_t pairs)
{
    return b->resp_proto == 3 ? add_number_line(b, '%', pairs) : add_number_line(b, '*', 2 * pairs);
}

int resp_add_set_header(buf_t *b, int64_t n)
{
    return add_number_line(b, b->resp_proto == 3 ? '~' : '*', n);
}

/* As Redis 7.0's addReplyDouble: %.17g, and inf/-inf spelled so. */
int resp_add_double(buf_t *b, double v)
{
    char tmp[64];
    int n;
    if (isinf(v))
        n = snprintf(tmp, sizeof tmp, "%s", v > 0 ? "inf" : "-inf");
    else
        n = snprintf(tmp, sizeof tmp, "%.17g", v);
    if (b->resp_proto != 3) return resp_add_bulk(b, tmp, (size_t)n);
    return buf_printf(b, ",%s\r\n", tmp);
}

int resp_add_verbatim(buf_t *b, const char *format, const void *p, size_t n)
{
    if (b->resp_proto != 3) return resp_add_bulk(b, p, n);
    if (add_number_line(b, '=', (int64_t)n + 4) < 0 || buf_reserve(b, n + 6) < 0) return -ENOMEM;
    memcpy(b->data + b->end, format, 3);
    b->data[b->end + 3] = ':';
    if (n) memcpy(b->data + b->end + 4, p, n); /* p may be NULL when n is 0 */
    b->end += n + 4;
    return resp_add_crlf(b);
}

int resp_add_cstr(buf_t *b, const char *s)
{
    return resp_add_bulk(b, s, strlen(s));
}

int resp_add_crlf(buf_t *b)
{
    return buf_append(b, "\r\n", 2);
}

/* One reservation for the header, the bytes and the CRLF: the node requests are mostly short
 * bulks, and three reservations and copies each showed in the proxy's instruction counts. */
int resp_add_bulk(buf_t *b, const void *p, size_t n)
{
    if (n > SIZE_MAX - NUMBER_LINE_MAX - 2 || buf_reserve(b, NUMBER_LINE_MAX + n + 2) < 0)
        return -ENOMEM;
    char *o = b->data + b->end;
    o += put_number_line(o, '$', (int64_t)n);
    if (n) memcpy(o, p, n); /* an empty buffer's head may be NULL */
    o[n] = '\r';
    o[n + 1] = '\n';
    b->end = (size_t)(o + n + 2 - b->data);
    return 0;
}

int resp_add_bulk_u64(buf_t *b, uint64_t v)
{
    char tmp[24];
    int i = format_decimal(tmp, v, 0);
    size_t digits = sizeof tmp - (size_t)i;
    if (buf_reserve(b, 2 * NUMBER_LINE_MAX) < 0) return -ENOMEM;
    char *o = b->data + b->end;
    o += put_number_line(o, '$', (int64_t)digits);
    memcpy(o, tmp + i, digits);
    o[digits] = '\r';
    o[digits + 1] = '\n';
    b->end = (size_t)(o + digits + 2 - b->data);
    return 0;
}

int resp_add_command(buf_t *b, int argc, const char *const *argv, const size_t *argl)
{
    if (resp_add_array_header(b, argc) < 0) return -ENOMEM;
    for (int i = 0; i < argc; i++)
        if (resp_add_bulk(b, argv[i], argl ? argl[i] : strlen(argv[i])) < 0) return -ENOMEM;
    return 0;
}
