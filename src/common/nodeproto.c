/* nodeproto.c -- the proxy<->node protocol's codec (see nodeproto.h). */
#include "nodeproto.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

const char *nodeproto_strerror(int err)
{
    switch (err) {
    case NODEPROTO_EHEADER:
        return "malformed RESP line";
    case NODEPROTO_ETOOBIG:
        return "length over the node protocol's limits";
    case NODEPROTO_ENOTARRAY:
        return "not an array of bulk strings";
    case NODEPROTO_ENOTBULK:
        return "an element is not a bulk string";
    case NODEPROTO_ECRLF:
        return "bulk not followed by CRLF";
    case NODEPROTO_EUNEXPECTED:
        return "reply of another shape than its request's";
    default:
        return resp_strerror(err);
    }
}

/* RESP's header errors in this protocol's terms. */
static int header_error(ssize_t rc)
{
    return rc == RESP_ETOOBIG ? NODEPROTO_ETOOBIG : NODEPROTO_EHEADER;
}

static const char *const cmd_names[] = {
    [NODEPROTO_PING] = "PING",     [NODEPROTO_CSET] = "CSET",
    [NODEPROTO_CGET] = "CGET",     [NODEPROTO_CDEL] = "CDEL",
    [NODEPROTO_STATS] = "STATS",   [NODEPROTO_INVENTORY] = "INVENTORY",
    [NODEPROTO_BACKUP] = "BACKUP", [NODEPROTO_SYNCDONE] = "SYNCDONE",
    [NODEPROTO_GOAWAY] = "GOAWAY", [NODEPROTO_CEXPIRE] = "CEXPIRE",
    [NODEPROTO_CGETR] = "CGETR",   [NODEPROTO_CRENAME] = "CRENAME",
    [NODEPROTO_LANES] = "LANES",
};

/* ---------------- requests ---------------- */

static int put_name(buf_t *b, int elements, const char *name)
{
    if (resp_add_array_header(b, elements) < 0) return -ENOMEM;
    return resp_add_bulk(b, name, strlen(name));
}

int nodeproto_put_cset(buf_t *b, const nodeproto_cset_t *c)
{
    int rc = put_name(b, NODEPROTO_CSET_ELEMENTS, "CSET");
    if (!rc) rc = resp_add_bulk(b, c->key, c->keylen);
    if (!rc) rc = resp_add_bulk_u64(b, c->index);
    if (!rc) rc = resp_add_bulk_u64(b, c->version);
    if (!rc) rc = resp_add_bulk_u64(b, c->crc);
    if (!rc) rc = resp_add_bulk_u64(b, c->size);
    if (!rc) rc = resp_add_bulk_u64(b, c->d);
    if (!rc) rc = resp_add_bulk_u64(b, c->p);
    if (!rc) rc = resp_add_bulk_u64(b, c->expire_ms);
    if (!rc) rc = resp_add_bulk_header(b, c->body_len);
    return rc;
}

int nodeproto_put_body_end(buf_t *b)
{
    return resp_add_crlf(b);
}

/* CGET and CDEL: name key index version [TOMB]. */
static int put_chunk_request(buf_t *b, const char *name, const char *key, size_t keylen,
                             uint32_t index, uint64_t version, int tomb)
{
    int rc = put_name(b, tomb ? 5 : 4, name);
    if (!rc) rc = resp_add_bulk(b, key, keylen);
    if (!rc) rc = resp_add_bulk_u64(b, index);
    if (!rc) rc = resp_add_bulk_u64(b, version);
    if (!rc && tomb) rc = resp_add_bulk(b, "TOMB", 4);
    return rc;
}

int nodeproto_put_cget(buf_t *b, const char *key, size_t keylen, uint32_t index, uint64_t version)
{
    return put_chunk_request(b, "CGET", key, keylen, index, version, 0);
}

int nodeproto_put_cgetr(buf_t *b, const char *key, size_t keylen, uint32_t index, uint64_t version,
                        uint64_t offset, uint64_t length)
{
    int rc = put_name(b, 6, "CGETR");
    if (!rc) rc = resp_add_bulk(b, key, keylen);
    if (!rc) rc = resp_add_bulk_u64(b, index);
    if (!rc) rc = resp_add_bulk_u64(b, version);
    if (!rc) rc = resp_add_bulk_u64(b, offset);
    if (!rc) rc = resp_add_bulk_u64(b, length);
    return rc;
}

