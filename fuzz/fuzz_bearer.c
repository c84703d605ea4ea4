/* fuzz_bearer.c -- libFuzzer driver for the metrics listener's Authorization header check: any
 * bytes are judged without reading past the header, and the answer agrees with a plain reference
 * (scheme "Bearer" in any case, spaces, the token, trailing blanks only). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bearer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char token[] = "0123456789abcdef-token";

static int reference(const char *h)
{
    size_t len = strlen(h);
    if (len > BEARER_HEADER_MAX || strncasecmp(h, "Bearer ", 7) != 0) return 0;
    const char *p = h + 6;
    while (*p == ' ')
        p++;
    const char *end = h + len;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    return (size_t)(end - p) == sizeof token - 1 && memcmp(p, token, sizeof token - 1) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A header value as MHD hands it over: NUL-terminated, in an exact-size allocation so that
     * ASan catches a read past it. */
    char *h = malloc(size + 1);
    if (!h) return 0;
    memcpy(h, data, size);
    h[size] = 0;
    int got = bearer_check(h, token, sizeof token - 1);
    if (got != reference(h)) __builtin_trap();
    if (bearer_check(h, token, 0)) __builtin_trap(); /* an empty token matches nothing */
    free(h);
    return 0;
}
