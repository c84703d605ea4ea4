/* icproto.c -- the codec of ICSET, ICGET, ICGETCHUNKS and ICREPAIR (see icproto.h). */
#include "icproto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---------------- requests ---------------- */

int icproto_put_icset(buf_t *b, const char *key, size_t keylen, int d, int p, uint64_t size,
                      const uint32_t *crcs)
{
    int n = d + p;
    int rc = resp_add_array_header(b, 5 + 2 * n);
    if (!rc) rc = resp_add_bulk(b, "ICSET", 5);
    if (!rc) rc = resp_add_bulk(b, key, keylen);
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)d);
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)p);
    if (!rc) rc = resp_add_bulk_u64(b, size);
    for (int i = 0; i < n && !rc; i++)
        rc = resp_add_bulk_u64(b, crcs[i]);
    return rc;
}

int icproto_put_chunk_header(buf_t *b, size_t chunk_size)
{
    return resp_add_bulk_header(b, chunk_size);
}

int icproto_put_chunk_end(buf_t *b)
{
    return resp_add_crlf(b);
}

int icproto_put_icget(buf_t *b, const char *key, size_t keylen, int all)
{
    int rc = resp_add_array_header(b, all ? 3 : 2);
    if (!rc) rc = resp_add_bulk(b, "ICGET", 5);
    if (!rc) rc = resp_add_bulk(b, key, keylen);
    if (!rc && all) rc = resp_add_bulk(b, "ALL", 3);
    return rc;
}

int icproto_put_icgetchunks(buf_t *b, const char *key, size_t keylen, uint64_t version,
                            unsigned need, const int *indexes, int m)
{
    int rc = resp_add_array_header(b, 4 + m);
    if (!rc) rc = resp_add_bulk(b, "ICGETCHUNKS", 11);
    if (!rc) rc = resp_add_bulk(b, key, keylen);
    if (!rc) rc = resp_add_bulk_u64(b, version);
    if (!rc) rc = resp_add_bulk_u64(b, need);
    for (int i = 0; i < m && !rc; i++)
        rc = resp_add_bulk_u64(b, (uint64_t)indexes[i]);
    return rc;
}

int icproto_put_icrepair(buf_t *b, const char *key, size_t keylen, uint64_t version, int index,
                         uint32_t crc)
{
    int rc = resp_add_array_header(b, 6);
    if (!rc) rc = resp_add_bulk(b, "ICREPAIR", 8);
    if (!rc) rc = resp_add_bulk(b, key, keylen);
    if (!rc) rc = resp_add_bulk_u64(b, version);
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)index);
    if (!rc) rc = resp_add_bulk_u64(b, crc);
    return rc;
}

/* ---------------- request decoders ---------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return ICPROTO_EPROTO;
}

int icproto_icset_decode(int argc, const char *const *argv, const size_t *argl,
                         icproto_icset_t *out, char *err, size_t errlen)
{
    int64_t d, p, size;
    if (argc < 5 || resp_parse_i64(argv[2], argl[2], &d) < 0 ||
        resp_parse_i64(argv[3], argl[3], &p) < 0 || d > 255 || p > 255 ||
        !ec_params_valid((int)d, (int)p))
        return fail(err, errlen, "ERR ICSET: bad d or p");
    if (resp_parse_i64(argv[4], argl[4], &size) < 0 || size < 0)
        return fail(err, errlen, "ERR ICSET: bad size");
    if (argl[1] > UINT16_MAX) return fail(err, errlen, "ERR ICSET: bad key");
    out->key = argv[1];
    out->keylen = argl[1];
    out->d = (int)d;
    out->p = (int)p;
    out->n = (int)(d + p);
    out->size = (uint64_t)size;
    if (argc < 5 + out->n) return fail(err, errlen, "ERR ICSET: expected %d checksums", out->n);
    for (int i = 0; i < out->n; i++) {
        uint64_t crc;
        if (resp_parse_u64(argv[5 + i], argl[5 + i], &crc) < 0 || crc > UINT32_MAX)
            return fail(err, errlen, "ERR ICSET: bad checksum %d", i);
        out->crc[i] = (uint32_t)crc;
    }
    return 0;
}

int icproto_icget_decode(int argc, const char *const *argv, const size_t *argl, int *all, char *err,
                         size_t errlen)
{
    *all = 0;
    if (argc == 3) {
        if (argl[2] != 3 || strncasecmp(argv[2], "ALL", 3) != 0)
            return fail(err, errlen, "ERR syntax error: ICGET key [ALL]");
        *all = 1;
    }
    return 0;
}

int icproto_icgetchunks_decode(int argc, const char *const *argv, const size_t *argl,
                               uint64_t *version, uint64_t *need, char *err, size_t errlen)
{
    if (argc < 4 || resp_parse_u64(argv[2], argl[2], version) < 0 ||
        resp_parse_u64(argv[3], argl[3], need) < 0)
        return fail(err, errlen, "ERR ICGETCHUNKS: bad version or need");
    return 0;
}

int icproto_icgetchunks_indexes(int argc, const char *const *argv, const size_t *argl, int n,
                                uint64_t need, uint64_t *listed, char *err, size_t errlen)
{
    *listed = 0;
    for (int a = 4; a < argc; a++) {
        uint64_t i;
        if (resp_parse_u64(argv[a], argl[a], &i) < 0 || i >= (uint64_t)n || (*listed >> i & 1))
            return fail(err, errlen, "ERR ICGETCHUNKS: bad or repeated chunk index");
        *listed |= 1ull << i;
    }
    if (need < 1 || need > (uint64_t)__builtin_popcountll(*listed))
        return fail(err, errlen, "ERR ICGETCHUNKS: need must be 1 to the number of indexes");
    return 0;
}

int icproto_icrepair_decode(int argc, const char *const *argv, const size_t *argl,
                            uint64_t *version, uint64_t *index, uint32_t *crc, char *err,
                            size_t errlen)
{
    uint64_t c;
    if (argc < 5 || resp_parse_u64(argv[2], argl[2], version) < 0 ||
        resp_parse_u64(argv[3], argl[3], index) < 0 || resp_parse_u64(argv[4], argl[4], &c) < 0 ||
        c > UINT32_MAX)
        return fail(err, errlen, "ERR ICREPAIR: bad arguments");
    *crc = (uint32_t)c;
    return 0;
}

/* ---------------- replies ---------------- */

