/* layout.c -- the object layout: d for an object's size, and the read order of its replicas, and
 * the data chunk pieces that hold a byte range of it. */
#include "layout.h"

int layout_data_chunks(uint64_t size, uint64_t small_object_max, int d)
{
    return size <= small_object_max ? 1 : d;
}

int layout_read_slot(uint64_t version, int n, int k)
{
    return (int)((version + (uint64_t)k) % (uint64_t)n);
}

uint64_t layout_range_clamp(int64_t start, int64_t end, uint64_t len, uint64_t *first)
{
    *first = 0;
    if (len == 0 || len > INT64_MAX) return 0;
    if (start < 0 && end < 0 && start > end) return 0;
    int64_t n = (int64_t)len;
    if (start < 0) start = start < -n ? 0 : n + start;
    if (end < 0) end = end < -n ? 0 : n + end;
    if (end >= n) end = n - 1;
    if (start > end) return 0;
    *first = (uint64_t)start;
    return (uint64_t)(end - start) + 1;
}

int layout_range_pieces(uint64_t first, uint64_t count, uint64_t chunk_size, int d,
                        layout_piece_t *out)
{
    if (count == 0 || chunk_size == 0 || d < 1) return 0;
    uint64_t stored = chunk_size * (uint64_t)d; /* no overflow: chunks are at most 1 GiB */
    if (first >= stored) return 0;
    if (count > stored - first) count = stored - first;
    int n = 0;
    for (uint64_t at = first, end = first + count; at < end; n++) {
        uint64_t index = at / chunk_size, off = at % chunk_size;
        uint64_t len = chunk_size - off < end - at ? chunk_size - off : end - at;
        out[n] =
            (layout_piece_t){.index = (int)index, .chunk_off = off, .len = len, .value_off = at};
        at += len;
    }
    return n;
}
