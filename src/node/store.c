/* store.c -- chained hash table of chunks with exact byte accounting (see store.h). */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void store_init(store_t *s, uint64_t limit)
{
    memset(s, 0, sizeof *s);
    s->limit = limit;
}

static void entry_free(store_t *s, store_entry_t *e)
{
    s->used -= e->cost;
    free(e->body);
    free(e);
}

void store_free(store_t *s)
{
    for (size_t i = 0; i < s->nbuckets; i++) {
        store_entry_t *e = s->buckets[i];
        while (e) {
            store_entry_t *next = e->next;
            entry_free(s, e);
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = NULL;
    s->nbuckets = s->count = 0;
}

size_t store_entry_cost(size_t key_len, size_t body_len)
{
    return body_len + key_len + STORE_ENTRY_OVERHEAD;
}

/* FNV-1a over the key, then the index and version mixed in. */
static uint64_t hash_of(const char *key, size_t key_len, uint32_t index, uint64_t version)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < key_len; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    h ^= ((uint64_t)index << 32) ^ version;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static int same(const store_entry_t *e, uint64_t h, const char *key, size_t key_len,
                uint32_t index, uint64_t version)
{
    return e->hash == h && e->index == index && e->version == version && e->key_len == key_len &&
           memcmp(e->key, key, key_len) == 0;
}

/* Doubles the bucket array when the load factor passes 1; failure just keeps longer chains. */
static void maybe_grow(store_t *s)
{
    if (s->count < s->nbuckets) return;
    size_t n = s->nbuckets ? s->nbuckets * 2 : 64;
    store_entry_t **b = calloc(n, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        store_entry_t *e = s->buckets[i];
        while (e) {
            store_entry_t *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

int store_reserve(store_t *s, const char *key, size_t key_len, uint32_t index, uint64_t version,
                  size_t body_len, store_entry_t **out)
{
    size_t cost = store_entry_cost(key_len, body_len);
    if (cost < body_len || s->used > s->limit || cost > s->limit - s->used) return -ENOSPC;
    if (!s->nbuckets) maybe_grow(s); /* so store_commit() always has a table */
    if (!s->nbuckets) return -ENOMEM;
    store_entry_t *e = malloc(sizeof *e + key_len);
    if (!e) return -ENOMEM;
    /* malloc(0) may return NULL; one spare byte keeps "no body" distinct from "no memory". */
    e->body = malloc(body_len ? body_len : 1);
    if (!e->body) {
        free(e);
        return -ENOMEM;
    }
    e->next = NULL;
    e->hash = hash_of(key, key_len, index, version);
    e->version = version;
    e->index = index;
    e->crc = 0;
    e->refs = 1;
    e->linked = 0;
    e->cost = cost;
    e->key_len = key_len;
    e->body_len = body_len;
    memcpy(e->key, key, key_len);
    s->used += cost;
    *out = e;
    return 0;
}

static store_entry_t *unlink_entry(store_t *s, uint64_t h, const char *key, size_t key_len,
                                   uint32_t index, uint64_t version)
{
    if (!s->nbuckets) return NULL;
    store_entry_t **pp = &s->buckets[h & (s->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->next) {
        store_entry_t *e = *pp;
        if (same(e, h, key, key_len, index, version)) {
            *pp = e->next;
            e->next = NULL;
            e->linked = 0;
            s->count--;
            return e;
        }
    }
    return NULL;
}

void store_commit(store_t *s, store_entry_t *e, uint32_t crc)
{
    e->crc = crc;
    store_entry_t *old = unlink_entry(s, e->hash, e->key, e->key_len, e->index, e->version);
    if (old) store_unref(s, old);
    maybe_grow(s);
    size_t b = e->hash & (s->nbuckets - 1);
    e->next = s->buckets[b];
    s->buckets[b] = e;
    e->linked = 1;
    s->count++;
}

void store_abort(store_t *s, store_entry_t *e)
{
    entry_free(s, e);
}

store_entry_t *store_get(const store_t *s, const char *key, size_t key_len, uint32_t index,
                         uint64_t version)
{
    if (!s->nbuckets) return NULL;
    uint64_t h = hash_of(key, key_len, index, version);
    for (store_entry_t *e = s->buckets[h & (s->nbuckets - 1)]; e; e = e->next)
        if (same(e, h, key, key_len, index, version)) return e;
    return NULL;
}

int store_del(store_t *s, const char *key, size_t key_len, uint32_t index, uint64_t version)
{
    store_entry_t *e = unlink_entry(s, hash_of(key, key_len, index, version), key, key_len, index,
                                    version);
    if (!e) return 0;
    store_unref(s, e);
    return 1;
}

void store_ref(store_entry_t *e)
{
    e->refs++;
}

void store_unref(store_t *s, store_entry_t *e)
{
    if (--e->refs == 0) entry_free(s, e);
}
