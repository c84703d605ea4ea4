/* inventory.c -- encoding and strict parsing of a node's chunk list (see inventory.h). */
#include "inventory.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "ec.h"

int inv_append(buf_t *b, const inv_entry_t *e)
{
    int rc;
    if (e->tomb)
        rc = buf_printf(b, "T %" PRIu64 " %" PRIu64 " %zu:", e->version, e->expire_ms, e->keylen);
    else
        rc = buf_printf(b, "%" PRIu32 " %" PRIu64 " %" PRIu32 " %" PRIu64 " %" PRIu64 " %" PRIu32
                           " %" PRIu32 " %" PRIu64 " %zu:",
                        e->index, e->version, e->crc, e->chunk_len, e->size, e->d, e->p,
                        e->expire_ms, e->keylen);
    if (rc == 0) rc = buf_append(b, e->key, e->keylen);
    if (rc == 0) rc = buf_append(b, "\n", 1);
    return rc;
}

/* A decimal number of at most 20 digits, ending at `stop`. */
static int parse_num(const char *data, size_t len, size_t *pos, char stop, uint64_t max,
                     uint64_t *out)
{
    size_t i = *pos, digits = 0;
    uint64_t v = 0;
    while (i < len && data[i] >= '0' && data[i] <= '9') {
        unsigned dgt = (unsigned)(data[i] - '0');
        if (++digits > 20 || v > (UINT64_MAX - dgt) / 10) return -EINVAL;
        v = v * 10 + dgt;
        i++;
    }
    if (digits == 0 || i >= len || data[i] != stop || v > max) return -EINVAL;
    *pos = i + 1;
    *out = v;
    return 0;
}

/* "T <version> <expire_ms> <keylen>:<key>\n" from data[i], the 'T' already seen. */
static int next_tomb(const char *data, size_t len, size_t *pos, size_t i, inv_entry_t *e)
{
    uint64_t f[3];
    if (i + 1 >= len || data[i + 1] != ' ') return -EINVAL;
    i += 2;
    for (int k = 0; k < 3; k++)
        if (parse_num(data, len, &i, k == 2 ? ':' : ' ', k == 2 ? INV_MAX_KEY : UINT64_MAX,
                      &f[k]) < 0)
            return -EINVAL;
    size_t keylen = (size_t)f[2];
    if (len - i < keylen + 1 || data[i + keylen] != '\n') return -EINVAL;
    memset(e, 0, sizeof *e);
    e->tomb = 1;
    e->version = f[0];
    e->expire_ms = f[1];
    e->key = data + i;
    e->keylen = keylen;
    *pos = i + keylen + 1;
    return 1;
}

int inv_next(const char *data, size_t len, size_t *pos, inv_entry_t *e)
{
    size_t i = *pos;
    if (i >= len) return 0;
    if (data[i] == 'T') return next_tomb(data, len, pos, i, e);
    uint64_t f[9];
    static const uint64_t max[9] = {EC_MAX_CHUNKS - 1, UINT64_MAX, UINT32_MAX, UINT64_MAX,
                                    UINT64_MAX,        EC_MAX_CHUNKS, EC_MAX_CHUNKS, UINT64_MAX,
                                    INV_MAX_KEY};
    for (int k = 0; k < 9; k++)
        if (parse_num(data, len, &i, k == 8 ? ':' : ' ', max[k], &f[k]) < 0) return -EINVAL;
    size_t keylen = (size_t)f[8];
    if (len - i < keylen + 1 || data[i + keylen] != '\n') return -EINVAL;
    if (f[5] < 1 || f[5] + f[6] > EC_MAX_CHUNKS || f[0] >= f[5] + f[6]) return -EINVAL;
    e->tomb = 0;
    e->index = (uint32_t)f[0];
    e->version = f[1];
    e->crc = (uint32_t)f[2];
    e->chunk_len = f[3];
    e->size = f[4];
    e->d = (uint32_t)f[5];
    e->p = (uint32_t)f[6];
    e->expire_ms = f[7];
    e->key = data + i;
    e->keylen = keylen;
    *pos = i + keylen + 1;
    return 1;
}
