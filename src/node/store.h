/* store.h -- the node's in-memory chunk store: (key, index, version) -> crc + body, with a hard
 * memory limit and reference counts so a reply being written survives a concurrent delete. While
 * a backup runs, a journal records every change so the backup can send what moved under it. */
#ifndef NODE_STORE_H
#define NODE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "footprint.h"

/* An entry is laid out so that it, its two allocator headers and its bucket slot fit in
 * CHUNK_FOOTPRINT_OVERHEAD (common/footprint.h; checked in store.c). */
typedef struct store_entry {
    struct store_entry *next; /* hash chain */
    uint64_t hash;
    uint64_t version;
    uint64_t commit_seq; /* the store's commit counter when this entry was linked */
    /* What the chunk's CSET said about its object, kept so INVENTORY can tell a restarted proxy. */
    uint64_t obj_size;  /* the whole object's size */
    uint64_t expire_ms; /* absolute wall-clock expiry, 0 = never */
    size_t body_len;
    char *body;
    uint32_t index;
    uint32_t crc;
    int refs;         /* the table's reference (while linked) + one per queued reply */
    uint32_t key_len; /* keys are at most 64 KiB (the request reader's limit) */
    uint8_t d, p;     /* the object's coding: d + p <= EC_MAX_CHUNKS */
    uint8_t linked;   /* in the table */
    char key[];       /* key_len bytes */
} store_entry_t;

/* A key's tombstone: every version of it up to `version` was deleted (a DEL, an expiry, an
 * eviction or an overwrite the proxy made), so a proxy that rebuilds its metadata from the
 * nodes after a restart does not bring those versions back. One per key, the highest version;
 * counted against the limit as a chunk with no body, but the oldest give way when a chunk needs
 * the room (the proxy does not count them, so they must never make a chunk fail); gone once a
 * newer chunk of the key is stored here, or at its expiry. */
typedef struct store_tomb {
    struct store_tomb *next;         /* hash chain */
    struct store_tomb *older, *newer; /* by last write: the oldest gives way first */
    uint64_t hash;           /* of the key */
    uint64_t version;
    uint64_t expire_ms;      /* wall clock */
    uint32_t key_len;
    char key[];
} store_tomb_t;

typedef enum { STORE_OP_COMMIT = 1, STORE_OP_DELETE = 2, STORE_OP_TOMB = 3 } store_op_t;

/* One change: the chunk's id and what happened to it. */
typedef struct {
    uint64_t version;
    uint32_t index;
    uint32_t op;    /* store_op_t */
    size_t key_off; /* into the journal's key bytes */
    size_t key_len;
} store_journal_rec_t;

/* Changes in order, bounded in records and key bytes; past a bound nothing more is recorded and
 * `overflow` is set (the consumer must then give up: it has lost changes). */
typedef struct {
    store_journal_rec_t *recs;
    size_t n, cap;
    buf_t keys;
    size_t max_recs, max_key_bytes;
    int overflow;
} store_journal_t;

/* Mapped bodies kept after their chunk was freed, for the next body of the same size: a fresh
 * mapping costs its page zeroing (most of the time of storing a chunk on a microVM), and an
 * overwrite frees one body just as it needs another. Bounded in count and bytes (see store.c). */
#define STORE_SPARE_SLOTS 8

typedef struct {
    char *body;
    size_t len; /* the length it was mapped with */
} store_spare_t;

typedef struct {
    store_entry_t **buckets;
    size_t nbuckets; /* power of two; grows only (store_scan() relies on it) */
    size_t count;    /* linked entries */
    uint64_t used;   /* bytes counted, including pending and deleted-but-referenced entries */
    uint64_t limit;    /* used + spare_bytes never pass it: spares give way to new chunks */
    store_spare_t spares[STORE_SPARE_SLOTS];
    size_t nspares;
    uint64_t spare_bytes;
    uint64_t spare_reuses; /* bodies taken from the spares instead of a fresh mapping */
    uint64_t commits;         /* store_commit() calls so far */
    store_tomb_t **tombs;     /* tombstones by key; power-of-two buckets, grows only */
    store_tomb_t *tomb_oldest, *tomb_newest;
    uint64_t tomb_bytes;      /* what the tombstones count (within used) */
    uint64_t tombs_dropped;   /* tombstones that gave way to chunks before their expiry */
    size_t ntomb_buckets, ntombs;
    uint64_t tomb_ttl_ms;     /* how long a tombstone is kept (STORE_TOMB_TTL_MS by default) */
    store_journal_t *journal; /* records changes while set (a backup runs); NULL otherwise */
} store_t;

