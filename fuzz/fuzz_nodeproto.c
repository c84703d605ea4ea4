/* fuzz_nodeproto.c -- libFuzzer driver for the proxy<->node codec alone (nodeproto.c): the same
 * bytes as the node's request reader sees them (fed in pieces, bodies skipped as a caller would),
 * as the reply to each kind of request, and as an unsolicited message; whatever decodes must
 * encode again to bytes that decode to the same fields (LANES and LANE included). Seeds:
 * fuzz/corpus/nodeproto (the node_request, proxy_node and proxy_hello seeds). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodeproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A CRENAME that decodes encodes again to a request that decodes to the same fields. */
static void crename_roundtrip(const nodeproto_crename_t *a)
{
    if (a->newversion == 0 || a->keylen > NODEPROTO_MAX_ARG || a->newkeylen > NODEPROTO_MAX_ARG)
        __builtin_trap();
    buf_t b;
    nodeproto_req_t r;
    buf_init(&b);
    nodeproto_req_init(&r);
    if (nodeproto_put_crename(&b, a->key, a->keylen, a->index, a->version, a->newkey, a->newkeylen,
                              a->newversion) == 0) {
        nodeproto_crename_t z;
        if (nodeproto_req_feed(&r, &b) != NODEPROTO_REQ_DONE || buf_len(&b) != 0 ||
            nodeproto_crename_decode(&r, &z) != NULL || z.index != a->index ||
            z.version != a->version || z.newversion != a->newversion || z.keylen != a->keylen ||
            z.newkeylen != a->newkeylen || memcmp(z.key, a->key, a->keylen) != 0 ||
            memcmp(z.newkey, a->newkey, a->newkeylen) != 0)
            __builtin_trap();
    }
    nodeproto_req_free(&r);
    buf_free(&b);
}

/* A LANE message that decodes names a lane 1..63 in its one decimal text, and encodes again to a
 * message that decodes to the same fields. */
static void lane_roundtrip(const nodeproto_lane_t *a)
{
    if (a->lane < 1 || a->lane >= NODEPROTO_MAX_LANES || a->lane_len < 1 || a->lane_len > 2 ||
        a->lane_text[0] == '0')
        __builtin_trap();
    if (a->node_id < 0) return; /* encoded as unsigned: no round trip for a negative id */
    buf_t b;
    buf_init(&b);
    if (nodeproto_put_lane(&b, a) == 0) {
        nodeproto_msg_t z;
        nodeproto_lane_t y;
        if (nodeproto_parse_message(buf_head(&b), buf_len(&b), &z) != (ssize_t)buf_len(&b) ||
            nodeproto_lane_decode(&z, &y) != 0 || y.node_id != a->node_id || y.lane != a->lane ||
            y.lane_len != a->lane_len || memcmp(y.lane_text, a->lane_text, a->lane_len) != 0 ||
            y.instance_len != a->instance_len || y.proof_len != a->proof_len ||
            memcmp(y.instance, a->instance, a->instance_len) != 0 ||
            memcmp(y.proof, a->proof, a->proof_len) != 0)
            __builtin_trap();
    }
    buf_free(&b);
}

/* The request reader, fed `step` bytes at a time. */
static void requests(const char *p, size_t size, size_t step)
{
    nodeproto_req_t r;
    buf_t in;
    nodeproto_req_init(&r);
    buf_init(&in);
    size_t off = 0, body_left = 0;
    for (int rounds = 0; rounds < 100000; rounds++) {
        if (body_left) {
            size_t take = buf_len(&in) < body_left ? buf_len(&in) : body_left;
            buf_consume(&in, take);
            body_left -= take;
            if (body_left == 0) nodeproto_req_body_done(&r);
        }
        if (!body_left) {
            int rc = nodeproto_req_feed(&r, &in);
            if (rc < 0) {
                if (!nodeproto_strerror(rc)[0]) __builtin_trap();
                break;
            }
            if (rc == NODEPROTO_REQ_BODY) {
                if (r.body_len < 0 || r.body_len > NODEPROTO_MAX_BODY) __builtin_trap();
                body_left = (size_t)r.body_len;
                if (!body_left) nodeproto_req_body_done(&r);
                continue;
            }
            if (rc == NODEPROTO_REQ_DONE) {
                if (r.nargs > NODEPROTO_REQ_KEEP_ARGS) __builtin_trap();
                for (int i = 0; i < r.nargs; i++)
                    if (r.argl[i] > NODEPROTO_MAX_ARG || r.argv[i][r.argl[i]] != 0)
                        __builtin_trap();
                nodeproto_cset_t c;
                uint32_t index;
                uint64_t version;
                if (nodeproto_req_is(&r, "CSET") && !nodeproto_cset_decode(&r, &c)) {
                    if (c.d < 1 || c.d + c.p > EC_MAX_CHUNKS || c.index >= c.d + c.p)
                        __builtin_trap();
                }
                if (r.nargs >= 4) nodeproto_chunk_id_decode(&r, &index, &version);
                nodeproto_crename_t rn;
                if (nodeproto_req_is(&r, "CRENAME") && !nodeproto_crename_decode(&r, &rn))
                    crename_roundtrip(&rn);
                unsigned lanes;
                if (nodeproto_req_is(&r, "LANES") && !nodeproto_lanes_decode(&r, &lanes) &&
                    (lanes < 1 || lanes > NODEPROTO_MAX_LANES))
                    __builtin_trap();
                nodeproto_req_reset(&r);
                continue;
            }
        }
        if (off == size) break;
        size_t n = size - off < step ? size - off : step;
        buf_append(&in, p + off, n);
        off += n;
    }
    buf_free(&in);
    nodeproto_req_free(&r);
}

