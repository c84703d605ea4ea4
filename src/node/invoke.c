/* invoke.c -- an Event invocation through the Lambda Invoke API (see invoke.h). */
#include "invoke.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net.h"
#include "runtime.h"

int invoke_parse_endpoint(const char *endpoint, size_t len, char *host, size_t hostlen, int *port)
{
    if (len >= 7 && memcmp(endpoint, "http://", 7) == 0) {
        endpoint += 7;
        len -= 7;
    }
    if (len > 0 && endpoint[len - 1] == '/') len--;
    char hostport[300];
    if (len == 0 || len >= sizeof hostport || memchr(endpoint, '/', len)) return -EINVAL;
    memcpy(hostport, endpoint, len);
    hostport[len] = 0;
    if (net_split_hostport(hostport, host, hostlen, port) < 0 || !host[0] || *port <= 0 ||
        *port > 65535)
        return -EINVAL;
    return 0;
}

/* Function names go into the request path: Lambda allows letters, digits, '-', '_' and, in an
 * ARN or with a qualifier, ':'. */
static int function_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 170) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '-' || ch == '_' || ch == ':' || ch == '.' || ch == '$'))
            return 0;
    }
    return 1;
}

int invoke_event(const char *endpoint, size_t endpoint_len, const char *function,
                 const char *sigv4, const char *payload, size_t payload_len, int timeout_ms,
                 char *err, size_t errlen)
{
    if (!function || !function_name_ok(function)) {
        snprintf(err, errlen, "no valid function name (AWS_LAMBDA_FUNCTION_NAME)");
        return -EINVAL;
    }
    if ((sigv4 && sigv4[0]) || (endpoint_len >= 8 && memcmp(endpoint, "https://", 8) == 0)) {
        char url[700];
        size_t el = endpoint_len;
        if (el && endpoint[el - 1] == '/') el--;
        if (el > 400 || memchr(endpoint, ' ', el)) {
            snprintf(err, errlen, "invoke endpoint too long or malformed");
            return -EINVAL;
        }
        snprintf(url, sizeof url, "%s%.*s/2015-03-31/functions/%s/invocations",
                 memmem(endpoint, el, "://", 3) ? "" : "http://", (int)el, endpoint, function);
        return invoke_event_curl(url, sigv4, payload, payload_len, timeout_ms, err, errlen);
    }
    char host[256];
    int port;
    if (invoke_parse_endpoint(endpoint, endpoint_len, host, sizeof host, &port) < 0) {
        snprintf(err, errlen, "invoke endpoint '%.*s' is not http://host:port",
                 (int)(endpoint_len < 100 ? endpoint_len : 100), endpoint);
        return -EINVAL;
    }
    char path[256];
    snprintf(path, sizeof path, "/2015-03-31/functions/%s/invocations", function);
    http_response_t resp;
    buf_t raw;
    int rc = runtime_http_exchange(host, port, "POST", path,
                                   "Content-Type: application/json\r\n"
                                   "X-Amz-Invocation-Type: Event\r\n",
                                   payload, payload_len, timeout_ms, &resp, &raw);
    if (rc < 0) {
        snprintf(err, errlen, "invoke %s at %s:%d: %s", function, host, port, strerror(-rc));
        return rc;
    }
    buf_free(&raw);
    if (rc != 202) {
        snprintf(err, errlen, "invoke %s at %s:%d: HTTP status %d", function, host, port, rc);
        return -EPROTO;
    }
    return 0;
}
