/* fuzz_resp_inline.c -- libFuzzer driver for the inline command splitter (Redis's sdssplitargs
 * rules): any line splits within limits, and each argument re-quoted splits back to itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feeds one buffer to a fresh reader; returns its rc and leaves the reader for the caller. */
static int feed(resp_cmd_t *c, buf_t *in, const char *p, size_t n, const resp_limits_t *lim)
{
    resp_cmd_init(c);
    buf_init(in);
    buf_append(in, p, n);
    return resp_cmd_feed(c, in, lim, 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const resp_limits_t lim = {.max_bulk = 4096, .max_array = 64, .max_line = 512};
    /* An inline line: never starts with '*' (that is RESP), ends at its first newline. */
    if (size == 0 || data[0] == '*' || data[0] == '\r' || data[0] == '\n') return 0;
    resp_cmd_t c, back;
    buf_t in, in2, quoted;
    int rc = feed(&c, &in, (const char *)data, size, &lim);
    if (rc == RESP_CMD_DONE) {
        if (c.argc != c.nsmall || c.argc > RESP_CMD_MAX_SMALL_ARGS) __builtin_trap();
        /* Every argument double-quoted with \xHH escapes for anything unusual. */
        buf_init(&quoted);
        buf_append(&quoted, "X", 1);
        for (int i = 0; i < c.nsmall; i++) {
            if (c.argv[i][c.argl[i]] != 0) __builtin_trap();
            buf_append(&quoted, " \"", 2);
            for (size_t k = 0; k < c.argl[i]; k++) {
                unsigned char ch = (unsigned char)c.argv[i][k];
                if (ch >= 'a' && ch <= 'z')
                    buf_append(&quoted, &c.argv[i][k], 1);
                else
                    buf_printf(&quoted, "\\x%02x", ch);
            }
            buf_append(&quoted, "\"", 1);
        }
        buf_append(&quoted, "\r\n", 2);
        const resp_limits_t big = {.max_bulk = 4096, .max_array = 64, .max_line = 1 << 20};
        int rc2 = feed(&back, &in2, buf_head(&quoted), buf_len(&quoted), &big);
        if (rc2 == RESP_CMD_DONE) {
            if (back.nsmall != c.nsmall + 1) __builtin_trap();
            for (int i = 0; i < c.nsmall; i++)
                if (back.argl[i + 1] != c.argl[i] ||
                    memcmp(back.argv[i + 1], c.argv[i], c.argl[i]) != 0)
                    __builtin_trap();
        } else if (rc2 != RESP_ETOOBIG) {
            __builtin_trap(); /* a quoted line of well-formed escapes always splits */
        }
        resp_cmd_free(&back);
        buf_free(&in2);
        buf_free(&quoted);
    } else if (rc != RESP_CMD_NEED_MORE && rc != RESP_EQUOTES && rc != RESP_ETOOBIG) {
        __builtin_trap();
    }
    resp_cmd_free(&c);
    buf_free(&in);
    return 0;
}