int nodeproto_put_cdel(buf_t *b, const char *key, size_t keylen, uint32_t index, uint64_t version,
                       int tomb)
{
    return put_chunk_request(b, "CDEL", key, keylen, index, version, tomb);
}

int nodeproto_put_cexpire(buf_t *b, const char *key, size_t keylen, uint32_t index,
                          uint64_t version, uint64_t expire_ms)
{
    int rc = put_name(b, 5, "CEXPIRE");
    if (!rc) rc = resp_add_bulk(b, key, keylen);
    if (!rc) rc = resp_add_bulk_u64(b, index);
    if (!rc) rc = resp_add_bulk_u64(b, version);
    if (!rc) rc = resp_add_bulk_u64(b, expire_ms);
    return rc;
}

int nodeproto_put_crename(buf_t *b, const char *key, size_t keylen, uint32_t index,
                          uint64_t version, const char *newkey, size_t newkeylen,
                          uint64_t newversion)
{
    int rc = put_name(b, 6, "CRENAME");
    if (!rc) rc = resp_add_bulk(b, key, keylen);
    if (!rc) rc = resp_add_bulk_u64(b, index);
    if (!rc) rc = resp_add_bulk_u64(b, version);
    if (!rc) rc = resp_add_bulk(b, newkey, newkeylen);
    if (!rc) rc = resp_add_bulk_u64(b, newversion);
    return rc;
}

int nodeproto_put_simple(buf_t *b, nodeproto_cmd_t cmd)
{
    return put_name(b, 1, cmd_names[cmd]);
}

int nodeproto_put_backup(buf_t *b, const char *relay, size_t relay_len, const char *token,
                         size_t token_len, const char *endpoint, size_t endpoint_len,
                         const char *sigv4, size_t sigv4_len)
{
    int rc = put_name(b, sigv4_len ? 5 : 4, "BACKUP");
    if (!rc) rc = resp_add_bulk(b, relay, relay_len);
    if (!rc) rc = resp_add_bulk(b, token, token_len);
    if (!rc) rc = resp_add_bulk(b, endpoint, endpoint_len);
    if (!rc && sigv4_len) rc = resp_add_bulk(b, sigv4, sigv4_len);
    return rc;
}

int nodeproto_put_lanes(buf_t *b, unsigned n)
{
    int rc = put_name(b, 2, "LANES");
    return rc ? rc : resp_add_bulk_u64(b, n);
}

/* ---------------- the node's request reader ---------------- */

static const resp_limits_t req_limits = {
    .max_bulk = NODEPROTO_MAX_BODY,
    .max_array = NODEPROTO_MAX_ELEMENTS,
    .max_line = NODEPROTO_MAX_LINE,
};

void nodeproto_req_init(nodeproto_req_t *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->store);
    r->argc = -1;
}

void nodeproto_req_reset(nodeproto_req_t *r)
{
    r->argc = -1;
    r->argi = 0;
    r->body_len = 0;
    r->after_body = 0;
    r->is_cset = 0;
    r->nargs = 0;
    buf_clear(&r->store);
    buf_shrink_if_empty(&r->store, 128 * 1024);
}

void nodeproto_req_free(nodeproto_req_t *r)
{
    buf_free(&r->store);
}

int nodeproto_req_busy(const nodeproto_req_t *r)
{
    return r->argc >= 0 || r->after_body;
}

void nodeproto_req_body_done(nodeproto_req_t *r)
{
    r->after_body = 1;
}

int nodeproto_req_is(const nodeproto_req_t *r, const char *name)
{
    return r->nargs > 0 && r->argl[0] == strlen(name) &&
           strncasecmp(r->argv[0], name, r->argl[0]) == 0;
}

/* Arguments are copied into one store that may move as it grows; argv is rebuilt each time the
 * caller gets control. */
