/* http_api.c -- maps HTTP requests onto platform_* calls, with Lambda's error documents and limits.
 *
 * Threads. libmicrohttpd serves every connection from a small pool of epoll threads, so an idle
 * or hostile connection costs a socket and a little memory, never a thread: thousands of them
 * cannot starve the Invoke API (one thread per connection could, and did). A request that waits
 * by nature (a runtime's GET /next long poll, a RequestResponse invocation waiting for its
 * function) is suspended (MHD_suspend_connection) and handed to a waiter thread of its own that
 * makes the blocking platform_* call and resumes the connection with the result. Those threads
 * are bounded by --max-waiting, which the platform's own capacity sizes (one long poll per
 * instance, one synchronous invoker per busy instance), not by what a client opens; the platform
 * state machine keeps its plain blocking calls. Beyond the bound a waiting request is refused
 * (429 for an invocation, 503 for a long poll).
 *
 * Time limits. --connection-timeout cuts a connection that stays silent that long (an idle
 * keep-alive connection, half a request, junk without a line end, a stalled reader), and a
 * request's body must be whole within the same time of its start (a body trickling in forever is
 * never idle). A suspended connection is not timed out by libmicrohttpd, which is exactly right
 * for the long poll (an idle instance may wait for minutes) and for a synchronous invocation
 * (it may run for the whole function timeout): neither is cut however long it waits.
 *
 * Bounds. While more than --max-connections connections are open, a request gets 503
 * ServiceException and its connection is closed, so a client learns why instead of seeing a
 * silent reset; except a Runtime API request (under /i/): it comes from one of the platform's own
 * instances, which a refused long poll would kill, so the instances keep a budget of their own
 * on top (--max-waiting connections, plus a small overflow for the 503 answers). Past the sum the
 * library closes new connections at once. Headers fit the per-connection memory
 * (HTTP_MEMORY_LIMIT: beyond, libmicrohttpd answers 431 or closes); bodies are accumulated up to
 * a per-route limit, anything beyond is drained and answered with 413, never stored. */
#include "http_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "clock.h"
#include "control.h"
#include "functions.h"
#include "log.h"
#include "route.h"

#define MAX_SMALL_BODY (64 * 1024) /* admin and init/error bodies */
/* Per-connection memory of libmicrohttpd: the request line and headers must fit in it, beside
 * the read and write buffers. 32 KiB takes a SigV4 Authorization and a session token with room
 * to spare; a bigger header block is refused (431) or the connection closed. */
#define HTTP_MEMORY_LIMIT (32 * 1024)
/* A waiter thread makes one platform_* call: frames of a few tens of KiB (placement looks at up
 * to 1024 instances on the stack), with room for a sanitizer build's redzones. */
#define WAITER_STACK (512 * 1024)

struct platform_http {
    struct MHD_Daemon *daemon;
    platform_t *platform;
    platform_http_limits_t limits;
    atomic_uint connections; /* open now (MHD_OPTION_NOTIFY_CONNECTION) */
    pthread_mutex_t wait_lock;
    pthread_cond_t wait_cond; /* signalled when waiting drops to 0 */
    unsigned waiting;         /* waiter threads running (<= limits.max_waiting) */
    int stopping;             /* platform_http_stop began: no new waiter */
    char sigv4_key_id[128];   /* empty: Invoke requests need no signature */
    char sigv4_token[2048];   /* non-empty: X-Amz-Security-Token must be exactly this */
    char admin_token[PLATFORM_ADMIN_TOKEN_MAX + 1]; /* empty: the admin API is off */
    size_t admin_token_len;
    control_t *control; /* NULL: the control plane answers 404 */
    int lfd;            /* the listening socket, bound by platform_http_create */
    int ipv6;
};

