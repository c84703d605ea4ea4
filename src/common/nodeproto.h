/* nodeproto.h -- the codec of the proxy<->node protocol (docs/PROTOCOL.md section 2), used by both
 * ends: encoders of every message into a buf_t, and decoders that take bytes as they arrive and
 * answer "need more", one message (its fields, and for a chunk or an inventory the length of the
 * body that follows), or a protocol error. No I/O, and no payload is ever copied: a decoder stops
 * at a body's first byte so that the caller reads or splices it straight to where it belongs. */
#ifndef IC_NODEPROTO_H
#define IC_NODEPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "ec.h"
#include "resp.h"

/* ---- limits ---- */
#define NODEPROTO_MAX_ARG (64 * 1024) /* longest argument other than a chunk (keys) */
#define NODEPROTO_MAX_ELEMENTS 1024   /* elements in one request */
#define NODEPROTO_MAX_BODY ((int64_t)EC_MAX_CHUNK_SIZE) /* longest bulk at all: one chunk */
#define NODEPROTO_MAX_LINE 64      /* a request's header lines are short ("$1073741824\r\n") */
#define NODEPROTO_REQ_KEEP_ARGS 10 /* arguments a request reader keeps; later ones are dropped */
#define NODEPROTO_MSG_MAX_ARGS 16  /* elements of an unsolicited message (HELLO, BYE, ...) */
#define NODEPROTO_MSG_MAX_ARG 4096 /* ... and the longest of them */
#define NODEPROTO_INVENTORY_MAX ((size_t)512 << 20) /* an INVENTORY reply's list */
#define NODEPROTO_MAX_LANES 64 /* LANES n: 1 <= n <= this; lanes are numbered 0..n-1 */

/* CSET key index version crc size d p expire_ms chunk: the chunk is element 9 of 10. */
#define NODEPROTO_CSET_ELEMENTS 10
#define NODEPROTO_CSET_BODY 9

/* ---- errors: negative; RESP's own codes (resp.h) may come through too ---- */
enum {
    NODEPROTO_EHEADER = -20,     /* a line that is not RESP */
    NODEPROTO_ETOOBIG = -21,     /* a length or a line over the limits above */
    NODEPROTO_ENOTARRAY = -22,   /* a request or message that is not an array */
    NODEPROTO_ENOTBULK = -23,    /* an element that is not a bulk string */
    NODEPROTO_ECRLF = -24,       /* a bulk not followed by CRLF */
    NODEPROTO_EUNEXPECTED = -25, /* a reply of another shape than its request's */
    NODEPROTO_ENOMEM = RESP_ENOMEM,
};
const char *nodeproto_strerror(int err);

/* The requests the proxy (or a backup source) sends, which decide the shape of their replies. */
typedef enum {
    NODEPROTO_PING,
    NODEPROTO_CSET,
    NODEPROTO_CGET,
    NODEPROTO_CDEL,
    NODEPROTO_STATS,
    NODEPROTO_INVENTORY,
    NODEPROTO_BACKUP,
    NODEPROTO_SYNCDONE,
    NODEPROTO_GOAWAY,
    NODEPROTO_CEXPIRE,
    NODEPROTO_CGETR,
    NODEPROTO_CRENAME,
    NODEPROTO_LANES,
} nodeproto_cmd_t;

/* ---- requests: proxy -> node ---- */

/* A CSET's fields; body_len is the chunk's length (the body itself is never in here). */
typedef struct {
    const char *key;
    size_t keylen;
    uint32_t index, crc, d, p;
    uint64_t version, size, expire_ms;
    size_t body_len;
} nodeproto_cset_t;

/* Encoders return 0 or -ENOMEM. CSET stops after the chunk's bulk header: the caller sends the
 * body_len bytes of the chunk, then nodeproto_put_body_end(). */
int nodeproto_put_cset(buf_t *b, const nodeproto_cset_t *c);
int nodeproto_put_body_end(buf_t *b);
int nodeproto_put_cget(buf_t *b, const char *key, size_t keylen, uint32_t index, uint64_t version);
/* CGETR key index version offset length: bytes [offset, offset + length) of a chunk (a ranged
 * read); length is at most NODEPROTO_MAX_BODY. */
int nodeproto_put_cgetr(buf_t *b, const char *key, size_t keylen, uint32_t index, uint64_t version,
                        uint64_t offset, uint64_t length);
