/* store.c -- chained hash table of chunks with exact byte accounting (see store.h). */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hash.h"

/* Bodies from this size on are mapped with their pages populated in one call. A body is written
 * once, right after it is reserved, by reads from a socket; faulting its fresh pages in one by one
 * inside those reads costs more than the copy itself on a microVM (Firecracker, as on Lambda:
 * 190 MiB/s against 4 GiB/s populated, measured here). */
#define STORE_MAP_MIN (64 * 1024)
/* Bodies from this size on are also offered transparent huge pages. */
#define STORE_HUGE_MIN (2 * 1024 * 1024)

/* The overhead figure must cover the entry struct, two allocator headers and a bucket slot. */
_Static_assert(sizeof(store_entry_t) + 2 * 16 + sizeof(void *) <= CHUNK_FOOTPRINT_OVERHEAD,
               "CHUNK_FOOTPRINT_OVERHEAD undercounts an entry");

void store_init(store_t *s, uint64_t limit)
{
    memset(s, 0, sizeof *s);
    s->limit = limit;
    s->tomb_ttl_ms = STORE_TOMB_TTL_MS;
}

/* Spare mappings are held to at most this share of the limit and this many bytes. */
#define STORE_SPARE_SHARE 16
#define STORE_SPARE_MAX_BYTES (64u << 20)

static size_t page_round(size_t n)
{
    return (n + 4095) & ~(size_t)4095;
}

/* Takes spare i out of the list and returns its body. */
static char *spare_take(store_t *s, size_t i)
{
    char *p = s->spares[i].body;
    s->spare_bytes -= s->spares[i].len;
    s->spares[i] = s->spares[--s->nspares];
    return p;
}

static void spare_drop(store_t *s, size_t i)
{
    size_t len = s->spares[i].len;
    munmap(spare_take(s, i), len);
}

