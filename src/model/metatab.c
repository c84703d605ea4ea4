/* metatab.c -- object table (hash map), CLOCK ring and placement over node capacities: pure, so
 * the proxy and the simulator share it (metatab.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "footprint.h"
#include "hash.h"
#include "metatab.h"
#include "slot.h"

/* FNV-1a, 64-bit: short keys, no adversarial-collision concerns beyond chain length. */
uint64_t meta_hash(const char *key, size_t keylen)
{
    return hash_fnv1a64(key, keylen);
}

int meta_table_init(meta_table_t *t)
{
    memset(t, 0, sizeof *t);
    t->nbuckets = 1024;
    t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
    return t->buckets ? 0 : -ENOMEM;
}

int meta_table_index_slots(meta_table_t *t)
{
    t->slot_heads = calloc(SLOT_COUNT, sizeof *t->slot_heads);
    t->slot_counts = calloc(SLOT_COUNT, sizeof *t->slot_counts);
    if (t->slot_heads && t->slot_counts) return 0;
    free(t->slot_heads);
    free(t->slot_counts);
    t->slot_heads = NULL;
    t->slot_counts = NULL;
    return -ENOMEM;
}

meta_t *meta_slot_first(const meta_table_t *t, unsigned slot)
{
    return t->slot_heads && slot < SLOT_COUNT ? t->slot_heads[slot] : NULL;
}

uint32_t meta_slot_count(const meta_table_t *t, unsigned slot)
{
    return t->slot_counts && slot < SLOT_COUNT ? t->slot_counts[slot] : 0;
}

static void slot_link(meta_table_t *t, meta_t *m)
{
    unsigned slot = slot_of_key(meta_key(m), m->keylen);
    m->slot_prev = NULL;
    m->slot_next = t->slot_heads[slot];
    if (m->slot_next) m->slot_next->slot_prev = m;
    t->slot_heads[slot] = m;
    t->slot_counts[slot]++;
}

static void slot_unlink(meta_table_t *t, meta_t *m)
{
    unsigned slot = slot_of_key(meta_key(m), m->keylen);
    if (m->slot_prev)
        m->slot_prev->slot_next = m->slot_next;
    else if (t->slot_heads[slot] == m)
        t->slot_heads[slot] = m->slot_next;
    else
        return; /* not linked */
    if (m->slot_next) m->slot_next->slot_prev = m->slot_prev;
    m->slot_next = m->slot_prev = NULL;
    t->slot_counts[slot]--;
}

void meta_table_free(meta_table_t *t)
{
    free(t->slot_heads);
    free(t->slot_counts);
    for (size_t i = 0; i < t->clock_len; i++)
        free(t->clock[i]);
    free(t->buckets);
    free(t->clock);
    memset(t, 0, sizeof *t);
}

size_t meta_alloc_size(int d, int p, size_t keylen)
{
    int n = d + p;
    size_t nodes = sizeof(uint16_t) * (size_t)n + ((n & 1) ? 2 : 0);
    return sizeof(meta_t) + nodes + sizeof(uint32_t) * (size_t)n + keylen;
}

meta_t *meta_new(const char *key, size_t keylen, int d, int p)
{
    meta_t *m = calloc(1, meta_alloc_size(d, p, keylen));
    if (!m) return NULL;
    m->d = (uint8_t)d;
    m->p = (uint8_t)p;
    m->keylen = (uint16_t)keylen;
    memcpy(meta_key(m), key, keylen);
    m->hash = meta_hash(key, keylen);
    return m;
}

