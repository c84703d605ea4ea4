/* fuzz_platform_functions.c -- libFuzzer driver for the control plane's parsers: CreateFunction,
 * UpdateFunctionConfiguration and UpdateFunctionCode bodies, zip checks (libzip on untrusted
 * bytes), the state file and base64. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "functions.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Input: the first byte picks the parser, the rest is its input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    fn_error_t e;
    fn_def_t d;
    unsigned char *zip = NULL;
    size_t zlen = 0;
    char arch[8] = "x86_64";
    switch (data[0] % 6) {
    case 0:
        fn_def_init(&d);
        if (fn_parse_create(in, len, &d, &zip, &zlen, &e) == 0) {
            if (zlen > FN_MAX_ZIP) __builtin_trap();
            fn_zip_check(zip, zlen, &e);
            cJSON_Delete(fn_config_json(&d, "us-east-1", "000000000000", 0));
        }
        fn_def_clear(&d);
        break;
    case 1:
        fn_def_init(&d);
        if (fn_parse_update_config(in, len, &d, &e) == 0 &&
            (d.memory_mb < FN_MEMORY_MIN || d.memory_mb > FN_MEMORY_MAX))
            __builtin_trap();
        fn_def_clear(&d);
        break;
    case 2:
        fn_parse_update_code(in, len, &zip, &zlen, arch, &e);
        break;
    case 3:
        fn_zip_check(data + 1, len, &e);
        break;
    case 4:
        if (fn_def_load_json(in, len, &d) == 0) {
            char *s = fn_def_save_json(&d);
            free(s);
            fn_def_clear(&d);
        }
        break;
    default:
        if (fn_base64_decode(in, len, &zip, &zlen) == 0 && zlen > len) __builtin_trap();
        break;
    }
    free(zip);
    return 0;
}