int icproto_put_meta(buf_t *b, const icproto_meta_t *m)
{
    int rc = resp_add_array_header(b, 1 + m->n);
    if (!rc) rc = resp_add_array_header(b, 5 + m->n);
    if (!rc) rc = resp_add_int(b, (int64_t)m->version);
    if (!rc) rc = resp_add_int(b, (int64_t)m->size);
    if (!rc) rc = resp_add_int(b, m->d);
    if (!rc) rc = resp_add_int(b, m->p);
    if (!rc) rc = resp_add_int(b, (int64_t)m->chunk_size);
    for (int i = 0; i < m->n && !rc; i++)
        rc = resp_add_int(b, m->crc[i]);
    return rc;
}

int icproto_put_entry(buf_t *b, int index, int state, size_t len)
{
    int rc = resp_add_array_header(b, 3);
    if (!rc) rc = resp_add_int(b, index);
    if (!rc) rc = resp_add_int(b, state);
    if (!rc) rc = state == ICPROTO_CHUNK_SENT ? resp_add_bulk_header(b, len) : resp_add_null(b);
    return rc;
}

/* ---------------- the reply decoder ---------------- */

enum {
    PH_TOP,       /* $-1, -ERR or *<1+n> */
    PH_META_HDR,  /* *<5+n> */
    PH_META_EL,   /* :version :size :d :p :chunk_size :crc... */
    PH_ENTRY,     /* *3, or the end after n entries */
    PH_INDEX,     /* :index */
    PH_STATE,     /* :state */
    PH_BODY_HDR,  /* $<chunk_size> or $-1 */
    PH_BODY,      /* the caller is taking the body */
    PH_BODY_CRLF, /* CRLF after the body */
    PH_END,
};

/* Header lines in a reply are short; chunk sizes up to 1 GiB fit the bulk limit. */
static const resp_limits_t reply_limits = {
    .max_bulk = (int64_t)1 << 30,
    .max_array = 5 + EC_MAX_CHUNKS,
    .max_line = 64 * 1024, /* room for a long -ERR text */
};

/* Notes what was wrong with the reply and fails. */
static int bad(icproto_reply_t *r, const char *why)
{
    r->err = why;
    return ICPROTO_EPROTO;
}

void icproto_reply_init(icproto_reply_t *r, uint64_t max_object)
{
    memset(r, 0, sizeof *r);
    r->phase = PH_TOP;
    r->max_object = max_object;
}

void icproto_reply_body_done(icproto_reply_t *r)
{
    if (r->phase == PH_BODY) r->phase = PH_BODY_CRLF;
}

