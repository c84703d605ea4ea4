/* s3client.c -- an S3-compatible object store's GET, PUT, DELETE and HEAD over libcurl, on a
 * thread of its own with a curl multi handle, the way invoker.c runs the Lambda Invoke calls:
 * the event loop hands requests over a mutex-guarded queue and an eventfd, and gets each result
 * back through its mailbox. Requests are signed by libcurl (CURLOPT_AWS_SIGV4, service s3) with
 * the keys the credential provider holds when each transfer starts (awscreds.c). A GET larger
 * than one part is read as parallel ranged GETs, each after the first carrying If-Match with
 * the first part's ETag, so an object replaced during the read fails the read instead of
 * mixing two versions' bytes. */
#include <curl/curl.h>
#include <openssl/sha.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "awscreds.h"
#include "log.h"
#include "queue.h"
#include "s3client.h"

#define PARTS_IN_FLIGHT 8 /* ranged GETs of one object at once */
#define PART_TRIES 3      /* attempts at one part of a multi-part GET or upload */

/* What a transfer is to its request. */
typedef enum {
    T_OBJECT,       /* the request itself, or one ranged part of a GET */
    T_MPU_INIT,     /* POST ?uploads: a multipart upload's id */
    T_MPU_PART,     /* PUT ?partNumber=N&uploadId=ID: one part of the body */
    T_MPU_COMPLETE, /* POST ?uploadId=ID with the parts' list */
    T_MPU_ABORT,    /* DELETE ?uploadId=ID after a failure, so no parts stay billed */
} transfer_kind_t;

typedef struct s3_transfer {
    struct s3_transfer *next; /* in its request's list */
    transfer_kind_t kind;
    int part_no;
    const char *send; /* the body sent (NULL: none) */
    size_t send_len;
    char *owned; /* a body built here (the completion's XML) */
    s3_req_t *req;
    CURL *easy;
    struct curl_slist *headers;
    int first;    /* the request's first (or only) transfer */
    int tries;    /* parts: earlier attempts at this part */
    uint64_t off; /* parts: where in req->data this range goes */
    uint64_t len; /* parts: bytes expected */
    uint64_t got;
    /* the first transfer's body, grown as it comes (parts write into req->data) */
    unsigned char *buf;
    size_t cap;
    int aborted_too_large;
    int empty_object; /* "Content-Range: bytes 0-0/0": an empty object, no body to wait for */
    char etag[S3_ETAG_MAX + 1];
    char content_range[96];
} s3_transfer_t;

struct s3client {
    ev_loop_t *loop;
    char endpoint[256]; /* without a trailing '/' */
    int path_style;
    uint64_t upload_part_size; /* PUTs larger than this are multipart uploads of such parts */
    char bucket[256];
    char prefix[512];
    char sigv4[160];
    awscreds_provider_t *creds;
    int64_t timeout_ms;
    uint64_t part_size;
    int max_parallel;
    pthread_t thread;
    pthread_mutex_t mu;
    QUEUE(s3_req_t) todo; /* loop -> thread (under mu) */
    int stop;
    int wake_fd;
    mailbox_t results; /* thread -> loop */
    CURLM *multi;
    /* the thread's own */
    QUEUE(s3_req_t)
    waiting;          /* submitted, in order, not started (a transfer slot, or an earlier
                         write of the same key, is awaited) */
    s3_req_t *active; /* started, not finished (linked through next) */
    int running;      /* transfers in the multi handle */
    atomic_uint_fast64_t in_flight;
    atomic_uint_fast64_t part_retries;
};

s3_req_t *s3_req_new(s3_method_t method, const char *key, size_t keylen, s3_done_fn *done,
                     void *arg)
{
    s3_req_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->key = malloc(keylen + 1);
    if (!r->key) {
        free(r);
        return NULL;
    }
    memcpy(r->key, key, keylen);
    r->key[keylen] = 0;
    r->keylen = keylen;
    r->method = method;
    r->done = done;
    r->arg = arg;
    r->max_size = UINT64_MAX;
    return r;
}

