/* bearer.c -- the Authorization header check of the metrics listener (RFC 6750 section 2.1). */
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "bearer.h"

int bearer_check(const char *header, const char *token, size_t token_len)
{
    static const char scheme[] = "Bearer";
    if (!header || !token_len) return 0;
    size_t len = strnlen(header, BEARER_HEADER_MAX + 1);
    if (len > BEARER_HEADER_MAX || len < sizeof scheme) return 0;
    if (strncasecmp(header, scheme, sizeof scheme - 1) != 0) return 0;
    size_t i = sizeof scheme - 1;
    if (header[i] != ' ') return 0;
    while (i < len && header[i] == ' ')
        i++;
    size_t end = len;
    while (end > i && (header[end - 1] == ' ' || header[end - 1] == '\t'))
        end--;
    /* Lengths differ: no match. The length of the token is not the secret; its bytes are. */
    if (end - i != token_len) return 0;
    return CRYPTO_memcmp(header + i, token, token_len) == 0;
}
