/* runtime.c -- Lambda Runtime API client over plain blocking sockets with our HTTP parser.
 * A fresh connection per call keeps the client stateless across freezes: a kept-alive socket
 * could be closed by the platform while the process is frozen. */
#include "runtime.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "ev.h"
#include "clock.h"
#include "http_response.h"
#include "log.h"
#include "net.h"

#define RUNTIME_CONNECT_TIMEOUT_MS 5000

int runtime_init(runtime_t *rt, const char *api)
{
    memset(rt, 0, sizeof *rt);
    rt->timeout_ms = 30000;
    if (!api || !*api) return -EINVAL;
    if (strncmp(api, "http://", 7) == 0) api += 7; /* tolerated, though Lambda gives none */
    const char *slash = strchr(api, '/');
    size_t hostport_len = slash ? (size_t)(slash - api) : strlen(api);
    char hostport[300];
    if (hostport_len == 0 || hostport_len >= sizeof hostport) return -EINVAL;
    memcpy(hostport, api, hostport_len);
    hostport[hostport_len] = 0;
    if (net_split_hostport(hostport, rt->host, sizeof rt->host, &rt->port) < 0 || !rt->host[0] ||
        rt->port <= 0)
        return -EINVAL;
    if (slash) {
        size_t n = strlen(slash);
        while (n > 0 && slash[n - 1] == '/')
            n--; /* "/i/x/" and "/i/x" mean the same */
        if (n >= sizeof rt->prefix) return -EINVAL;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)slash[i] <= ' ' || slash[i] == 0x7f) return -EINVAL;
        memcpy(rt->prefix, slash, n);
        rt->prefix[n] = 0;
    }
    return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int runtime_http_exchange(const char *host, int port, const char *method, const char *path,
                          const char *headers, const char *body, size_t body_len, int timeout_ms,
                          http_response_t *resp, buf_t *raw)
{
    buf_init(raw);
    uint64_t end = timeout_ms < 0 ? 0 : ev_now_ms() + (uint64_t)timeout_ms;
    buf_t req;
    buf_init(&req);
    int rc = buf_printf(&req,
                        "%s %s HTTP/1.1\r\nHost: %s:%d\r\n"
                        "User-Agent: icnode\r\nContent-Length: %zu\r\n%s\r\n",
                        method, path, host, port, body_len, headers);
    if (rc == 0 && body_len) rc = buf_append(&req, body, body_len);
    if (rc < 0) {
        buf_free(&req);
        return rc;
    }
    int connect_ms = RUNTIME_CONNECT_TIMEOUT_MS;
    if (timeout_ms >= 0 && timeout_ms < connect_ms) connect_ms = timeout_ms;
    int fd = net_connect(host, port, connect_ms);
    if (fd < 0) {
        buf_free(&req);
        return fd;
    }
    rc = send_all(fd, buf_head(&req), buf_len(&req));
    buf_free(&req);
    while (rc == 0) {
        ssize_t n = http_parse_response(buf_head(raw), buf_len(raw), &http_default_limits, resp);
        if (n > 0) {
            rc = resp->status;
            break;
        }
        if (n < 0) {
            log_warn("event=http_bad_response path=%s err=\"%s\"", path, http_strerror((int)n));
            rc = -EPROTO;
            break;
        }
        int wait = -1;
        if (timeout_ms >= 0) {
            uint64_t now = ev_now_ms();
            if (now >= end) {
                rc = -ETIMEDOUT;
                break;
            }
            wait = (int)(end - now);
        }
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, wait);
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0) {
            rc = -errno;
            break;
        }
        if (pr == 0) continue; /* the deadline check above ends the wait */
        ssize_t r = buf_read_fd(raw, fd, 64 * 1024);
        if (r == 0)
            rc = -ECONNRESET; /* closed before a whole response */
        else if (r < 0 && r != -EAGAIN)
            rc = (int)r;
    }
    close(fd);
    if (rc < 0) buf_free(raw);
    return rc;
}

