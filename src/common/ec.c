/* ec.c -- RS(d+p) encode/decode with ISA-L; Cauchy matrix, or replication when d == 1. */
#include "ec.h"

#include <errno.h>
#include <isa-l/crc.h>
#include <isa-l/erasure_code.h>
#include <string.h>

int ec_params_valid(int d, int p)
{
    return d >= 1 && d <= EC_MAX_DATA && p >= 0 && d + p <= EC_MAX_CHUNKS;
}

size_t ec_chunk_size(uint64_t object_size, int d)
{
    uint64_t per = (object_size + (uint64_t)d - 1) / (uint64_t)d;
    return (size_t)((per + EC_ALIGN - 1) / EC_ALIGN * EC_ALIGN);
}

/* The (d+p) x d encoding matrix: identity on top, then the parity rows. */
static void encode_matrix(int d, int p, uint8_t *m)
{
    int n = d + p;
    if (d == 1) {
        memset(m, 1, (size_t)n); /* every chunk is a copy of the one data chunk */
        return;
    }
    gf_gen_cauchy1_matrix(m, n, d);
}

int ec_encode(int d, int p, size_t chunk_size, uint8_t *const *data, uint8_t *const *parity)
{
    if (!ec_params_valid(d, p)) return -EINVAL;
    if (p == 0 || chunk_size == 0) return 0;
    if (d == 1) {
        for (int i = 0; i < p; i++)
            memcpy(parity[i], data[0], chunk_size);
        return 0;
    }
    uint8_t m[EC_MAX_CHUNKS * EC_MAX_DATA];
    uint8_t tables[EC_MAX_DATA * EC_MAX_CHUNKS * 32];
    encode_matrix(d, p, m);
    ec_init_tables(d, p, m + d * d, tables);
    ec_encode_data((int)chunk_size, d, p, tables, (unsigned char **)data, (unsigned char **)parity);
    return 0;
}

int ec_decode(int d, int p, size_t chunk_size, const int *have_idx, uint8_t *const *have, int nwant,
              const int *want_idx, uint8_t *const *want)
{
    int n = d + p;
    if (!ec_params_valid(d, p) || nwant < 0 || nwant > n) return -EINVAL;
    uint8_t seen[EC_MAX_CHUNKS] = {0};
    for (int i = 0; i < d; i++) {
        if (have_idx[i] < 0 || have_idx[i] >= n || seen[have_idx[i]]) return -EINVAL;
        seen[have_idx[i]] = 1;
    }
    for (int i = 0; i < nwant; i++)
        if (want_idx[i] < 0 || want_idx[i] >= n) return -EINVAL;
    if (nwant == 0 || chunk_size == 0) return 0;

    uint8_t m[EC_MAX_CHUNKS * EC_MAX_DATA];
    uint8_t sub[EC_MAX_DATA * EC_MAX_DATA], inv[EC_MAX_DATA * EC_MAX_DATA];
    uint8_t rows[EC_MAX_CHUNKS * EC_MAX_DATA];
    uint8_t tables[EC_MAX_DATA * EC_MAX_CHUNKS * 32];
    encode_matrix(d, p, m);
    for (int i = 0; i < d; i++)
        memcpy(sub + i * d, m + have_idx[i] * d, (size_t)d);
    if (gf_invert_matrix(sub, inv, d) < 0) return -EINVAL;
    /* Row for chunk w = (encoding row of w) x inverse: data chunk j = inv row j. */
    for (int k = 0; k < nwant; k++) {
        const uint8_t *erow = m + want_idx[k] * d;
        for (int j = 0; j < d; j++) {
            uint8_t s = 0;
            for (int t = 0; t < d; t++)
                s ^= gf_mul(erow[t], inv[t * d + j]);
            rows[k * d + j] = s;
        }
    }
    ec_init_tables(d, nwant, rows, tables);
    ec_encode_data((int)chunk_size, d, nwant, tables, (unsigned char **)have,
                   (unsigned char **)want);
    return 0;
}

uint32_t ec_crc(const void *p, size_t n)
{
    return crc32_iscsi((unsigned char *)p, (int)n, 0xFFFFFFFFu) ^ 0xFFFFFFFFu;
}