/* Checks one metadata integer as it arrives, so a bad d or size stops the parse early. */
static int meta_element(icproto_reply_t *r, int64_t v)
{
    icproto_meta_t *m = &r->meta;
    int i = r->meta_i;
    if (v < 0) return bad(r, "negative metadata number");
    switch (i) {
    case 0:
        m->version = (uint64_t)v;
        break;
    case 1:
        if ((uint64_t)v > r->max_object) return bad(r, "object size over max_object_size");
        m->size = (uint64_t)v;
        break;
    case 2:
        m->d = v > EC_MAX_CHUNKS ? -1 : (int)v;
        break;
    case 3:
        m->p = v > EC_MAX_CHUNKS ? -1 : (int)v;
        if (!ec_params_valid(m->d, m->p)) return bad(r, "invalid d or p");
        m->n = m->d + m->p;
        if (r->meta_n != 5 + m->n || r->top_n != 1 + m->n)
            return bad(r, "array lengths do not match d + p");
        break;
    case 4:
        if ((uint64_t)v != ec_chunk_size(m->size, m->d))
            return bad(r, "chunk size does not fit size and d");
        m->chunk_size = (size_t)v;
        break;
    default:
        if (v > 0xFFFFFFFFll) return bad(r, "checksum over 32 bits");
        m->crc[i - 5] = (uint32_t)v;
    }
    r->meta_i++;
    return 0;
}

int icproto_reply_feed(icproto_reply_t *r, const char *buf, size_t len, size_t *used,
                       icproto_reply_event_t *ev)
{
    size_t off = 0;
    *used = 0;
    memset(ev, 0, sizeof *ev);
    for (;;) {
        if (r->phase == PH_ENTRY && r->entries == r->meta.n) {
            r->phase = PH_END;
            return ICPROTO_REPLY_DONE;
        }
        if (r->phase == PH_END || r->phase == PH_BODY)
            return bad(r, "fed after its end or mid-body");
        if (r->phase == PH_BODY_CRLF) {
            if (len - off < 2) return ICPROTO_REPLY_NEED_MORE;
            if (buf[off] != '\r' || buf[off + 1] != '\n')
                return bad(r, "chunk not followed by CRLF");
            off += 2;
            *used = off;
            r->entries++;
            r->phase = PH_ENTRY;
            continue;
        }
        resp_header_t h;
        ssize_t n = resp_parse_header(buf + off, len - off, &reply_limits, &h);
        if (n == 0) return ICPROTO_REPLY_NEED_MORE;
        if (n < 0) return bad(r, resp_strerror((int)n));
        off += (size_t)n;
        *used = off;
        switch (r->phase) {
        case PH_TOP:
            if (h.type == RESP_ERROR) {
                ev->str = h.str;
                ev->len = h.len;
                r->phase = PH_END;
                return ICPROTO_REPLY_ERROR;
            }
            if (h.type == RESP_BULK && h.n == -1) {
                r->phase = PH_END;
                return ICPROTO_REPLY_MISS;
            }
            if (h.type != RESP_ARRAY || h.n < 2 || h.n > 1 + EC_MAX_CHUNKS)
                return bad(r, "not $-1, an error or an array of 1 + n entries");
            r->top_n = h.n;
            r->phase = PH_META_HDR;
            break;
        case PH_META_HDR:
            if (h.type != RESP_ARRAY || h.n < 6 || h.n > 5 + EC_MAX_CHUNKS)
                return bad(r, "metadata is not an array of 5 + n integers");
            r->meta_n = (int)h.n;
            r->phase = PH_META_EL;
            break;
        case PH_META_EL:
            if (h.type != RESP_INTEGER) return bad(r, "metadata element is not an integer");
            if (meta_element(r, h.n) < 0) return ICPROTO_EPROTO;
            if (r->meta_i == r->meta_n) {
                r->phase = PH_ENTRY;
                return ICPROTO_REPLY_META;
            }
            break;
        case PH_ENTRY:
            if (h.type != RESP_ARRAY || h.n != 3) return bad(r, "chunk entry is not an array of 3");
            r->phase = PH_INDEX;
            break;
        case PH_INDEX:
            if (h.type != RESP_INTEGER || h.n < 0 || h.n >= r->meta.n || r->seen[h.n])
                return bad(r, "chunk index out of range or repeated");
            r->seen[h.n] = 1;
            r->index = (int)h.n;
            r->phase = PH_STATE;
            break;
        case PH_STATE:
            if (h.type != RESP_INTEGER || h.n < 0 || h.n > 2)
                return bad(r, "chunk state not 0, 1 or 2");
            r->state = (int)h.n;
            r->phase = PH_BODY_HDR;
            break;
        case PH_BODY_HDR:
            if (h.type != RESP_BULK) return bad(r, "chunk body is not a bulk");
            ev->index = r->index;
            ev->state = r->state;
            if (r->state == 0) {
                if (h.n < 0 || (uint64_t)h.n != r->meta.chunk_size)
                    return bad(r, "chunk body length is not chunk_size");
                r->phase = PH_BODY;
            } else {
                if (h.n != -1) return bad(r, "a chunk not sent has a body");
                r->entries++;
                r->phase = PH_ENTRY;
            }
            return ICPROTO_REPLY_CHUNK;
        }
    }
}
