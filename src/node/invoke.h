/* invoke.h -- the Lambda Invoke API from inside a node: one Event invocation, used by a backup to
 * run the "backup-peer" event on another instance of the node's own function. Plain HTTP over
 * the node's own client (runtime.c); no request signing, so it serves the local platform (or an
 * unsigned endpoint in front of Lambda). */
#ifndef NODE_INVOKE_H
#define NODE_INVOKE_H

#include <stddef.h>

/* Parses "http://host:port" (a trailing "/" is allowed; "http://" may be left out). 0 or -EINVAL.
 */
int invoke_parse_endpoint(const char *endpoint, size_t len, char *host, size_t hostlen, int *port);

/* POSTs payload to /2015-03-31/functions/<function>/invocations at endpoint with
 * X-Amz-Invocation-Type: Event, waiting at most timeout_ms. 0 when the platform answers 202;
 * otherwise -errno (-EPROTO for another status) with a one-line reason in err. */
int invoke_event(const char *endpoint, size_t endpoint_len, const char *function,
                 const char *payload, size_t payload_len, int timeout_ms, char *err, size_t errlen);

#endif
