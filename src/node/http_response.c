/* http_response.c -- pure HTTP/1.1 response parser with hard limits (see http_response.h). */
#include "http_response.h"

#include <string.h>
#include <strings.h>

const http_limits_t http_default_limits = {
    .max_header = 16 * 1024,
    .max_body = 6 * 1024 * 1024,
};

const char *http_strerror(int err)
{
    switch (err) {
    case HTTP_NEED_MORE: return "incomplete HTTP response";
    case HTTP_EPROTO: return "malformed HTTP response";
    case HTTP_ETOOBIG: return "HTTP response over the size limits";
    default: return "unknown HTTP error";
    }
}

/* Index of the first CRLF in buf[from..len), or -1. */
static ssize_t find_crlf(const char *buf, size_t from, size_t len)
{
    for (size_t i = from; i + 1 < len; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n') return (ssize_t)i;
    return -1;
}

static int is_token_char(unsigned char c)
{
    if (c >= '0' && c <= '9') return 1;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return 1;
    return strchr("!#$%&'*+-.^_`|~", c) != NULL && c != 0;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') return (c | 0x20) - 'a' + 10;
    return -1;
}

static int field_is(const http_field_t *f, const char *name)
{
    return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

const char *http_header(const http_response_t *r, const char *name, size_t *vlen)
{
    for (int i = 0; i < r->nfields; i++) {
        if (field_is(&r->fields[i], name)) {
            if (vlen) *vlen = r->fields[i].value_len;
            return r->fields[i].value;
        }
    }
    return NULL;
}

/* Parses "HTTP/1.x NNN[ reason]". */
static int parse_status_line(const char *p, size_t n, int *status)
{
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0) return HTTP_EPROTO;
    if (p[7] < '0' || p[7] > '9' || p[8] != ' ') return HTTP_EPROTO;
    int s = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9') return HTTP_EPROTO;
        s = s * 10 + (p[i] - '0');
    }
    if (s < 100 || (n > 12 && p[12] != ' ')) return HTTP_EPROTO;
    for (size_t i = 12; i < n; i++)
        if ((unsigned char)p[i] < 0x20 && p[i] != '\t') return HTTP_EPROTO;
    *status = s;
    return 0;
}

/* Parses one "name: value" line into f, trimming optional whitespace around the value. */
static int parse_field(const char *p, size_t n, http_field_t *f)
{
    size_t i = 0;
    while (i < n && p[i] != ':') {
        if (!is_token_char((unsigned char)p[i])) return HTTP_EPROTO;
        i++;
    }
    if (i == 0 || i == n) return HTTP_EPROTO;
    f->name = p;
    f->name_len = i;
    size_t vs = i + 1, ve = n;
    while (vs < ve && (p[vs] == ' ' || p[vs] == '\t')) vs++;
    while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t')) ve--;
    for (size_t j = vs; j < ve; j++) {
        unsigned char c = (unsigned char)p[j];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return HTTP_EPROTO;
    }
    f->value = p + vs;
    f->value_len = ve - vs;
    return 0;
}

/* Strict decimal Content-Length; values over the body limit are reported as too big. */
static int parse_length(const char *v, size_t n, size_t max, size_t *out)
{
    if (n == 0) return HTTP_EPROTO;
    size_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') return HTTP_EPROTO;
        x = x * 10 + (size_t)(v[i] - '0');
        if (x > max) return HTTP_ETOOBIG;
    }
    *out = x;
    return 0;
}

/* Walks a chunked body starting at buf[off]. Returns the offset just past the final CRLF of the
 * trailer section, HTTP_NEED_MORE, or an error; *body_len receives the decoded length. */
