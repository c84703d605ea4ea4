/* runtime.h -- a small blocking client of the Lambda Runtime API (one fresh connection per
 * call), the same code against AWS and the local platform. */
#ifndef NODE_RUNTIME_H
#define NODE_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http_response.h"

typedef struct {
    char host[256];
    int port;
    char prefix[512];   /* path before /2018-06-01, "" or "/i/<instance>" */
    int timeout_ms;     /* for posts; /next waits without limit */
    uint64_t posted_us; /* monotonic time the latest /response or /error post was answered */
} runtime_t;

typedef struct {
    char request_id[128];
    int64_t deadline_ms; /* Unix epoch milliseconds, 0 if the platform sent none */
    char *body;          /* NUL-terminated, owned by the caller: free() it */
    size_t body_len;
    uint64_t started_us; /* monotonic time /next answered: the invocation's start as billed */
} runtime_invocation_t;

/* Parses AWS_LAMBDA_RUNTIME_API: "host:port" optionally followed by a path prefix. 0 or -EINVAL. */
int runtime_init(runtime_t *rt, const char *api);

/* Long-polls /invocation/next. 0, or -errno (-EPROTO for a bad or non-200 answer). On success
 * inv->body is malloc'ed and owned by the caller. */
int runtime_next(runtime_t *rt, runtime_invocation_t *inv);
/* Posts the invocation's response (body is JSON). 0 or -errno. */
int runtime_respond(runtime_t *rt, const char *request_id, const char *body, size_t len);
/* Posts an invocation error or an init error (request_id NULL). 0 or -errno. */
int runtime_fail(runtime_t *rt, const char *request_id, const char *type, const char *message);

/* One HTTP/1.1 request on a fresh connection to host:port (path is the whole request target;
 * headers are complete lines, each ending in CRLF). timeout_ms bounds connecting and the whole
 * exchange (< 0: no limit on the response, 5 s on connecting). On success returns the HTTP status
 * and fills *resp, whose fields point into *raw, which the caller must buf_free(); else -errno
 * (-EPROTO for a malformed response) and nothing to free. The Runtime API calls and the node's
 * own Invoke call (invoke.c) go through here. */
int runtime_http_exchange(const char *host, int port, const char *method, const char *path,
                          const char *headers, const char *body, size_t body_len, int timeout_ms,
                          http_response_t *resp, buf_t *raw);

#endif