static void fix_argv(nodeproto_req_t *r)
{
    for (int i = 0; i < r->nargs; i++)
        r->argv[i] = buf_head(&r->store) + r->argoff[i];
}

static int keep_arg(nodeproto_req_t *r, const char *p, size_t n)
{
    size_t off = buf_len(&r->store);
    /* An empty argument appends only the NUL: buf_append of 0 bytes to a buffer that was never
     * allocated would do pointer arithmetic on NULL. */
    if ((n && buf_append(&r->store, p, n) < 0) || buf_append(&r->store, "", 1) < 0)
        return NODEPROTO_ENOMEM;
    r->argoff[r->nargs] = off;
    r->argl[r->nargs] = n;
    if (r->argi == 0) r->is_cset = n == 4 && strncasecmp(p, "CSET", 4) == 0;
    r->nargs++;
    return 0;
}

int nodeproto_req_feed(nodeproto_req_t *r, buf_t *in)
{
    resp_header_t h;
    if (r->after_body) {
        if (buf_len(in) < 2) return NODEPROTO_REQ_NEED_MORE;
        if (memcmp(buf_head(in), "\r\n", 2) != 0) return NODEPROTO_ECRLF;
        buf_consume(in, 2);
        r->after_body = 0;
        r->argi++;
    }
    if (r->argc < 0) {
        if (buf_len(in) == 0) return NODEPROTO_REQ_NEED_MORE;
        /* The proxy never sends inline commands. */
        if (buf_head(in)[0] != '*') return NODEPROTO_ENOTARRAY;
        ssize_t n = resp_parse_header(buf_head(in), buf_len(in), &req_limits, &h);
        if (n == 0) return NODEPROTO_REQ_NEED_MORE;
        if (n < 0) return header_error(n);
        if (h.n < 0) return NODEPROTO_ENOTARRAY;
        buf_consume(in, (size_t)n);
        r->argc = h.n;
        r->argi = 0;
    }
    while (r->argi < r->argc) {
        ssize_t n = resp_parse_header(buf_head(in), buf_len(in), &req_limits, &h);
        if (n == 0) return NODEPROTO_REQ_NEED_MORE;
        if (n < 0) return header_error(n);
        if (h.type != RESP_BULK || h.n < 0) return NODEPROTO_ENOTBULK;
        if ((r->is_cset && r->argi == NODEPROTO_CSET_BODY) || h.n > NODEPROTO_MAX_ARG) {
            buf_consume(in, (size_t)n);
            r->body_len = h.n;
            fix_argv(r);
            return NODEPROTO_REQ_BODY;
        }
        if (buf_len(in) < (size_t)n + (size_t)h.n + 2) return NODEPROTO_REQ_NEED_MORE;
        const char *body = buf_head(in) + n;
        if (body[h.n] != '\r' || body[h.n + 1] != '\n') return NODEPROTO_ECRLF;
        if (r->nargs < NODEPROTO_REQ_KEEP_ARGS) {
            int rc = keep_arg(r, body, (size_t)h.n);
            if (rc < 0) return rc;
        }
        buf_consume(in, (size_t)n + (size_t)h.n + 2);
        r->argi++;
    }
    fix_argv(r);
    return NODEPROTO_REQ_DONE;
}

