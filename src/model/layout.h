/* layout.h -- an object's layout: how many data chunks an object of a given size is stored as, and
 * in which order a GET asks for the replicas of a replicated one. Pure: icproxy's SET and GET
 * (op_write.c, op_read.c), the client library's ICSET and the simulator ask these same functions. */
#ifndef IC_MODEL_LAYOUT_H
#define IC_MODEL_LAYOUT_H

#include <stdint.h>

/* The data chunks d of an object of `size` bytes: 1 at or below small_object_max (replication: the
 * object and p copies of it, since coding a small object costs more per request than it saves),
 * the configured d above. The parity chunks are the configured p either way. */
int layout_data_chunks(uint64_t size, uint64_t small_object_max, int d);

/* The chunk a GET of a replicated object (d = 1, n = 1 + p replicas) asks k-th: k = 0 first, the
 * next one each time a replica turns out lost. The replicas are taken in rotation from
 * version % n, so the reads of successive versions of a hot key fall on different nodes. */
int layout_read_slot(uint64_t version, int n, int k);

/* Redis's GETRANGE bounds on a value of len bytes (negative offsets count from the end, both ends
 * inclusive and clamped): the number of bytes the range holds, 0 for an empty answer, and in
 * *first the offset of its first byte. */
uint64_t layout_range_clamp(int64_t start, int64_t end, uint64_t len, uint64_t *first);

/* One piece of a ranged read: bytes [chunk_off, chunk_off + len) of data chunk `index` are bytes
 * [value_off, value_off + len) of the value (data chunk i holds the value's bytes
 * [i * chunk_size, (i + 1) * chunk_size); the last one is padded with zeros past the size). */
typedef struct {
    int index;
    uint64_t chunk_off;
    uint64_t len;
    uint64_t value_off;
} layout_piece_t;

/* The pieces of the data chunks that hold the value's bytes [first, first + count), in value
 * order, into out[0..d): the count of pieces, 0 when count is 0 or the range lies past the d
 * chunks, or when chunk_size is 0. */
int layout_range_pieces(uint64_t first, uint64_t count, uint64_t chunk_size, int d,
                        layout_piece_t *out);

#endif