void s3_req_free(s3_req_t *r)
{
    if (!r) return;
    free(r->key);
    free(r->data);
    free(r->part_etags);
    free(r);
}

/* Percent-encodes s (RFC 3986 unreserved bytes and '/' kept) onto out; -1 if it does not fit. */
static int url_encode_as(char *out, size_t cap, size_t *used, const char *s, size_t len,
                         int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash);
        if (*used + 4 > cap) return -1;
        if (keep) {
            out[(*used)++] = (char)c;
        } else {
            out[(*used)++] = '%';
            out[(*used)++] = hex[c >> 4];
            out[(*used)++] = hex[c & 15];
        }
    }
    out[*used] = 0;
    return 0;
}

static int url_encode(char *out, size_t cap, size_t *used, const char *s, size_t len)
{
    return url_encode_as(out, cap, used, s, len, 1);
}

/* The object's URL (malloc'd) with a query (already encoded; "" none), or NULL. */
static char *object_url(const s3client_t *c, const s3_req_t *r, const char *query)
{
    size_t cap = strlen(c->endpoint) + strlen(c->bucket) * 3 + strlen(c->prefix) * 3 +
                 r->keylen * 3 + strlen(query) + 16;
    char *url = malloc(cap);
    if (!url) return NULL;
    size_t used = (size_t)snprintf(url, cap, "%s/", c->endpoint);
    if ((c->path_style && (url_encode(url, cap, &used, c->bucket, strlen(c->bucket)) < 0 ||
                           url_encode(url, cap, &used, "/", 1) < 0)) ||
        url_encode(url, cap, &used, c->prefix, strlen(c->prefix)) < 0 ||
        url_encode(url, cap, &used, r->key, r->keylen) < 0 || used + strlen(query) + 1 > cap) {
        free(url);
        return NULL;
    }
    memcpy(url + used, query, strlen(query) + 1);
    return url;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    s3_transfer_t *t = arg;
    size_t len = size * n;
    if (len > 5 && !strncasecmp(p, "ETag:", 5)) {
        if (s3_etag_parse(p + 5, len - 5, t->etag, sizeof t->etag) < 0) t->etag[0] = 0;
    } else if (len > 14 && !strncasecmp(p, "Content-Range:", 14)) {
        size_t l = len - 14 < sizeof t->content_range - 1 ? len - 14 : sizeof t->content_range - 1;
        memcpy(t->content_range, p + 14, l);
        t->content_range[l] = 0;
        /* S3 answers a range of an empty object 416; some compatible stores answer 206 with
         * this impossible range and a body they never send. The object is empty either way, and
         * the transfer is ended here rather than left to time out. */
        const char *end = t->content_range + strcspn(t->content_range, "\r\n");
        if (end - t->content_range >= 2 && end[-1] == '0' && end[-2] == '/' && t->first &&
            t->req->method == S3_GET) {
            t->empty_object = 1;
            return 0;
        }
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    s3_transfer_t *t = arg;
    s3_req_t *r = t->req;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (!t->first && status == 206) {
        if (t->got + len > t->len) return 0; /* more than the range asked: fails the part */
        memcpy(r->data + t->off + t->got, p, len);
        t->got += len;
        return len;
    }
    int success = status >= 200 && status < 300;
    uint64_t limit = success ? r->max_size : S3_XML_MAX;
    if (t->got + len > limit) {
        if (success) {
            t->aborted_too_large = 1;
            return 0;
        }
        len = (size_t)(limit - t->got); /* an error document is read only this far */
        if (len == 0) return size * n;
    }
    if (t->got + len > t->cap) {
        size_t want = t->cap ? t->cap : 65536;
        while (want < t->got + len)
            want *= 2;
        unsigned char *nb = realloc(t->buf, want);
        if (!nb) return 0;
        t->buf = nb;
        t->cap = want;
    }
    memcpy(t->buf + t->got, p, len);
    t->got += len;
    return size * n;
}

/* S3 wants the payload's SHA-256 in x-amz-content-sha256, among the signed headers; libcurl
 * signs the header it is given (and hashes a POSTFIELDS body to the same value). */
static void add_payload_hash(s3_transfer_t *t)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    char h[32 + 2 * SHA256_DIGEST_LENGTH + 1] = "x-amz-content-sha256: ";
    size_t n = strlen(h);
    SHA256(t->send ? (const unsigned char *)t->send : (const unsigned char *)"", t->send_len, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        h[n++] = hex[md[i] >> 4];
        h[n++] = hex[md[i] & 15];
    }
    h[n] = 0;
    t->headers = curl_slist_append(t->headers, h);
}

