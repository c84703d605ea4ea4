/* watch.h -- keys that clients WATCH: every change of such a key (a write, a delete, an expiry
 * change, expiry itself, eviction) marks the watchers, whose next EXEC then aborts (watch.c). */
#ifndef IC_PROXY_WATCH_H
#define IC_PROXY_WATCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct server server_t;
typedef struct watch watch_t;

/* One client's watches. The owner embeds it and passes it to each call; `touched` is set by
 * watch_touch when any of its keys changes. */
typedef struct watcher {
    watch_t *keys; /* the (key, watcher) entries of this watcher */
    int nkeys;
    int touched;
} watcher_t;

/* Watches key for w (once: a key watched again is a no-op), remembering the key's version now
 * (0: absent). 0, or -1 when out of memory. */
int watch_key(server_t *srv, watcher_t *w, const char *key, size_t keylen, uint64_t version);
/* Drops every watch of w and clears its mark (UNWATCH, EXEC, DISCARD, RESET, a closed client). */
void watch_forget_all(server_t *srv, watcher_t *w);
/* The key changed: its watchers are marked. Costs nothing while nobody watches anything. */
void watch_touch(server_t *srv, const char *key, size_t keylen);
/* Calls fn for each key w watches with the version it had when watched (EXEC looks at each:
 * an expired one is dropped then, which touches it). */
void watch_each(const watcher_t *w,
                void (*fn)(void *arg, const char *key, size_t keylen, uint64_t version), void *arg);
/* Frees the table at shutdown (the watchers' entries go with it). */
void watch_table_free(server_t *srv);

#endif
