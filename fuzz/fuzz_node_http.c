/* fuzz_node_http.c -- libFuzzer driver for the node's HTTP response parser: any input must give
 * a result, need-more or an error, and a parsed body must copy out within bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so any read past the end is caught by ASan. */
    char *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    http_response_t r;
    http_limits_t lim = {.max_header = 4096, .max_body = 1 << 16};
    ssize_t n = http_parse_response(buf, size, &lim, &r);
    if (n > 0) {
        if ((size_t)n > size || r.message_len != (size_t)n || r.body_len > lim.max_body) abort();
        char *body = malloc(r.body_len + 1);
        if (body) http_copy_body(buf, &r, body);
        free(body);
        size_t vlen;
        http_header(&r, "Lambda-Runtime-Aws-Request-Id", &vlen);
        /* Any prefix of a complete response must not be taken as complete. */
        http_response_t r2;
        if (n > 1 && http_parse_response(buf, (size_t)n - 1, &lim, &r2) > 0) abort();
    }
    free(buf);
    return 0;
}
