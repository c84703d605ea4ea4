/* fuzz_wbjournal.c -- libFuzzer driver for the write-behind journal's line parser
 * (wbjournal.c): any bytes are judged without reading past them, and a line that parses formats
 * back to the same bytes (the codec has one spelling per record). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wbjournal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1);
    char *key = malloc(WBJ_KEY_MAX);
    char *out = malloc(WBJ_LINE_MAX + 1);
    if (!in || !key || !out) goto out;
    memcpy(in, data, size);
    wbj_rec_t rec;
    if (wbj_parse(in, size, &rec, key, WBJ_KEY_MAX) == 0) {
        int n = wbj_format(&rec, out, WBJ_LINE_MAX + 1);
        if (n < 1 || (size_t)n != size + 1 || memcmp(out, in, size) || out[size] != '\n')
            __builtin_trap();
    }
out:
    free(in);
    free(key);
    free(out);
    return 0;
}