/* One exchange with the Runtime API: `path` is below /2018-06-01/runtime/. */
static int exchange(runtime_t *rt, const char *method, const char *path, const char *headers,
                    const char *body, size_t body_len, int timeout_ms, http_response_t *resp,
                    buf_t *raw)
{
    char full[1024];
    snprintf(full, sizeof full, "%s/2018-06-01/runtime/%s", rt->prefix, path);
    return runtime_http_exchange(rt->host, rt->port, method, full, headers, body, body_len,
                                 timeout_ms, resp, raw);
}

/* Request ids go into URL paths; anything outside this set would need escaping and is not what
 * any platform sends. */
static int request_id_ok(const char *s, size_t n)
{
    if (n == 0 || n >= 128) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              ch == '-' || ch == '_' || ch == '.'))
            return 0;
    }
    return 1;
}

int runtime_next(runtime_t *rt, runtime_invocation_t *inv)
{
    memset(inv, 0, sizeof *inv);
    http_response_t resp;
    buf_t raw;
    int rc = exchange(rt, "GET", "invocation/next", "", NULL, 0, -1, &resp, &raw);
    if (rc < 0) return rc;
    if (rc != 200) {
        log_warn("event=runtime_next_failed status=%d", rc);
        rc = -EPROTO;
        goto out;
    }
    size_t n;
    const char *id = http_header(&resp, "Lambda-Runtime-Aws-Request-Id", &n);
    if (!id || !request_id_ok(id, n)) {
        log_warn("event=runtime_next_failed err=\"missing or invalid request id\"");
        rc = -EPROTO;
        goto out;
    }
    memcpy(inv->request_id, id, n);
    inv->request_id[n] = 0;
    const char *dl = http_header(&resp, "Lambda-Runtime-Deadline-Ms", &n);
    if (dl) {
        char tmp[24];
        if (n < sizeof tmp) {
            memcpy(tmp, dl, n);
            tmp[n] = 0;
            char *end;
            long long v = strtoll(tmp, &end, 10);
            if (*end == 0 && end != tmp && v > 0) inv->deadline_ms = v;
        }
    }
    inv->body = malloc(resp.body_len + 1);
    if (!inv->body) {
        rc = -ENOMEM;
        goto out;
    }
    http_copy_body(buf_head(&raw), &resp, inv->body);
    inv->body[resp.body_len] = 0;
    inv->body_len = resp.body_len;
    inv->started_us = clock_mono_us();
    rc = 0;
out:
    buf_free(&raw);
    return rc;
}

static int post(runtime_t *rt, const char *path, const char *headers, const char *body, size_t len)
{
    http_response_t resp;
    buf_t raw;
    int rc = exchange(rt, "POST", path, headers, body, len, rt->timeout_ms, &resp, &raw);
    /* The invocation's end as the node bills it: the platform has the post (it stops its clock
     * when the post arrives; the answer's trip back is the little this overstates). */
    rt->posted_us = clock_mono_us();
    if (rc < 0) {
        log_warn("event=runtime_post_failed path=%s err=%s", path, strerror(-rc));
        return rc;
    }
    buf_free(&raw);
    if (rc != 202 && rc != 200) {
        log_warn("event=runtime_post_failed path=%s status=%d", path, rc);
        return -EPROTO;
    }
    return 0;
}

int runtime_respond(runtime_t *rt, const char *request_id, const char *body, size_t len)
{
    char path[200];
    snprintf(path, sizeof path, "invocation/%s/response", request_id);
    return post(rt, path, "Content-Type: application/json\r\n", body, len);
}

int runtime_fail(runtime_t *rt, const char *request_id, const char *type, const char *message)
{
    char path[200], headers[200];
    if (request_id)
        snprintf(path, sizeof path, "invocation/%s/error", request_id);
    else
        snprintf(path, sizeof path, "init/error");
    snprintf(headers, sizeof headers,
             "Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: %s\r\n", type);
    cJSON *o = cJSON_CreateObject();
    if (!o) return -ENOMEM;
    cJSON_AddStringToObject(o, "errorMessage", message);
    cJSON_AddStringToObject(o, "errorType", type);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!json) return -ENOMEM;
    int rc = post(rt, path, headers, json, strlen(json));
    free(json);
    return rc;
}
