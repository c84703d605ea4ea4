/* wbjournal.h -- the write-behind queue's journal: one text line per event, each with its own
 * CRC-32C so that a line torn by a crash is recognised and ignored. "Q SEQ KEYHEX CRC" says the
 * object under KEY was queued for upload; "U SEQ CRC" says the upload numbered SEQ is finished
 * (uploaded, or given up as lost). What was queued and never finished is replayed at start. The
 * codec does no I/O; wbjournal_replay reads a file through it. */
#ifndef IC_PROXY_WBJOURNAL_H
#define IC_PROXY_WBJOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define WBJ_KEY_MAX 65535                   /* the proxy's longest key */
#define WBJ_LINE_MAX (2 * WBJ_KEY_MAX + 64) /* a Q line with the longest key */

typedef enum { WBJ_QUEUED = 'Q', WBJ_DONE = 'U' } wbj_kind_t;

typedef struct {
    wbj_kind_t kind;
    uint64_t seq;
    char *key; /* Q: decoded into the caller's buffer */
    size_t keylen;
} wbj_rec_t;

/* Formats a record as one line (newline included) into out. Returns its length, or -1 when it
 * does not fit (cap of WBJ_LINE_MAX always does). */
int wbj_format(const wbj_rec_t *rec, char *out, size_t cap);

/* Parses one line (without its newline). For Q the key is decoded into keybuf (keycap bytes,
 * WBJ_KEY_MAX suffices) and rec->key points there. Returns 0, or -1 when malformed: an unknown
 * kind, bad hex, an odd or oversized key, extra fields, or a CRC that does not match. */
int wbj_parse(const char *line, size_t len, wbj_rec_t *rec, char *keybuf, size_t keycap);

/* Reads the journal at path and calls queued(seq, key) for every Q without a later U, in the
 * order queued. Lines that do not parse end the replay there (a torn tail); *bad counts them.
 * Returns the highest sequence number seen, 0 when the file is absent or empty, or -1 on an I/O
 * error (errno set). */
typedef void wbj_queued_fn(uint64_t seq, const char *key, size_t keylen, void *arg);
int64_t wbj_replay(const char *path, wbj_queued_fn *queued, void *arg, uint64_t *bad);

#endif