typedef struct {
    route_result_t rr;
    route_t route;
    char name[ROUTE_MAX_NAME + 1];
    char request_id[ROUTE_MAX_REQUEST_ID + 1];
    int invocation_type; /* 0 RequestResponse, 1 Event, 2 DryRun, -1 invalid */
    int unsigned_invoke; /* signatures are required and this Invoke has none for the key */
    char trace_id[96];   /* X-Amzn-Trace-Id of an Invoke, if printable and short enough */
    int log_tail;        /* X-Amz-Log-Type: Tail */
    int admin;           /* under /admin: answered only with the admin token, whatever the route */
    size_t limit;
    int too_large;
    int over_limit;   /* the connection is beyond --max-connections: 503 and close */
    int64_t start_ms; /* when the request's headers arrived; the body must follow in time */
    char *body;
    size_t len, cap;
    /* A request that waits: suspended while a waiter thread makes the blocking call. The waiter
     * owns these fields from wait_start() until it resumes the connection; the handler reads
     * them only after (libmicrohttpd calls it again then). ANSWERED: the result was handed to
     * a response; libmicrohttpd can call the handler once more when that response could not be
     * queued (seen while the daemon stops), and the request must then close, not answer again
     * from an emptied result. */
    enum { WAIT_NONE, WAIT_RUNNING, WAIT_DONE, WAIT_ANSWERED } wait;
    int wait_rc;                   /* platform_runtime_next's result */
    platform_result_t wait_result; /* platform_invoke's (sync) */
    platform_event_t wait_event;   /* platform_runtime_next's event */
    platform_http_t *http;
    struct MHD_Connection *conn;
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

/* ---- waiting requests ----------------------------------------------------------------------- */

/* The waiter thread: makes the request's blocking call, then resumes its connection. After the
 * resume the request may be answered and freed at once, so nothing of it is touched after. */
static void *waiter_main(void *arg)
{
    request_t *rq = arg;
    platform_http_t *h = rq->http;
    struct MHD_Connection *c = rq->conn;
    if (rq->route.kind == ROUTE_INVOKE) {
        const char *payload = rq->body ? rq->body : "{}";
        size_t len = rq->body ? rq->len : 2;
        platform_invoke(h->platform, rq->name, strlen(rq->name), payload, len,
                        PLATFORM_INVOKE_SYNC | (rq->log_tail ? PLATFORM_INVOKE_TAIL : 0),
                        rq->trace_id[0] ? rq->trace_id : NULL, &rq->wait_result);
    } else {
        rq->wait_rc = platform_runtime_next(h->platform, rq->route.instance, &rq->wait_event);
    }
    rq->wait = WAIT_DONE;
    MHD_resume_connection(c);
    pthread_mutex_lock(&h->wait_lock);
    if (--h->waiting == 0) pthread_cond_broadcast(&h->wait_cond);
    pthread_mutex_unlock(&h->wait_lock);
    return NULL;
}

/* Suspends the connection and starts a waiter thread for rq (a sync invocation or a long poll).
 * Returns 0: the handler is called again once the connection is resumed, with rq->wait DONE and
 * the result in rq (also when no thread could start: then the result is an out-of-memory error).
 * Or -EAGAIN when --max-waiting requests wait already, -ESHUTDOWN when the front end stops: the
 * caller refuses this one. The connection is suspended before the thread starts, so the
 * thread's resume can never come first. */
static int wait_start(platform_http_t *h, struct MHD_Connection *c, request_t *rq)
{
    pthread_mutex_lock(&h->wait_lock);
    if (h->stopping || h->waiting >= h->limits.max_waiting) {
        int rc = h->stopping ? -ESHUTDOWN : -EAGAIN;
        pthread_mutex_unlock(&h->wait_lock);
        return rc;
    }
    h->waiting++;
    pthread_mutex_unlock(&h->wait_lock);
    rq->http = h;
    rq->conn = c;
    rq->wait = WAIT_RUNNING;
    MHD_suspend_connection(c);
    pthread_attr_t attr;
    pthread_t t;
    int rc = pthread_attr_init(&attr);
    if (rc == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, WAITER_STACK);
        rc = pthread_create(&t, &attr, waiter_main, rq);
        pthread_attr_destroy(&attr);
    }
    if (rc == 0) return 0;
    log_error("http waiter error=\"%s\"", strerror(rc));
    rq->wait_result.status = PLATFORM_INVOKE_NOMEM;
    rq->wait_rc = -ENOMEM;
    rq->wait = WAIT_DONE;
    MHD_resume_connection(c); /* answered when the library calls the handler again */
    pthread_mutex_lock(&h->wait_lock);
    if (--h->waiting == 0) pthread_cond_broadcast(&h->wait_cond);
    pthread_mutex_unlock(&h->wait_lock);
    return 0;
}

