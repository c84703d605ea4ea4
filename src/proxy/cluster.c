/* cluster.c -- the cluster config file's strict parser and the slot map it builds. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "cluster.h"

void cluster_node_id(const char *name, char out[41])
{
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)name, strlen(name), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int cluster_find(const cluster_map_t *map, const char *s, size_t len)
{
    for (int i = 0; i < map->nproxies; i++) {
        const cluster_proxy_t *p = &map->proxies[i];
        if ((len == 40 && memcmp(p->id, s, 40) == 0) ||
            (strlen(p->name) == len && memcmp(p->name, s, len) == 0))
            return i;
    }
    return -1;
}

static void fail(char *err, size_t errlen, int lineno, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (lineno)
        snprintf(err, errlen, "line %d: %s", lineno, why);
    else
        snprintf(err, errlen, "%s", why);
}

/* The next space-separated word of [*p, end): its start and length, or 0 at the end. */
static size_t next_word(const char **p, const char *end, const char **word)
{
    while (*p < end && (**p == ' ' || **p == '\t' || **p == '\r'))
        (*p)++;
    *word = *p;
    while (*p < end && **p != ' ' && **p != '\t' && **p != '\r')
        (*p)++;
    return (size_t)(*p - *word);
}

static int word_is(const char *w, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(w, s, n) == 0;
}

/* A decimal number of at most 5 digits, no sign: slots and ports. -1 if not one. */
static long small_number(const char *w, size_t n)
{
    if (n == 0 || n > 5) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] < '0' || w[i] > '9') return -1;
        v = v * 10 + (w[i] - '0');
    }
    return v;
}