/* Each transfer is signed with the keys current when it starts (replaced temporary keys are
 * used from the next transfer on). */
static void sign(s3client_t *c, s3_transfer_t *t)
{
    add_payload_hash(t);
    static char userpwd[AWSCREDS_KEY_ID_MAX + AWSCREDS_SECRET_MAX + 2];
    static char token_header[AWSCREDS_TOKEN_MAX + 32]; /* this thread's only */
    awscreds_current(c->creds, userpwd, sizeof userpwd, token_header, sizeof token_header);
    if (token_header[0]) t->headers = curl_slist_append(t->headers, token_header);
    curl_easy_setopt(t->easy, CURLOPT_AWS_SIGV4, c->sigv4);
    curl_easy_setopt(t->easy, CURLOPT_USERPWD, userpwd);
    explicit_bzero(userpwd, sizeof userpwd);
    explicit_bzero(token_header, sizeof token_header);
}

static void fail_req(s3_req_t *r, const char *fmt, const char *a)
{
    if (r->failed) return;
    r->failed = 1;
    snprintf(r->err, sizeof r->err, fmt, a);
}

/* The store's own words for a failed answer: its error Code and Message, else the status. */
static void store_error(s3_req_t *r, long status, const unsigned char *body, size_t len)
{
    char code[64], msg[200];
    r->failed = 1;
    if (s3_error_parse((const char *)body, len, code, sizeof code, msg, sizeof msg) == 0)
        snprintf(r->err, sizeof r->err, "HTTP %ld %s: %s", status, code, msg);
    else
        snprintf(r->err, sizeof r->err, "HTTP %ld", status);
}

/* Sets a transfer's common options, signs it and adds it to the multi handle. */
static int launch(s3client_t *c, s3_transfer_t *t, const char *query)
{
    s3_req_t *r = t->req;
    char *url = object_url(c, r, query);
    if (!url) {
        curl_easy_cleanup(t->easy);
        curl_slist_free_all(t->headers);
        free(t->owned);
        free(t);
        fail_req(r, "%s", "out of memory");
        return -1;
    }
    if (t->send) {
        /* The body as POSTFIELDS under the request's verb: libcurl hashes it into the
         * signature, and sends it from the caller's memory without a copy. */
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->send_len);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->send_len ? t->send : "");
        t->headers = curl_slist_append(t->headers, "Content-Type: application/octet-stream");
        t->headers = curl_slist_append(t->headers, "Expect:");
    }
    if (c->creds) sign(c, t);
    curl_easy_setopt(t->easy, CURLOPT_URL, url);
    free(url);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_TCP_NODELAY, 1L);
    /* Bounded without capping a large body's time: no connection within the timeout, or no
     * byte moving for as long, fails the transfer. */
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(t->easy, CURLOPT_LOW_SPEED_TIME, (long)((c->timeout_ms + 999) / 1000));
    if (r->method == S3_HEAD || r->method == S3_DELETE || t->kind == T_MPU_ABORT)
        curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    t->next = r->transfers;
    r->transfers = t;
    r->parts_left++;
    curl_multi_add_handle(c->multi, t->easy);
    c->running++;
    return 0;
}

static s3_transfer_t *new_transfer(s3_req_t *r, transfer_kind_t kind)
{
    s3_transfer_t *t = calloc(1, sizeof *t);
    if (!t || !(t->easy = curl_easy_init())) {
        free(t);
        fail_req(r, "%s", "out of memory");
        return NULL;
    }
    t->req = r;
    t->kind = kind;
    return t;
}

/* Starts one transfer of r: the first (whole request or first part), or the part at off (after
 * `tries` failed attempts at it). */
