/* fuzz_awscreds.c -- libFuzzer driver for the AWS credential parsers: the shared files' INI,
 * credential_process / IMDS / container JSON, ISO 8601 expiry and the address checks. Any bytes
 * parse within the limits, and whatever is accepted is well-formed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "awscreds_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_lookup(const char *text, size_t len, const char *section, const char *key)
{
    char out[64];
    int rc = awscreds_ini_lookup(text, len, section, key, out, sizeof out);
    if (rc == 1 && !memchr(out, 0, sizeof out)) __builtin_trap();
    if (rc < -1000 || rc > 1) __builtin_trap();
    (void)awscreds_ini_has_section(text, len, section);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    check_lookup(text, size, "default", "aws_access_key_id");
    check_lookup(text, size, "profile work", "region");
    check_lookup(text, size, "work", "credential_process");

    awscreds_t c;
    char err[256];
    if (awscreds_parse_json(text, size, &c, err, sizeof err) == 0) {
        if (!memchr(c.access_key_id, 0, sizeof c.access_key_id) || !c.access_key_id[0] ||
            !memchr(c.secret_access_key, 0, sizeof c.secret_access_key) ||
            !c.secret_access_key[0] || !memchr(c.session_token, 0, sizeof c.session_token) ||
            strchr(c.access_key_id, ':') || strpbrk(c.session_token, "\r\n "))
            __builtin_trap();
    } else if (!memchr(err, 0, sizeof err) || !err[0]) {
        __builtin_trap();
    }

    /* The string checks take NUL-terminated text. */
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    size_t n = strlen(s); /* the checks see the text up to the first NUL */
    int64_t ms;
    if (awscreds_parse_time(s, &ms) == 0 && ms < 0) __builtin_trap();
    if (awscreds_full_uri_allowed(s) && strncasecmp(s, "https://", 8) &&
        strncasecmp(s, "http://", 7))
        __builtin_trap();
    if (awscreds_is_ipv4(s) && (n > 15 || strspn(s, "0123456789.") != n)) __builtin_trap();
    if (awscreds_region_valid(s) && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
        __builtin_trap();
    free(s);
    return 0;
}
