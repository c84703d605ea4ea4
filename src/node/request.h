/* request.h -- incremental reader of the proxy's requests (RESP arrays of bulk strings) that
 * stops at a CSET chunk body so the caller can read it straight into the chunk's own buffer. */
#ifndef NODE_REQUEST_H
#define NODE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ec.h"
#include "resp.h"

#define NODE_REQ_MAX_ARGS 10         /* arguments kept; later ones are read and dropped */
#define NODE_REQ_MAX_ARG (64 * 1024) /* longest argument held in the reader (keys) */
#define NODE_REQ_MAX_ELEMENTS 1024   /* more elements than this in one request: protocol error */
#define NODE_REQ_MAX_BODY ((int64_t)EC_MAX_CHUNK_SIZE) /* longest bulk at all: one chunk */

/* CSET key index version crc size d p expire_ms chunk: the chunk is element 9 of 10. */
#define NODE_REQ_CSET_ELEMENTS 10
#define NODE_REQ_CSET_BODY 9

enum {
    NODE_REQ_NEED_MORE = 0,
    NODE_REQ_DONE = 1, /* a whole request: argv[0..nargs) */
    NODE_REQ_BODY = 2, /* element argi is a bulk of body_len bytes at the input's head */
};

typedef struct {
    int64_t argc;     /* elements of the request, -1 before its array header */
    int64_t argi;     /* next element to read */
    int64_t body_len; /* after NODE_REQ_BODY */
    int after_body;   /* the caller consumed a body; its CRLF comes next */
    int is_cset;      /* argv[0] is CSET: element NODE_REQ_CSET_BODY is the chunk body */
    int nargs;        /* arguments kept in argv (at most NODE_REQ_MAX_ARGS) */
    const char *argv[NODE_REQ_MAX_ARGS]; /* NUL-terminated copies, valid until reset */
    size_t argl[NODE_REQ_MAX_ARGS];
    size_t argoff[NODE_REQ_MAX_ARGS];
    buf_t store;
} node_req_t;

void node_req_init(node_req_t *r);
void node_req_reset(node_req_t *r); /* ready for the next request */
void node_req_free(node_req_t *r);
/* 1 while a request is partly read. */
int node_req_busy(const node_req_t *r);

/* Consumes from `in`. Returns NODE_REQ_*, or a negative RESP_E* code (the stream is then out of
 * sync and the connection must be closed). NODE_REQ_BODY is returned for the chunk of a CSET and
 * for any bulk longer than NODE_REQ_MAX_ARG; the caller then consumes exactly body_len bytes
 * (from `in` and/or the socket), calls node_req_body_done() and feeds again. A body that is not
 * a CSET chunk is to be discarded and the request answered with an error. */
int node_req_feed(node_req_t *r, buf_t *in);
void node_req_body_done(node_req_t *r);

#endif
