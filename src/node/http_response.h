/* http_response.h -- a pure HTTP/1.1 response parser for the Runtime API client: bytes in, no I/O. */
#ifndef NODE_HTTP_H
#define NODE_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
    HTTP_NEED_MORE = 0,
    HTTP_EPROTO = -1,  /* not a well-formed HTTP/1.x response */
    HTTP_ETOOBIG = -2, /* header block or body over the limits */
};
const char *http_strerror(int err);

typedef struct {
    size_t max_header; /* status line + header fields + blank line */
    size_t max_body;   /* decoded body bytes (Content-Length or sum of chunks) */
} http_limits_t;

/* 16 KiB of headers; 6 MiB of body, the largest payload Lambda accepts. */
extern const http_limits_t http_default_limits;

#define HTTP_MAX_HEADERS 32

typedef struct {
    const char *name, *value; /* point into the parsed input; not NUL-terminated */
    size_t name_len, value_len;
} http_field_t;

typedef struct {
    int status;
    int chunked;         /* Transfer-Encoding: chunked */
    size_t header_len;   /* bytes of the header block, blank line included */
    size_t body_len;     /* decoded body length */
    size_t message_len;  /* header + encoded body: bytes of the input this response used */
    int nfields;
    http_field_t fields[HTTP_MAX_HEADERS];
} http_response_t;

/* Parses one complete response at buf[0..len). Returns message_len (> 0) when the header and the
 * whole body are present, HTTP_NEED_MORE, or a negative HTTP_E* code. Fields point into buf. A
 * response without Content-Length or chunked encoding is an error (the client always needs to
 * know where a body ends, and the Runtime API always frames its bodies). */
ssize_t http_parse_response(const char *buf, size_t len, const http_limits_t *lim,
                            http_response_t *out);

/* Value of a header (case-insensitive name), or NULL; *vlen receives its length. */
const char *http_header(const http_response_t *r, const char *name, size_t *vlen);

/* Copies the decoded body of a response parsed from buf into dst (r->body_len bytes). */
void http_copy_body(const char *buf, const http_response_t *r, char *dst);

#endif
