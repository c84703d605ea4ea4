/* icproto.h -- the codec of the library's large-object commands (docs/PROTOCOL.md section 1:
 * ICSET, ICGET, ICGETCHUNKS, ICREPAIR): request encoders for the library, request decoders for
 * the proxy, reply encoders for the proxy and the incremental reply decoder for the library. No
 * I/O, and no chunk body is copied: encoders stop before a body, the decoder stops at one. */
#ifndef IC_ICPROTO_H
#define IC_ICPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "ec.h"
#include "resp.h"

#define ICPROTO_MAX_KEY (64u << 10) /* bytes of a key */

/* Every decoder's one error: the input is not the shape of docs/PROTOCOL.md; a text saying
 * what is wrong is left where the decoder says. */
#define ICPROTO_EPROTO (-1)

/* What a reply's metadata line says of the object. */
typedef struct {
    uint64_t version;
    uint64_t size;
    int d, p, n;
    size_t chunk_size;
    uint32_t crc[EC_MAX_CHUNKS];
} icproto_meta_t;

/* Chunk entry states in a reply. */
enum {
    ICPROTO_CHUNK_SENT = 0,     /* the body follows */
    ICPROTO_CHUNK_NOT_SENT = 1, /* late, or not among those asked for */
    ICPROTO_CHUNK_LOST = 2,     /* the node does not have it */
};

/* ---- requests (library -> proxy) ---- */

/* Everything of an ICSET before its chunks: *<5+2n> ICSET key d p size crc_0..crc_{n-1}. Each
 * chunk then goes as icproto_put_chunk_header(), its chunk_size bytes, icproto_put_chunk_end().
 * Encoders return 0 or -ENOMEM. */
int icproto_put_icset(buf_t *b, const char *key, size_t keylen, int d, int p, uint64_t size,
                      const uint32_t *crcs);
int icproto_put_chunk_header(buf_t *b, size_t chunk_size);
int icproto_put_chunk_end(buf_t *b);
/* ICGET key [ALL] (all: forward every chunk instead of the first d). */
int icproto_put_icget(buf_t *b, const char *key, size_t keylen, int all);
/* ICGETCHUNKS key version need index_1..index_m. */
int icproto_put_icgetchunks(buf_t *b, const char *key, size_t keylen, uint64_t version,
                            unsigned need, const int *indexes, int m);
/* ICREPAIR key version index crc, then the chunk as icproto_put_chunk_header() and the rest. */
int icproto_put_icrepair(buf_t *b, const char *key, size_t keylen, uint64_t version, int index,
                         uint32_t crc);

/* ---- request decoders (on the proxy; argv as its command reader gives them) ---- */

/* ICSET's fields before the chunks (argv[1..4+n]). */
typedef struct {
    const char *key;
    size_t keylen;
    int d, p, n;
    uint64_t size;
    uint32_t crc[EC_MAX_CHUNKS];
} icproto_icset_t;

/* Returns 0, or ICPROTO_EPROTO with the reply's text in err ("ERR ICSET: bad d or p", ...). The
 * caller checks the size against its own limit. */
int icproto_icset_decode(int argc, const char *const *argv, const size_t *argl,
                         icproto_icset_t *out, char *err, size_t errlen);
/* ICGET key [ALL]: 0 with *all set, or ICPROTO_EPROTO with the reply's text in err. */
int icproto_icget_decode(int argc, const char *const *argv, const size_t *argl, int *all, char *err,
                         size_t errlen);
/* ICGETCHUNKS key version need index...: the numbers first (0 or ICPROTO_EPROTO + err), then,
 * once the caller knows the object's n, the indexes as a bit set (0 or ICPROTO_EPROTO + err:
 * an index not below n, a repeated one, or a need outside 1..m). */
int icproto_icgetchunks_decode(int argc, const char *const *argv, const size_t *argl,
                               uint64_t *version, uint64_t *need, char *err, size_t errlen);
int icproto_icgetchunks_indexes(int argc, const char *const *argv, const size_t *argl, int n,
                                uint64_t need, uint64_t *listed, char *err, size_t errlen);

/* ICREPAIR key version index crc chunk: the three numbers (argv[2..4]); 0 or ICPROTO_EPROTO + err.
 * The index is checked against the object by the caller. */
int icproto_icrepair_decode(int argc, const char *const *argv, const size_t *argl,
                            uint64_t *version, uint64_t *index, uint32_t *crc, char *err,
                            size_t errlen);

/* ---- replies (proxy -> library) ---- */

/* *<1+n> and the metadata line *<5+n> :version :size :d :p :chunk_size :crc... */
int icproto_put_meta(buf_t *b, const icproto_meta_t *m);
/* One chunk entry's header: *3 :index :state, then $<len> (the body and
 * icproto_put_chunk_end() follow) when state is ICPROTO_CHUNK_SENT, else $-1. */
int icproto_put_entry(buf_t *b, int index, int state, size_t len);

/* The incremental decoder of an ICGET or ICGETCHUNKS reply. */
enum {
    ICPROTO_REPLY_NEED_MORE = 0,
    ICPROTO_REPLY_MISS,  /* $-1: no such key; the reply is complete */
    ICPROTO_REPLY_ERROR, /* -ERR: the text is in ev->str/len (points into the input); complete */
    ICPROTO_REPLY_META,  /* metadata parsed and checked: see r->meta */
    ICPROTO_REPLY_CHUNK, /* an entry: ev->index, ev->state; for state 0 the caller must take
                            exactly meta.chunk_size body bytes from the input, then call
                            icproto_reply_body_done */
    ICPROTO_REPLY_DONE,  /* all n entries read */
};

typedef struct {
    int index;
    int state;
    const char *str;
    size_t len;
} icproto_reply_event_t;

typedef struct {
    int phase;
    int64_t top_n;
    int meta_i, meta_n;
    int entries;
    int index, state;
    uint8_t seen[EC_MAX_CHUNKS];
    uint64_t max_object;
    icproto_meta_t meta;
    const char *err; /* after ICPROTO_EPROTO: what was wrong */
} icproto_reply_t;

void icproto_reply_init(icproto_reply_t *r, uint64_t max_object);
/* Parses from buf[0..len), stopping after one event. *used = bytes consumed (also on NEED_MORE).
 * Returns ICPROTO_REPLY_* or ICPROTO_EPROTO (r->err says why). */
int icproto_reply_feed(icproto_reply_t *r, const char *buf, size_t len, size_t *used,
                       icproto_reply_event_t *ev);
void icproto_reply_body_done(icproto_reply_t *r);

#endif