static char *body_alloc(store_t *s, size_t n)
{
    /* malloc(0) may return NULL; one spare byte keeps "no body" distinct from "no memory". */
    if (n < STORE_MAP_MIN) return malloc(n ? n : 1);
    for (size_t i = 0; i < s->nspares; i++) {
        if (page_round(s->spares[i].len) != page_round(n)) continue;
        s->spare_reuses++;
        return spare_take(s, i);
    }
    if (n >= STORE_HUGE_MIN) {
        /* Transparent huge pages where the kernel allows them (madvise mode): a 2 MiB page is
         * one fault and one zeroing instead of 512, most of the cost of new memory here. */
        void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return NULL;
        (void)madvise(p, n, MADV_HUGEPAGE);
        if (madvise(p, n, MADV_POPULATE_WRITE) == 0) return p;
        if (errno == ENOMEM) {
            munmap(p, n);
            return NULL;
        }
        munmap(p, n); /* a kernel before 5.14: populate at mmap time instead */
    }
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                   -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void body_free(store_t *s, char *p, size_t n)
{
    if (n < STORE_MAP_MIN) {
        free(p);
        return;
    }
    uint64_t cap = s->limit / STORE_SPARE_SHARE;
    if (cap > STORE_SPARE_MAX_BYTES) cap = STORE_SPARE_MAX_BYTES;
    if (n > cap || s->used + n > s->limit) {
        munmap(p, n);
        return;
    }
    /* The newest body gets a slot before older spares: sizes freed now are the likely next ones. */
    if (s->nspares == STORE_SPARE_SLOTS) spare_drop(s, 0);
    while (s->nspares && s->spare_bytes + n > cap) spare_drop(s, 0);
    while (s->nspares && s->used + s->spare_bytes + n > s->limit) spare_drop(s, 0);
    s->spares[s->nspares++] = (store_spare_t){p, n};
    s->spare_bytes += n;
}

static void entry_free(store_t *s, store_entry_t *e)
{
    s->used -= store_entry_cost(e->key_len, e->body_len);
    body_free(s, e->body, e->body_len);
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
    while (s->nspares) spare_drop(s, 0);
    for (size_t i = 0; i < s->ntomb_buckets; i++) {
        store_tomb_t *t = s->tombs[i];
        while (t) {
            store_tomb_t *next = t->next;
            s->used -= chunk_footprint(t->key_len, 0);
            s->tomb_bytes -= chunk_footprint(t->key_len, 0);
            free(t);
            t = next;
        }
    }
    free(s->tombs);
    s->tombs = NULL;
    s->tomb_oldest = s->tomb_newest = NULL;
    s->ntomb_buckets = s->ntombs = 0;
    free(s->buckets);
    s->buckets = NULL;
    s->nbuckets = s->count = 0;
    s->journal = NULL;
}

size_t store_entry_cost(size_t key_len, size_t body_len)
{
    return (size_t)chunk_footprint(key_len, body_len);
}

/* FNV-1a over the key, then the index and version mixed in. */
uint64_t store_hash(const char *key, size_t key_len, uint32_t index, uint64_t version)
{
    uint64_t h = hash_fnv1a64(key, key_len);
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

static void tomb_give_way(store_t *s);

int store_reserve(store_t *s, const char *key, size_t key_len, uint32_t index, uint64_t version,
                  size_t body_len, store_entry_t **out)
{
    if (key_len > UINT32_MAX) return -EINVAL;
    size_t cost = store_entry_cost(key_len, body_len);
    if (cost < body_len) return -ENOSPC;
    /* Tombstones give way, the oldest first: the proxy places chunks without counting them.
     * None goes for a chunk that would not fit without any of them. */
    uint64_t bare = s->used - s->tomb_bytes;
    if (bare > s->limit || cost > s->limit - bare) return -ENOSPC;
    while (s->tomb_oldest && cost > s->limit - s->used) tomb_give_way(s);
    /* Spares give way: the limit bounds what the store holds, spares included. */
    while (s->nspares && cost > s->limit - s->used - s->spare_bytes) spare_drop(s, 0);
    if (!s->nbuckets) maybe_grow(s); /* so store_commit() always has a table */
    if (!s->nbuckets) return -ENOMEM;
    store_entry_t *e = malloc(sizeof *e + key_len);
    if (!e) return -ENOMEM;
    e->body = body_alloc(s, body_len);
    if (!e->body) {
        free(e);
        return -ENOMEM;
    }
    e->next = NULL;
    e->hash = store_hash(key, key_len, index, version);
    e->version = version;
    e->index = index;
    e->crc = 0;
    e->commit_seq = 0;
    e->obj_size = e->expire_ms = 0;
    e->d = e->p = 0;
    e->refs = 1;
    e->linked = 0;
    e->key_len = (uint32_t)key_len;
    e->body_len = body_len;
    memcpy(e->key, key, key_len);
    s->used += cost;
    *out = e;
    return 0;
}

static void journal_add(store_journal_t *j, const char *key, size_t key_len, uint32_t index,
                        uint64_t version, store_op_t op)
{
    if (j->overflow) return;
    if (j->n >= j->max_recs || buf_len(&j->keys) + key_len > j->max_key_bytes) {
        j->overflow = 1;
        return;
    }
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        store_journal_rec_t *r = realloc(j->recs, cap * sizeof *r);
        if (!r) {
            j->overflow = 1; /* a lost record is as bad as a full journal */
            return;
        }
        j->recs = r;
        j->cap = cap;
    }
    size_t off = buf_len(&j->keys);
    if (key_len && buf_append(&j->keys, key, key_len) < 0) {
        j->overflow = 1;
        return;
    }
    j->recs[j->n++] = (store_journal_rec_t){.version = version, .index = index, .op = op,
                                            .key_off = off, .key_len = key_len};
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

static void tomb_drop_older(store_t *s, const char *key, size_t key_len, uint64_t version);

void store_commit(store_t *s, store_entry_t *e, uint32_t crc)
{
    e->crc = crc;
    /* A newer chunk of the key: the key lives again here, and its tombstone says nothing more. */
    if (s->ntombs) tomb_drop_older(s, e->key, e->key_len, e->version);
    store_entry_t *old = unlink_entry(s, e->hash, e->key, e->key_len, e->index, e->version);
    if (old) store_unref(s, old);
    maybe_grow(s);
    size_t b = e->hash & (s->nbuckets - 1);
    e->next = s->buckets[b];
    s->buckets[b] = e;
    e->linked = 1;
    e->commit_seq = ++s->commits;
    s->count++;
    if (s->journal)
        journal_add(s->journal, e->key, e->key_len, e->index, e->version, STORE_OP_COMMIT);
}

void store_abort(store_t *s, store_entry_t *e)
{
    entry_free(s, e);
}

store_entry_t *store_get(const store_t *s, const char *key, size_t key_len, uint32_t index,
                         uint64_t version)
{
    if (!s->nbuckets) return NULL;
    uint64_t h = store_hash(key, key_len, index, version);
    for (store_entry_t *e = s->buckets[h & (s->nbuckets - 1)]; e; e = e->next)
        if (same(e, h, key, key_len, index, version)) return e;
    return NULL;
}

int store_del(store_t *s, const char *key, size_t key_len, uint32_t index, uint64_t version)
{
    store_entry_t *e = unlink_entry(s, store_hash(key, key_len, index, version), key, key_len,
                                    index, version);
    if (!e) return 0;
    if (s->journal) journal_add(s->journal, key, key_len, index, version, STORE_OP_DELETE);
    store_unref(s, e);
    return 1;
}

int store_set_expire(store_t *s, const char *key, size_t key_len, uint32_t index, uint64_t version,
                     uint64_t expire_ms)
{
    store_entry_t *e = store_get(s, key, key_len, index, version);
    if (!e) return 0;
    e->expire_ms = expire_ms;
    if (s->journal) journal_add(s->journal, key, key_len, index, version, STORE_OP_COMMIT);
    return 1;
}

/* A linked entry's new name: the struct holds the key, so a new struct takes the body over. With
 * other references (a reply still writing the body) the body is copied instead, so the old
 * entry stays whole for them. */
static int rename_entry(store_t *s, store_entry_t *e, const char *newkey, size_t newkey_len,
                        uint64_t newversion, store_entry_t **out)
{
    if (e->refs > 1) {
        int rc = store_reserve(s, newkey, newkey_len, e->index, newversion, e->body_len, out);
        if (rc == 0 && e->body_len) memcpy((*out)->body, e->body, e->body_len);
        return rc;
    }
    size_t old_cost = store_entry_cost(e->key_len, e->body_len);
    size_t new_cost = store_entry_cost(newkey_len, e->body_len);
    if (new_cost > old_cost) {
        uint64_t grow = new_cost - old_cost;
        while (s->tomb_oldest && (s->used > s->limit || grow > s->limit - s->used))
            tomb_give_way(s);
        if (s->used > s->limit || grow > s->limit - s->used) return -ENOSPC;
        while (s->nspares && grow > s->limit - s->used - s->spare_bytes) spare_drop(s, 0);
    }
    store_entry_t *n = malloc(sizeof *n + newkey_len);
    if (!n) return -ENOMEM;
    *n = *e;
    n->next = NULL;
    n->hash = store_hash(newkey, newkey_len, e->index, newversion);
    n->version = newversion;
    n->refs = 1;
    n->linked = 0;
    n->key_len = (uint32_t)newkey_len;
    memcpy(n->key, newkey, newkey_len);
    s->used = s->used - old_cost + new_cost;
    /* The old struct goes without its body, which is the new one's now. */
    e->body = NULL;
    e->body_len = 0;
    s->used += store_entry_cost(e->key_len, 0);
    *out = n;
    return 0;
}

int store_rename(store_t *s, const char *key, size_t key_len, uint32_t index, uint64_t version,
                 const char *newkey, size_t newkey_len, uint64_t newversion, uint64_t now_ms)
{
    if (newkey_len > UINT32_MAX) return -EINVAL;
    if (key_len == newkey_len && version == newversion && memcmp(key, newkey, key_len) == 0)
        return store_get(s, key, key_len, index, version) != NULL;
    store_entry_t *e = store_get(s, key, key_len, index, version);
    int rc = 0;
    if (e) {
        store_entry_t *n = NULL;
        rc = rename_entry(s, e, newkey, newkey_len, newversion, &n);
        if (n) {
            n->crc = e->crc;
            n->obj_size = e->obj_size;
            n->expire_ms = e->expire_ms;
            n->d = e->d;
            n->p = e->p;
        }
        store_del(s, key, key_len, index, version); /* the old struct (its body too if copied) */
        if (n) store_commit(s, n, n->crc);
        rc = rc < 0 ? rc : 1;
    }
    /* The old name is gone for good, here as after a DEL: a rebuild never promotes it again. */
    int trc = store_tomb_put(s, key, key_len, version, now_ms);
    return rc < 0 ? rc : (trc == -ENOMEM ? trc : rc);
}

void store_ref(store_entry_t *e)
{
    e->refs++;
}

void store_unref(store_t *s, store_entry_t *e)
{
    if (--e->refs == 0) entry_free(s, e);
}

static uint64_t reverse_bits(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFULL) | ((v & 0x00FF00FF00FF00FFULL) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFULL) | ((v & 0x0000FFFF0000FFFFULL) << 16);
    return (v >> 32) | (v << 32);
}

uint64_t store_scan(const store_t *s, uint64_t cursor, store_visit_fn *visit, void *arg)
{
    if (!s->nbuckets) return 0;
    uint64_t mask = s->nbuckets - 1;
    for (store_entry_t *e = s->buckets[cursor & mask]; e; e = e->next) visit(e, arg);
    /* Increment the cursor's bits above the mask in reversed order: the buckets a bucket splits
     * into when the table doubles come right after it, so none is skipped by growth. */
    cursor |= ~mask;
    cursor = reverse_bits(cursor);
    cursor++;
    return reverse_bits(cursor);
}

void store_journal_init(store_journal_t *j, size_t max_recs, size_t max_key_bytes)
{
    memset(j, 0, sizeof *j);
    buf_init(&j->keys);
    j->max_recs = max_recs;
    j->max_key_bytes = max_key_bytes;
}

void store_journal_clear(store_journal_t *j)
{
    j->n = 0;
    j->overflow = 0;
    buf_clear(&j->keys);
}

void store_journal_free(store_journal_t *j)
{
    free(j->recs);
    j->recs = NULL;
    j->n = j->cap = 0;
    buf_free(&j->keys);
}

const char *store_journal_key(const store_journal_t *j, size_t i)
{
    /* An empty key may sit in a buffer that was never allocated. */
    return j->recs[i].key_len ? buf_head(&j->keys) + j->recs[i].key_off : "";
}

void store_set_journal(store_t *s, store_journal_t *j)
{
    s->journal = j;
}

/* ---------------- tombstones ---------------- */

static store_tomb_t **tomb_slot(const store_t *s, const char *key, size_t key_len, uint64_t h)
{
    store_tomb_t **pp = &s->tombs[h & (s->ntomb_buckets - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && (*pp)->key_len == key_len && memcmp((*pp)->key, key, key_len) == 0)
            break;
    return pp;
}

static void age_unlink(store_t *s, store_tomb_t *t)
{
    if (t->older)
        t->older->newer = t->newer;
    else
        s->tomb_oldest = t->newer;
    if (t->newer)
        t->newer->older = t->older;
    else
        s->tomb_newest = t->older;
    t->older = t->newer = NULL;
}

static void age_append(store_t *s, store_tomb_t *t)
{
    t->newer = NULL;
    t->older = s->tomb_newest;
    if (s->tomb_newest)
        s->tomb_newest->newer = t;
    else
        s->tomb_oldest = t;
    s->tomb_newest = t;
}

static void tomb_unlink(store_t *s, store_tomb_t **pp)
{
    store_tomb_t *t = *pp;
    *pp = t->next;
    age_unlink(s, t);
    s->tomb_bytes -= chunk_footprint(t->key_len, 0);
    s->used -= chunk_footprint(t->key_len, 0);
    s->ntombs--;
    free(t);
}

static void tomb_give_way(store_t *s)
{
    store_tomb_t *t = s->tomb_oldest;
    tomb_unlink(s, tomb_slot(s, t->key, t->key_len, t->hash));
    s->tombs_dropped++;
}

static void tomb_drop_older(store_t *s, const char *key, size_t key_len, uint64_t version)
{
    store_tomb_t **pp = tomb_slot(s, key, key_len, hash_fnv1a64(key, key_len));
    if (*pp && (*pp)->version < version) tomb_unlink(s, pp);
}

static void tomb_grow(store_t *s)
{
    if (s->ntombs < s->ntomb_buckets) return;
    size_t n = s->ntomb_buckets ? s->ntomb_buckets * 2 : 64;
    store_tomb_t **b = calloc(n, sizeof *b);
    if (!b) return; /* longer chains */
    for (size_t i = 0; i < s->ntomb_buckets; i++) {
        store_tomb_t *t = s->tombs[i];
        while (t) {
            store_tomb_t *next = t->next;
            t->next = b[t->hash & (n - 1)];
            b[t->hash & (n - 1)] = t;
            t = next;
        }
    }
    free(s->tombs);
    s->tombs = b;
    s->ntomb_buckets = n;
}

int store_tomb_put(store_t *s, const char *key, size_t key_len, uint64_t version, uint64_t now_ms)
{
    if (key_len > UINT32_MAX) return -EINVAL;
    uint64_t h = hash_fnv1a64(key, key_len);
    store_tomb_t **pp = s->ntomb_buckets ? tomb_slot(s, key, key_len, h) : NULL;
    if (pp && *pp) {
        if ((*pp)->version < version) (*pp)->version = version;
        (*pp)->expire_ms = now_ms + s->tomb_ttl_ms;
        age_unlink(s, *pp);
        age_append(s, *pp);
    } else {
        uint64_t cost = chunk_footprint(key_len, 0);
        while (s->tomb_oldest && (s->used > s->limit || cost > s->limit - s->used))
            tomb_give_way(s);
        if (s->used > s->limit || cost > s->limit - s->used) return -ENOSPC;
        while (s->nspares && cost > s->limit - s->used - s->spare_bytes) spare_drop(s, 0);
        tomb_grow(s);
        if (!s->ntomb_buckets) return -ENOMEM;
        store_tomb_t *t = malloc(sizeof *t + key_len);
        if (!t) return -ENOMEM;
        t->hash = h;
        t->version = version;
        t->expire_ms = now_ms + s->tomb_ttl_ms;
        t->key_len = (uint32_t)key_len;
        memcpy(t->key, key, key_len);
        t->next = s->tombs[h & (s->ntomb_buckets - 1)];
        s->tombs[h & (s->ntomb_buckets - 1)] = t;
        age_append(s, t);
        s->ntombs++;
        s->used += cost;
        s->tomb_bytes += cost;
    }
    if (s->journal) journal_add(s->journal, key, key_len, 0, version, STORE_OP_TOMB);
    return 0;
}

const store_tomb_t *store_tomb_get(const store_t *s, const char *key, size_t key_len)
{
    if (!s->ntomb_buckets) return NULL;
    return *tomb_slot(s, key, key_len, hash_fnv1a64(key, key_len));
}

void store_tomb_expire(store_t *s, uint64_t now_ms)
{
    for (size_t i = 0; i < s->ntomb_buckets && s->ntombs; i++) {
        store_tomb_t **pp = &s->tombs[i];
        while (*pp) {
            if ((*pp)->expire_ms <= now_ms)
                tomb_unlink(s, pp);
            else
                pp = &(*pp)->next;
        }
    }
}

void store_tomb_each(const store_t *s, store_tomb_visit_fn *visit, void *arg)
{
    for (size_t i = 0; i < s->ntomb_buckets; i++)
        for (const store_tomb_t *t = s->tombs[i]; t; t = t->next) visit(t, arg);
}
