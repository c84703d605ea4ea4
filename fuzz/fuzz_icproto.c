/* fuzz_icproto.c -- libFuzzer driver for the large-object codec alone (icproto.c): the bytes as an
 * ICGET reply fed in pieces to the library's decoder, and as commands whose arguments go through
 * the proxy's ICSET/ICGET/ICGETCHUNKS/ICREPAIR decoders; a decoded ICSET header must encode back
 * to the same fields. Seeds: fuzz/corpus/icproto (the client_reply and proxy_client seeds). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "icproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reply(const char *p, size_t size, size_t step)
{
    icproto_reply_t r;
    icproto_reply_init(&r, 1 << 16);
    size_t off = 0, have = 0;
    for (int rounds = 0; rounds < 100000; rounds++) {
        size_t used;
        icproto_reply_event_t ev;
        int e = icproto_reply_feed(&r, p + off, have - off, &used, &ev);
        if (used > have - off) __builtin_trap();
        off += used;
        if (e < 0) {
            if (!r.err) __builtin_trap(); /* every refusal says why */
            return;
        }
        if (e == ICPROTO_REPLY_DONE || e == ICPROTO_REPLY_MISS || e == ICPROTO_REPLY_ERROR) return;
        if (e == ICPROTO_REPLY_META) {
            /* The metadata re-encodes to what was parsed. */
            buf_t b;
            buf_init(&b);
            icproto_put_meta(&b, &r.meta);
            icproto_reply_t z;
            icproto_reply_init(&z, 1 << 16);
            size_t zu;
            icproto_reply_event_t zev;
            if (icproto_reply_feed(&z, buf_head(&b), buf_len(&b), &zu, &zev) !=
                    ICPROTO_REPLY_META ||
                zu != buf_len(&b) || memcmp(&z.meta, &r.meta, sizeof z.meta) != 0)
                __builtin_trap();
            buf_free(&b);
        }
        if (e == ICPROTO_REPLY_CHUNK && ev.state == ICPROTO_CHUNK_SENT) {
            if (ev.index < 0 || ev.index >= r.meta.n) __builtin_trap();
            if (size - off < r.meta.chunk_size) return;
            off += r.meta.chunk_size;
            if (have < off) have = off;
            icproto_reply_body_done(&r);
            continue;
        }
        if (e == ICPROTO_REPLY_NEED_MORE) {
            if (have == size) return;
            have = have + step < size ? have + step : size;
        }
    }
}

static void commands(const char *p, size_t size)
{
    buf_t in;
    buf_init(&in);
    buf_append(&in, p, size);
    resp_cmd_t cmd;
    resp_cmd_init(&cmd);
    char err[128];
    for (int rounds = 0; rounds < 64; rounds++) {
        int rc = resp_cmd_feed(&cmd, &in, &resp_default_limits, 4096);
        if (rc != RESP_CMD_DONE) break;
        int argc = cmd.nsmall;
        const char *const *argv = cmd.argv;
        const size_t *argl = cmd.argl;
        if (argc >= 1) {
            icproto_icset_t h;
            if (icproto_icset_decode(argc, argv, argl, &h, err, sizeof err) == 0) {
                if (h.n != h.d + h.p || h.n > EC_MAX_CHUNKS || h.d < 1) __builtin_trap();
                buf_t b;
                buf_init(&b);
                icproto_put_icset(&b, h.key, h.keylen, h.d, h.p, h.size, h.crc);
                for (int i = 0; i < h.n; i++) { /* empty chunks: the header declares them */
                    icproto_put_chunk_header(&b, 0);
                    icproto_put_chunk_end(&b);
                }
                resp_cmd_t c2;
                resp_cmd_init(&c2);
                icproto_icset_t h2;
                if (resp_cmd_feed(&c2, &b, &resp_default_limits, 1 << 16) != RESP_CMD_DONE ||
                    icproto_icset_decode(c2.nsmall, c2.argv, c2.argl, &h2, err, sizeof err) != 0 ||
                    h2.d != h.d || h2.p != h.p || h2.size != h.size ||
                    memcmp(h2.crc, h.crc, (size_t)h.n * sizeof h.crc[0]) != 0)
                    __builtin_trap();
                resp_cmd_free(&c2);
                buf_free(&b);
            }
            int all;
            icproto_icget_decode(argc, argv, argl, &all, err, sizeof err);
            uint64_t version, need, listed, index;
            uint32_t crc;
            if (icproto_icgetchunks_decode(argc, argv, argl, &version, &need, err, sizeof err) ==
                    0 &&
                icproto_icgetchunks_indexes(argc, argv, argl, EC_MAX_CHUNKS, need, &listed, err,
                                            sizeof err) == 0 &&
                (need < 1 || need > (uint64_t)__builtin_popcountll(listed)))
                __builtin_trap();
            icproto_icrepair_decode(argc, argv, argl, &version, &index, &crc, err, sizeof err);
        }
        resp_cmd_reset(&cmd);
    }
    resp_cmd_free(&cmd);
    buf_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* As fuzz_client_reply: the first byte picks the piece size and is also the reply's first
     * byte. The commands are read both from the start and after that byte. */
    size_t step = size ? (size_t)(data[0] % 7) + 1 : 1;
    reply((const char *)data, size, step);
    for (size_t skip = 0; skip < 2 && skip <= size; skip++)
        commands((const char *)data + skip, size - skip);
    return 0;
}
