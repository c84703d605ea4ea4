/* http_api.h -- the platform's HTTP front end (libmicrohttpd): Invoke, Runtime and admin APIs. */
#ifndef IC_PLATFORM_HTTP_H
#define IC_PLATFORM_HTTP_H

#include "platform.h"

typedef struct platform_http platform_http_t;

/* Connections accepted beyond max_connections + max_waiting (the instances' own budget) only to
 * be told 503 and closed; past these the library closes new connections at once. */
#define HTTP_OVERFLOW_CONNECTIONS 64

/* What the front end holds at once, and for how long (from the option table; see http_api.c). */
typedef struct {
    unsigned threads;              /* epoll threads serving connections */
    unsigned max_connections;      /* beyond: 503 ServiceException, then closed */
    unsigned max_waiting;          /* long polls + synchronous invocations waiting at once */
    int64_t connection_timeout_ms; /* idle connections, and request bodies, are cut after this */
} platform_http_limits_t;

/* Listens on host:port (port 0 picks a free one) for the platform p within limits (copied);
 * *bound_port gets the port. Nothing is served until platform_http_serve: make the settings
 * below first, so that no request is ever answered without them. 0 or a negative errno. */
int platform_http_create(platform_t *p, const char *host, int port,
                         const platform_http_limits_t *limits, platform_http_t **out,
                         int *bound_port);
/* Starts the serving threads. 0 or a negative errno. */
int platform_http_serve(platform_http_t *h);
/* Invoke requests need a SigV4 signature (route_sigv4_ok) for the key id of spec
 * "KEY_ID[:SESSION_TOKEN]", and with a token an X-Amz-Security-Token header equal to it: others
 * get 403 InvalidSignatureException. NULL or "" turns the check off. Call before
 * platform_http_serve. */
void platform_http_require_sigv4(platform_http_t *h, const char *spec);
/* The admin API's bearer token (a NUL-terminated copy is kept): /admin requests must carry
 * "Authorization: Bearer <token>" (else 401); NULL or "" turns the admin API off (403). Call before
 * platform_http_serve. 0, or -EINVAL if longer than PLATFORM_ADMIN_TOKEN_MAX. */
int platform_http_set_admin_token(platform_http_t *h, const char *token);
/* The control plane answering /2015-03-31/functions and friends (NULL: 404). Call before
 * platform_http_serve. */
struct control;
void platform_http_set_control(platform_http_t *h, struct control *control);
/* Stops listening and joins every thread. Call platform_shutdown first so that the waiter
 * threads blocked in long polls or synchronous invocations return. */
void platform_http_stop(platform_http_t *h);

#endif