/* Beyond --max-connections: 503 ServiceException, and the connection closes once it is sent.
 * ServiceException, not TooManyRequestsException: Lambda's 429 says that the caller exceeded a
 * function's concurrency or its own request rate and is throttled, whereas running out of
 * connections is the service's own condition, which the AWS SDKs also retry with backoff. */
static enum MHD_Result reply_over_limit(platform_http_t *h, struct MHD_Connection *c)
{
    char msg[160];
    snprintf(msg, sizeof msg, "too many connections (more than %u open); try again later",
             h->limits.max_connections);
    log_info("http refused=connection reason=max-connections max_connections=%u",
             h->limits.max_connections);
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (o) {
        cJSON_AddStringToObject(o, "Type", "Service");
        cJSON_AddStringToObject(o, "message", msg);
        cJSON_AddStringToObject(o, "__type", "ServiceException");
        s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    if (!s) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "X-Amzn-ErrorType", "ServiceException");
    MHD_add_response_header(r, "Retry-After", "1");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, 503, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- handlers ----------------------------------------------------------------------------- */

/* Answers an invocation from its result (the body is taken over). */
static enum MHD_Result answer_invoke(struct MHD_Connection *c, const char *name,
                                     platform_result_t *res_in)
{
    platform_result_t res = *res_in;
    char msg[256];
    enum MHD_Result ret;
    switch (res.status) {
    case PLATFORM_INVOKE_DONE: {
        if (!res.body) {
            platform_result_free(&res);
            return reply_aws_error(c, 500, "ServiceException", "out of memory");
        }
        struct MHD_Response *r =
            MHD_create_response_from_buffer(res.body_len, res.body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
            platform_result_free(&res);
            return MHD_NO;
        }
        res.body = NULL;
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "X-Amz-Executed-Version", "$LATEST");
        MHD_add_response_header(r, "x-amzn-RequestId", res.request_id);
        if (res.function_error) MHD_add_response_header(r, "X-Amz-Function-Error", "Unhandled");
        if (res.log_tail) {
            /* The last 4 KB of the invocation's log, base64, as Lambda sends it. */
            size_t n = strlen(res.log_tail);
            char *b64 = malloc(4 * ((n + 2) / 3) + 1);
            if (b64) {
                EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)res.log_tail, (int)n);
                MHD_add_response_header(r, "X-Amz-Log-Result", b64);
                free(b64);
            }
        }
        free(res.log_tail);
        res.log_tail = NULL;
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
    case PLATFORM_INVOKE_THROTTLED: {
        /* Lambda's 429 names why: {"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded",
         * "Type":"User","message":"Rate Exceeded."}. */
        cJSON *o = cJSON_CreateObject();
        char *s = NULL;
        if (o) {
            if (res.throttle_reason) cJSON_AddStringToObject(o, "Reason", res.throttle_reason);
            cJSON_AddStringToObject(o, "Type", "User");
            cJSON_AddStringToObject(o, "message", "Rate Exceeded.");
            cJSON_AddStringToObject(o, "__type", "TooManyRequestsException");
            s = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
        }
        ret = reply(c, 429, s ? s : "{}", s ? strlen(s) : 2, "TooManyRequestsException");
        free(s);
        return ret;
    }
    case PLATFORM_INVOKE_PENDING:
        snprintf(msg, sizeof msg,
                 "The operation cannot be performed at this time. The function is currently in "
                 "the following state: Pending");
        return reply_aws_error(c, 409, "ResourceConflictException", msg);
    case PLATFORM_INVOKE_SHUTDOWN:
        return reply_aws_error(c, 503, "ServiceException", "the platform is shutting down");
    default:
        return reply_aws_error(c, 500, "ServiceException", "out of memory");
    }
}

