/* http.c -- maps HTTP requests onto platform_* calls, with Lambda's error documents and limits.
 *
 * libmicrohttpd runs one thread per connection, so a handler may simply block: a runtime's
 * GET /next long poll waits for an invocation, and a RequestResponse invoker waits for the
 * result. Bodies are accumulated up to a per-route limit; anything beyond is drained and
 * answered with 413, never stored. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>
#include <openssl/crypto.h>

#include "log.h"
#include "route.h"

#define MAX_SMALL_BODY (64 * 1024) /* admin and init/error bodies */

struct platform_http {
    struct MHD_Daemon *daemon;
    platform_t *platform;
    char sigv4_key_id[128]; /* empty: Invoke requests need no signature */
    char sigv4_token[2048]; /* non-empty: X-Amz-Security-Token must be exactly this */
    char admin_token[PLATFORM_ADMIN_TOKEN_MAX + 1]; /* empty: the admin API is off */
    size_t admin_token_len;
};

typedef struct {
    route_result_t rr;
    route_t route;
    char name[ROUTE_MAX_NAME + 1];
    char request_id[ROUTE_MAX_REQUEST_ID + 1];
    int invocation_type; /* 0 RequestResponse, 1 Event, 2 DryRun, -1 invalid */
    int unsigned_invoke; /* signatures are required and this Invoke has none for the key */
    int admin;           /* under /admin: answered only with the admin token, whatever the route */
    size_t limit;
    int too_large;
    char *body;
    size_t len, cap;
} request_t;

/* ---- responses ---------------------------------------------------------------------------- */

/* Queues a response whose body is copied. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body,
                             size_t len, const char *error_type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (error_type) MHD_add_response_header(r, "X-Amzn-ErrorType", error_type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* An AWS-style error document: {"Type":"User","message":...,"__type":...}. */
static enum MHD_Result reply_aws_error(struct MHD_Connection *c, unsigned status, const char *type,
                                       const char *message)
{
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (o) {
        cJSON_AddStringToObject(o, "Type", status >= 500 ? "Service" : "User");
        cJSON_AddStringToObject(o, "message", message);
        cJSON_AddStringToObject(o, "__type", type);
        s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    enum MHD_Result ret = reply(c, status, s ? s : "{}", s ? strlen(s) : 2, type);
    free(s);
    return ret;
}

/* A Runtime API error document: {"errorMessage":...,"errorType":...}. */
static enum MHD_Result reply_runtime_error(struct MHD_Connection *c, unsigned status,
                                           const char *type, const char *message)
{
    char buf[512];
    int n =
        snprintf(buf, sizeof buf, "{\"errorMessage\":\"%s\",\"errorType\":\"%s\"}", message, type);
    return reply(c, status, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1, NULL);
}

static enum MHD_Result reply_json_owned(struct MHD_Connection *c, char *json)
{
    if (!json) return reply_aws_error(c, 500, "ServiceException", "out of memory");
    enum MHD_Result ret = reply(c, 200, json, strlen(json), NULL);
    free(json);
    return ret;
}

/* ---- handlers ----------------------------------------------------------------------------- */

static enum MHD_Result handle_invoke(platform_t *p, struct MHD_Connection *c, request_t *rq)
{
    const char *name = rq->name;
    char msg[256];
    if (rq->unsigned_invoke)
        return reply_aws_error(c, 403, "InvalidSignatureException",
                               "the request is not signed (SigV4) with the expected access key");
    if (rq->invocation_type < 0)
        return reply_aws_error(c, 400, "InvalidParameterValueException",
                               "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun");
    if (rq->too_large) {
        snprintf(msg, sizeof msg, "Request must be smaller than %zu bytes for the %s operation",
                 rq->limit, rq->invocation_type == 1 ? "InvokeAsync" : "InvokeFunction");
        return reply_aws_error(c, 413, "RequestEntityTooLargeException", msg);
    }
    const char *payload = rq->body ? rq->body : "{}";
    size_t len = rq->body ? rq->len : 2;
    cJSON *doc = cJSON_ParseWithLength(payload, len);
    if (!doc) {
        return reply_aws_error(c, 400, "InvalidRequestContentException",
                               "Could not parse request body into json: the payload is not "
                               "valid JSON");
    }
    cJSON_Delete(doc);
    platform_result_t res;
    enum MHD_Result ret;
    if (rq->invocation_type == 2) {
        /* DryRun: only checks that the function exists and the request is valid. */
        if (platform_function_exists(p, name, strlen(name))) return reply(c, 204, "", 0, NULL);
        res.status = PLATFORM_INVOKE_NOT_FOUND;
    } else {
        platform_invoke(p, name, strlen(name), payload, len, rq->invocation_type == 0, &res);
    }
    switch (res.status) {
    case PLATFORM_INVOKE_DONE: {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            res.body_len, res.body ? res.body : (void *)"", MHD_RESPMEM_MUST_FREE);
        if (!r) {
            platform_result_free(&res);
            return MHD_NO;
        }
        res.body = NULL;
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "X-Amz-Executed-Version", "$LATEST");
        MHD_add_response_header(r, "x-amzn-RequestId", res.request_id);
        if (res.function_error) MHD_add_response_header(r, "X-Amz-Function-Error", "Unhandled");
        ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    case PLATFORM_INVOKE_ACCEPTED: {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        MHD_add_response_header(r, "x-amzn-RequestId", res.request_id);
        ret = MHD_queue_response(c, 202, r);
        MHD_destroy_response(r);
        return ret;
    }
    case PLATFORM_INVOKE_NOT_FOUND:
        snprintf(msg, sizeof msg,
                 "Function not found: arn:aws:lambda:us-east-1:000000000000:function:%s", name);
        return reply_aws_error(c, 404, "ResourceNotFoundException", msg);
    case PLATFORM_INVOKE_THROTTLED:
        return reply_aws_error(c, 429, "TooManyRequestsException", "Rate Exceeded.");
    case PLATFORM_INVOKE_SHUTDOWN:
        return reply_aws_error(c, 503, "ServiceException", "the platform is shutting down");
    default:
        return reply_aws_error(c, 500, "ServiceException", "out of memory");
    }
}

