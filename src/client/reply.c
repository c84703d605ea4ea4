/* reply.c -- incremental parser of the ICGET reply (docs/PROTOCOL.md section 1); does no I/O. */
#include <string.h>

#include "icc.h"

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

void icc_reply_init(icc_reply_t *r, uint64_t max_object)
{
    memset(r, 0, sizeof *r);
    r->phase = PH_TOP;
    r->max_object = max_object;
}

void icc_reply_body_done(icc_reply_t *r)
{
    if (r->phase == PH_BODY) r->phase = PH_BODY_CRLF;
}

/* Checks one metadata integer as it arrives, so a bad d or size stops the parse early. */
static int meta_element(icc_reply_t *r, int64_t v)
{
    icc_meta_t *m = &r->meta;
    int i = r->meta_i;
    if (v < 0) return IC_EPROTO;
    switch (i) {
    case 0: m->version = (uint64_t)v; break;
    case 1:
        if ((uint64_t)v > r->max_object) return IC_EPROTO;
        m->size = (uint64_t)v;
        break;
    case 2: m->d = v > EC_MAX_CHUNKS ? -1 : (int)v; break;
    case 3:
        m->p = v > EC_MAX_CHUNKS ? -1 : (int)v;
        if (!ec_params_valid(m->d, m->p)) return IC_EPROTO;
        m->n = m->d + m->p;
        if (r->meta_n != 5 + m->n || r->top_n != 1 + m->n) return IC_EPROTO;
        break;
    case 4:
        if ((uint64_t)v != ec_chunk_size(m->size, m->d)) return IC_EPROTO;
        m->chunk_size = (size_t)v;
        break;
    default:
        if (v > 0xFFFFFFFFll) return IC_EPROTO;
        m->crc[i - 5] = (uint32_t)v;
    }
    r->meta_i++;
    return 0;
}

int icc_reply_feed(icc_reply_t *r, const char *buf, size_t len, size_t *used, icc_reply_event_t *ev)
{
    size_t off = 0;
    *used = 0;
    memset(ev, 0, sizeof *ev);
    for (;;) {
        if (r->phase == PH_ENTRY && r->entries == r->meta.n) {
            r->phase = PH_END;
            return ICC_REPLY_DONE;
        }
        if (r->phase == PH_END || r->phase == PH_BODY) return IC_EPROTO;
        if (r->phase == PH_BODY_CRLF) {
            if (len - off < 2) return ICC_REPLY_NEED_MORE;
            if (buf[off] != '\r' || buf[off + 1] != '\n') return IC_EPROTO;
            off += 2;
            *used = off;
            r->entries++;
            r->phase = PH_ENTRY;
            continue;
        }
        resp_header_t h;
        ssize_t n = resp_parse_header(buf + off, len - off, &reply_limits, &h);
        if (n == 0) return ICC_REPLY_NEED_MORE;
        if (n < 0) return IC_EPROTO;
        off += (size_t)n;
        *used = off;
        switch (r->phase) {
        case PH_TOP:
            if (h.type == RESP_ERROR) {
                ev->str = h.str;
                ev->len = h.len;
                r->phase = PH_END;
                return ICC_REPLY_ERROR;
            }
            if (h.type == RESP_BULK && h.n == -1) {
                r->phase = PH_END;
                return ICC_REPLY_MISS;
            }
            if (h.type != RESP_ARRAY || h.n < 2 || h.n > 1 + EC_MAX_CHUNKS) return IC_EPROTO;
            r->top_n = h.n;
            r->phase = PH_META_HDR;
            break;
        case PH_META_HDR:
            if (h.type != RESP_ARRAY || h.n < 6 || h.n > 5 + EC_MAX_CHUNKS) return IC_EPROTO;
            r->meta_n = (int)h.n;
            r->phase = PH_META_EL;
            break;
        case PH_META_EL:
            if (h.type != RESP_INTEGER || meta_element(r, h.n) < 0) return IC_EPROTO;
            if (r->meta_i == r->meta_n) {
                r->phase = PH_ENTRY;
                return ICC_REPLY_META;
            }
            break;
        case PH_ENTRY:
            if (h.type != RESP_ARRAY || h.n != 3) return IC_EPROTO;
            r->phase = PH_INDEX;
            break;
        case PH_INDEX:
            if (h.type != RESP_INTEGER || h.n < 0 || h.n >= r->meta.n || r->seen[h.n])
                return IC_EPROTO;
            r->seen[h.n] = 1;
            r->index = (int)h.n;
            r->phase = PH_STATE;
            break;
        case PH_STATE:
            if (h.type != RESP_INTEGER || h.n < 0 || h.n > 2) return IC_EPROTO;
            r->state = (int)h.n;
            r->phase = PH_BODY_HDR;
            break;
        case PH_BODY_HDR:
            if (h.type != RESP_BULK) return IC_EPROTO;
            ev->index = r->index;
            ev->state = r->state;
            if (r->state == 0) {
                if (h.n < 0 || (uint64_t)h.n != r->meta.chunk_size) return IC_EPROTO;
                r->phase = PH_BODY;
            } else {
                if (h.n != -1) return IC_EPROTO;
                r->entries++;
                r->phase = PH_ENTRY;
            }
            return ICC_REPLY_CHUNK;
        }
    }
}