int nodeproto_put_cdel(buf_t *b, const char *key, size_t keylen, uint32_t index, uint64_t version,
                       int tomb);
/* CEXPIRE key index version expire_ms: the chunk's new expiry (0 = none). */
int nodeproto_put_cexpire(buf_t *b, const char *key, size_t keylen, uint32_t index,
                          uint64_t version, uint64_t expire_ms);
/* CRENAME key index version newkey newversion: the chunk (key, index, version) is from now on
 * (newkey, index, newversion); the old name gets a tombstone. */
int nodeproto_put_crename(buf_t *b, const char *key, size_t keylen, uint32_t index,
                          uint64_t version, const char *newkey, size_t newkeylen,
                          uint64_t newversion);
/* A request without arguments: PING, STATS, INVENTORY, SYNCDONE or GOAWAY. */
int nodeproto_put_simple(buf_t *b, nodeproto_cmd_t cmd);
/* BACKUP relay token endpoint [sigv4] (sigv4 NULL or empty: the 4-element form). */
int nodeproto_put_backup(buf_t *b, const char *relay, size_t relay_len, const char *token,
                         size_t token_len, const char *endpoint, size_t endpoint_len,
                         const char *sigv4, size_t sigv4_len);

/* LANES n: the node keeps n connections to the proxy, lane 0 (the one this is sent on) and lanes
 * 1..n-1, which it dials (PROTOCOL.md section 2, "Lanes"); 1 <= n <= NODEPROTO_MAX_LANES. */
int nodeproto_put_lanes(buf_t *b, unsigned n);

/* Incremental reader of requests on the node. Arguments are copied into the reader (at most
 * NODEPROTO_REQ_KEEP_ARGS of them, each up to NODEPROTO_MAX_ARG); a CSET chunk, or any longer
 * bulk, stops the reader so the caller can place the body where it belongs. */
enum {
    NODEPROTO_REQ_NEED_MORE = 0,
    NODEPROTO_REQ_DONE = 1, /* a whole request: argv[0..nargs) */
    NODEPROTO_REQ_BODY = 2, /* element argi is a bulk of body_len bytes at the input's head */
};

typedef struct {
    int64_t argc;     /* elements of the request, -1 before its array header */
    int64_t argi;     /* next element to read */
    int64_t body_len; /* after NODEPROTO_REQ_BODY */
    int after_body;   /* the caller consumed a body; its CRLF comes next */
    int is_cset;      /* argv[0] is CSET: element NODEPROTO_CSET_BODY is the chunk body */
    int nargs;        /* arguments kept in argv */
    const char *argv[NODEPROTO_REQ_KEEP_ARGS]; /* NUL-terminated copies, valid until reset */
    size_t argl[NODEPROTO_REQ_KEEP_ARGS];
    size_t argoff[NODEPROTO_REQ_KEEP_ARGS];
    buf_t store;
} nodeproto_req_t;

void nodeproto_req_init(nodeproto_req_t *r);
void nodeproto_req_reset(nodeproto_req_t *r); /* ready for the next request */
void nodeproto_req_free(nodeproto_req_t *r);
int nodeproto_req_busy(const nodeproto_req_t *r); /* 1 while a request is partly read */
/* Consumes from `in`. Returns NODEPROTO_REQ_*, or a negative NODEPROTO_E* code (the stream is out
 * of sync and the connection must be closed). After NODEPROTO_REQ_BODY the caller consumes
 * exactly body_len bytes (from `in` and/or the socket), calls nodeproto_req_body_done() and feeds
 * again. A body that is not a CSET chunk is to be discarded and the request answered with an
 * error. */
int nodeproto_req_feed(nodeproto_req_t *r, buf_t *in);
void nodeproto_req_body_done(nodeproto_req_t *r);
/* 1 if the request's name (argv[0]) is `name`, case-insensitively. */
int nodeproto_req_is(const nodeproto_req_t *r, const char *name);

/* Parses the arguments of a CSET (argv[1..8]) into c (key, fields; body_len is not touched).
 * Returns NULL, or the error the node answers ("ERR invalid crc", ...). The coding rules are
 * those an inventory line must meet (inventory.h), so whatever is stored can be listed. */