static enum MHD_Result runtime_errno(struct MHD_Connection *c, int rc)
{
    switch (rc) {
    case -ENOENT:
        return reply_runtime_error(c, 410, "InstanceNotFound", "no such live instance");
    case -EINVAL:
        return reply_runtime_error(c, 400, "InvalidRequestID", "Invalid request ID");
    case -ESHUTDOWN:
        return reply_runtime_error(c, 503, "ShuttingDown", "the platform is shutting down");
    default:
        return reply_runtime_error(c, 500, "ServiceException", platform_strerror(rc));
    }
}

static enum MHD_Result handle_next(platform_t *p, struct MHD_Connection *c, request_t *rq)
{
    platform_event_t ev;
    int rc = platform_runtime_next(p, rq->route.instance, &ev);
    if (rc < 0) return runtime_errno(c, rc);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(ev.body_len, ev.body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(ev.body);
        return MHD_NO;
    }
    char deadline[32];
    snprintf(deadline, sizeof deadline, "%lld", (long long)ev.deadline_ms);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Lambda-Runtime-Aws-Request-Id", ev.request_id);
    MHD_add_response_header(r, "Lambda-Runtime-Deadline-Ms", deadline);
    MHD_add_response_header(r, "Lambda-Runtime-Invoked-Function-Arn", ev.function_arn);
    MHD_add_response_header(r, "Lambda-Runtime-Trace-Id", ev.trace_id);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle_result(platform_t *p, struct MHD_Connection *c, request_t *rq,
                                     int is_error)
{
    int rc;
    if (rq->too_large) {
        rc = platform_runtime_oversize(p, rq->route.instance, rq->request_id);
        if (rc < 0) return runtime_errno(c, rc);
        return reply_runtime_error(c, 413, "RequestEntityTooLarge",
                                   "the response is larger than the payload limit");
    }
    const char *body = rq->body ? rq->body : "";
    size_t len = rq->len;
    char fallback[256];
    if (is_error && len == 0) {
        /* An empty error document: build one from the error-type header. */
        const char *type =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Lambda-Runtime-Function-Error-Type");
        int n = snprintf(fallback, sizeof fallback,
                         "{\"errorMessage\":\"Unhandled\",\"errorType\":\"%s\"}",
                         type && !strpbrk(type, "\"\\") ? type : "Unhandled");
        body = fallback;
        len = (size_t)n < sizeof fallback ? (size_t)n : sizeof fallback - 1;
    }
    rc = platform_runtime_result(p, rq->route.instance, rq->request_id, body, len, is_error);
    if (rc < 0) return runtime_errno(c, rc);
    return reply(c, 202, "{\"status\":\"OK\"}", 15, NULL);
}

static int parse_instance_arg(struct MHD_Connection *c, uint64_t *out)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "instance");
    if (!v || !*v) return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end || v[0] == '-') return -1;
    *out = x;
    return 0;
}

