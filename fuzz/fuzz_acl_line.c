/* fuzz_acl_line.c -- libFuzzer driver for icproxy's ACL file line parser: any bytes parse within
 * limits, a parsed user is well-formed, and checking a password against it stays defined. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    auth_user_t u;
    char err[256];
    int rc = auth_parse_line((const char *)data, size, &u, err, sizeof err);
    if (rc < 0) {
        if (!memchr(err, 0, sizeof err) || !err[0]) __builtin_trap();
        return 0;
    }
    if (rc != 1) return 0;
    size_t n = strnlen(u.name, sizeof u.name);
    if (n == 0 || n > AUTH_NAME_MAX) __builtin_trap();
    if (u.npass < 0 || u.npass > AUTH_PASSWORDS_MAX || (u.nopass && u.npass)) __builtin_trap();
    auth_t a = {.users = &u, .nusers = 1};
    const auth_user_t *got = auth_check(&a, u.name, n, (const char *)data, size);
    if (got && (!u.enabled || got != &u)) __builtin_trap();
    return 0;
}