static int start_transfer(s3client_t *c, s3_req_t *r, int first, uint64_t off, uint64_t len,
                          int tries)
{
    s3_transfer_t *t = new_transfer(r, T_OBJECT);
    if (!t) return -1;
    t->first = first;
    t->tries = tries;
    t->off = off;
    t->len = len;
    char h[S3_ETAG_MAX + 64];
    switch (r->method) {
    case S3_GET:
        if (c->part_size) {
            snprintf(h, sizeof h, "Range: bytes=%" PRIu64 "-%" PRIu64, off, off + len - 1);
            t->headers = curl_slist_append(t->headers, h);
        }
        if (first && r->if_none_match[0]) {
            snprintf(h, sizeof h, "If-None-Match: %s", r->if_none_match);
            t->headers = curl_slist_append(t->headers, h);
        }
        if (!first) {
            snprintf(h, sizeof h, "If-Match: %s", r->etag);
            t->headers = curl_slist_append(t->headers, h);
        }
        break;
    case S3_HEAD:
        curl_easy_setopt(t->easy, CURLOPT_NOBODY, 1L);
        break;
    case S3_DELETE:
        curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, "DELETE");
        break;
    case S3_PUT:
        curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, "PUT");
        t->send = r->body;
        t->send_len = r->body_len;
        break;
    }
    return launch(c, t, "");
}

/* ---- multipart upload: a PUT larger than one part goes up as parts, each sent again alone
 * after a transient failure (retry_part), and the object appears in the store only when the
 * completion is accepted ---- */

static int start_mpu(s3client_t *c, s3_req_t *r, transfer_kind_t kind, int part_no, int tries)
{
    s3_transfer_t *t = new_transfer(r, kind);
    if (!t) return -1;
    t->tries = tries;
    char query[600], id[520];
    size_t used = 0;
    if (kind != T_MPU_INIT &&
        url_encode_as(id, sizeof id, &used, r->upload_id, strlen(r->upload_id), 0) < 0) {
        curl_easy_cleanup(t->easy);
        free(t);
        fail_req(r, "%s", "the store's upload id is too long");
        return -1;
    }
    switch (kind) {
    case T_MPU_INIT:
        curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, "POST");
        t->send = "";
        snprintf(query, sizeof query, "?uploads=");
        break;
    case T_MPU_PART: {
        uint64_t off = (uint64_t)(part_no - 1) * c->upload_part_size;
        uint64_t len =
            r->body_len - off < c->upload_part_size ? r->body_len - off : c->upload_part_size;
        t->part_no = part_no;
        t->send = r->body + off;
        t->send_len = len;
        curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, "PUT");
        snprintf(query, sizeof query, "?partNumber=%d&uploadId=%s", part_no, id);
        break;
    }
    case T_MPU_COMPLETE: {
        size_t cap = 128 + (size_t)r->nparts * (64 + S3_ETAG_MAX);
        t->owned = malloc(cap);
        if (!t->owned) {
            curl_easy_cleanup(t->easy);
            free(t);
            fail_req(r, "%s", "out of memory");
            return -1;
        }
        size_t n = (size_t)snprintf(t->owned, cap, "<CompleteMultipartUpload>");
        for (uint32_t i = 0; i < r->nparts; i++)
            n += (size_t)snprintf(t->owned + n, cap - n,
                                  "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>", i + 1,
                                  r->part_etags[i]);
        n += (size_t)snprintf(t->owned + n, cap - n, "</CompleteMultipartUpload>");
        t->send = t->owned;
        t->send_len = n;
        curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, "POST");
        snprintf(query, sizeof query, "?uploadId=%s", id);
        break;
    }
    case T_MPU_ABORT:
    default:
        curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, "DELETE");
        snprintf(query, sizeof query, "?uploadId=%s", id);
        break;
    }
    return launch(c, t, query);
}

/* The next parts of a multipart upload, up to PARTS_IN_FLIGHT running. */
static void start_upload_parts(s3client_t *c, s3_req_t *r)
{
    while (!r->failed && r->next_part <= r->nparts && r->parts_left < PARTS_IN_FLIGHT)
        if (start_mpu(c, r, T_MPU_PART, (int)r->next_part++, 0) < 0) break;
}

