/* s3parse.c -- reads an S3 error document, an ETag and a Content-Range (s3parse.h): what the
 * backing store needs to report a store's own message and to recognise a version. */
#include <string.h>

#include "s3parse.h"

/* Where <tag> opens in [p, end), or NULL. Only the exact element name matches (<Code>, not
 * <CodeX>); attributes are not expected in S3's error documents and are not accepted. */
static const char *find_open(const char *p, const char *end, const char *tag, size_t taglen)
{
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt) return NULL;
        if ((size_t)(end - lt) >= taglen + 2 && !memcmp(lt + 1, tag, taglen) &&
            lt[taglen + 1] == '>')
            return lt + taglen + 2;
        p = lt + 1;
    }
    return NULL;
}

/* Copies element text from p up to the next '<' into out, decoding the five XML entities. */
static int copy_text(const char *p, const char *end, char *out, size_t cap)
{
    static const struct {
        const char *name;
        char c;
    } ents[] = {{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&quot;", '"'}, {"&apos;", '\''}};
    size_t n = 0;
    if (cap == 0) return -1;
    while (p < end && *p != '<') {
        char c = *p++;
        if (c == '&') {
            for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++) {
                size_t l = strlen(ents[i].name) - 1;
                if ((size_t)(end - p) >= l && !memcmp(p, ents[i].name + 1, l)) {
                    c = ents[i].c;
                    p += l;
                    break;
                }
            }
        }
        if ((unsigned char)c < 0x20 || c == 0x7f) c = ' ';
        if (n + 1 < cap) out[n++] = c;
    }
    out[n] = 0;
    return p < end ? 0 : -1; /* unterminated element text is malformed */
}

int s3_error_parse(const char *body, size_t len, char *code, size_t codecap, char *msg,
                   size_t msgcap)
{
    if (codecap) code[0] = 0;
    if (msgcap) msg[0] = 0;
    if (!body || codecap == 0 || msgcap == 0) return -1;
    if (len > S3_XML_MAX) len = S3_XML_MAX;
    const char *end = body + len;
    const char *c = find_open(body, end, "Code", 4);
    if (!c || copy_text(c, end, code, codecap) < 0 || !code[0]) {
        code[0] = 0;
        return -1;
    }
    const char *m = find_open(body, end, "Message", 7);
    if (m && copy_text(m, end, msg, msgcap) < 0) msg[0] = 0;
    return 0;
}

int s3_xml_text(const char *body, size_t len, const char *element, char *out, size_t outcap)
{
    if (outcap) out[0] = 0;
    if (!body || !element || outcap == 0) return -1;
    if (len > S3_XML_MAX) len = S3_XML_MAX;
    const char *end = body + len;
    const char *t = find_open(body, end, element, strlen(element));
    if (!t || copy_text(t, end, out, outcap) < 0 || !out[0]) {
        out[0] = 0;
        return -1;
    }
    return 0;
}

int s3_etag_parse(const char *value, size_t len, char *out, size_t outcap)
{
    if (outcap) out[0] = 0;
    if (!value) return -1;
    while (len && (*value == ' ' || *value == '\t'))
        value++, len--;
    while (len && (value[len - 1] == ' ' || value[len - 1] == '\t' || value[len - 1] == '\r' ||
                   value[len - 1] == '\n'))
        len--;
    if (len >= 2 && value[0] == 'W' && value[1] == '/') value += 2, len -= 2;
    if (len < 2 || len > S3_ETAG_MAX || value[0] != '"' || value[len - 1] != '"') return -1;
    for (size_t i = 1; i + 1 < len; i++)
        if ((unsigned char)value[i] <= 0x20 || (unsigned char)value[i] >= 0x7f || value[i] == '"')
            return -1;
    if (len + 1 > outcap) return -1;
    memcpy(out, value, len);
    out[len] = 0;
    return 0;
}

/* A decimal number of at most 19 digits (no overflow of uint64_t). */
static int parse_u64(const char **p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0;
    while (*p < end && **p >= '0' && **p <= '9') {
        if (++digits > 19) return -1;
        v = v * 10 + (uint64_t)(**p - '0');
        (*p)++;
    }
    if (!digits) return -1;
    *out = v;
    return 0;
}

int s3_content_range_parse(const char *value, size_t len, uint64_t *first, uint64_t *last,
                           uint64_t *total)
{
    if (!value) return -1;
    const char *p = value, *end = value + len;
    while (end > p && (end[-1] == ' ' || end[-1] == '\r' || end[-1] == '\n'))
        end--;
    while (p < end && *p == ' ')
        p++;
    if (end - p < 6 || memcmp(p, "bytes ", 6)) return -1;
    p += 6;
    if (parse_u64(&p, end, first) < 0 || p >= end || *p++ != '-') return -1;
    if (parse_u64(&p, end, last) < 0 || p >= end || *p++ != '/') return -1;
    if (parse_u64(&p, end, total) < 0 || p != end) return -1;
    if (*last < *first || *total <= *last) return -1;
    return 0;
}
