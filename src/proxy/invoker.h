/* invoker.h -- the Lambda Invoke API over libcurl, on a thread of its own (invoker.c). */
#ifndef IC_PROXY_INVOKER_H
#define IC_PROXY_INVOKER_H

#include <stddef.h>
#include <stdint.h>

typedef struct server server_t;
typedef struct invoker invoker_t;

/* ---- invoker: Lambda Invoke API over libcurl, in its own thread ---- */
/* admin_token: the platform's admin API token, sent with the /admin/stats reads ("" reads none). */
invoker_t *invoker_start(server_t *srv, const char *endpoint, const char *sigv4, int64_t timeout_ms,
                         const char *admin_token);
/* Asynchronous Event invocation; the result comes back through node_invoke_result(). */
void invoker_invoke(invoker_t *inv, int node_id, const char *function, const char *payload);
/* Copies the latest platform stats JSON (fetched every second); "" if none. */
void invoker_platform_stats(invoker_t *inv, char *out, size_t cap);
/* Invoke answers 429 seen, and retries made (of 429 and 5xx answers), since start. */
void invoker_counters(invoker_t *inv, uint64_t *throttled, uint64_t *retries);
void invoker_stop(invoker_t *inv);

#endif