static ssize_t walk_chunked(const char *buf, size_t len, size_t off, const http_limits_t *lim,
                            size_t *body_len)
{
    size_t total = 0;
    for (;;) {
        ssize_t cr = find_crlf(buf, off, len);
        if (cr < 0) return len - off > 64 ? HTTP_EPROTO : HTTP_NEED_MORE;
        /* chunk-size [; extensions] */
        size_t i = off, size = 0;
        int digits = 0;
        while (i < (size_t)cr && hex_value((unsigned char)buf[i]) >= 0) {
            if (++digits > 15) return HTTP_ETOOBIG;
            size = size * 16 + (size_t)hex_value((unsigned char)buf[i]);
            i++;
        }
        if (digits == 0) return HTTP_EPROTO;
        while (i < (size_t)cr && (buf[i] == ' ' || buf[i] == '\t')) i++;
        if (i < (size_t)cr && buf[i] != ';') return HTTP_EPROTO;
        if ((size_t)cr - off > 64) return HTTP_EPROTO; /* long extensions: not from a runtime API */
        off = (size_t)cr + 2;
        if (size == 0) break;
        if (size > lim->max_body - total) return HTTP_ETOOBIG;
        total += size;
        if (len - off < size + 2) return HTTP_NEED_MORE;
        if (buf[off + size] != '\r' || buf[off + size + 1] != '\n') return HTTP_EPROTO;
        off += size + 2;
    }
    /* Trailer fields, then an empty line. */
    size_t trailer_start = off;
    for (;;) {
        ssize_t cr = find_crlf(buf, off, len);
        if (cr < 0) return len - trailer_start >= lim->max_header ? HTTP_ETOOBIG : HTTP_NEED_MORE;
        if ((size_t)cr - trailer_start >= lim->max_header) return HTTP_ETOOBIG;
        if ((size_t)cr == off) {
            off += 2;
            break;
        }
        http_field_t f;
        if (parse_field(buf + off, (size_t)cr - off, &f) < 0) return HTTP_EPROTO;
        off = (size_t)cr + 2;
    }
    *body_len = total;
    return (ssize_t)off;
}

ssize_t http_parse_response(const char *buf, size_t len, const http_limits_t *lim,
                            http_response_t *out)
{
    memset(out, 0, sizeof *out);
    /* Locate the end of the header block within the limit first, so nothing is parsed twice. */
    size_t scan = len < lim->max_header ? len : lim->max_header;
    const char *end = NULL;
    for (size_t i = 0; i + 3 < scan; i++) {
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = buf + i;
            break;
        }
    }
    if (!end) return len >= lim->max_header ? HTTP_ETOOBIG : HTTP_NEED_MORE;
    size_t hlen = (size_t)(end - buf) + 4;

    ssize_t cr = find_crlf(buf, 0, hlen);
    int rc = parse_status_line(buf, (size_t)cr, &out->status);
    if (rc < 0) return rc;
    if (out->status < 200) return HTTP_EPROTO; /* no 1xx expected: we never send Expect */

    int have_length = 0;
    size_t length = 0;
    size_t off = (size_t)cr + 2;
    while (off < hlen - 2) {
        ssize_t e = find_crlf(buf, off, hlen);
        if (buf[off] == ' ' || buf[off] == '\t') return HTTP_EPROTO; /* obsolete line folding */
        if (out->nfields >= HTTP_MAX_HEADERS) return HTTP_ETOOBIG;
        http_field_t *f = &out->fields[out->nfields++];
        rc = parse_field(buf + off, (size_t)e - off, f);
        if (rc < 0) return rc;
        if (field_is(f, "content-length")) {
            size_t v;
            rc = parse_length(f->value, f->value_len, lim->max_body, &v);
            if (rc < 0) return rc;
            if (have_length && v != length) return HTTP_EPROTO;
            have_length = 1;
            length = v;
        } else if (field_is(f, "transfer-encoding")) {
            if (f->value_len != 7 || strncasecmp(f->value, "chunked", 7) != 0) return HTTP_EPROTO;
            out->chunked = 1;
        }
        off = (size_t)e + 2;
    }
    if (have_length && out->chunked) return HTTP_EPROTO; /* ambiguous framing */
    out->header_len = hlen;

    if (out->status == 204 || out->status == 304) {
        out->body_len = 0;
        out->message_len = hlen;
        return (ssize_t)hlen;
    }
    if (out->chunked) {
        ssize_t n = walk_chunked(buf, len, hlen, lim, &out->body_len);
        if (n <= 0) return n;
        out->message_len = (size_t)n;
        return n;
    }
    if (!have_length) return HTTP_EPROTO;
    if (len - hlen < length) return HTTP_NEED_MORE;
    out->body_len = length;
    out->message_len = hlen + length;
    return (ssize_t)out->message_len;
}

void http_copy_body(const char *buf, const http_response_t *r, char *dst)
{
    if (!r->chunked) {
        memcpy(dst, buf + r->header_len, r->body_len);
        return;
    }
    /* The framing was validated by http_parse_response, so this walk trusts it. */
    size_t off = r->header_len, got = 0;
    while (got < r->body_len) {
        size_t size = 0;
        while (hex_value((unsigned char)buf[off]) >= 0)
            size = size * 16 + (size_t)hex_value((unsigned char)buf[off++]);
        ssize_t cr = find_crlf(buf, off, r->message_len);
        off = (size_t)cr + 2;
        memcpy(dst + got, buf + off, size);
        got += size;
        off += size + 2;
    }
}
