/* resp.h -- streaming RESP codec: parses one line-header at a time and whole small commands
 * (RESP arrays or inline lines); large bulk bodies are left to the caller to read or forward.
 * Encoders write RESP2 or RESP3 as the output buffer's resp_proto says. No I/O, hard limits
 * everywhere. */
#ifndef IC_RESP_H
#define IC_RESP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

typedef enum {
    RESP_ARRAY = '*',
    RESP_BULK = '$',
    RESP_SIMPLE = '+',
    RESP_ERROR = '-',
    RESP_INTEGER = ':',
} resp_type_t;

/* Error codes returned as negative values by the parsers. */
enum {
    RESP_EPROTO = -1,  /* not RESP: bad type byte or malformed number */
    RESP_ETOOBIG = -2, /* a length or line over the configured limits */
    RESP_ENOMEM = -3,
    RESP_EQUOTES = -4, /* an inline line with unbalanced quotes */
};
const char *resp_strerror(int err);

typedef struct {
    int64_t max_bulk;  /* largest bulk body accepted */
    int64_t max_array; /* most elements in one array */
    size_t max_line;   /* longest header or inline line, CRLF included */
} resp_limits_t;

extern const resp_limits_t resp_default_limits; /* 1 GiB bulk, 1M elements, 64 KiB line */

/* One header: for arrays n = count (-1 null), bulks n = length (-1 null), integers n = value;
 * simple strings and errors: str/len point into the parsed input. */
typedef struct {
    resp_type_t type;
    int64_t n;
    const char *str;
    size_t len;
} resp_header_t;

/* Parses the header line at buf[0..len). Returns bytes consumed (> 0, the CRLF included),
 * 0 if the line is not complete yet, or a negative RESP_E* code. */
ssize_t resp_parse_header(const char *buf, size_t len, const resp_limits_t *lim, resp_header_t *out);

/* Parses one whole array of 1..lim->max_array bulk strings (a short message such as a node's
 * HELLO or a relay introduction) at buf[0..len): argv/argl (room for lim->max_array) point into
 * buf. Returns bytes consumed (> 0), 0 if incomplete, or a negative RESP_E* code (also for any
 * other shape). */
ssize_t resp_parse_bulk_array(const char *buf, size_t len, const resp_limits_t *lim, int *argc,
                              const char **argv, size_t *argl);

/* Incremental command reader for servers. Small arguments are copied into the reader; a bulk
 * longer than `small_max` stops the reader so the caller can place its body where it belongs. */
#define RESP_CMD_MAX_SMALL_ARGS 1024
#define RESP_CMD_MAX_STORE (64u << 20) /* total bytes of small arguments in one command */
#define RESP_CMD_KEEP_ARGS 64          /* argument arrays larger than this are freed on reset */
typedef struct {
    int64_t argc;  /* elements in the command, -1 before the array header */
    int64_t argi;  /* index of the next element to read */
    int64_t big_len;  /* when RESP_CMD_BIG: body length of element argi */
    int after_big;    /* the caller consumed a big body; its CRLF is next */
    int nsmall;       /* small arguments held in argv/argl */
    /* Grown on demand up to RESP_CMD_MAX_SMALL_ARGS (one allocation for the four arrays), so an
     * idle reader costs a few hundred bytes instead of 32 KiB. */
    int cap;
    const char **argv;
    size_t *argl;
    int64_t *argpos; /* element index of each small argument */
    size_t *argoff;  /* offset of each small argument in store */
    buf_t store;     /* copies of small arguments */
} resp_cmd_t;

enum {
    RESP_CMD_NEED_MORE = 0,
    RESP_CMD_DONE = 1, /* the whole command is read; argv holds every small argument */
    RESP_CMD_BIG = 2,  /* element argi is a bulk of big_len bytes starting at the input's head */
};

void resp_cmd_init(resp_cmd_t *c);
void resp_cmd_reset(resp_cmd_t *c); /* ready for the next command, keeps memory */
void resp_cmd_free(resp_cmd_t *c);
/* Consumes from `in` and returns RESP_CMD_* or a negative RESP_E* (the connection is then
 * unusable and should be closed after an error reply). Inline commands ("GET k\r\n", any line
 * not starting with '*') are accepted too and split as Redis's sdssplitargs does: blanks
 * separate words, "double quotes" take \n \r \t \b \a \xHH and \<any> escapes, 'single
 * quotes' take \'; a closing quote must end its word (else RESP_EQUOTES). A line longer than
 * lim->max_line is RESP_ETOOBIG. After RESP_CMD_BIG the caller consumes exactly big_len body bytes
 * itself, then calls resp_cmd_big_done() and feeds again. */
int resp_cmd_feed(resp_cmd_t *c, buf_t *in, const resp_limits_t *lim, size_t small_max);
void resp_cmd_big_done(resp_cmd_t *c);

/* Encoders: append RESP to an output buffer. Return 0 or -ENOMEM. */
int resp_add_simple(buf_t *b, const char *s);
int resp_add_error(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int resp_add_int(buf_t *b, int64_t v);
int resp_add_bulk(buf_t *b, const void *p, size_t n);
int resp_add_bulk_header(buf_t *b, size_t n);
/* A number as a bulk string ("$3\r\n123\r\n"): how the node protocol and the IC* commands carry
 * their numeric arguments. Without printf: it is on the path of every chunk request. */
int resp_add_bulk_u64(buf_t *b, uint64_t v);
int resp_add_array_header(buf_t *b, int64_t n);
int resp_add_null(buf_t *b); /* RESP2 $-1, RESP3 _ */
/* RESP3 types, written as Redis writes them to a RESP2 client when b->resp_proto is not 3:
 * a map of n pairs is an array of 2n, a set an array, a double a bulk string, a verbatim
 * string a bulk string (its three-letter format, "txt", is dropped). An array header of -1
 * is RESP3's null. */
int resp_add_map_header(buf_t *b, int64_t pairs);
int resp_add_set_header(buf_t *b, int64_t n);
int resp_add_double(buf_t *b, double v);
int resp_add_verbatim(buf_t *b, const char *format, const void *p, size_t n);
/* A bulk string of a NUL-terminated string (a map's key, most often). */
int resp_add_cstr(buf_t *b, const char *s);
int resp_add_crlf(buf_t *b);
int resp_add_command(buf_t *b, int argc, const char *const *argv, const size_t *argl);

/* Strict decimal parse of a whole argument; 0 or -1. */
int resp_parse_i64(const char *s, size_t len, int64_t *out);
int resp_parse_u64(const char *s, size_t len, uint64_t *out);

#endif
