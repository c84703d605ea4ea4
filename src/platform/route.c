/* route.c -- path parsing for the Invoke, Runtime and admin APIs of the local platform. */
#include "route.h"

#include <string.h>

/* A path segment: [p, p+len). */
typedef struct {
    const char *p;
    size_t len;
} seg_t;

#define MAX_SEGS 10

static int seg_is(seg_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.p, lit, n) == 0;
}

/* Splits "/a/b/c" into segments. A trailing slash and empty segments make the path unknown
 * (returns -1), as do more than MAX_SEGS segments. */
static int split(const char *path, size_t len, seg_t *segs, int *nsegs)
{
    *nsegs = 0;
    if (len == 0 || path[0] != '/') return -1;
    size_t i = 1;
    while (i <= len) {
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        if (i == start) return -1;
        if (*nsegs == MAX_SEGS) return -1;
        segs[(*nsegs)++] = (seg_t){path + start, i - start};
        i++;
    }
    return 0;
}

static int parse_u64(seg_t s, uint64_t *out)
{
    if (s.len == 0 || s.len > 19) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9') return -1;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    *out = v;
    return 0;
}

static int name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static int qualifier_char_ok(char c)
{
    return name_char_ok(c) || c == '$' || c == '.';
}

/* Accepts NAME, NAME:QUALIFIER, ACCOUNT:function:NAME[:QUALIFIER] and
 * arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER], as Lambda does. */
static int parse_function_name(seg_t s, route_t *out)
{
    const char *p = s.p, *end = s.p + s.len;
    static const char marker[] = ":function:";
    size_t mlen = sizeof marker - 1;
    for (const char *q = p; q + mlen <= end; q++) {
        if (memcmp(q, marker, mlen) == 0) {
            p = q + mlen;
            break;
        }
    }
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *name_end = colon ? colon : end;
    size_t nlen = (size_t)(name_end - p);
    if (nlen == 0 || nlen > ROUTE_MAX_NAME) return -1;
    for (const char *q = p; q < name_end; q++)
        if (!name_char_ok(*q)) return -1;
    out->name = p;
    out->name_len = nlen;
    out->qualifier = NULL;
    out->qualifier_len = 0;
    if (colon) {
        const char *qs = colon + 1;
        size_t qlen = (size_t)(end - qs);
        if (qlen == 0 || qlen > ROUTE_MAX_QUALIFIER) return -1;
        for (const char *q = qs; q < end; q++)
            if (!qualifier_char_ok(*q)) return -1;
        out->qualifier = qs;
        out->qualifier_len = qlen;
    }
    return 0;
}

static int request_id_ok(seg_t s)
{
    if (s.len == 0 || s.len > ROUTE_MAX_REQUEST_ID) return 0;
    for (size_t i = 0; i < s.len; i++)
        if (!name_char_ok(s.p[i])) return 0;
    return 1;
}

static route_result_t want(const char *method, const char *expected, route_t *out,
                           route_kind_t kind)
{
    out->kind = kind;
    return strcmp(method, expected) == 0 ? ROUTE_MATCH : ROUTE_BAD_METHOD;
}