/* A multipart transfer has ended: the upload's next step. */
static void mpu_step(s3client_t *c, s3_transfer_t *t, CURLcode rc, long status)
{
    s3_req_t *r = t->req;
    if (t->kind == T_MPU_ABORT) return; /* best effort: the request already failed */
    if (rc != CURLE_OK) {
        fail_req(r, "%s", curl_easy_strerror(rc));
        return;
    }
    r->status = status;
    if (status < 200 || status >= 300) {
        store_error(r, status, t->buf, t->got);
        return;
    }
    switch (t->kind) {
    case T_MPU_INIT:
        if (s3_xml_text((const char *)t->buf, t->got, "UploadId", r->upload_id,
                        sizeof r->upload_id) < 0) {
            fail_req(r, "%s", "the store gave no UploadId");
            return;
        }
        r->nparts = (uint32_t)((r->body_len + c->upload_part_size - 1) / c->upload_part_size);
        r->part_etags = calloc(r->nparts, sizeof *r->part_etags);
        if (!r->part_etags) {
            fail_req(r, "%s", "out of memory");
            return;
        }
        r->next_part = 1;
        break;
    case T_MPU_PART:
        if (!t->etag[0]) {
            fail_req(r, "%s", "the store gave no ETag for a part");
            return;
        }
        memcpy(r->part_etags[t->part_no - 1], t->etag, sizeof t->etag);
        r->parts_ok++;
        break;
    case T_MPU_COMPLETE: {
        /* S3 may answer 200 and still fail the completion in the body. */
        char code[64], msg[200], etag[S3_ETAG_MAX + 1];
        if (s3_error_parse((const char *)t->buf, t->got, code, sizeof code, msg, sizeof msg) == 0) {
            store_error(r, status, t->buf, t->got);
            return;
        }
        if (s3_xml_text((const char *)t->buf, t->got, "ETag", etag, sizeof etag) == 0 &&
            s3_etag_parse(etag, strlen(etag), r->etag, sizeof r->etag) < 0)
            r->etag[0] = 0;
        r->completed = 1;
        break;
    }
    default:
        break;
    }
}

static void end_transfer(s3client_t *c, s3_transfer_t *t)
{
    s3_req_t *r = t->req;
    for (s3_transfer_t **pp = &r->transfers; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    r->parts_left--;
    curl_multi_remove_handle(c->multi, t->easy);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->headers);
    c->running--;
    free(t->buf);
    free(t->owned);
    free(t);
}

static void on_delivered(mail_t *m, void *arg)
{
    (void)arg;
    s3_req_t *r = (s3_req_t *)((char *)m - offsetof(s3_req_t, mail));
    r->done(r);
}