const char *nodeproto_cset_decode(const nodeproto_req_t *r, nodeproto_cset_t *c);
/* "key index version" at argv[1..3] of CGET and CDEL: NULL, or the error to answer. */
const char *nodeproto_chunk_id_decode(const nodeproto_req_t *r, uint32_t *index, uint64_t *version);

/* "key index version offset length" at argv[1..5] of CGETR: NULL, or the error to answer. The
 * piece must lie inside the chunk, which only the node knows: it checks that itself. */
const char *nodeproto_cgetr_decode(const nodeproto_req_t *r, uint32_t *index, uint64_t *version,
                                   uint64_t *offset, uint64_t *length);

/* "key index version expire_ms" at argv[1..4] of CEXPIRE: NULL, or the error to answer. */
const char *nodeproto_cexpire_decode(const nodeproto_req_t *r, uint32_t *index, uint64_t *version,
                                     uint64_t *expire_ms);

/* The fields of a CRENAME key index version newkey newversion (argv[1..5]); the keys point
 * into the request reader. */
typedef struct {
    const char *key, *newkey;
    size_t keylen, newkeylen;
    uint32_t index;
    uint64_t version, newversion;
} nodeproto_crename_t;
/* NULL, or the error to answer. newversion must not be 0 (no chunk has version 0). */
const char *nodeproto_crename_decode(const nodeproto_req_t *r, nodeproto_crename_t *c);

/* The count of a LANES n request (argv[1]): NULL, or the error to answer ("ERR invalid lane
 * count" for anything but a decimal 1..NODEPROTO_MAX_LANES). */
const char *nodeproto_lanes_decode(const nodeproto_req_t *r, unsigned *n);

/* ---- replies: node -> proxy, in the order of the requests ---- */

/* CGET hit: "*2 :crc $len", then the caller sends len body bytes and nodeproto_put_body_end().
 * A miss is $-1 (resp_add_null). */
int nodeproto_put_chunk_header(buf_t *b, uint32_t crc, size_t len);
/* CGETR hit: "*3 :head_crc :tail_crc $len", the CRC-32C of the chunk's bytes before the piece
 * and after it; then the caller sends the len bytes of the piece and nodeproto_put_body_end(). The
 * reader checks the piece against the chunk's CRC with ec_crc_combine(). A miss is $-1. */
int nodeproto_put_piece_header(buf_t *b, uint32_t head_crc, uint32_t tail_crc, size_t len);
/* INVENTORY: "$len", then the list and nodeproto_put_body_end(). */
int nodeproto_put_inventory_header(buf_t *b, size_t len);
int nodeproto_put_stats(buf_t *b, uint64_t mem_limit, uint64_t mem_used, uint64_t chunks,
                        uint64_t invocation);

typedef enum {
    NODEPROTO_REPLY_SIMPLE, /* +OK, +PONG: str/len */
    NODEPROTO_REPLY_ERROR,  /* -...: str/len */
    NODEPROTO_REPLY_INT,    /* CDEL, CEXPIRE, CRENAME: n (0 not held, 1 done) */
    NODEPROTO_REPLY_NULL,   /* CGET, CGETR: $-1, the node does not hold that version */
    NODEPROTO_REPLY_CHUNK,  /* CGET: crc, body_len; the body and its CRLF follow */
    NODEPROTO_REPLY_BULK,   /* INVENTORY: body_len bytes and a CRLF follow */
    NODEPROTO_REPLY_STATS,  /* STATS: stats[4] = mem_limit, mem_used, chunks, invocation */
    NODEPROTO_REPLY_PIECE,  /* CGETR: crc (the head's), tail_crc, body_len; body and CRLF follow */
} nodeproto_reply_kind_t;

typedef struct {
    nodeproto_reply_kind_t kind;
    const char *str; /* SIMPLE, ERROR: points into the parsed input */
    size_t len;
    int64_t n;         /* INT */
    uint32_t crc;      /* CHUNK; PIECE: the CRC of the chunk's bytes before the piece */
    uint32_t tail_crc; /* PIECE: the CRC of the chunk's bytes after the piece */
    size_t body_len;   /* CHUNK, BULK */
    int64_t stats[4];  /* STATS */
} nodeproto_reply_t;

/* Parses the reply to a `cmd` request at buf[0..len), all of it but a body: returns the bytes
 * it takes (> 0), 0 if it is not all there yet (nothing is consumed, so the caller keeps no
 * state between reads), or a negative NODEPROTO_E* code; an error reply (-...) is accepted for
 * every request. A chunk body is at most NODEPROTO_MAX_BODY, an inventory NODEPROTO_INVENTORY_MAX
 * (ETOOBIG past them). */
