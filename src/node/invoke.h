/* invoke.h -- the Lambda Invoke API from inside a node: one Event invocation, used by a backup to
 * run the "backup-peer" event on another instance of the node's own function. A plain
 * http://host:port endpoint without signing (the local platform) goes over the node's own HTTP
 * client (runtime.c); HTTPS or SigV4 signing (AWS Lambda itself) through libcurl, loaded only
 * then (invoke_curl.c). */
#ifndef NODE_INVOKE_H
#define NODE_INVOKE_H

#include <stddef.h>

/* Parses "http://host:port" (a trailing "/" is allowed; "http://" may be left out). 0 or -EINVAL.
 */
int invoke_parse_endpoint(const char *endpoint, size_t len, char *host, size_t hostlen, int *port);

/* POSTs payload to /2015-03-31/functions/<function>/invocations at endpoint with
 * X-Amz-Invocation-Type: Event, waiting at most timeout_ms. sigv4 (NULL or "" for none) is
 * libcurl's signing spec, e.g. "aws:amz:us-east-1:lambda", with the credentials taken from
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. 0 when the platform answers
 * 202; otherwise -errno (-EPROTO for another status) with a one-line reason in err. */
int invoke_event(const char *endpoint, size_t endpoint_len, const char *function,
                 const char *sigv4, const char *payload, size_t payload_len, int timeout_ms,
                 char *err, size_t errlen);

/* The libcurl path of invoke_event() for a full URL. -ENOSYS when libcurl cannot be loaded. */
int invoke_event_curl(const char *url, const char *sigv4, const char *payload, size_t payload_len,
                      int timeout_ms, char *err, size_t errlen);

#endif
