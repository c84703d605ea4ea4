/* s3client.h -- requests to an S3-compatible object store over libcurl, on a thread of its own
 * (as the invoker's Lambda calls: the event loop never waits on HTTP). Each request's result is
 * handed back to the loop through a mailbox and its callback runs there. */
#ifndef IC_PROXY_S3CLIENT_H
#define IC_PROXY_S3CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "mailbox.h"
#include "s3parse.h"

typedef struct s3client s3client_t;
typedef struct awscreds_provider awscreds_provider_t;
typedef struct s3_req s3_req_t;

typedef enum { S3_GET, S3_PUT, S3_DELETE, S3_HEAD } s3_method_t;

/* Runs on the loop's thread once the request has ended; owns r (s3_req_free). */
typedef void s3_done_fn(s3_req_t *r);

typedef struct {
    const char *endpoint; /* "": AWS (virtual-hosted https://BUCKET.s3.REGION.amazonaws.com);
                             else a base URL, addressed path-style (URL/BUCKET/KEY) */
    const char *bucket;
    const char *prefix;         /* prepended to every key ("" none) */
    const char *region;         /* for SigV4 and the AWS host name */
    awscreds_provider_t *creds; /* NULL: unsigned requests */
    int64_t timeout_ms;         /* connect, and no byte moving for this long, fail a transfer */
    uint64_t part_size;         /* GETs larger than this are read in parallel ranged parts */
    int max_parallel;           /* transfers at once */
} s3client_options_t;

struct s3_req {
    mail_t mail; /* the loop's delivery (internal) */
    s3_req_t *next;
    s3_method_t method;
    char *key; /* the cache key (the store's key is prefix + key) */
    size_t keylen;
    /* PUT: the body, which the caller keeps alive until done runs */
    const char *body;
    size_t body_len;
    /* GET/HEAD: "" or an ETag; GET answers 304 (not_modified) when the object still has it */
    char if_none_match[S3_ETAG_MAX + 1];
    uint64_t max_size; /* GET: a larger object fails with too_large set, its bytes unread */
    s3_done_fn *done;
    void *arg;
    uint64_t submitted_ms;
    /* ---- result ---- */
    int ok;        /* 2xx (or 304, or a GET/HEAD/DELETE 404 with not_found set) */
    int not_found; /* 404 NoSuchKey */
    int not_modified;
    int too_large;
    long status;   /* HTTP status; 0: no answer (connection, timeout) */
    char err[300]; /* why it failed: the store's Code and Message, or curl's reason */
    char etag[S3_ETAG_MAX + 1];
    unsigned char *data; /* GET: the object's bytes (malloc'd, owned by the request) */
    uint64_t size;       /* GET/HEAD: the object's size */
    /* ---- the client thread's ---- */
    struct s3_transfer *transfers; /* running parts */
    int parts_left;
    /* PUT as a multipart upload */
    char upload_id[512];
    char (*part_etags)[S3_ETAG_MAX + 1];
    uint32_t nparts, next_part, parts_ok;
    int completed, aborting;
    uint64_t next_off; /* GET: the next byte a part asks for */
    int failed;
};

/* Starts the client's thread; loop is where results are delivered. NULL on failure. */
s3client_t *s3client_start(ev_loop_t *loop, const s3client_options_t *opt);

/* A request for key (copied) with method; fill in body/if_none_match/max_size, then submit.
 * NULL when out of memory. */
s3_req_t *s3_req_new(s3_method_t method, const char *key, size_t keylen, s3_done_fn *done,
                     void *arg);
void s3_req_free(s3_req_t *r);

/* Queues r. Requests of one key run in the order submitted whenever one of them writes (PUT,
 * DELETE): a GET submitted after a DELETE of its key sees the delete. Never blocks. */
void s3client_submit(s3client_t *c, s3_req_t *r);

/* Requests submitted and not yet delivered. */
uint64_t s3client_in_flight(s3client_t *c);
/* Parts of multi-part GETs and uploads sent again after a transient failure. */
uint64_t s3client_part_retries(s3client_t *c);

/* Stops the thread: requests still queued or running are delivered as failed ("shutting
 * down") once the loop drains the mailbox, or dropped by s3client_free. */
void s3client_stop(s3client_t *c);

#endif
