/* ec.h -- Reed-Solomon RS(d+p) erasure coding over ISA-L: the one chunk format shared by the
 * proxy (Redis path) and the client library, so an object written by either is read by the other. */
#ifndef IC_EC_H
#define IC_EC_H

#include <stddef.h>
#include <stdint.h>

#define EC_MAX_DATA 32
#define EC_MAX_CHUNKS 48 /* d + p */
#define EC_ALIGN 64      /* chunk sizes are multiples of this, for the SIMD kernels */
/* The largest chunk a cache node stores (its request reader's bulk limit), so an object over
 * d x 1 GiB is refused when it is set. The coding itself takes chunks of any size. */
#define EC_MAX_CHUNK_SIZE ((size_t)1 << 30)

/* Valid parameters: 1 <= d <= EC_MAX_DATA, 0 <= p, d + p <= EC_MAX_CHUNKS. */
int ec_params_valid(int d, int p);
/* Chunk size for an object: ceil(size / d) rounded up to EC_ALIGN (0 for an empty object). Any
 * 64-bit size is fine; callers compare the result with EC_MAX_CHUNK_SIZE. */
size_t ec_chunk_size(uint64_t object_size, int d);

/* Computes the p parity chunks from the d data chunks, each chunk_size bytes (any size: ISA-L's
 * int lengths are fed in slices). With d == 1 the parity chunks are plain copies (replicas). The
 * caller owns all buffers. The tables of each (d, p) are built on its first use and kept; safe
 * from several threads at once. 0 or -EINVAL. */
int ec_encode(int d, int p, size_t chunk_size, uint8_t *const *data, uint8_t *const *parity);

/* Rebuilds chunks from any d surviving ones. have_idx[0..d) are the indexes (0..d+p) of the
 * chunks in have[]; want_idx[0..nwant) are the indexes to rebuild into want[] (caller-owned,
 * chunk_size bytes each). The tables of recent erasure patterns are cached per (d, p); safe from
 * several threads at once. 0, or -EINVAL for bad arguments or a duplicate index. */
int ec_decode(int d, int p, size_t chunk_size, const int *have_idx, uint8_t *const *have, int nwant,
              const int *want_idx, uint8_t *const *want);

/* CRC-32C of a chunk (ISA-L crc32_iscsi), used as the per-chunk checksum everywhere. */
uint32_t ec_crc(const void *p, size_t n);

/* The CRC-32C of A followed by B, from crc_a = ec_crc(A), crc_b = ec_crc(B) and B's length,
 * without the bytes: a chunk's checksum can be checked from one piece of it and the checksums of
 * the bytes before and after the piece (ranged reads, docs/PROTOCOL.md "CGETR"). */
uint32_t ec_crc_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

#endif