route_result_t route_parse(const char *method, const char *path, size_t len, route_t *out)
{
    memset(out, 0, sizeof *out);
    const char *qmark = memchr(path, '?', len);
    if (qmark) len = (size_t)(qmark - path);
    if (len > ROUTE_MAX_PATH) return ROUTE_NOT_FOUND;
    seg_t s[MAX_SEGS];
    int n;

    /* The control plane: the CLI sends the collections with a trailing slash. */
    if (len > 1 && path[len - 1] == '/' &&
        ((len == 22 && !memcmp(path, "/2015-03-31/functions/", 22)) ||
         (len == 29 && !memcmp(path, "/2016-08-19/account-settings/", 29))))
        len--;
    if (split(path, len, s, &n) < 0) return ROUTE_NOT_FOUND;
    if (n == 2 && seg_is(s[0], "2015-03-31") && seg_is(s[1], "functions")) {
        out->kind = ROUTE_FN_LIST;
        if (!strcmp(method, "GET")) return ROUTE_MATCH;
        out->kind = ROUTE_FN_CREATE;
        return strcmp(method, "POST") == 0 ? ROUTE_MATCH : ROUTE_BAD_METHOD;
    }
    if (n == 2 && seg_is(s[0], "2016-08-19") && seg_is(s[1], "account-settings"))
        return want(method, "GET", out, ROUTE_ACCOUNT_SETTINGS);
    if ((n == 3 || n == 4) && seg_is(s[1], "functions") &&
        (seg_is(s[0], "2015-03-31") || seg_is(s[0], "2017-10-31") || seg_is(s[0], "2019-09-25")) &&
        !(n == 4 && seg_is(s[3], "invocations"))) {
        route_result_t r = ROUTE_NOT_FOUND;
        if (n == 3 && seg_is(s[0], "2015-03-31")) {
            if (!strcmp(method, "DELETE")) r = want(method, "DELETE", out, ROUTE_FN_DELETE);
            else r = want(method, "GET", out, ROUTE_FN_GET);
        } else if (n == 4 && seg_is(s[0], "2015-03-31") && seg_is(s[3], "configuration")) {
            r = want(method, !strcmp(method, "PUT") ? "PUT" : "GET", out,
                     !strcmp(method, "PUT") ? ROUTE_FN_CONFIG_PUT : ROUTE_FN_CONFIG_GET);
        } else if (n == 4 && seg_is(s[0], "2015-03-31") && seg_is(s[3], "code")) {
            r = want(method, "PUT", out, ROUTE_FN_CODE_PUT);
        } else if (n == 4 && seg_is(s[0], "2017-10-31") && seg_is(s[3], "concurrency")) {
            r = want(method, !strcmp(method, "DELETE") ? "DELETE" : "PUT", out,
                     !strcmp(method, "DELETE") ? ROUTE_FN_CONCURRENCY_DELETE
                                               : ROUTE_FN_CONCURRENCY_PUT);
        } else if (n == 4 && seg_is(s[0], "2019-09-25") && seg_is(s[3], "event-invoke-config")) {
            r = want(method, !strcmp(method, "GET") ? "GET" : "PUT", out,
                     !strcmp(method, "GET") ? ROUTE_FN_EVENT_CONFIG_GET
                                            : ROUTE_FN_EVENT_CONFIG_PUT);
        }
        if (r != ROUTE_MATCH) return r;
        return parse_function_name(s[2], out) < 0 ? ROUTE_BAD_REQUEST : ROUTE_MATCH;
    }
    if (n == 3 && seg_is(s[0], "2017-03-31") && seg_is(s[1], "tags")) {
        route_result_t r =
            !strcmp(method, "DELETE")
                ? want(method, "DELETE", out, ROUTE_FN_TAGS_DELETE)
                : want(method, !strcmp(method, "POST") ? "POST" : "GET", out,
                       !strcmp(method, "POST") ? ROUTE_FN_TAGS_POST : ROUTE_FN_TAGS_GET);
        if (r != ROUTE_MATCH) return r;
        return parse_function_name(s[2], out) < 0 ? ROUTE_BAD_REQUEST : ROUTE_MATCH;
    }
    if (n == 4 && seg_is(s[0], "2015-03-31") && seg_is(s[1], "functions") &&
        seg_is(s[3], "invocations")) {
        route_result_t r = want(method, "POST", out, ROUTE_INVOKE);
        if (r != ROUTE_MATCH) return r;
        return parse_function_name(s[2], out) < 0 ? ROUTE_BAD_REQUEST : ROUTE_MATCH;
    }
    if (n == 2 && seg_is(s[0], "admin")) {
        if (seg_is(s[1], "stats")) return want(method, "GET", out, ROUTE_ADMIN_STATS);
        if (seg_is(s[1], "instances")) return want(method, "GET", out, ROUTE_ADMIN_INSTANCES);
        if (seg_is(s[1], "reclaim")) return want(method, "POST", out, ROUTE_ADMIN_RECLAIM);
        if (seg_is(s[1], "freeze")) return want(method, "POST", out, ROUTE_ADMIN_FREEZE);
        if (seg_is(s[1], "thaw")) return want(method, "POST", out, ROUTE_ADMIN_THAW);
        return ROUTE_NOT_FOUND;
    }
    if (n >= 5 && seg_is(s[0], "i") && seg_is(s[2], "2018-06-01") && seg_is(s[3], "runtime")) {
        route_result_t r;
        if (n == 6 && seg_is(s[4], "invocation") && seg_is(s[5], "next")) {
            r = want(method, "GET", out, ROUTE_RUNTIME_NEXT);
        } else if (n == 7 && seg_is(s[4], "invocation") &&
                   (seg_is(s[6], "response") || seg_is(s[6], "error"))) {
            r = want(method, "POST", out,
                     seg_is(s[6], "response") ? ROUTE_RUNTIME_RESPONSE : ROUTE_RUNTIME_ERROR);
            if (r == ROUTE_MATCH) {
                if (!request_id_ok(s[5])) return ROUTE_BAD_REQUEST;
                out->request_id = s[5].p;
                out->request_id_len = s[5].len;
            }
        } else if (n == 6 && seg_is(s[4], "init") && seg_is(s[5], "error")) {
            r = want(method, "POST", out, ROUTE_RUNTIME_INIT_ERROR);
        } else {
            return ROUTE_NOT_FOUND;
        }
        if (r != ROUTE_MATCH) return r;
        return parse_u64(s[1], &out->instance) < 0 ? ROUTE_BAD_REQUEST : ROUTE_MATCH;
    }
    return ROUTE_NOT_FOUND;
}

