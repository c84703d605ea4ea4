/* store.h -- the node's in-memory chunk store: (key, index, version) -> crc + body, with a hard
 * memory limit and reference counts so a reply being written survives a concurrent delete. */
#ifndef NODE_STORE_H
#define NODE_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes counted for each entry on top of its key and body: the entry struct, its hash slot and
 * allocator headers, rounded up so the accounting never undercounts the real footprint. */
#define STORE_ENTRY_OVERHEAD 128

typedef struct store_entry {
    struct store_entry *next; /* hash chain */
    uint64_t hash;
    uint64_t version;
    uint32_t index;
    uint32_t crc;
    int refs;      /* the table's reference (while linked) + one per queued reply */
    int linked;    /* in the table */
    size_t cost;   /* bytes counted against the limit */
    size_t key_len;
    size_t body_len;
    char *body;
    char key[]; /* key_len bytes */
} store_entry_t;

typedef struct {
    store_entry_t **buckets;
    size_t nbuckets; /* power of two */
    size_t count;    /* linked entries */
    uint64_t used;   /* bytes counted, including pending and deleted-but-referenced entries */
    uint64_t limit;
} store_t;

void store_init(store_t *s, uint64_t limit);
/* Frees every entry; entries still referenced elsewhere must have been released first. */
void store_free(store_t *s);

/* Bytes an entry of this key and body length counts against the limit. */
size_t store_entry_cost(size_t key_len, size_t body_len);

/* Creates a pending entry with an uninitialized body of body_len bytes for the caller to fill,
 * counted against the limit at once. Returns 0, -ENOSPC when it does not fit (nothing changes),
 * or -ENOMEM. The caller owns the entry until store_commit() or store_abort(). */
int store_reserve(store_t *s, const char *key, size_t key_len, uint32_t index, uint64_t version,
                  size_t body_len, store_entry_t **out);
/* Links a filled pending entry into the table, replacing (and releasing) an entry with the same
 * key, index and version. The table takes the caller's reference. */
void store_commit(store_t *s, store_entry_t *e, uint32_t crc);
/* Frees a pending entry and gives its bytes back. */
void store_abort(store_t *s, store_entry_t *e);

/* Looks an exact (key, index, version) up; the pointer stays valid until the entry is deleted
 * unless the caller takes a reference with store_ref(). */
store_entry_t *store_get(const store_t *s, const char *key, size_t key_len, uint32_t index,
                         uint64_t version);
/* Unlinks the entry; its memory goes back when the last reference is released. 1 or 0. */
int store_del(store_t *s, const char *key, size_t key_len, uint32_t index, uint64_t version);

void store_ref(store_entry_t *e);
void store_unref(store_t *s, store_entry_t *e);

#endif