ssize_t nodeproto_parse_reply(const char *buf, size_t len, nodeproto_cmd_t cmd,
                              nodeproto_reply_t *out);

/* With a body of `len` bytes at buf[0..avail): len + 2 if the body and its CRLF are all there,
 * 0 if not yet, NODEPROTO_ECRLF if the two bytes after it are not CRLF. */
ssize_t nodeproto_body_in_buffer(const char *buf, size_t avail, size_t len);

/* ---- unsolicited messages: node -> proxy (HELLO, BYE, BACKUPDONE) and both ways at the start
 * of a connection (CHALLENGE, REFUSED, RELAY) ---- */

/* HELLO node_id instance mem_limit mem_used chunks invocation [epoch] proof. The proof is always
 * the last element; `epoch` (the highest takeover epoch the node has accepted) is there when
 * has_epoch is set, and the proof then covers it (nodeauth_hello_epoch_proof). A HELLO without
 * one (a node of an earlier release) reads as epoch 0. */
typedef struct {
    int64_t node_id;
    const char *node_id_text, *instance, *proof; /* point into the message */
    size_t node_id_len, instance_len, proof_len;
    int64_t mem_limit, mem_used, chunks, invocation;
    int has_epoch;
    int64_t epoch;          /* 0..2^63-1 */
    const char *epoch_text; /* its decimal text, which the proof covers */
    size_t epoch_len;
} nodeproto_hello_t;

int nodeproto_put_hello(buf_t *b, const nodeproto_hello_t *h);
int nodeproto_put_bye(buf_t *b);
int nodeproto_put_backupdone(buf_t *b, const char *token, const char *status, uint64_t chunks_sent,
                             uint64_t bytes_sent, uint64_t chunks_deleted);
int nodeproto_put_challenge(buf_t *b, const char *challenge);
int nodeproto_put_refused(buf_t *b, const char *reason);
/* RELAY token role [proof]: how a backup's source and peer introduce themselves to the relay. */
int nodeproto_put_relay(buf_t *b, const char *token, const char *role, const char *proof);

/* On a connection that carries both, whether the bytes at buf[0..len) start an unsolicited
 * message (an array whose first element is a bulk) rather than a reply (replies never are):
 * 1 message, 0 reply, -1 not enough bytes to tell. */
int nodeproto_is_message(const char *buf, size_t len);

typedef struct {
    int argc;
    const char *argv[NODEPROTO_MSG_MAX_ARGS]; /* point into the parsed input */
    size_t argl[NODEPROTO_MSG_MAX_ARGS];
} nodeproto_msg_t;

/* Parses one whole message (an array of 1..NODEPROTO_MSG_MAX_ARGS bulks of at most
 * NODEPROTO_MSG_MAX_ARG bytes). Returns the bytes it takes, 0 if incomplete, or a negative
 * NODEPROTO_E* code. */
ssize_t nodeproto_parse_message(const char *buf, size_t len, nodeproto_msg_t *m);
/* The same for a relay introduction, RELAY token role proof: at most 4 elements of at most
 * NODEPROTO_RELAY_MAX_ARG bytes (a longer one is an error as soon as its header arrives). */
#define NODEPROTO_RELAY_MAX_ARG 128
ssize_t nodeproto_parse_relay(const char *buf, size_t len, nodeproto_msg_t *m);
/* 1 if the message's name (argv[0]) is `name`, case-insensitively. */
int nodeproto_msg_is(const nodeproto_msg_t *m, const char *name);
/* The fields of a HELLO: 8 elements without an epoch, 9 with one (more are refused). The strings
 * are filled whenever the shape is right, so that the proof can be checked before the numbers are
 * trusted. Returns 0, NODEPROTO_EUNEXPECTED for fewer than 8 elements or more than 9 (no proof
 * where one is looked for), or NODEPROTO_EHEADER for a field that is not a number (an epoch must
 * be one, not negative). */
int nodeproto_hello_decode(const nodeproto_msg_t *m, nodeproto_hello_t *h);

/* LANE node_id instance lane proof: the node's first message on lane `lane` (1..
 * NODEPROTO_MAX_LANES - 1), answering the CHALLENGE the proxy sent on it. lane_text is the decimal
 * text the proof covers. */
