/* watch.c -- the table of watched keys: a chained hash of (key, watcher) entries, so that a
 * change of a key marks every watcher of it in one bucket walk, and a watcher's entries are
 * linked to it so UNWATCH removes them without a search. */
#include "watch.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "server.h"

struct watch {
    watch_t *next, **pprev; /* in the key's bucket */
    watch_t *owner_next;    /* in its watcher's list */
    watcher_t *owner;
    uint64_t hash;
    uint64_t version; /* the key's version when watched; 0: absent */
    size_t keylen;
    char key[];
};

struct watch_table {
    watch_t **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
};

static int table_grow(struct watch_table *t)
{
    size_t n = t->nbuckets ? t->nbuckets * 2 : 64;
    watch_t **b = calloc(n, sizeof *b);
    if (!b) return t->nbuckets ? 0 : -1; /* longer chains still work */
    for (size_t i = 0; i < t->nbuckets; i++)
        for (watch_t *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            watch_t **head = &b[e->hash & (n - 1)];
            e->next = *head;
            if (*head) (*head)->pprev = &e->next;
            e->pprev = head;
            *head = e;
        }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
    return 0;
}

int watch_key(server_t *srv, watcher_t *w, const char *key, size_t keylen, uint64_t version)
{
    for (watch_t *e = w->keys; e; e = e->owner_next)
        if (e->keylen == keylen && memcmp(e->key, key, keylen) == 0) return 0;
    if (!srv->watches && !(srv->watches = calloc(1, sizeof *srv->watches))) return -1;
    struct watch_table *t = srv->watches;
    if (t->count >= t->nbuckets && table_grow(t) < 0) return -1;
    watch_t *e = malloc(sizeof *e + keylen);
    if (!e) return -1;
    e->hash = hash_fnv1a64(key, keylen);
    e->version = version;
    e->keylen = keylen;
    memcpy(e->key, key, keylen);
    e->owner = w;
    e->owner_next = w->keys;
    w->keys = e;
    w->nkeys++;
    watch_t **head = &t->buckets[e->hash & (t->nbuckets - 1)];
    e->next = *head;
    if (*head) (*head)->pprev = &e->next;
    e->pprev = head;
    *head = e;
    t->count++;
    return 0;
}

void watch_forget_all(server_t *srv, watcher_t *w)
{
    struct watch_table *t = srv->watches;
    for (watch_t *e = w->keys, *next; e; e = next) {
        next = e->owner_next;
        *e->pprev = e->next;
        if (e->next) e->next->pprev = e->pprev;
        free(e);
        t->count--;
    }
    w->keys = NULL;
    w->nkeys = 0;
    w->touched = 0;
}

void watch_touch(server_t *srv, const char *key, size_t keylen)
{
    struct watch_table *t = srv->watches;
    if (!t || !t->count) return;
    uint64_t h = hash_fnv1a64(key, keylen);
    for (watch_t *e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && e->keylen == keylen && memcmp(e->key, key, keylen) == 0)
            e->owner->touched = 1;
}

void watch_each(const watcher_t *w,
                void (*fn)(void *arg, const char *key, size_t keylen, uint64_t version), void *arg)
{
    for (const watch_t *e = w->keys; e; e = e->owner_next)
        fn(arg, e->key, e->keylen, e->version);
}

void watch_table_free(server_t *srv)
{
    struct watch_table *t = srv->watches;
    if (!t) return;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (watch_t *e = t->buckets[i], *next; e; e = next) {
            next = e->next;
            e->owner->keys = NULL;
            e->owner->nkeys = 0;
            free(e);
        }
    free(t->buckets);
    free(t);
    srv->watches = NULL;
}