static int parse_u32(const char *s, size_t n, uint32_t *out)
{
    uint64_t v;
    if (resp_parse_u64(s, n, &v) < 0 || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

const char *nodeproto_chunk_id_decode(const nodeproto_req_t *r, uint32_t *index, uint64_t *version)
{
    if (r->nargs < 4 || parse_u32(r->argv[2], r->argl[2], index) < 0)
        return "ERR invalid chunk index";
    if (resp_parse_u64(r->argv[3], r->argl[3], version) < 0) return "ERR invalid version";
    return NULL;
}

const char *nodeproto_cgetr_decode(const nodeproto_req_t *r, uint32_t *index, uint64_t *version,
                                   uint64_t *offset, uint64_t *length)
{
    const char *err = nodeproto_chunk_id_decode(r, index, version);
    if (err) return err;
    if (r->nargs < 6 || resp_parse_u64(r->argv[4], r->argl[4], offset) < 0 ||
        resp_parse_u64(r->argv[5], r->argl[5], length) < 0 ||
        *offset > (uint64_t)NODEPROTO_MAX_BODY || *length > (uint64_t)NODEPROTO_MAX_BODY)
        return "ERR invalid range";
    return NULL;
}

const char *nodeproto_cexpire_decode(const nodeproto_req_t *r, uint32_t *index, uint64_t *version,
                                     uint64_t *expire_ms)
{
    const char *err = nodeproto_chunk_id_decode(r, index, version);
    if (err) return err;
    if (r->nargs < 5 || resp_parse_u64(r->argv[4], r->argl[4], expire_ms) < 0)
        return "ERR invalid expiry";
    return NULL;
}

const char *nodeproto_crename_decode(const nodeproto_req_t *r, nodeproto_crename_t *c)
{
    const char *err = nodeproto_chunk_id_decode(r, &c->index, &c->version);
    if (err) return err;
    if (r->nargs < 6) return "ERR wrong number of arguments for 'CRENAME'";
    if (resp_parse_u64(r->argv[5], r->argl[5], &c->newversion) < 0 || c->newversion == 0)
        return "ERR invalid new version";
    c->key = r->argv[1];
    c->keylen = r->argl[1];
    c->newkey = r->argv[4];
    c->newkeylen = r->argl[4];
    return NULL;
}

const char *nodeproto_cset_decode(const nodeproto_req_t *r, nodeproto_cset_t *c)
{
    if (r->nargs < NODEPROTO_CSET_BODY) return "ERR wrong number of arguments for 'CSET'";
    c->key = r->argv[1];
    c->keylen = r->argl[1];
    if (parse_u32(r->argv[2], r->argl[2], &c->index) < 0) return "ERR invalid chunk index";
    if (resp_parse_u64(r->argv[3], r->argl[3], &c->version) < 0) return "ERR invalid version";
    if (parse_u32(r->argv[4], r->argl[4], &c->crc) < 0) return "ERR invalid crc";
    if (resp_parse_u64(r->argv[5], r->argl[5], &c->size) < 0) return "ERR invalid object size";
    if (parse_u32(r->argv[6], r->argl[6], &c->d) < 0 ||
        parse_u32(r->argv[7], r->argl[7], &c->p) < 0)
        return "ERR invalid coding";
    if (resp_parse_u64(r->argv[8], r->argl[8], &c->expire_ms) < 0) return "ERR invalid expiry";
    uint64_t n = (uint64_t)c->d + c->p;
    if (c->d < 1 || n > EC_MAX_CHUNKS || c->index >= n)
        return "ERR invalid coding (need 1 <= d, d + p <= 48, index < d + p)";
    return NULL;
}

/* A decimal in 1..max without sign or leading zeros: the one text of each lane number, so that
 * the text a LANE proof covers and the number read from it go together. */
static int parse_small_count(const char *s, size_t n, unsigned max, unsigned *out)
{
    uint64_t v;
    if (n == 0 || s[0] == '0' || resp_parse_u64(s, n, &v) < 0 || v < 1 || v > max) return -1;
    *out = (unsigned)v;
    return 0;
}

const char *nodeproto_lanes_decode(const nodeproto_req_t *r, unsigned *n)
{
    if (r->nargs < 2 || parse_small_count(r->argv[1], r->argl[1], NODEPROTO_MAX_LANES, n) < 0)
        return "ERR invalid lane count";
    return NULL;
}

/* ---------------- replies ---------------- */

int nodeproto_put_chunk_header(buf_t *b, uint32_t crc, size_t len)
{
    int rc = resp_add_array_header(b, 2);
    if (!rc) rc = resp_add_int(b, crc);
    if (!rc) rc = resp_add_bulk_header(b, len);
    return rc;
}

int nodeproto_put_piece_header(buf_t *b, uint32_t head_crc, uint32_t tail_crc, size_t len)
{
    int rc = resp_add_array_header(b, 3);
    if (!rc) rc = resp_add_int(b, head_crc);
    if (!rc) rc = resp_add_int(b, tail_crc);
    if (!rc) rc = resp_add_bulk_header(b, len);
    return rc;
}

int nodeproto_put_inventory_header(buf_t *b, size_t len)
{
    return resp_add_bulk_header(b, len);
}

int nodeproto_put_stats(buf_t *b, uint64_t mem_limit, uint64_t mem_used, uint64_t chunks,
                        uint64_t invocation)
{
    int rc = resp_add_array_header(b, 4);
    if (!rc) rc = resp_add_int(b, (int64_t)mem_limit);
    if (!rc) rc = resp_add_int(b, (int64_t)mem_used);
    if (!rc) rc = resp_add_int(b, (int64_t)chunks);
    if (!rc) rc = resp_add_int(b, (int64_t)invocation);
    return rc;
}

/* Error replies carry the node's text (a -NOMEM names its figures): room for a long one. */
static const resp_limits_t reply_limits = {
    .max_bulk = NODEPROTO_MAX_BODY,
    .max_array = 4,
    .max_line = 1024,
};

ssize_t nodeproto_parse_reply(const char *buf, size_t len, nodeproto_cmd_t cmd,
                              nodeproto_reply_t *out)
{
    resp_header_t h;
    memset(out, 0, sizeof *out);
    ssize_t n = resp_parse_header(buf, len, &reply_limits, &h);
    if (n <= 0) return n == 0 ? 0 : header_error(n);
    if (h.type == RESP_ERROR) {
        out->kind = NODEPROTO_REPLY_ERROR;
        out->str = h.str;
        out->len = h.len;
        return n;
    }
    switch (cmd) {
    case NODEPROTO_CGET: {
        if (h.type == RESP_BULK && h.n == -1) {
            out->kind = NODEPROTO_REPLY_NULL;
            return n;
        }
        if (h.type != RESP_ARRAY || h.n != 2) return NODEPROTO_EUNEXPECTED;
        size_t at = (size_t)n;
        ssize_t m = resp_parse_header(buf + at, len - at, &reply_limits, &h);
        if (m <= 0) return m == 0 ? 0 : header_error(m);
        if (h.type != RESP_INTEGER || h.n < 0 || h.n > UINT32_MAX) return NODEPROTO_EUNEXPECTED;
        out->crc = (uint32_t)h.n;
        at += (size_t)m;
        m = resp_parse_header(buf + at, len - at, &reply_limits, &h);
        if (m <= 0) return m == 0 ? 0 : header_error(m);
        if (h.type != RESP_BULK || h.n < 0) return NODEPROTO_EUNEXPECTED;
        out->kind = NODEPROTO_REPLY_CHUNK;
        out->body_len = (size_t)h.n;
        return (ssize_t)(at + (size_t)m);
    }
    case NODEPROTO_CGETR: {
        if (h.type == RESP_BULK && h.n == -1) {
            out->kind = NODEPROTO_REPLY_NULL;
            return n;
        }
        if (h.type != RESP_ARRAY || h.n != 3) return NODEPROTO_EUNEXPECTED;
        size_t at = (size_t)n;
        uint32_t crcs[2];
        for (int k = 0; k < 2; k++) {
            ssize_t m = resp_parse_header(buf + at, len - at, &reply_limits, &h);
            if (m <= 0) return m == 0 ? 0 : header_error(m);
            if (h.type != RESP_INTEGER || h.n < 0 || h.n > UINT32_MAX) return NODEPROTO_EUNEXPECTED;
            crcs[k] = (uint32_t)h.n;
            at += (size_t)m;
        }
        ssize_t m = resp_parse_header(buf + at, len - at, &reply_limits, &h);
        if (m <= 0) return m == 0 ? 0 : header_error(m);
        if (h.type != RESP_BULK || h.n < 0) return NODEPROTO_EUNEXPECTED;
        out->kind = NODEPROTO_REPLY_PIECE;
        out->crc = crcs[0];
        out->tail_crc = crcs[1];
        out->body_len = (size_t)h.n;
        return (ssize_t)(at + (size_t)m);
    }
    case NODEPROTO_INVENTORY:
        if (h.type != RESP_BULK || h.n < 0) return NODEPROTO_EUNEXPECTED;
        if ((uint64_t)h.n > NODEPROTO_INVENTORY_MAX) return NODEPROTO_ETOOBIG;
        out->kind = NODEPROTO_REPLY_BULK;
        out->body_len = (size_t)h.n;
        return n;
    case NODEPROTO_CDEL:
    case NODEPROTO_CEXPIRE:
    case NODEPROTO_CRENAME:
        if (h.type != RESP_INTEGER) return NODEPROTO_EUNEXPECTED;
        out->kind = NODEPROTO_REPLY_INT;
        out->n = h.n;
        return n;
    case NODEPROTO_STATS: {
        if (h.type != RESP_ARRAY || h.n != 4) return NODEPROTO_EUNEXPECTED;
        size_t at = (size_t)n;
        for (int i = 0; i < 4; i++) {
            ssize_t m = resp_parse_header(buf + at, len - at, &reply_limits, &h);
            if (m <= 0) return m == 0 ? 0 : header_error(m);
            if (h.type != RESP_INTEGER) return NODEPROTO_EUNEXPECTED;
            out->stats[i] = h.n;
            at += (size_t)m;
        }
        out->kind = NODEPROTO_REPLY_STATS;
        return (ssize_t)at;
    }
    default: /* PING, CSET, BACKUP, SYNCDONE, GOAWAY: +PONG or +OK */
        if (h.type != RESP_SIMPLE) return NODEPROTO_EUNEXPECTED;
        out->kind = NODEPROTO_REPLY_SIMPLE;
        out->str = h.str;
        out->len = h.len;
        return n;
    }
}

ssize_t nodeproto_body_in_buffer(const char *buf, size_t avail, size_t len)
{
    if (avail < len || avail - len < 2) return 0;
    if (buf[len] != '\r' || buf[len + 1] != '\n') return NODEPROTO_ECRLF;
    return (ssize_t)(len + 2);
}

/* ---------------- unsolicited messages ---------------- */

int nodeproto_put_hello(buf_t *b, const nodeproto_hello_t *h)
{
    int rc = put_name(b, h->has_epoch ? 9 : 8, "HELLO");
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)h->node_id);
    if (!rc) rc = resp_add_bulk(b, h->instance, h->instance_len);
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)h->mem_limit);
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)h->mem_used);
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)h->chunks);
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)h->invocation);
    if (!rc && h->has_epoch) rc = resp_add_bulk_u64(b, (uint64_t)h->epoch);
    if (!rc) rc = resp_add_bulk(b, h->proof, h->proof_len);
    return rc;
}