static enum MHD_Result handle_admin(platform_t *p, struct MHD_Connection *c, request_t *rq)
{
    uint64_t id;
    char buf[64];
    int rc;
    switch (rq->route.kind) {
    case ROUTE_ADMIN_STATS:
        return reply_json_owned(c, platform_stats_json(p));
    case ROUTE_ADMIN_INSTANCES:
        return reply_json_owned(c, platform_instances_json(p));
    case ROUTE_ADMIN_RECLAIM: {
        const char *fn = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "function");
        if (parse_instance_arg(c, &id) == 0)
            rc = platform_reclaim_instance(p, id);
        else if (fn && *fn)
            rc = platform_reclaim_function(p, fn);
        else
            return reply_aws_error(c, 400, "InvalidParameterValueException",
                                   "give ?instance=ID or ?function=NAME");
        if (rc < 0) return reply_aws_error(c, 404, "ResourceNotFoundException", "not found");
        int n = snprintf(buf, sizeof buf, "{\"reclaimed\":%d}", rc);
        return reply(c, 200, buf, (size_t)n, NULL);
    }
    case ROUTE_ADMIN_FREEZE:
    case ROUTE_ADMIN_THAW:
        if (parse_instance_arg(c, &id) < 0)
            return reply_aws_error(c, 400, "InvalidParameterValueException", "give ?instance=ID");
        rc = platform_freeze(p, id, rq->route.kind == ROUTE_ADMIN_FREEZE);
        if (rc < 0) return reply_aws_error(c, 404, "ResourceNotFoundException", "no such instance");
        return reply(c, 200, "{\"ok\":true}", 11, NULL);
    default:
        return reply_aws_error(c, 404, "UnknownOperationException", "unknown path");
    }
}

/* Called once all of the body has arrived. */
static enum MHD_Result complete(platform_t *p, struct MHD_Connection *c, request_t *rq)
{
    switch (rq->rr) {
    case ROUTE_NOT_FOUND:
        return reply_aws_error(c, 404, "UnknownOperationException", "unknown path");
    case ROUTE_BAD_METHOD:
        return reply_aws_error(c, 405, "MethodNotAllowedException", "method not allowed");
    case ROUTE_BAD_REQUEST:
        if (rq->route.kind == ROUTE_INVOKE)
            return reply_aws_error(c, 400, "InvalidParameterValueException",
                                   "invalid function name");
        return reply_runtime_error(c, 400, "InvalidRequest", "invalid instance or request id");
    case ROUTE_MATCH:
        break;
    }
    switch (rq->route.kind) {
    case ROUTE_INVOKE:
        return handle_invoke(p, c, rq);
    case ROUTE_RUNTIME_NEXT:
        return handle_next(p, c, rq);
    case ROUTE_RUNTIME_RESPONSE:
        return handle_result(p, c, rq, 0);
    case ROUTE_RUNTIME_ERROR:
        return handle_result(p, c, rq, 1);
    case ROUTE_RUNTIME_INIT_ERROR: {
        if (rq->too_large)
            return reply_runtime_error(c, 413, "RequestEntityTooLarge", "error document too large");
        int rc =
            platform_runtime_init_error(p, rq->route.instance, rq->body ? rq->body : "", rq->len);
        if (rc < 0) return runtime_errno(c, rc);
        return reply(c, 202, "{\"status\":\"OK\"}", 15, NULL);
    }
    default:
        return handle_admin(p, c, rq);
    }
}

/* The admin API can kill, freeze and thaw any instance, so it answers only a caller holding the
 * token: 403 when no token is configured (the API is off), 401 with WWW-Authenticate when the
 * Authorization header is missing or wrong. The comparison takes the same time whatever the
 * token's content (CRYPTO_memcmp after the length check; the length is not the secret). */
static enum MHD_Result admin_authorize(const platform_http_t *h, struct MHD_Connection *c,
                                       int *allowed)
{
    *allowed = 0;
    if (!h->admin_token_len)
        return reply_aws_error(c, 403, "AccessDeniedException",
                               "the admin API is off: start icplatform with --admin-token-file "
                               "FILE or IC_PLATFORM_ADMIN_TOKEN set, and send "
                               "'Authorization: Bearer <token>'");
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    static const char scheme[] = "Bearer ";
    if (auth && !strncasecmp(auth, scheme, sizeof scheme - 1)) {
        const char *tok = auth + sizeof scheme - 1;
        size_t len = strlen(tok);
        if (len == h->admin_token_len && CRYPTO_memcmp(tok, h->admin_token, len) == 0) {
            *allowed = 1;
            return MHD_YES;
        }
    }
    struct MHD_Response *r;
    static const char body[] =
        "{\"Type\":\"User\",\"message\":\"the admin API needs 'Authorization: "
        "Bearer <token>' with the platform's admin token\",\"__type\":"
        "\"UnauthorizedException\"}";
    r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "X-Amzn-ErrorType", "UnauthorizedException");
    MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ret = MHD_queue_response(c, 401, r);
    MHD_destroy_response(r);
    return ret;
}

