/* piece.c -- the checksums around a piece of a stored chunk (CGETR), from per-segment CRCs kept
 * for the chunks most recently read by range. */
#include "piece.h"

#include <errno.h>
#include <stdlib.h>

#include "crc32c.h"
#include "ec.h"

/* The CRC-32C of n bytes (crc32c.c: not ISA-L's, which the node does not link). */
static uint32_t crc(const char *p, uint64_t n)
{
    return crc32c(p, (size_t)n);
}

#define PIECE_SEGMENT ((uint64_t)256 << 10)
#define PIECE_CACHE_SLOTS 16

/* prefix[k] is the CRC of the body's first k segments (prefix[nseg]: of the whole body). A body
 * never changes once committed, and commit_seq is unique per commit, so (entry, commit_seq)
 * names one body even if the entry's memory is reused for another chunk later. */
typedef struct {
    const store_entry_t *entry;
    uint64_t commit_seq;
    uint64_t nseg;
    uint32_t *prefix;
} piece_slot_t;

static piece_slot_t cache[PIECE_CACHE_SLOTS];
static unsigned next_victim;

static const piece_slot_t *cache_get(const store_entry_t *e)
{
    for (int i = 0; i < PIECE_CACHE_SLOTS; i++)
        if (cache[i].entry == e && cache[i].commit_seq == e->commit_seq && cache[i].prefix)
            return &cache[i];
    uint64_t nseg = (e->body_len + PIECE_SEGMENT - 1) / PIECE_SEGMENT;
    uint32_t *prefix = malloc((size_t)(nseg + 1) * sizeof *prefix);
    if (!prefix) return NULL;
    prefix[0] = 0;
    for (uint64_t k = 0; k < nseg; k++) {
        uint64_t at = k * PIECE_SEGMENT;
        uint64_t len = e->body_len - at < PIECE_SEGMENT ? e->body_len - at : PIECE_SEGMENT;
        prefix[k + 1] = ec_crc_combine(prefix[k], crc(e->body + at, len), len);
    }
    piece_slot_t *s = &cache[next_victim++ % PIECE_CACHE_SLOTS];
    free(s->prefix);
    *s = (piece_slot_t){.entry = e, .commit_seq = e->commit_seq, .nseg = nseg, .prefix = prefix};
    return s;
}

/* The CRC of the body's first `at` bytes. */
static uint32_t prefix_crc(const store_entry_t *e, const piece_slot_t *s, uint64_t at)
{
    if (!s) return crc(e->body, at);
    uint64_t k = at / PIECE_SEGMENT, rest = at - k * PIECE_SEGMENT;
    return ec_crc_combine(s->prefix[k], crc(e->body + k * PIECE_SEGMENT, rest), rest);
}

int piece_crcs(const store_entry_t *e, uint64_t offset, uint64_t length, uint32_t *head,
               uint32_t *tail)
{
    const piece_slot_t *s = e->body_len > PIECE_SEGMENT ? cache_get(e) : NULL;
    uint64_t end = offset + length;
    *head = prefix_crc(e, s, offset);
    if (!s) {
        *tail = crc(e->body + end, e->body_len - end);
        return e->body_len > PIECE_SEGMENT ? -ENOMEM : 0;
    }
    /* whole = prefix(end) * x^(8 rest) + tail, so tail = whole + prefix(end) * x^(8 rest). */
    uint64_t rest = e->body_len - end;
    *tail = s->prefix[s->nseg] ^ ec_crc_combine(prefix_crc(e, s, end), 0, rest);
    return 0;
}