int nodeproto_put_bye(buf_t *b)
{
    return put_name(b, 1, "BYE");
}

int nodeproto_put_backupdone(buf_t *b, const char *token, const char *status, uint64_t chunks_sent,
                             uint64_t bytes_sent, uint64_t chunks_deleted)
{
    int rc = put_name(b, 6, "BACKUPDONE");
    if (!rc) rc = resp_add_bulk(b, token, strlen(token));
    if (!rc) rc = resp_add_bulk(b, status, strlen(status));
    if (!rc) rc = resp_add_bulk_u64(b, chunks_sent);
    if (!rc) rc = resp_add_bulk_u64(b, bytes_sent);
    if (!rc) rc = resp_add_bulk_u64(b, chunks_deleted);
    return rc;
}

int nodeproto_put_challenge(buf_t *b, const char *challenge)
{
    int rc = put_name(b, 2, "CHALLENGE");
    return rc ? rc : resp_add_bulk(b, challenge, strlen(challenge));
}

int nodeproto_put_refused(buf_t *b, const char *reason)
{
    int rc = put_name(b, 2, "REFUSED");
    return rc ? rc : resp_add_bulk(b, reason, strlen(reason));
}

int nodeproto_put_relay(buf_t *b, const char *token, const char *role, const char *proof)
{
    int rc = put_name(b, proof ? 4 : 3, "RELAY");
    if (!rc) rc = resp_add_bulk(b, token, strlen(token));
    if (!rc) rc = resp_add_bulk(b, role, strlen(role));
    if (!rc && proof) rc = resp_add_bulk(b, proof, strlen(proof));
    return rc;
}