static void deliver(s3client_t *c, s3_req_t *r)
{
    for (s3_req_t **pp = &c->active; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    r->next = NULL;
    if (r->failed) {
        r->ok = 0;
        free(r->data);
        r->data = NULL;
    }
    atomic_fetch_sub(&c->in_flight, 1);
    mailbox_post(&c->results, &r->mail, on_delivered);
}

/* The next parts of a multi-part GET, up to PARTS_IN_FLIGHT running. */
static void start_parts(s3client_t *c, s3_req_t *r, uint64_t *next_off)
{
    while (!r->failed && *next_off < r->size && r->parts_left < PARTS_IN_FLIGHT) {
        uint64_t len = r->size - *next_off < c->part_size ? r->size - *next_off : c->part_size;
        if (start_transfer(c, r, 0, *next_off, len, 0) < 0) break;
        *next_off += len;
    }
}

static void first_done(s3client_t *c, s3_transfer_t *t, long status)
{
    s3_req_t *r = t->req;
    r->status = status;
    snprintf(r->etag, sizeof r->etag, "%s", t->etag);
    if (status == 404) {
        /* Only a missing key is a miss: a missing bucket (NoSuchBucket) is the store's error.
         * A HEAD has no body to tell; its 404 is taken as the key's. */
        char code[64], msg[8];
        if (r->method == S3_HEAD ||
            s3_error_parse((const char *)t->buf, t->got, code, sizeof code, msg, sizeof msg) < 0 ||
            !strcmp(code, "NoSuchKey"))
            r->not_found = 1;
        else
            store_error(r, status, t->buf, t->got);
        return;
    }
    if (status == 304) {
        r->not_modified = 1;
        return;
    }
    if (r->method == S3_GET && status == 416) {
        /* A range past the end: the object exists and is empty. */
        r->size = 0;
        r->data = malloc(1);
        if (!r->data) fail_req(r, "%s", "out of memory");
        return;
    }
    if (status < 200 || status >= 300) {
        store_error(r, status, t->buf, t->got);
        return;
    }
    if (r->method == S3_HEAD) {
        curl_off_t cl = -1;
        curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        r->size = cl > 0 ? (uint64_t)cl : 0;
        return;
    }
    if (r->method != S3_GET) return;
    uint64_t first, last, total = t->got;
    if (status == 206 && s3_content_range_parse(t->content_range, strlen(t->content_range), &first,
                                                &last, &total) < 0) {
        fail_req(r, "%s", "the store's Content-Range is malformed");
        return;
    }
    if (status == 206 && (first != 0 || last + 1 != t->got)) {
        fail_req(r, "%s", "the store answered another range than asked");
        return;
    }
    if (total > r->max_size) {
        r->too_large = 1;
        r->size = total;
        fail_req(r, "%s", "object exceeds the size the proxy reads");
        return;
    }
    r->size = total;
    r->data = malloc(total ? total : 1);
    if (!r->data) {
        fail_req(r, "%s", "out of memory");
        return;
    }
    memcpy(r->data, t->buf, t->got);
    if (total > t->got) {
        if (!r->etag[0]) {
            fail_req(r, "%s", "the store gave no ETag for a ranged read");
            return;
        }
        r->next_off = t->got;
        start_parts(c, r, &r->next_off);
    }
}

/* A part that failed in a way another attempt may not (the connection, a timeout, the store's
 * 5xx or 429 SlowDown) is sent again, up to PART_TRIES attempts, before it fails its request: a
 * large object's transfer is many requests, and one lost request should not cost them all. 1
 * when the retry is under way. */
static int retry_part(s3client_t *c, s3_transfer_t *t, CURLcode rc, long status)
{
    s3_req_t *r = t->req;
    int transient = (rc != CURLE_OK && !t->aborted_too_large) || status >= 500 || status == 429;
    if (r->failed || !transient || t->tries + 1 >= PART_TRIES) return 0;
    int started = t->kind == T_MPU_PART
                      ? start_mpu(c, r, T_MPU_PART, t->part_no, t->tries + 1) == 0
                      : start_transfer(c, r, 0, t->off, t->len, t->tries + 1) == 0;
    if (!started) return 0;
    atomic_fetch_add(&c->part_retries, 1);
    log_warn("event=backing_part_retry try=%d status=%ld error=\"%s\"", t->tries + 2, status,
             rc != CURLE_OK ? curl_easy_strerror(rc) : "");
    return 1;
}

/* A multipart upload's transfer has ended: the next parts, the completion, the abort after a
 * failure, or the result. */
static void mpu_transfer_done(s3client_t *c, s3_transfer_t *t, CURLcode rc, long status)
{
    s3_req_t *r = t->req;
    if (t->kind == T_MPU_PART && retry_part(c, t, rc, status)) {
        end_transfer(c, t); /* its retry keeps the request's count of transfers above 0 */
        return;
    }
    mpu_step(c, t, rc, status);
    end_transfer(c, t);
    if (!r->failed) start_upload_parts(c, r);
    if (r->parts_left > 0) return;
    if (r->failed && r->upload_id[0] && !r->aborting) {
        r->aborting = 1;
        if (start_mpu(c, r, T_MPU_ABORT, 0, 0) == 0) return;
    }
    if (!r->failed && !r->completed && r->parts_ok == r->nparts && r->nparts) {
        if (start_mpu(c, r, T_MPU_COMPLETE, 0, 0) == 0) return;
    }
    if (!r->failed && r->completed) r->ok = 1;
    if (!r->failed && !r->completed) fail_req(r, "%s", "the multipart upload did not complete");
    deliver(c, r);
}

static void transfer_done(s3client_t *c, s3_transfer_t *t, CURLcode rc)
{
    s3_req_t *r = t->req;
    long status = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (t->kind != T_OBJECT) {
        mpu_transfer_done(c, t, rc, status);
        return;
    }
    if (t->empty_object) {
        first_done(c, t, 416); /* as S3 says it */
    } else if (t->aborted_too_large) {
        r->too_large = 1;
        fail_req(r, "%s", "object exceeds the size the proxy reads");
    } else if (!t->first && retry_part(c, t, rc, status)) {
        /* sent again */
    } else if (rc != CURLE_OK) {
        fail_req(r, "%s", curl_easy_strerror(rc));
    } else if (t->first) {
        first_done(c, t, status);
    } else if (status == 412) {
        fail_req(r, "%s", "the object changed while it was read; try again");
    } else if (status != 206 || t->got != t->len) {
        if (status < 200 || status >= 300)
            store_error(r, status, NULL, 0);
        else
            fail_req(r, "%s", "a part of the object came back short");
    }
    end_transfer(c, t);
    if (!r->failed && r->method == S3_GET && r->data && r->next_off && r->next_off < r->size)
        start_parts(c, r, &r->next_off);
    if (r->parts_left == 0) {
        if (!r->failed) r->ok = 1;
        deliver(c, r);
    }
}

static int is_write(const s3_req_t *r)
{
    return r->method == S3_PUT || r->method == S3_DELETE;
}

static int same_key(const s3_req_t *a, const s3_req_t *b)
{
    return a->keylen == b->keylen && !memcmp(a->key, b->key, a->keylen);
}

/* r must wait while an earlier request of its key is running or waiting and either writes. */
static int must_wait(const s3client_t *c, const s3_req_t *r)
{
    for (const s3_req_t *a = c->active; a; a = a->next)
        if (same_key(a, r) && (is_write(a) || is_write(r))) return 1;
    for (const s3_req_t *w = c->waiting.head; w && w != r; w = w->next)
        if (same_key(w, r) && (is_write(w) || is_write(r))) return 1;
    return 0;
}

static void start_waiting(s3client_t *c)
{
    s3_req_t *prev = NULL, *r = c->waiting.head;
    while (r && c->running < c->max_parallel) {
        s3_req_t *next = r->next;
        if (must_wait(c, r)) {
            prev = r;
            r = next;
            continue;
        }
        if (prev)
            prev->next = next;
        else
            c->waiting.head = next;
        if (c->waiting.tail == r) c->waiting.tail = prev;
        r->next = c->active;
        c->active = r;
        uint64_t len = r->method == S3_GET && c->part_size ? c->part_size : 0;
        int rc = r->method == S3_PUT && r->body_len > c->upload_part_size
                     ? start_mpu(c, r, T_MPU_INIT, 0, 0)
                     : start_transfer(c, r, 1, 0, len, 0);
        if (rc < 0) deliver(c, r);
        r = next;
    }
}

static void *s3client_main(void *arg)
{
    s3client_t *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        int stop = c->stop;
        s3_req_t *todo = c->todo.head, *todo_tail = c->todo.tail;
        QUEUE_CLEAR(&c->todo);
        pthread_mutex_unlock(&c->mu);
        if (todo) {
            if (c->waiting.tail)
                c->waiting.tail->next = todo;
            else
                c->waiting.head = todo;
            c->waiting.tail = todo_tail;
        }
        if (stop) break;
        start_waiting(c);
        int running = 0;
        curl_multi_perform(c->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(c->multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            s3_transfer_t *t;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            transfer_done(c, t, msg->data.result);
        }
        start_waiting(c);
        struct curl_waitfd wfd = {c->wake_fd, CURL_WAIT_POLLIN, 0};
        int numfds;
        curl_multi_poll(c->multi, &wfd, 1, 200, &numfds);
        if (wfd.revents) {
            uint64_t v;
            ssize_t rd = read(c->wake_fd, &v, sizeof v);
            (void)rd;
        }
    }
    /* Shutdown: whatever is still running or waiting is delivered as failed. */
    while (c->active) {
        s3_req_t *r = c->active;
        while (r->transfers)
            end_transfer(c, r->transfers);
        fail_req(r, "%s", "shutting down");
        deliver(c, r);
    }
    while (c->waiting.head) {
        s3_req_t *r = c->waiting.head;
        c->waiting.head = r->next;
        fail_req(r, "%s", "shutting down");
        r->next = NULL;
        atomic_fetch_sub(&c->in_flight, 1);
        mailbox_post(&c->results, &r->mail, on_delivered);
    }
    return NULL;
}

s3client_t *s3client_start(ev_loop_t *loop, const s3client_options_t *opt)
{
    static int curl_ready;
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = 1;
    }
    s3client_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->loop = loop;
    const char *region = opt->region && opt->region[0] ? opt->region : "us-east-1";
    if (opt->endpoint && opt->endpoint[0]) {
        snprintf(c->endpoint, sizeof c->endpoint, "%s", opt->endpoint);
        c->path_style = 1;
    } else {
        snprintf(c->endpoint, sizeof c->endpoint, "https://%s.s3.%s.amazonaws.com", opt->bucket,
                 region);
    }
    size_t el = strlen(c->endpoint);
    while (el && c->endpoint[el - 1] == '/')
        c->endpoint[--el] = 0;
    snprintf(c->bucket, sizeof c->bucket, "%s", opt->bucket);
    snprintf(c->prefix, sizeof c->prefix, "%s", opt->prefix ? opt->prefix : "");
    snprintf(c->sigv4, sizeof c->sigv4, "aws:amz:%s:s3", region);
    c->creds = opt->creds;
    c->timeout_ms = opt->timeout_ms > 0 ? opt->timeout_ms : 5000;
    c->part_size = opt->part_size;
    /* S3's parts are at least 5 MiB (all but the last). */
    c->upload_part_size = opt->part_size > 5 * 1024 * 1024 ? opt->part_size : 5 * 1024 * 1024;
    c->max_parallel = opt->max_parallel > 0 ? opt->max_parallel : 16;
    pthread_mutex_init(&c->mu, NULL);
    c->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    c->multi = curl_multi_init();
    if (c->wake_fd < 0 || !c->multi || mailbox_init(&c->results, loop, c) < 0) goto fail;
    if (pthread_create(&c->thread, NULL, s3client_main, c) != 0) {
        mailbox_close(&c->results, NULL);
        goto fail;
    }
    return c;
fail:
    if (c->multi) curl_multi_cleanup(c->multi);
    if (c->wake_fd >= 0) close(c->wake_fd);
    free(c);
    return NULL;
}

void s3client_submit(s3client_t *c, s3_req_t *r)
{
    r->submitted_ms = ev_now_ms();
    r->next = NULL;
    atomic_fetch_add(&c->in_flight, 1);
    pthread_mutex_lock(&c->mu);
    QUEUE_PUSH_TAIL(&c->todo, r, next);
    pthread_mutex_unlock(&c->mu);
    uint64_t one = 1;
    ssize_t w = write(c->wake_fd, &one, sizeof one);
    (void)w;
}

uint64_t s3client_part_retries(s3client_t *c)
{
    return atomic_load(&c->part_retries);
}

uint64_t s3client_in_flight(s3client_t *c)
{
    return atomic_load(&c->in_flight);
}

static void discard_mail(mail_t *m)
{
    s3_req_free((s3_req_t *)((char *)m - offsetof(s3_req_t, mail)));
}

void s3client_stop(s3client_t *c)
{
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_mutex_unlock(&c->mu);
    uint64_t one = 1;
    ssize_t w = write(c->wake_fd, &one, sizeof one);
    (void)w;
    pthread_join(c->thread, NULL);
    curl_multi_cleanup(c->multi);
    close(c->wake_fd);
    mailbox_close(&c->results, discard_mail);
    free(c);
}