static int all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9') return 0;
    return 1;
}

/* Whether the ';'-separated list [p, p+n) holds name exactly. */
static int list_has(const char *p, size_t n, const char *name)
{
    size_t nl = strlen(name);
    const char *end = p + n;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        size_t len = (size_t)((semi ? semi : end) - p);
        if (len == nl && memcmp(p, name, nl) == 0) return 1;
        p += len + 1;
    }
    return 0;
}

int route_sigv4_ok(const char *authorization, const char *amz_date, const char *key_id)
{
    static const char algo[] = "AWS4-HMAC-SHA256 Credential=";
    if (!authorization || !amz_date || !key_id || !key_id[0]) return 0;
    if (strlen(amz_date) != 16 || !all_digits(amz_date, 8) || amz_date[8] != 'T' ||
        !all_digits(amz_date + 9, 6) || amz_date[15] != 'Z')
        return 0;
    const char *a = authorization;
    if (strncmp(a, algo, sizeof algo - 1) != 0) return 0;
    a += sizeof algo - 1;
    size_t kl = strlen(key_id);
    if (strncmp(a, key_id, kl) != 0 || a[kl] != '/') return 0;
    a += kl + 1;
    if (!all_digits(a, 8) || memcmp(a, amz_date, 8) != 0 || a[8] != '/') return 0;
    a += 9;
    const char *region_end = strchr(a, '/');
    if (!region_end || region_end == a) return 0;
    a = region_end + 1;
    static const char scope[] = "lambda/aws4_request, SignedHeaders=";
    if (strncmp(a, scope, sizeof scope - 1) != 0) return 0;
    a += sizeof scope - 1;
    const char *comma = strchr(a, ',');
    if (!comma || !list_has(a, (size_t)(comma - a), "host") ||
        !list_has(a, (size_t)(comma - a), "x-amz-date"))
        return 0;
    static const char sig[] = ", Signature=";
    if (strncmp(comma, sig, sizeof sig - 1) != 0) return 0;
    a = comma + sizeof sig - 1;
    if (strlen(a) != 64) return 0;
    for (int i = 0; i < 64; i++)
        if (!((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'))) return 0;
    return 1;
}