static void grow(meta_table_t *t)
{
    size_t nb = t->nbuckets * 2;
    meta_t **b = calloc(nb, sizeof *b);
    if (!b) return; /* longer chains, still correct */
    for (size_t i = 0; i < t->nbuckets; i++) {
        meta_t *m = t->buckets[i];
        while (m) {
            meta_t *next = m->hnext;
            size_t j = m->hash & (nb - 1);
            m->hnext = b[j];
            b[j] = m;
            m = next;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
}

meta_t *meta_find(meta_table_t *t, const char *key, size_t keylen)
{
    uint64_t h = meta_hash(key, keylen);
    for (meta_t *m = t->buckets[h & (t->nbuckets - 1)]; m; m = m->hnext)
        if (m->hash == h && m->keylen == keylen && memcmp(meta_key(m), key, keylen) == 0) return m;
    return NULL;
}

/* Squeezes the holes out of the ring, keeping the order (and the hand on the same object). */
static void compact_clock(meta_table_t *t)
{
    size_t w = 0, hand = 0;
    for (size_t r = 0; r < t->clock_len; r++) {
        if (r == t->clock_hand) hand = w;
        if (!t->clock[r]) continue;
        t->clock[w] = t->clock[r];
        t->clock[w]->clock_pos = (uint32_t)w;
        w++;
    }
    t->clock_len = w;
    t->clock_hand = hand < w ? hand : 0;
}

int meta_insert(meta_table_t *t, meta_t *m)
{
    if (t->clock_len == t->clock_cap && t->clock_len > 2 * t->count + 64) compact_clock(t);
    if (t->clock_len == t->clock_cap) {
        size_t cap = t->clock_cap ? t->clock_cap * 2 : 1024;
        meta_t **c = realloc(t->clock, cap * sizeof *c);
        if (!c) return -ENOMEM;
        t->clock = c;
        t->clock_cap = cap;
    }
    if (t->count >= t->nbuckets) grow(t);
    size_t j = m->hash & (t->nbuckets - 1);
    m->hnext = t->buckets[j];
    t->buckets[j] = m;
    /* New objects are appended to the ring unreferenced: only a read earns them a second
     * chance, so an object read since the hand last passed outlives those never read. */
    m->clock_pos = (uint32_t)t->clock_len;
    t->clock[t->clock_len++] = m;
    if (t->slot_heads) slot_link(t, m);
    t->count++;
    t->bytes += m->size;
    if (m->expire_ms) {
        t->expires++;
        t->expire_sum += m->expire_ms;
    }
    return 0;
}

void meta_remove(meta_table_t *t, meta_t *m)
{
    meta_t **pp = &t->buckets[m->hash & (t->nbuckets - 1)];
    while (*pp && *pp != m)
        pp = &(*pp)->hnext;
    if (*pp) *pp = m->hnext;
    if (t->slot_heads) slot_unlink(t, m);
    t->clock[m->clock_pos] = NULL;
    t->count--;
    t->bytes -= m->size;
    if (m->expire_ms) {
        t->expires--;
        t->expire_sum -= m->expire_ms;
    }
    if (t->count == 0) t->clock_len = t->clock_hand = 0;
    if (t->expires == 0) t->expire_sum = 0; /* no drift left over from rounding */
}

void meta_set_expire(meta_table_t *t, meta_t *m, uint64_t expire_ms)
{
    if (m->expire_ms) {
        t->expires--;
        t->expire_sum -= m->expire_ms;
    }
    m->expire_ms = expire_ms;
    if (expire_ms) {
        t->expires++;
        t->expire_sum += expire_ms;
    }
    if (t->expires == 0) t->expire_sum = 0;
}

static size_t reverse_bits(size_t v)
{
    size_t r = 0;
    for (size_t i = 0; i < sizeof v * 8; i++, v >>= 1)
        r = (r << 1) | (v & 1);
    return r;
}

/* Redis's dictScan for one table: the cursor counts up in bit-reversed order over the bucket
 * index, so the buckets not yet visited under a mask of 2^k are exactly the ones whose split
 * children are not yet visited under 2^(k+1). After a grow, the cursor's low bits still name
 * where the walk was, and each old bucket's objects have moved only into buckets the walk has
 * yet to reach (or has visited whole): nothing present throughout is missed. The high bits are
 * set before incrementing so the carry runs through the masked bits only. */
size_t meta_scan(meta_table_t *t, size_t cursor, void (*fn)(void *arg, meta_t *m), void *arg)
{
    if (t->count == 0) return 0; /* as Redis's dictScan: an empty table ends any scan */
    size_t mask = t->nbuckets - 1;
    for (meta_t *m = t->buckets[cursor & mask]; m; m = m->hnext)
        fn(arg, m);
    cursor |= ~mask;
    cursor = reverse_bits(cursor);
    cursor++;
    return reverse_bits(cursor);
}

meta_t *meta_expired_next(meta_table_t *t, uint64_t now_ms, size_t *budget)
{
    while (*budget > 0 && t->count > 0) {
        (*budget)--;
        if (t->expire_cursor >= t->clock_len) t->expire_cursor = 0;
        meta_t *m = t->clock[t->expire_cursor++];
        if (m && m->expire_ms && m->expire_ms <= now_ms) return m;
    }
    return NULL;
}

uint64_t meta_chunk_cost(size_t chunk_size, size_t keylen)
{
    return chunk_footprint(keylen, chunk_size);
}

/* The CLOCK walk: at most two turns of the ring (one to clear reference bits, one to find a
 * cleared one). node < 0: any object; else only objects with a chunk on that node, the others
 * keeping their reference bits. */
static meta_t *clock_walk(meta_table_t *t, int node)
{
    if (t->count == 0) return NULL;
    for (size_t steps = 0; steps < 2 * t->clock_len + 1; steps++) {
        if (t->clock_hand >= t->clock_len) t->clock_hand = 0;
        meta_t *m = t->clock[t->clock_hand];
        int on = m && node < 0;
        for (int i = 0; m && !on && i < m->d + m->p; i++) on = meta_nodes(m)[i] == node;
        if (!on) {
            t->clock_hand++;
            continue;
        }
        if (m->referenced) {
            m->referenced = 0;
            t->clock_hand++;
            continue;
        }
        return m;
    }
    return NULL;
}

meta_t *meta_clock_victim(meta_table_t *t)
{
    return clock_walk(t, -1);
}

meta_t *meta_clock_victim_on(meta_table_t *t, uint16_t node)
{
    return clock_walk(t, node);
}

void meta_rooms_charge(meta_room_fn room, void *arg, const uint16_t *nodes, int n,
                       size_t chunk_size, size_t keylen)
{
    uint64_t cost = meta_chunk_cost(chunk_size, keylen);
    for (int i = 0; i < n; i++) {
        meta_room_t *r = room(arg, nodes[i]);
        r->mem_placed += cost;
        r->chunks_placed++;
    }
}

void meta_rooms_release(meta_room_fn room, void *arg, const uint16_t *nodes, int n,
                        size_t chunk_size, size_t keylen)
{
    uint64_t cost = meta_chunk_cost(chunk_size, keylen);
    for (int i = 0; i < n; i++) {
        meta_room_t *r = room(arg, nodes[i]);
        r->mem_placed -= r->mem_placed < cost ? r->mem_placed : cost;
        if (r->chunks_placed) r->chunks_placed--;
    }
}

int meta_used_within(const meta_t *m, uint64_t now_s, uint64_t window_ms)
{
    return now_s <= m->atime_s || (now_s - m->atime_s) * 1000 <= window_ms;
}

int meta_place_rooms(meta_table_t *t, int nnodes, meta_room_fn room, meta_evict_fn evict, void *arg,
                     const char *key, size_t keylen, int n, size_t chunk_size, uint16_t *nodes_out)
{
    int nn = nnodes;
    if (n > nn) return -E2BIG;
    uint64_t cost = meta_chunk_cost(chunk_size, keylen);
    /* Even the emptiest pool must hold it. */
    int fit = 0;
    for (int i = 0; i < nn; i++)
        if (room(arg, i)->mem_limit >= cost) fit++;
    if (fit < n) return -E2BIG;
    /* Start at a key-dependent rotating offset so load spreads over the pool. */
    uint32_t start = (uint32_t)(meta_hash(key, keylen) + t->place_rotor++) % (uint32_t)nn;
    for (int attempt = 0; attempt < 1 << 20; attempt++) {
        int got = 0;
        for (int k = 0; k < nn && got < n; k++) {
            int id = (int)((start + (uint32_t)k) % (uint32_t)nn);
            meta_room_t *r = room(arg, id);
            if (r->mem_placed + cost <= r->mem_limit) nodes_out[got++] = (uint16_t)id;
        }
        if (got == n) {
            meta_rooms_charge(room, arg, nodes_out, n, chunk_size, keylen);
            return 0;
        }
        meta_t *victim = meta_clock_victim(t);
        if (!victim) return -ENOSPC; /* in-flight SETs hold the rest */
        t->evictions++;
        evict(arg, victim);
    }
    return -ENOSPC;
}