static enum MHD_Result handle_invoke(platform_http_t *h, struct MHD_Connection *c, request_t *rq)
{
    platform_t *p = h->platform;
    const char *name = rq->name;
    char msg[256];
    if (rq->wait == WAIT_ANSWERED) return MHD_NO;
    if (rq->wait == WAIT_DONE) {
        rq->wait = WAIT_ANSWERED;
        platform_result_t res = rq->wait_result;
        memset(&rq->wait_result, 0, sizeof rq->wait_result);
        return answer_invoke(c, name, &res);
    }
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
    memset(&res, 0, sizeof res);
    if (rq->invocation_type == 2) {
        /* DryRun: only checks that the function exists and the request is valid. */
        if (platform_function_exists(p, name, strlen(name))) return reply(c, 204, "", 0, NULL);
        res.status = PLATFORM_INVOKE_NOT_FOUND;
    } else if (rq->invocation_type == 0) {
        /* RequestResponse: unknown functions are answered at once, the rest wait suspended. */
        if (!platform_function_exists(p, name, strlen(name))) {
            res.status = PLATFORM_INVOKE_NOT_FOUND;
            return answer_invoke(c, name, &res);
        }
        int rc = wait_start(h, c, rq);
        if (rc == 0) return MHD_YES;
        if (rc == -EAGAIN)
            log_warn("http refused=invoke reason=max-waiting max_waiting=%u",
                     h->limits.max_waiting);
        res.status = rc == -EAGAIN ? PLATFORM_INVOKE_THROTTLED : PLATFORM_INVOKE_SHUTDOWN;
    } else {
        platform_invoke(p, name, strlen(name), payload, len, 0,
                        rq->trace_id[0] ? rq->trace_id : NULL, &res);
    }
    return answer_invoke(c, name, &res);
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

/* GET /next: a long poll, so it waits suspended (wait_start); answered when resumed. */
static enum MHD_Result handle_next(platform_http_t *h, struct MHD_Connection *c, request_t *rq)
{
    if (rq->wait == WAIT_ANSWERED) return MHD_NO;
    if (rq->wait != WAIT_DONE) {
        int rc = wait_start(h, c, rq);
        if (rc == 0) return MHD_YES;
        if (rc == -EAGAIN) {
            log_warn("http refused=next instance=%llu reason=max-waiting max_waiting=%u",
                     (unsigned long long)rq->route.instance, h->limits.max_waiting);
            return reply_runtime_error(c, 503, "TooManyWaitingRequests",
                                       "the platform holds --max-waiting requests already");
        }
        return runtime_errno(c, rc);
    }
    rq->wait = WAIT_ANSWERED;
    platform_event_t ev = rq->wait_event;
    memset(&rq->wait_event, 0, sizeof rq->wait_event);
    if (rq->wait_rc < 0) return runtime_errno(c, rq->wait_rc);
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

/* Collects the values of every ?tagKeys= (UntagResource repeats it). */
#define MAX_TAG_KEYS 50
typedef struct {
    const char *keys[MAX_TAG_KEYS + 1];
    int n;
} tag_keys_t;

static enum MHD_Result collect_tag_key(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    (void)kind;
    tag_keys_t *t = cls;
    if (value && !strcmp(key, "tagKeys") && t->n < MAX_TAG_KEYS) t->keys[t->n++] = value;
    return MHD_YES;
}

/* The Lambda control plane: control.c answers, this sends. */
static enum MHD_Result handle_control(platform_http_t *h, struct MHD_Connection *c, request_t *rq)
{
    char msg[200];
    if (rq->unsigned_invoke)
        return reply_aws_error(c, 403, "InvalidSignatureException",
                               "the request is not signed (SigV4) with the expected access key");
    if (!h->control) return reply_aws_error(c, 404, "UnknownOperationException", "unknown path");
    if (rq->too_large) {
        snprintf(msg, sizeof msg, "Request must be smaller than %zu bytes for the %s operation",
                 rq->limit,
                 rq->route.kind == ROUTE_FN_CREATE     ? "CreateFunction"
                 : rq->route.kind == ROUTE_FN_CODE_PUT ? "UpdateFunctionCode"
                                                       : "this");
        return reply_aws_error(c, 413, "RequestEntityTooLargeException", msg);
    }
    control_request_t creq = {
        .kind = rq->route.kind,
        .name = rq->name,
        .marker = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "Marker"),
        .max_items = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "MaxItems"),
        .body = rq->body ? rq->body : "{}",
        .len = rq->body ? rq->len : 2,
    };
    tag_keys_t tags = {.n = 0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_tag_key, &tags);
    tags.keys[tags.n] = NULL;
    creq.tag_keys = tags.keys;
    control_reply_t out;
    control_handle(h->control, &creq, &out);
    enum MHD_Result ret = reply(c, (unsigned)out.status, out.body ? out.body : "",
                                out.body ? strlen(out.body) : 0, out.error_type);
    free(out.body);
    return ret;
}