/* A reply re-encoded from its fields must parse to the same fields. */
static void reencode(nodeproto_cmd_t cmd, const nodeproto_reply_t *a)
{
    buf_t b;
    buf_init(&b);
    switch (a->kind) {
    case NODEPROTO_REPLY_CHUNK:
        nodeproto_put_chunk_header(&b, a->crc, a->body_len);
        break;
    case NODEPROTO_REPLY_PIECE:
        nodeproto_put_piece_header(&b, a->crc, a->tail_crc, a->body_len);
        break;
    case NODEPROTO_REPLY_STATS:
        if (a->stats[0] < 0 || a->stats[1] < 0 || a->stats[2] < 0 || a->stats[3] < 0) goto out;
        nodeproto_put_stats(&b, (uint64_t)a->stats[0], (uint64_t)a->stats[1], (uint64_t)a->stats[2],
                            (uint64_t)a->stats[3]);
        break;
    case NODEPROTO_REPLY_BULK:
        nodeproto_put_inventory_header(&b, a->body_len);
        break;
    default:
        goto out;
    }
    nodeproto_reply_t z;
    if (nodeproto_parse_reply(buf_head(&b), buf_len(&b), cmd, &z) != (ssize_t)buf_len(&b) ||
        z.kind != a->kind || z.crc != a->crc || z.tail_crc != a->tail_crc ||
        z.body_len != a->body_len || memcmp(z.stats, a->stats, sizeof z.stats) != 0)
        __builtin_trap();
out:
    buf_free(&b);
}

static void replies(const char *p, size_t size)
{
    for (int cmd = NODEPROTO_PING; cmd <= NODEPROTO_LANES; cmd++) {
        nodeproto_reply_t rep;
        ssize_t n = nodeproto_parse_reply(p, size, (nodeproto_cmd_t)cmd, &rep);
        if (n > (ssize_t)size) __builtin_trap();
        if (n <= 0) continue;
        if (((rep.kind == NODEPROTO_REPLY_CHUNK || rep.kind == NODEPROTO_REPLY_PIECE) &&
             rep.body_len > (size_t)NODEPROTO_MAX_BODY) ||
            (rep.kind == NODEPROTO_REPLY_BULK && rep.body_len > NODEPROTO_INVENTORY_MAX))
            __builtin_trap();
        /* Every shorter prefix needs more: a reply is never taken half-read. */
        nodeproto_reply_t tmp;
        if (nodeproto_parse_reply(p, (size_t)n - 1, (nodeproto_cmd_t)cmd, &tmp) != 0)
            __builtin_trap();
        reencode((nodeproto_cmd_t)cmd, &rep);
        if (rep.kind == NODEPROTO_REPLY_CHUNK || rep.kind == NODEPROTO_REPLY_PIECE ||
            rep.kind == NODEPROTO_REPLY_BULK)
            nodeproto_body_in_buffer(p + n, size - (size_t)n, rep.body_len);
    }
}

static void messages(const char *p, size_t size)
{
    nodeproto_is_message(p, size);
    nodeproto_msg_t m;
    for (int relay = 0; relay < 2; relay++) {
        ssize_t n =
            relay ? nodeproto_parse_relay(p, size, &m) : nodeproto_parse_message(p, size, &m);
        if (n > (ssize_t)size) __builtin_trap();
        if (n <= 0) continue;
        if (m.argc < 1 || m.argc > NODEPROTO_MSG_MAX_ARGS) __builtin_trap();
        nodeproto_hello_t h;
        if (nodeproto_hello_decode(&m, &h) == 0 && h.node_id >= 0 && h.mem_limit >= 0 &&
            h.mem_used >= 0 && h.chunks >= 0 && h.invocation >= 0) {
            buf_t b;
            buf_init(&b);
            nodeproto_put_hello(&b, &h);
            nodeproto_msg_t z;
            nodeproto_hello_t y;
            if (nodeproto_parse_message(buf_head(&b), buf_len(&b), &z) != (ssize_t)buf_len(&b) ||
                nodeproto_hello_decode(&z, &y) != 0 || y.node_id != h.node_id ||
                y.mem_limit != h.mem_limit || y.invocation != h.invocation ||
                y.instance_len != h.instance_len || y.proof_len != h.proof_len ||
                y.has_epoch != h.has_epoch || y.epoch != h.epoch)
                __builtin_trap();
            buf_free(&b);
        }
        nodeproto_backupdone_t bd;
        nodeproto_backupdone_decode(&m, &bd);
        nodeproto_lane_t l;
        if (nodeproto_lane_decode(&m, &l) == 0) lane_roundtrip(&l);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks the piece size, so splits at odd places get explored. The seeds of
     * the server-level targets start either with it (node_request) or with RESP (proxy_node,
     * proxy_hello): every parser sees the input both with and without it. */
    size_t step = size ? (size_t)data[0] % 64 + 1 : 1;
    for (size_t skip = 0; skip < 2 && skip <= size; skip++) {
        const char *p = (const char *)data + skip;
        requests(p, size - skip, step);
        replies(p, size - skip);
        messages(p, size - skip);
    }
    return 0;
}
