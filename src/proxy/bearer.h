/* bearer.h -- checks an HTTP "Authorization: Bearer <token>" header value against a secret. */
#ifndef IC_PROXY_BEARER_H
#define IC_PROXY_BEARER_H

#include <stddef.h>

/* Longest header value looked at: a token file holds at most 512 bytes (conf_token_read_file's
 * bound), so anything longer is refused before it is compared. */
#define BEARER_HEADER_MAX 1024

/* 1 if header (NUL-terminated, or NULL when absent) is the scheme "Bearer" in any case, one or
 * more spaces, then exactly the token, with nothing after it but spaces or tabs; 0 otherwise.
 * The token is compared in time that does not depend on where it differs, so a caller cannot
 * learn it byte by byte. An empty token matches nothing. */
int bearer_check(const char *header, const char *token, size_t token_len);

#endif
