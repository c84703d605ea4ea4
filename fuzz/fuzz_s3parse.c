/* fuzz_s3parse.c -- libFuzzer driver for the backing store's S3 response parsing (s3parse.c):
 * any bytes as an error document, an ETag header value and a Content-Range value are read
 * without going past them, and what comes out keeps its promises (NUL-terminated within its
 * buffer; an ETag quoted and printable; a range ordered). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so that ASan catches a read past the input. */
    char *in = malloc(size ? size : 1);
    if (!in) return 0;
    memcpy(in, data, size);
    char code[16], msg[40];
    if (s3_error_parse(in, size, code, sizeof code, msg, sizeof msg) == 0) {
        if (!code[0] || strlen(code) >= sizeof code || strlen(msg) >= sizeof msg) __builtin_trap();
        for (const char *p = msg; *p; p++)
            if ((unsigned char)*p < 0x20) __builtin_trap();
    } else if (code[0] || msg[0]) {
        __builtin_trap();
    }
    char id[24];
    if (s3_xml_text(in, size, "UploadId", id, sizeof id) == 0 &&
        (!id[0] || strlen(id) >= sizeof id))
        __builtin_trap();
    char etag[S3_ETAG_MAX + 1];
    if (s3_etag_parse(in, size, etag, sizeof etag) == 0) {
        size_t l = strlen(etag);
        if (l < 2 || etag[0] != '"' || etag[l - 1] != '"') __builtin_trap();
    }
    uint64_t first, last, total;
    if (s3_content_range_parse(in, size, &first, &last, &total) == 0 &&
        (last < first || total <= last))
        __builtin_trap();
    free(in);
    return 0;
}
