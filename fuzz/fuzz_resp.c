/* fuzz_resp.c -- libFuzzer driver for the RESP header parser and the command reader (BIG hand-offs). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Small limits so the fuzzer reaches the limit checks with short inputs. */
    const resp_limits_t lim = {.max_bulk = 4096, .max_array = 64, .max_line = 128};
    if (size == 0) return 0;

    /* 1. Every header in the input, one after another, as a reply reader would walk them. */
    size_t off = 0;
    while (off < size) {
        resp_header_t h;
        ssize_t n = resp_parse_header((const char *)data + off, size - off, &lim, &h);
        if (n <= 0) break;
        if ((size_t)n > size - off) __builtin_trap();
        off += (size_t)n;
        if (h.type == RESP_BULK && h.n > 0) off += (size_t)h.n + 2 < size - off ? (size_t)h.n + 2 : size - off;
    }

    /* 2. The command reader, fed in pieces whose sizes come from the first byte; big bodies are
     * consumed by the driver as a server would, then the reader resumes. */
    size_t step = (size_t)(data[0] % 16) + 1, small_max = (size_t)(data[0] >> 4) * 4;
    resp_cmd_t c;
    buf_t in;
    resp_cmd_init(&c);
    buf_init(&in);
    off = 1;
    int64_t body_left = -1;
    for (int rounds = 0; rounds < 100000; rounds++) {
        if (body_left >= 0) {
            size_t take = buf_len(&in) < (size_t)body_left ? buf_len(&in) : (size_t)body_left;
            buf_consume(&in, take);
            body_left -= (int64_t)take;
            if (body_left == 0) {
                resp_cmd_big_done(&c);
                body_left = -1;
                continue;
            }
        } else {
            int rc = resp_cmd_feed(&c, &in, &lim, small_max);
            if (rc < 0) break;
            if (rc == RESP_CMD_DONE) {
                for (int i = 0; i < c.nsmall; i++)
                    if (c.argv[i][c.argl[i]] != 0) __builtin_trap(); /* args stay terminated */
                resp_cmd_reset(&c);
                continue;
            }
            if (rc == RESP_CMD_BIG) {
                if (c.big_len <= (int64_t)small_max || c.big_len > lim.max_bulk) __builtin_trap();
                body_left = c.big_len;
                continue;
            }
        }
        if (off >= size) break;
        size_t n = size - off < step ? size - off : step;
        buf_append(&in, data + off, n);
        off += n;
    }
    resp_cmd_free(&c);
    buf_free(&in);

    /* 3. Number parsing on the raw bytes. */
    int64_t v;
    uint64_t u;
    resp_parse_i64((const char *)data, size, &v);
    resp_parse_u64((const char *)data, size, &u);
    return 0;
}