static int name_ok(const char *w, size_t n)
{
    if (n == 0 || n > CLUSTER_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = w[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return 0;
    }
    return 1;
}

/* One "proxy ..." line (without its newline). 0, 1 for a blank or comment line, -1 on error. */
static int parse_line(cluster_map_t *map, const char *p, const char *end, int lineno, char *err,
                      size_t errlen)
{
    const char *w;
    size_t n = next_word(&p, end, &w);
    if (n == 0 || w[0] == '#') return 1;
    if (!word_is(w, n, "proxy")) {
        fail(err, errlen, lineno, "unknown directive '%.*s' (expected 'proxy')",
             (int)(n > 32 ? 32 : n), w);
        return -1;
    }
    if (map->nproxies >= CLUSTER_PROXIES_MAX) {
        fail(err, errlen, lineno, "more than %d proxies", CLUSTER_PROXIES_MAX);
        return -1;
    }
    int me = map->nproxies;
    cluster_proxy_t *px = &map->proxies[me];
    n = next_word(&p, end, &w);
    if (!name_ok(w, n)) {
        fail(err, errlen, lineno,
             "proxy name must be 1-%d characters of letters, digits, '-', '_', '.'",
             CLUSTER_NAME_MAX);
        return -1;
    }
    memcpy(px->name, w, n);
    px->name[n] = 0;
    if (cluster_find(map, px->name, n) >= 0) {
        fail(err, errlen, lineno, "proxy '%s' is defined twice", px->name);
        return -1;
    }
    n = next_word(&p, end, &w);
    const char *colon = n ? memrchr(w, ':', n) : NULL;
    long port = colon ? small_number(colon + 1, (size_t)(w + n - colon - 1)) : -1;
    size_t hostlen = colon ? (size_t)(colon - w) : 0;
    if (!colon || hostlen == 0 || hostlen > CLUSTER_HOST_MAX || port < 1 || port > 65535) {
        fail(err, errlen, lineno, "expected HOST:PORT after the proxy name (port 1-65535)");
        return -1;
    }
    for (size_t i = 0; i < hostlen; i++)
        if ((unsigned char)w[i] <= ' ' || w[i] == ',' || w[i] == '@') {
            fail(err, errlen, lineno, "bad character in host");
            return -1;
        }
    memcpy(px->host, w, hostlen);
    px->host[hostlen] = 0;
    px->port = (int)port;
    n = next_word(&p, end, &w);
    if (!word_is(w, n, "SLOTS") && !word_is(w, n, "slots")) {
        fail(err, errlen, lineno, "expected SLOTS after HOST:PORT");
        return -1;
    }
    int ranges = 0;
    while ((n = next_word(&p, end, &w)) > 0) {
        const char *dash = memchr(w, '-', n);
        long first = small_number(w, dash ? (size_t)(dash - w) : n);
        long last = dash ? small_number(dash + 1, (size_t)(w + n - dash - 1)) : first;
        if (first < 0 || last < 0 || first >= SLOT_COUNT || last >= SLOT_COUNT || last < first) {
            fail(err, errlen, lineno,
                 "bad slot range '%.*s' (slots are 0-%d, FIRST-LAST ascending)",
                 (int)(n > 32 ? 32 : n), w, SLOT_COUNT - 1);
            return -1;
        }
        for (long s = first; s <= last; s++) {
            if (map->owner[s] >= 0) {
                fail(err, errlen, lineno, "slot %ld is already owned by proxy '%s'", s,
                     map->proxies[map->owner[s]].name);
                return -1;
            }
            map->owner[s] = (int8_t)me;
        }
        ranges++;
    }
    if (!ranges) {
        fail(err, errlen, lineno, "proxy '%s' has no slots", px->name);
        return -1;
    }
    cluster_node_id(px->name, px->id);
    map->nproxies++;
    return 0;
}

int cluster_parse(cluster_map_t *map, const char *text, size_t len, char *err, size_t errlen)
{
    memset(map, 0, sizeof *map);
    map->self = -1;
    memset(map->owner, -1, sizeof map->owner);
    memset(map->migrating, -1, sizeof map->migrating);
    memset(map->importing, -1, sizeof map->importing);
    if (len > CLUSTER_FILE_MAX) {
        fail(err, errlen, 0, "larger than %d bytes", CLUSTER_FILE_MAX);
        return -1;
    }
    const char *p = text, *end = text + len;
    int lineno = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        lineno++;
        if (eol - p > CLUSTER_LINE_MAX) {
            fail(err, errlen, lineno, "longer than %d bytes", CLUSTER_LINE_MAX);
            return -1;
        }
        if (memchr(p, 0, (size_t)(eol - p))) {
            fail(err, errlen, lineno, "NUL byte");
            return -1;
        }
        if (parse_line(map, p, eol, lineno, err, errlen) < 0) return -1;
        p = nl ? nl + 1 : end;
    }
    if (map->nproxies == 0) {
        fail(err, errlen, 0, "no proxy lines");
        return -1;
    }
    for (int s = 0; s < SLOT_COUNT; s++)
        if (map->owner[s] < 0) {
            int e = s;
            while (e + 1 < SLOT_COUNT && map->owner[e + 1] < 0)
                e++;
            fail(err, errlen, 0, "slots %d-%d are owned by no proxy (all 16384 must be covered)", s,
                 e);
            return -1;
        }
    return 0;
}

int cluster_load(cluster_map_t **out, const char *path, const char *self_name, char *err,
                 size_t errlen)
{
    char why[512];
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cluster-config %s: %s", path, strerror(errno));
        return -1;
    }
    char *text = malloc(CLUSTER_FILE_MAX + 1);
    cluster_map_t *map = malloc(sizeof *map);
    size_t len = text ? fread(text, 1, CLUSTER_FILE_MAX + 1, f) : 0;
    int bad_read = ferror(f);
    fclose(f);
    if (!text || !map) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (bad_read) {
        snprintf(err, errlen, "cluster-config %s: read error", path);
        goto fail;
    }
    if (cluster_parse(map, text, len, why, sizeof why) < 0) {
        snprintf(err, errlen, "cluster-config %s %s", path, why);
        goto fail;
    }
    map->self = cluster_find(map, self_name, strlen(self_name));
    if (!self_name[0] || map->self < 0 || strcmp(map->proxies[map->self].name, self_name) != 0) {
        snprintf(err, errlen, "cluster-config %s: no proxy named '%s' (give --cluster-id NAME)",
                 path, self_name);
        goto fail;
    }
    free(text);
    *out = map;
    return 0;
fail:
    free(text);
    free(map);
    return -1;
}
