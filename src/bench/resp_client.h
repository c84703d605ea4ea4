/* resp_client.h -- icbench's blocking Redis-protocol client: one writev per command, bulk replies
 * read straight into one value buffer (no reader buffer in between), every length bounded. */
#ifndef IC_RESP_CLIENT_H
#define IC_RESP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define RESP_CLIENT_LINE_MAX 4096             /* longest status, error or header line */
#define RESP_CLIENT_VALUE_MAX ((uint64_t)4 << 30) /* default bound on a bulk reply */
#define RESP_CLIENT_ARGS_MAX 3

typedef enum {
    RESP_REPLY_STATUS,  /* +... : text/len */
    RESP_REPLY_ERROR,   /* -... : text/len; the connection stays usable */
    RESP_REPLY_INTEGER, /* :N   : integer */
    RESP_REPLY_NIL,     /* $-1 */
    RESP_REPLY_BULK,    /* $N   : value/len */
} resp_reply_kind_t;

typedef struct {
    resp_reply_kind_t kind;
    const char *text; /* status or error text, NUL-terminated, valid until the next call */
    const unsigned char *value; /* bulk bytes, valid until the next call */
    size_t len;
    int64_t integer;
} resp_reply_t;

/* Called while a bulk body arrives: value[0..have) of len bytes are in place (have only grows;
 * the buffer does not move during one reply). */
typedef void (*resp_progress_fn)(void *arg, const void *value, size_t len, size_t have);

typedef struct {
    int fd;             /* owned; -1 when closed */
    uint64_t value_max; /* a bulk reply announcing more is refused */
    char in[RESP_CLIENT_LINE_MAX + 2];
    size_t in_pos, in_len;     /* unread bytes are in[in_pos..in_len) */
    unsigned char *value;      /* bodies larger than what one read brings land here */
    size_t value_cap;
    resp_progress_fn progress; /* optional */
    void *progress_arg;
    buf_t heads; /* the command's RESP framing, encoded by resp.c, reused */
} resp_client_t;

/* Takes ownership of a connected socket (with its timeouts already set). */
void resp_client_init(resp_client_t *c, int fd, uint64_t value_max);
void resp_client_close(resp_client_t *c); /* closes the socket, frees the buffer */

/* Sends one command of argc (1..RESP_CLIENT_ARGS_MAX) arguments with a single writev. 0, or -1
 * with the reason in err. */
int resp_client_send(resp_client_t *c, int argc, const void *const *argv, const size_t *argl,
                     char *err, size_t errlen);

/* Reads one reply. 0 with *r filled, or -1 with the reason in err: the connection broke, timed
 * out, or the server sent something that is not a reply to a simple command (an array, a
 * malformed or oversized line, a bulk over value_max, a body without its CRLF); after -1 the
 * stream position is unknown and the caller must reconnect. */
int resp_client_read(resp_client_t *c, resp_reply_t *r, char *err, size_t errlen);

#endif