/* Tombstones outlive several backup intervals (the proxy's default is 10 minutes) by default. */
#define STORE_TOMB_TTL_MS (3600 * 1000)

void store_init(store_t *s, uint64_t limit);
/* Frees every entry; entries still referenced elsewhere must have been released first. */
void store_free(store_t *s);

/* Bytes an entry of this key and body length counts against the limit: chunk_footprint(), the
 * formula the proxy places chunks by. */
size_t store_entry_cost(size_t key_len, size_t body_len);

/* The hash of a chunk id, the one the table uses (shared with indexes of other stores' ids). */
uint64_t store_hash(const char *key, size_t key_len, uint32_t index, uint64_t version);

/* Creates a pending entry with an uninitialized body of body_len bytes for the caller to fill,
 * counted against the limit at once. Returns 0, -ENOSPC when it does not fit (nothing changes),
 * or -ENOMEM (-EINVAL for a key over 4 GiB). The caller owns the entry until store_commit() or
 * store_abort(), and sets the object fields (obj_size, d, p, expire_ms) before committing. */
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
/* Sets the expiry of a held chunk (0 = none), journaled as a commit so a backup in progress sends
 * the chunk again. 1 if the chunk is held, else 0. */
int store_set_expire(store_t *s, const char *key, size_t key_len, uint32_t index, uint64_t version,
                     uint64_t expire_ms);

/* Renames the chunk (key, index, version) to (newkey, index, newversion) without copying its body
 * (unless a reply still being written refers to the entry), and records a tombstone of key up to
 * `version`, held or not, so the old name never comes back from this node. Journaled as the
 * delete of the old id, the commit of the new one and the tombstone. The entry counts the new
 * key's length from now on; tombstones give way if the longer key does not fit. Returns 1
 * renamed, 0 not held, or -ENOSPC (the longer name does not fit) or -ENOMEM, in which case the
 * chunk is deleted instead: the old name must go whatever happens, and the proxy rebuilds a
 * chunk it finds missing. */
int store_rename(store_t *s, const char *key, size_t key_len, uint32_t index, uint64_t version,
                 const char *newkey, size_t newkey_len, uint64_t newversion, uint64_t now_ms);

void store_ref(store_entry_t *e);
void store_unref(store_t *s, store_entry_t *e);

/* Visits the linked entries of one bucket and returns the cursor of the next, 0 once the whole
 * table is covered; start with 0. The cursor walks bucket numbers in bit-reversed order (as
 * Redis's SCAN), so an entry linked for the whole walk is visited at least once even if the table
 * grows between calls (it may then be visited twice). `visit` must not change the store. */
typedef void store_visit_fn(store_entry_t *e, void *arg);
uint64_t store_scan(const store_t *s, uint64_t cursor, store_visit_fn *visit, void *arg);

/* Records that every version of key up to `version` is deleted (keeps the higher version if one
 * is there) until now_ms + tomb_ttl_ms. The chunks themselves are deleted one by one (CDEL).
 * Older tombstones give way if it does not fit. Journaled as STORE_OP_TOMB. 0, or -ENOSPC when it
 * does not fit even so (nothing recorded), -ENOMEM. */
int store_tomb_put(store_t *s, const char *key, size_t key_len, uint64_t version, uint64_t now_ms);
/* The key's tombstone, or NULL. */
const store_tomb_t *store_tomb_get(const store_t *s, const char *key, size_t key_len);
/* Drops the tombstones expired at now_ms. */
void store_tomb_expire(store_t *s, uint64_t now_ms);
/* Visits every tombstone; `visit` must not change the store. */
typedef void store_tomb_visit_fn(const store_tomb_t *t, void *arg);
void store_tomb_each(const store_t *s, store_tomb_visit_fn *visit, void *arg);

/* Journal: init with its bounds, attach with store_set_journal(s, j) (NULL detaches). Changes are
 * recorded by store_commit() (STORE_OP_COMMIT), store_del() (STORE_OP_DELETE, only when an
 * entry was unlinked) and store_tomb_put() (STORE_OP_TOMB, index 0). */
void store_journal_init(store_journal_t *j, size_t max_recs, size_t max_key_bytes);
void store_journal_clear(store_journal_t *j); /* empties it and clears overflow; keeps memory */
void store_journal_free(store_journal_t *j);
/* The key of record i (valid until the journal changes). */
const char *store_journal_key(const store_journal_t *j, size_t i);
void store_set_journal(store_t *s, store_journal_t *j);

#endif
