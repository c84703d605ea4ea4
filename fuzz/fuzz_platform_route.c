/* fuzz_platform_route.c -- libFuzzer driver for the platform's URL router, event-kind reader
 * and SigV4 header check. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Input: first byte picks the method, the rest is the path (not NUL-terminated) and, as a
 * second reading, an event payload. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
    if (size < 1) return 0;
    const char *method = methods[data[0] & 3];
    const char *path = (const char *)data + 1;
    size_t len = size - 1;
    route_t r;
    route_result_t rr = route_parse(method, path, len, &r);
    if (rr == ROUTE_MATCH) {
        if (r.kind == ROUTE_INVOKE || (ROUTE_IS_CONTROL(r.kind) && r.name)) {
            if (r.name < path || r.name + r.name_len > path + len || r.name_len == 0 ||
                r.name_len > ROUTE_MAX_NAME)
                __builtin_trap();
        }
        if (r.request_id && (r.request_id < path || r.request_id + r.request_id_len > path + len ||
                             r.request_id_len > ROUTE_MAX_REQUEST_ID))
            __builtin_trap();
    }
    billing_kind_t k = billing_kind_of_event(path, len);
    if (k >= BILLING_KIND_COUNT) __builtin_trap();
    /* Headers arrive NUL-terminated: the input up to a '\n' is X-Amz-Date, the rest the
     * Authorization header, checked against a fixed key. */
    char *text = malloc(len + 1);
    if (!text) return 0;
    memcpy(text, path, len);
    text[len] = 0;
    char *nl = memchr(text, '\n', len);
    const char *date = text, *auth = "";
    if (nl) {
        *nl = 0;
        auth = nl + 1;
    }
    (void)route_sigv4_ok(auth, date, "AKIDFUZZ");
    free(text);
    return 0;
}