int nodeproto_is_message(const char *buf, size_t len)
{
    if (len == 0) return -1;
    if (buf[0] != '*') return 0;
    const char *nl = memchr(buf, '\n', len);
    if (!nl || (size_t)(nl - buf) + 1 >= len) return -1;
    return nl[1] == '$';
}

static ssize_t parse_bulk_array(const char *buf, size_t len, int64_t max_bulk, int64_t max_array,
                                nodeproto_msg_t *m)
{
    resp_limits_t lim = resp_default_limits;
    lim.max_bulk = max_bulk;
    lim.max_array = max_array;
    m->argc = 0;
    ssize_t n = resp_parse_bulk_array(buf, len, &lim, &m->argc, m->argv, m->argl);
    if (n < 0) return n == RESP_ETOOBIG ? NODEPROTO_ETOOBIG : NODEPROTO_ENOTARRAY;
    return n;
}

ssize_t nodeproto_parse_message(const char *buf, size_t len, nodeproto_msg_t *m)
{
    return parse_bulk_array(buf, len, NODEPROTO_MSG_MAX_ARG, NODEPROTO_MSG_MAX_ARGS, m);
}

ssize_t nodeproto_parse_relay(const char *buf, size_t len, nodeproto_msg_t *m)
{
    return parse_bulk_array(buf, len, NODEPROTO_RELAY_MAX_ARG, 4, m);
}