/* First call for a request: route it and choose its body limit. */
static request_t *begin(const platform_http_t *h, struct MHD_Connection *c, const char *url,
                        const char *method)
{
    request_t *rq = calloc(1, sizeof *rq);
    if (!rq) return NULL;
    rq->rr = route_parse(method, url, strlen(url), &rq->route);
    rq->admin = !strncmp(url, "/admin/", 7) || !strcmp(url, "/admin");
    rq->limit = MAX_SMALL_BODY;
    if (rq->rr == ROUTE_MATCH && rq->route.kind == ROUTE_INVOKE) {
        memcpy(rq->name, rq->route.name, rq->route.name_len);
        const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Invocation-Type");
        if (!t || !strcmp(t, "RequestResponse"))
            rq->invocation_type = 0;
        else if (!strcmp(t, "Event"))
            rq->invocation_type = 1;
        else if (!strcmp(t, "DryRun"))
            rq->invocation_type = 2;
        else
            rq->invocation_type = -1;
        rq->limit =
            rq->invocation_type == 1 ? PLATFORM_MAX_EVENT_PAYLOAD : PLATFORM_MAX_SYNC_PAYLOAD;
        if (h->sigv4_key_id[0]) {
            const char *token =
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Security-Token");
            rq->unsigned_invoke =
                !route_sigv4_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
                                MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Date"),
                                h->sigv4_key_id) ||
                (h->sigv4_token[0] && (!token || strcmp(token, h->sigv4_token) != 0));
        }
    } else if (rq->rr == ROUTE_MATCH && (rq->route.kind == ROUTE_RUNTIME_RESPONSE ||
                                         rq->route.kind == ROUTE_RUNTIME_ERROR)) {
        memcpy(rq->request_id, rq->route.request_id, rq->route.request_id_len);
        rq->limit = PLATFORM_MAX_RESPONSE;
    }
    /* route_t points into url; only the copies above are used later. */
    rq->route.name = rq->route.request_id = rq->route.qualifier = NULL;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (n > rq->limit) rq->too_large = 1;
    }
    return rq;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **state)
{
    platform_http_t *h = cls;
    request_t *rq = *state;
    if (!rq) {
        rq = begin(h, c, url, method);
        if (!rq) return MHD_NO;
        *state = rq;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->too_large) return MHD_YES; /* drain */
        if (n > rq->limit - rq->len) {
            rq->too_large = 1;
            free(rq->body);
            rq->body = NULL;
            rq->len = rq->cap = 0;
            return MHD_YES;
        }
        if (rq->len + n > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 4096;
            while (cap < rq->len + n)
                cap *= 2;
            if (cap > rq->limit) cap = rq->limit;
            char *b = realloc(rq->body, cap);
            if (!b) return MHD_NO;
            rq->body = b;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload_data, n);
        rq->len += n;
        return MHD_YES;
    }
    if (rq->admin) {
        int allowed;
        enum MHD_Result ret = admin_authorize(h, c, &allowed);
        if (!allowed) return ret;
    }
    return complete(h->platform, c, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode code)
{
    request_t *rq = *state;
    if (!rq) return;
    free(rq->body);
    free(rq);
    *state = NULL;
}

void platform_http_require_sigv4(platform_http_t *h, const char *spec)
{
    const char *colon = spec ? strchr(spec, ':') : NULL;
    size_t kl = colon ? (size_t)(colon - spec) : (spec ? strlen(spec) : 0);
    snprintf(h->sigv4_key_id, sizeof h->sigv4_key_id, "%.*s", (int)kl, spec ? spec : "");
    snprintf(h->sigv4_token, sizeof h->sigv4_token, "%s", colon ? colon + 1 : "");
}

int platform_http_set_admin_token(platform_http_t *h, const char *token)
{
    size_t len = token ? strlen(token) : 0;
    if (len > PLATFORM_ADMIN_TOKEN_MAX) return -EINVAL;
    memcpy(h->admin_token, token ? token : "", len);
    h->admin_token[len] = 0;
    h->admin_token_len = len;
    return 0;
}

int platform_http_start(platform_t *p, const char *host, int port, platform_http_t **out,
                        int *bound_port)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0 || !ai) {
        log_error("http host=%s error=\"%s\"", host, gai_strerror(gai));
        return -EINVAL;
    }
    platform_http_t *h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        return -ENOMEM;
    }
    h->platform = p;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* No connection timeout: a long poll or a synchronous invocation may legitimately keep a
     * connection silent for the whole function timeout. */
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                                 ai->ai_addr, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)0,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->daemon) {
        free(h);
        return -EADDRINUSE;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    *bound_port = info ? info->port : port;
    *out = h;
    return 0;
}

void platform_http_stop(platform_http_t *h)
{
    if (!h) return;
    MHD_stop_daemon(h->daemon);
    OPENSSL_cleanse(h->admin_token, sizeof h->admin_token);
    free(h);
}
