/* route.h -- maps an HTTP method and URL path of the platform to an operation (pure, no I/O). */
#ifndef IC_PLATFORM_ROUTE_H
#define IC_PLATFORM_ROUTE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    ROUTE_INVOKE = 1,         /* POST /2015-03-31/functions/{name}/invocations */
    ROUTE_RUNTIME_NEXT,       /* GET  /i/{inst}/2018-06-01/runtime/invocation/next */
    ROUTE_RUNTIME_RESPONSE,   /* POST /i/{inst}/2018-06-01/runtime/invocation/{id}/response */
    ROUTE_RUNTIME_ERROR,      /* POST /i/{inst}/2018-06-01/runtime/invocation/{id}/error */
    ROUTE_RUNTIME_INIT_ERROR, /* POST /i/{inst}/2018-06-01/runtime/init/error */
    ROUTE_ADMIN_STATS,        /* GET  /admin/stats */
    ROUTE_ADMIN_INSTANCES,    /* GET  /admin/instances */
    ROUTE_ADMIN_RECLAIM,      /* POST /admin/reclaim */
    ROUTE_ADMIN_FREEZE,       /* POST /admin/freeze */
    ROUTE_ADMIN_THAW,         /* POST /admin/thaw */
    /* The Lambda control plane (control.c); name as for ROUTE_INVOKE. */
    ROUTE_FN_LIST,               /* GET    /2015-03-31/functions[/] */
    ROUTE_FN_CREATE,             /* POST   /2015-03-31/functions[/] */
    ROUTE_FN_GET,                /* GET    /2015-03-31/functions/{name} */
    ROUTE_FN_DELETE,             /* DELETE /2015-03-31/functions/{name} */
    ROUTE_FN_CONFIG_GET,         /* GET    /2015-03-31/functions/{name}/configuration */
    ROUTE_FN_CONFIG_PUT,         /* PUT    /2015-03-31/functions/{name}/configuration */
    ROUTE_FN_CODE_PUT,           /* PUT    /2015-03-31/functions/{name}/code */
    ROUTE_FN_CONCURRENCY_PUT,    /* PUT    /2017-10-31/functions/{name}/concurrency */
    ROUTE_FN_CONCURRENCY_DELETE, /* DELETE /2017-10-31/functions/{name}/concurrency */
    ROUTE_FN_EVENT_CONFIG_PUT,   /* PUT    /2019-09-25/functions/{name}/event-invoke-config */
    ROUTE_FN_EVENT_CONFIG_GET,   /* GET    /2019-09-25/functions/{name}/event-invoke-config */
    ROUTE_ACCOUNT_SETTINGS,      /* GET    /2016-08-19/account-settings[/] */
    ROUTE_FN_TAGS_GET,           /* GET    /2017-03-31/tags/{arn} */
    ROUTE_FN_TAGS_POST,          /* POST   /2017-03-31/tags/{arn} */
    ROUTE_FN_TAGS_DELETE,        /* DELETE /2017-03-31/tags/{arn}?tagKeys=K&tagKeys=... */
} route_kind_t;

/* Whether kind is one of the control plane's. */
#define ROUTE_IS_CONTROL(k) ((k) >= ROUTE_FN_LIST && (k) <= ROUTE_FN_TAGS_DELETE)

typedef enum {
    ROUTE_MATCH = 0,
    ROUTE_NOT_FOUND = -1,   /* no such path: 404 */
    ROUTE_BAD_METHOD = -2,  /* known path, wrong method: 405 */
    ROUTE_BAD_REQUEST = -3, /* known shape, invalid part (bad instance id, bad name): 400 */
} route_result_t;

/* Hard limits on path parts. */
#define ROUTE_MAX_PATH 1024
#define ROUTE_MAX_NAME 64 /* Lambda's limit on a function name */
#define ROUTE_MAX_QUALIFIER 128
#define ROUTE_MAX_REQUEST_ID 64

/* Pointers point into the path given to route_parse. */
typedef struct {
    route_kind_t kind;
    uint64_t instance; /* runtime routes */
    const char *name;  /* ROUTE_INVOKE: function name with any ARN prefix and qualifier removed */
    size_t name_len;
    const char *qualifier; /* ROUTE_INVOKE: ":QUALIFIER" suffix of the name, if any (else NULL) */
    size_t qualifier_len;
    const char *request_id; /* ROUTE_RUNTIME_RESPONSE / ROUTE_RUNTIME_ERROR */
    size_t request_id_len;
} route_t;

/* Parses method (e.g. "GET") and the path part of a URL (anything from '?' on is ignored).
 * Fills *out on ROUTE_MATCH; on ROUTE_BAD_METHOD out->kind still names the route. */
route_result_t route_parse(const char *method, const char *path, size_t len, route_t *out);

/* Whether an Invoke request carries a SigV4 signature of the expected shape for key_id: an
 * Authorization header "AWS4-HMAC-SHA256 Credential=<key_id>/<YYYYMMDD>/<region>/lambda/
 * aws4_request, SignedHeaders=<...;host;...;x-amz-date...>, Signature=<64 hex digits>" and an
 * X-Amz-Date of the same day (YYYYMMDDTHHMMSSZ). The signature itself is not recomputed: the
 * platform holds no secret; this tells a signed client from an unsigned one, and which key. */
int route_sigv4_ok(const char *authorization, const char *amz_date, const char *key_id);

#endif