typedef struct {
    int64_t node_id;
    unsigned lane;
    const char *node_id_text, *instance, *lane_text, *proof; /* point into the message */
    size_t node_id_len, instance_len, lane_len, proof_len;
} nodeproto_lane_t;
/* Encodes from node_id, instance, lane and proof (the *_text fields are not used). */
int nodeproto_put_lane(buf_t *b, const nodeproto_lane_t *l);
/* The fields of a LANE message. The strings are filled whenever there are 5 elements, so that the
 * proof can be checked before the numbers are trusted. Returns 0, NODEPROTO_EUNEXPECTED for
 * another element count, or NODEPROTO_EHEADER for a node_id that is not a number or a lane that
 * is not a decimal 1..NODEPROTO_MAX_LANES - 1 without leading zeros. */
int nodeproto_lane_decode(const nodeproto_msg_t *m, nodeproto_lane_t *l);

/* The fields of a BACKUPDONE token status chunks_sent bytes_sent chunks_deleted. */
typedef struct {
    const char *token, *status; /* point into the message */
    size_t token_len, status_len;
    int ok; /* status is "ok" */
    int64_t chunks_sent, bytes_sent, chunks_deleted;
} nodeproto_backupdone_t;
/* 0, or NODEPROTO_EUNEXPECTED for fewer than 3 elements (no token and status). Counts that are
 * missing or not numbers read as 0: they only feed statistics. */
int nodeproto_backupdone_decode(const nodeproto_msg_t *m, nodeproto_backupdone_t *b);

/* BILL seq kind duration_us billed_ms memory_mb max_rss_kb dropped: a node's account of one
 * invocation it ended (what Lambda's REPORT line says), sent on lane 0 before BYE; records of
 * invocations without a proxy connection (warm-ups, backup peers, a lost connection) wait in the
 * node and go out at its next serving invocation (PROTOCOL.md section 2, "Billing records"). */
#define NODEPROTO_BILL_ELEMENTS 8
#define NODEPROTO_BILL_MAX_DURATION_US                                                             \
    (960LL * 1000 * 1000)            /* Lambda's 900 s limit and a minute                          \
                                      */
#define NODEPROTO_BILL_SLACK_MS 1000 /* billed_ms may exceed the duration by a rounding unit */
#define NODEPROTO_BILL_MAX_MEMORY_MB 10240 /* Lambda's largest function */
#define NODEPROTO_BILL_MAX_RSS_KB ((int64_t)NODEPROTO_BILL_MAX_MEMORY_MB * 1024 * 4)
#define NODEPROTO_BILL_MAX_COUNT ((int64_t)1 << 53) /* seq and dropped: exact in a double */
/* The kinds, in the order of billing_kind_t (src/model/billing.h): their names on the wire. */
#define NODEPROTO_BILL_KINDS 4
extern const char *const nodeproto_bill_kind_names[NODEPROTO_BILL_KINDS];

typedef struct {
    int64_t seq;         /* the instance's invocation number, 1.. (increasing) */
    int kind;            /* 0..NODEPROTO_BILL_KINDS-1 */
    int64_t duration_us; /* from the runtime's /next answer until its /response (or /error) post is
                            answered */
    int64_t billed_ms;   /* the duration rounded up to the billing unit, at least one unit */
    int64_t memory_mb;   /* AWS_LAMBDA_FUNCTION_MEMORY_SIZE */
    int64_t max_rss_kb;  /* the process's peak resident set so far */
    int64_t dropped;     /* records this instance could not keep for lack of room, so far */
} nodeproto_bill_t;

int nodeproto_put_bill(buf_t *b, const nodeproto_bill_t *r);
/* The fields of a BILL, each a decimal without sign or leading zeros within the bounds above;
 * seq at least 1; kind one of nodeproto_bill_kind_names; billed_ms from the duration rounded up
 * to a millisecond (at least 1) to that plus NODEPROTO_BILL_SLACK_MS; memory_mb 1.. the maximum.
 * 0, NODEPROTO_EUNEXPECTED for another element count, or NODEPROTO_EHEADER for a field out of
 * bounds (the record is then not counted at all). */
int nodeproto_bill_decode(const nodeproto_msg_t *m, nodeproto_bill_t *r);

#endif