int nodeproto_msg_is(const nodeproto_msg_t *m, const char *name)
{
    return m->argc > 0 && m->argl[0] == strlen(name) &&
           strncasecmp(m->argv[0], name, m->argl[0]) == 0;
}

int nodeproto_hello_decode(const nodeproto_msg_t *m, nodeproto_hello_t *h)
{
    memset(h, 0, sizeof *h);
    if (m->argc < 8 || m->argc > 9) return NODEPROTO_EUNEXPECTED;
    int last = m->argc - 1;
    h->node_id_text = m->argv[1];
    h->node_id_len = m->argl[1];
    h->instance = m->argv[2];
    h->instance_len = m->argl[2];
    h->proof = m->argv[last];
    h->proof_len = m->argl[last];
    if (m->argc == 9) {
        h->has_epoch = 1;
        h->epoch_text = m->argv[7];
        h->epoch_len = m->argl[7];
    }
    if (resp_parse_i64(m->argv[1], m->argl[1], &h->node_id) < 0 ||
        resp_parse_i64(m->argv[3], m->argl[3], &h->mem_limit) < 0 ||
        resp_parse_i64(m->argv[4], m->argl[4], &h->mem_used) < 0 ||
        resp_parse_i64(m->argv[5], m->argl[5], &h->chunks) < 0 ||
        resp_parse_i64(m->argv[6], m->argl[6], &h->invocation) < 0 ||
        (h->has_epoch &&
         (resp_parse_i64(h->epoch_text, h->epoch_len, &h->epoch) < 0 || h->epoch < 0)))
        return NODEPROTO_EHEADER;
    return 0;
}

int nodeproto_put_lane(buf_t *b, const nodeproto_lane_t *l)
{
    int rc = put_name(b, 5, "LANE");
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)l->node_id);
    if (!rc) rc = resp_add_bulk(b, l->instance, l->instance_len);
    if (!rc) rc = resp_add_bulk_u64(b, l->lane);
    if (!rc) rc = resp_add_bulk(b, l->proof, l->proof_len);
    return rc;
}

int nodeproto_lane_decode(const nodeproto_msg_t *m, nodeproto_lane_t *l)
{
    memset(l, 0, sizeof *l);
    if (m->argc != 5) return NODEPROTO_EUNEXPECTED;
    l->node_id_text = m->argv[1];
    l->node_id_len = m->argl[1];
    l->instance = m->argv[2];
    l->instance_len = m->argl[2];
    l->lane_text = m->argv[3];
    l->lane_len = m->argl[3];
    l->proof = m->argv[4];
    l->proof_len = m->argl[4];
    if (resp_parse_i64(m->argv[1], m->argl[1], &l->node_id) < 0 ||
        parse_small_count(m->argv[3], m->argl[3], NODEPROTO_MAX_LANES - 1, &l->lane) < 0)
        return NODEPROTO_EHEADER;
    return 0;
}