void platform_http_set_control(platform_http_t *h, control_t *control)
{
    h->control = control;
}

/* Called once all of the body has arrived, and again when a waiting request is resumed. */
static enum MHD_Result complete(platform_http_t *h, struct MHD_Connection *c, request_t *rq)
{
    platform_t *p = h->platform;
    switch (rq->rr) {
    case ROUTE_NOT_FOUND:
        return reply_aws_error(c, 404, "UnknownOperationException", "unknown path");
    case ROUTE_BAD_METHOD:
        return reply_aws_error(c, 405, "MethodNotAllowedException", "method not allowed");
    case ROUTE_BAD_REQUEST:
        if (rq->route.kind == ROUTE_INVOKE || ROUTE_IS_CONTROL(rq->route.kind))
            return reply_aws_error(c, 400, "InvalidParameterValueException",
                                   "invalid function name");
        return reply_runtime_error(c, 400, "InvalidRequest", "invalid instance or request id");
    case ROUTE_MATCH:
        break;
    }
    if (ROUTE_IS_CONTROL(rq->route.kind)) return handle_control(h, c, rq);
    switch (rq->route.kind) {
    case ROUTE_INVOKE:
        return handle_invoke(h, c, rq);
    case ROUTE_RUNTIME_NEXT:
        return handle_next(h, c, rq);
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

/* 1 if the string given equals the secret of secret_len bytes. The time taken does not depend on
 * the secret's content (CRYPTO_memcmp after the length check; the length is not the secret). */
static int secret_equal(const char *given, const char *secret, size_t secret_len)
{
    return strlen(given) == secret_len && CRYPTO_memcmp(given, secret, secret_len) == 0;
}

/* The admin API can kill, freeze and thaw any instance, so it answers only a caller holding the
 * token: 403 when no token is configured (the API is off), 401 with WWW-Authenticate when the
 * Authorization header is missing or wrong (compared with secret_equal). */
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
        if (secret_equal(tok, h->admin_token, h->admin_token_len)) {
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
    rq->start_ms = (int64_t)clock_mono_ms();
    rq->over_limit = atomic_load(&h->connections) > h->limits.max_connections &&
                     strncmp(url, "/i/", 3) != 0; /* the instances' budget: see the top */
    rq->limit = MAX_SMALL_BODY;
    int control = rq->rr == ROUTE_MATCH && ROUTE_IS_CONTROL(rq->route.kind);
    if (control) {
        if (rq->route.name) memcpy(rq->name, rq->route.name, rq->route.name_len);
        if (rq->route.kind == ROUTE_FN_CREATE || rq->route.kind == ROUTE_FN_CODE_PUT)
            rq->limit = FN_MAX_REQUEST;
    }
    if (rq->rr == ROUTE_MATCH && rq->route.kind == ROUTE_INVOKE) {
        memcpy(rq->name, rq->route.name, rq->route.name_len);
        /* The trace header is handed to the runtime as it came, if it is a plain header value. */
        const char *lt = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Log-Type");
        rq->log_tail = lt && !strcmp(lt, "Tail");
        const char *tr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amzn-Trace-Id");
        if (tr && strlen(tr) < sizeof rq->trace_id) {
            size_t i = 0;
            while (tr[i] > 0x20 && tr[i] < 0x7f)
                i++;
            if (!tr[i]) memcpy(rq->trace_id, tr, i + 1);
        }
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
    }
    if (rq->rr == ROUTE_MATCH && (rq->route.kind == ROUTE_INVOKE || control)) {
        if (h->sigv4_key_id[0]) {
            const char *token =
                MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Security-Token");
            rq->unsigned_invoke =
                !route_sigv4_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
                                MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Date"),
                                h->sigv4_key_id) ||
                (h->sigv4_token[0] &&
                 (!token || !secret_equal(token, h->sigv4_token, strlen(h->sigv4_token))));
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
        /* The body must be whole within the connection timeout of the request's start: one that
         * trickles in (or never ends) is never idle, so the library's idle timeout alone would
         * let it hold its connection forever. */
        if ((int64_t)clock_mono_ms() - rq->start_ms > h->limits.connection_timeout_ms) {
            log_debug("http cut=slow-body after_ms=%lld bytes=%zu",
                      (long long)((int64_t)clock_mono_ms() - rq->start_ms), rq->len + n);
            return MHD_NO;
        }
        if (rq->too_large || rq->over_limit) return MHD_YES; /* drain */
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
    if (rq->over_limit) return reply_over_limit(h, c);
    if (rq->admin) {
        int allowed;
        enum MHD_Result ret = admin_authorize(h, c, &allowed);
        if (!allowed) return ret;
    }
    return complete(h, c, rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode code)
{
    request_t *rq = *state;
    if (!rq) return;
    /* A resumed request whose connection died before it was answered. */
    platform_result_free(&rq->wait_result);
    free(rq->wait_event.body);
    free(rq->body);
    free(rq);
    *state = NULL;
}

/* Counts open connections: a request arriving while more than --max-connections are open gets
 * 503 (reply_over_limit). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    platform_http_t *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&h->connections, 1);
    else
        atomic_fetch_sub(&h->connections, 1);
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

int platform_http_create(platform_t *p, const char *host, int port,
                         const platform_http_limits_t *limits, platform_http_t **out,
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
    /* The socket listens from here on (connections wait in its backlog), but nothing is served
     * until platform_http_serve: the settings made in between are in place for every request,
     * and no serving thread reads them while they are written. */
    h->ipv6 = ai->ai_family == AF_INET6;
    h->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    int rc = 0;
    if (h->lfd < 0 || setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(h->lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(h->lfd, 511) < 0)
        rc = -errno;
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (rc == 0 && getsockname(h->lfd, (struct sockaddr *)&ss, &sl) < 0) rc = -errno;
    if (rc < 0) {
        if (h->lfd >= 0) close(h->lfd);
        free(h);
        return rc;
    }
    *bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    h->platform = p;
    h->limits = *limits;
    pthread_mutex_init(&h->wait_lock, NULL);
    pthread_cond_init(&h->wait_cond, NULL);
    *out = h;
    return 0;
}

int platform_http_serve(platform_http_t *h)
{
    const platform_http_limits_t *limits = &h->limits;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (h->ipv6) flags |= MHD_USE_IPv6;
    /* The idle timeout does not touch suspended connections (the waiting requests); see the top
     * of this file. Seconds, rounded up. */
    unsigned timeout_s = (unsigned)((limits->connection_timeout_ms + 999) / 1000);
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, h, MHD_OPTION_LISTEN_SOCKET, h->lfd,
        MHD_OPTION_THREAD_POOL_SIZE, limits->threads, MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
        MHD_OPTION_CONNECTION_LIMIT,
        limits->max_connections + limits->max_waiting + HTTP_OVERFLOW_CONNECTIONS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_END);
    return h->daemon ? 0 : -EADDRINUSE;
}

void platform_http_stop(platform_http_t *h)
{
    if (!h) return;
    /* Suspended connections must be resumed before the daemon stops; platform_shutdown has woken
     * every blocked platform_* call, so each waiter thread is about to resume its own. */
    pthread_mutex_lock(&h->wait_lock);
    h->stopping = 1;
    while (h->waiting > 0)
        pthread_cond_wait(&h->wait_cond, &h->wait_lock);
    pthread_mutex_unlock(&h->wait_lock);
    if (h->daemon)
        MHD_stop_daemon(h->daemon); /* closes the listening socket it was given */
    else
        close(h->lfd);
    pthread_cond_destroy(&h->wait_cond);
    pthread_mutex_destroy(&h->wait_lock);
    OPENSSL_cleanse(h->admin_token, sizeof h->admin_token);
    free(h);
}