int nodeproto_backupdone_decode(const nodeproto_msg_t *m, nodeproto_backupdone_t *b)
{
    memset(b, 0, sizeof *b);
    if (m->argc < 3) return NODEPROTO_EUNEXPECTED;
    b->token = m->argv[1];
    b->token_len = m->argl[1];
    b->status = m->argv[2];
    b->status_len = m->argl[2];
    b->ok = m->argl[2] == 2 && memcmp(m->argv[2], "ok", 2) == 0;
    if (m->argc >= 6) {
        resp_parse_i64(m->argv[3], m->argl[3], &b->chunks_sent);
        resp_parse_i64(m->argv[4], m->argl[4], &b->bytes_sent);
        resp_parse_i64(m->argv[5], m->argl[5], &b->chunks_deleted);
    }
    return 0;
}

const char *const nodeproto_bill_kind_names[NODEPROTO_BILL_KINDS] = {"activate", "warmup", "backup",
                                                                     "other"};

int nodeproto_put_bill(buf_t *b, const nodeproto_bill_t *r)
{
    int kind = r->kind >= 0 && r->kind < NODEPROTO_BILL_KINDS ? r->kind : NODEPROTO_BILL_KINDS - 1;
    const char *name = nodeproto_bill_kind_names[kind];
    int rc = put_name(b, NODEPROTO_BILL_ELEMENTS, "BILL");
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)r->seq);
    if (!rc) rc = resp_add_bulk(b, name, strlen(name));
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)r->duration_us);
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)r->billed_ms);
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)r->memory_mb);
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)r->max_rss_kb);
    if (!rc) rc = resp_add_bulk_u64(b, (uint64_t)r->dropped);
    return rc;
}

/* A decimal in min..max without sign or leading zeros (at most 18 digits, so no overflow). */
static int parse_bounded(const char *s, size_t n, int64_t min, int64_t max, int64_t *out)
{
    int64_t v = 0;
    if (n == 0 || n > 18 || (n > 1 && s[0] == '0')) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max) return -1;
    *out = v;
    return 0;
}

int nodeproto_bill_decode(const nodeproto_msg_t *m, nodeproto_bill_t *r)
{
    memset(r, 0, sizeof *r);
    if (m->argc != NODEPROTO_BILL_ELEMENTS) return NODEPROTO_EUNEXPECTED;
    r->kind = -1;
    for (int k = 0; k < NODEPROTO_BILL_KINDS; k++)
        if (m->argl[2] == strlen(nodeproto_bill_kind_names[k]) &&
            !memcmp(m->argv[2], nodeproto_bill_kind_names[k], m->argl[2]))
            r->kind = k;
    if (r->kind < 0 ||
        parse_bounded(m->argv[1], m->argl[1], 1, NODEPROTO_BILL_MAX_COUNT, &r->seq) < 0 ||
        parse_bounded(m->argv[3], m->argl[3], 0, NODEPROTO_BILL_MAX_DURATION_US, &r->duration_us) <
            0 ||
        parse_bounded(m->argv[5], m->argl[5], 1, NODEPROTO_BILL_MAX_MEMORY_MB, &r->memory_mb) < 0 ||
        parse_bounded(m->argv[6], m->argl[6], 0, NODEPROTO_BILL_MAX_RSS_KB, &r->max_rss_kb) < 0 ||
        parse_bounded(m->argv[7], m->argl[7], 0, NODEPROTO_BILL_MAX_COUNT, &r->dropped) < 0)
        goto bad;
    /* The billed time follows from the duration: at least its whole milliseconds (one at
     * least), at most a rounding unit more. */
    int64_t floor_ms = (r->duration_us + 999) / 1000;
    if (floor_ms < 1) floor_ms = 1;
    if (parse_bounded(m->argv[4], m->argl[4], floor_ms, floor_ms + NODEPROTO_BILL_SLACK_MS,
                      &r->billed_ms) < 0)
        goto bad;
    return 0;
bad:
    memset(r, 0, sizeof *r);
    return NODEPROTO_EHEADER;
}
