/* cmd_keyspace.c -- commands on keys whatever their values: DEL (UNLINK, ICDEL), RENAME,
 * RENAMENX, COPY, EXISTS, TYPE, TOUCH, RANDOMKEY, KEYS, SCAN, the EXPIRE family, PERSIST, TTL and
 * its kin, OBJECT and MEMORY USAGE, each with Redis 7's replies and error texts. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "client.h"
#include "command.h"
#include "footprint.h"
#include "globmatch.h"
#include "meta.h"
#include "op.h"
#include "server.h"

/* Redis's string2ll(): no sign but '-', no leading zeros, no spaces. 0, or -1. */
static int parse_ll(const char *s, size_t l, int64_t *out)
{
    if (l > 1 && (s[0] == '0' || (s[0] == '-' && s[1] == '0'))) return -1;
    return resp_parse_i64(s, l, out);
}

static void reply_not_integer(op_t *op)
{
    resp_add_error(&op->reply, "ERR value is not an integer or out of range");
}

static void reply_syntax_error(op_t *op)
{
    resp_add_error(&op->reply, "ERR syntax error");
}

static cmd_status_t proc_del(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    cmd_del(c, op, argc, argv, argl); /* answers once its deletes are done */
    return CMD_PENDING;
}

/* RENAME / RENAMENX src dst: metadata and a CRENAME per chunk (op_rename.c), answered once the
 * nodes hold the new name. */
static cmd_status_t proc_rename(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    (void)argc;
    int nx = argl[0] == 8; /* "renamenx" */
    return cmd_rename(c, op, argv[1], argl[1], argv[2], argl[2], nx) ? CMD_PENDING : CMD_REPLIED;
}

/* COPY src dst [DB db] [REPLACE]: Redis's copyCommand's checks in its order; only db 0 exists
 * here, so any other is "out of range", as on a server with one database. */
static cmd_status_t proc_copy(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    int replace = 0;
    for (int j = 3; j < argc; j++) {
        if (argl[j] == 7 && strncasecmp(argv[j], "replace", 7) == 0) {
            replace = 1;
        } else if (argl[j] == 2 && strncasecmp(argv[j], "db", 2) == 0 && j + 1 < argc) {
            int64_t db;
            if (parse_ll(argv[j + 1], argl[j + 1], &db) < 0) {
                reply_not_integer(op);
                return CMD_REPLIED;
            }
            if (db != 0) {
                resp_add_error(&op->reply, "ERR DB index is out of range");
                return CMD_REPLIED;
            }
            j++;
        } else {
            reply_syntax_error(op);
            return CMD_REPLIED;
        }
    }
    if (argl[1] == argl[2] && memcmp(argv[1], argv[2], argl[1]) == 0) {
        resp_add_error(&op->reply, "ERR source and destination objects are the same");
        return CMD_REPLIED;
    }
    cmd_copy(c, op, argv[1], argl[1], argv[2], argl[2], replace); /* answers on its own */
    return CMD_PENDING;
}

/* EXISTS key...: each argument counts, repeats included, as in Redis. */
static cmd_status_t proc_exists(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    int64_t n = 0;
    for (int i = 1; i < argc; i++)
        if (meta_lookup(c->srv, argv[i], argl[i])) n++;
    resp_add_int(&op->reply, n);
    return CMD_REPLIED;
}

/* TOUCH key...: EXISTS that also counts as a read for eviction and OBJECT IDLETIME. */
static cmd_status_t proc_touch(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl)
{
    int64_t n = 0;
    for (int i = 1; i < argc; i++) {
        meta_t *m = meta_lookup(c->srv, argv[i], argl[i]);
        if (m) {
            meta_touch(m);
            n++;
        }
    }
    resp_add_int(&op->reply, n);
    return CMD_REPLIED;
}

/* Every value here is a string. */
static cmd_status_t proc_type(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    (void)argc;
    resp_add_simple(&op->reply, meta_lookup(c->srv, argv[1], argl[1]) ? "string" : "none");
    return CMD_REPLIED;
}

/* RANDOMKEY: a random slot of the CLOCK ring (it holds every object, with holes), an expired
 * pick dropped and another drawn as Redis does; after many holes in a row, the first object from
 * a random place. */
static cmd_status_t proc_randomkey(client_t *c, op_t *op, int argc, const char **argv,
                                   const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    meta_table_t *t = &c->srv->meta;
    while (t->count > 0) {
        size_t slot = (size_t)random() % t->clock_len;
        meta_t *m = NULL;
        for (int tries = 0; tries < 64 && !m; tries++)
            m = t->clock[(slot + (size_t)tries * 7919) % t->clock_len];
        for (size_t k = 0; k < t->clock_len && !m; k++)
            m = t->clock[(slot + k) % t->clock_len];
        if (!m) break; /* not reached: count > 0 means a slot is in use */
        if (m->expire_ms && m->expire_ms <= clock_wall_ms()) {
            t->expired++;
            meta_drop(c->srv, m);
            continue;
        }
        resp_add_bulk(&op->reply, meta_key(m), m->keylen);
        return CMD_REPLIED;
    }
    resp_add_null(&op->reply);
    return CMD_REPLIED;
}

/* A growable list of objects, for replies whose length is known only at the end. */
typedef struct {
    meta_t **v;
    size_t n, cap;
} meta_list_t;

static int list_push(meta_list_t *l, meta_t *m)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        meta_t **v = realloc(l->v, cap * sizeof *v);
        if (!v) return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = m;
    return 0;
}

/* KEYS pattern: every unexpired key that matches, in one reply, as Redis's KEYS (it walks the
 * whole table in one event: SCAN is the command for large tables). Expired keys are skipped, not
 * dropped, as Redis's KEYS does; the sweep or the next lookup drops them. */
static cmd_status_t proc_keys(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    (void)argc;
    meta_table_t *t = &c->srv->meta;
    int all = argl[1] == 1 && argv[1][0] == '*';
    uint64_t now = clock_wall_ms();
    meta_list_t l = {0};
    for (size_t i = 0; i < t->clock_len; i++) {
        meta_t *m = t->clock[i];
        if (!m || (m->expire_ms && m->expire_ms <= now)) continue;
        if (!all && !globmatch(argv[1], argl[1], meta_key(m), m->keylen)) continue;
        if (list_push(&l, m) < 0) {
            free(l.v);
            resp_add_error(&op->reply, "ERR out of memory");
            return CMD_REPLIED;
        }
    }
    resp_add_array_header(&op->reply, (int64_t)l.n);
    for (size_t i = 0; i < l.n; i++)
        resp_add_bulk(&op->reply, meta_key(l.v[i]), l.v[i]->keylen);
    free(l.v);
    return CMD_REPLIED;
}

/* Redis's parseScanCursorOrReply(): strtoul on the argument as a C string, so a sign, and
 * anything after a NUL, are accepted as Redis accepts them. 0, or -1. */
static int parse_cursor(const char *s, size_t l, unsigned long *out)
{
    char *z = malloc(l + 1), *end;
    if (!z) return -1;
    memcpy(z, s, l);
    z[l] = 0;
    errno = 0;
    *out = strtoul(z, &end, 10);
    int ok = !isspace((unsigned char)z[0]) && *end == 0 && errno != ERANGE;
    free(z);
    return ok ? 0 : -1;
}

static void scan_collect(void *arg, meta_t *m)
{
    meta_list_t *l = arg;
    if (list_push(l, m) < 0) l->cap = SIZE_MAX; /* marks the failure; the list stays valid */
}

/* SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: Redis's scanGenericCommand. Up to
 * count*10 buckets are walked until count objects are collected; MATCH, TYPE and expiry filter
 * them afterwards, so a step may answer fewer keys, or none, with a cursor that is not 0. */
static cmd_status_t proc_scan(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    server_t *srv = c->srv;
    unsigned long cursor;
    int64_t count = 10;
    const char *pat = NULL, *type = NULL;
    size_t patlen = 0, typelen = 0;
    if (parse_cursor(argv[1], argl[1], &cursor) < 0) {
        resp_add_error(&op->reply, "ERR invalid cursor");
        return CMD_REPLIED;
    }
    for (int i = 2; i < argc;) {
        int more = argc - i >= 2;
        if (arg_is(argv[i], argl[i], "COUNT") && more) {
            if (parse_ll(argv[i + 1], argl[i + 1], &count) < 0) {
                reply_not_integer(op);
                return CMD_REPLIED;
            }
            if (count < 1) {
                reply_syntax_error(op);
                return CMD_REPLIED;
            }
        } else if (arg_is(argv[i], argl[i], "MATCH") && more) {
            pat = argv[i + 1];
            patlen = argl[i + 1];
            if (patlen == 1 && pat[0] == '*') pat = NULL; /* matches everything, "" included */
        } else if (arg_is(argv[i], argl[i], "TYPE") && more) {
            type = argv[i + 1];
            typelen = argl[i + 1];
        } else {
            reply_syntax_error(op);
            return CMD_REPLIED;
        }
        i += 2;
    }
    meta_list_t l = {0};
    int64_t budget = count > INT64_MAX / 10 ? INT64_MAX : count * 10;
    do {
        cursor = meta_scan(&srv->meta, cursor, scan_collect, &l);
    } while (cursor && budget-- && l.n < (uint64_t)count && l.cap != SIZE_MAX);
    if (l.cap == SIZE_MAX) {
        free(l.v);
        resp_add_error(&op->reply, "ERR out of memory");
        return CMD_REPLIED;
    }
    /* Redis compares the type name as a C string, case-insensitively: values here are strings. */
    int type_ok = !type || (typelen >= 6 && strncasecmp(type, "string", 6) == 0 &&
                            (typelen == 6 || type[6] == 0));
    size_t kept = 0;
    uint64_t now = clock_wall_ms();
    for (size_t i = 0; i < l.n; i++) {
        meta_t *m = l.v[i];
        if (pat && !globmatch(pat, patlen, meta_key(m), m->keylen)) continue;
        if (!type_ok) continue;
        if (m->expire_ms && m->expire_ms <= now) {
            srv->meta.expired++;
            meta_drop(srv, m); /* only m is freed: the rest of the list stays valid */
            continue;
        }
        l.v[kept++] = m;
    }
    char cur[24];
    int cl = snprintf(cur, sizeof cur, "%lu", cursor);
    resp_add_array_header(&op->reply, 2);
    resp_add_bulk(&op->reply, cur, (size_t)cl);
    resp_add_array_header(&op->reply, (int64_t)kept);
    for (size_t i = 0; i < kept; i++)
        resp_add_bulk(&op->reply, meta_key(l.v[i]), l.v[i]->keylen);
    free(l.v);
    return CMD_REPLIED;
}

/* ---- expiry ---- */

enum { EXP_NX = 1, EXP_XX = 2, EXP_GT = 4, EXP_LT = 8 };

/* EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT key time [NX|XX|GT|LT]...: Redis's expireGenericCommand,
 * checks in its order (options, integer, overflow, key, conditions). A time at or before now
 * deletes the key as DEL does (tombstones on its nodes, answered once they hold), so it never
 * comes back. Otherwise the new expiry goes to the chunks' nodes too, so it outlives a proxy
 * restart, and the reply waits for them as a DEL's does. */
static cmd_status_t expire_generic(client_t *c, op_t *op, int argc, const char **argv,
                                   const size_t *argl, const char *name, int relative,
                                   int in_seconds)
{
    server_t *srv = c->srv;
    int flags = 0;
    for (int i = 3; i < argc; i++) {
        if (arg_is(argv[i], argl[i], "NX"))
            flags |= EXP_NX;
        else if (arg_is(argv[i], argl[i], "XX"))
            flags |= EXP_XX;
        else if (arg_is(argv[i], argl[i], "GT"))
            flags |= EXP_GT;
        else if (arg_is(argv[i], argl[i], "LT"))
            flags |= EXP_LT;
        else {
            resp_add_error(&op->reply, "ERR Unsupported option %.*s",
                           (int)strnlen(argv[i], argl[i]), argv[i]);
            return CMD_REPLIED;
        }
    }
    if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
        resp_add_error(&op->reply,
                       "ERR NX and XX, GT or LT options at the same time are not compatible");
        return CMD_REPLIED;
    }
    if ((flags & EXP_GT) && (flags & EXP_LT)) {
        resp_add_error(&op->reply, "ERR GT and LT options at the same time are not compatible");
        return CMD_REPLIED;
    }
    int64_t when;
    if (parse_ll(argv[2], argl[2], &when) < 0) {
        reply_not_integer(op);
        return CMD_REPLIED;
    }
    int64_t now = (int64_t)clock_wall_ms(), base = relative ? now : 0;
    if (in_seconds) {
        if (when > INT64_MAX / 1000 || when < INT64_MIN / 1000) goto invalid;
        when *= 1000;
    }
    if (when > INT64_MAX - base) goto invalid;
    when += base;
    meta_t *m = meta_lookup(srv, argv[1], argl[1]);
    if (!m) {
        resp_add_int(&op->reply, 0);
        return CMD_REPLIED;
    }
    /* Redis's rules: no expiry counts as an infinite one for GT and LT. */
    int64_t cur = m->expire_ms ? (int64_t)m->expire_ms : -1;
    if (((flags & EXP_NX) && cur != -1) || ((flags & EXP_XX) && cur == -1) ||
        ((flags & EXP_GT) && (when <= cur || cur == -1)) ||
        ((flags & EXP_LT) && cur != -1 && when >= cur)) {
        resp_add_int(&op->reply, 0);
        return CMD_REPLIED;
    }
    if (when <= now) {
        const char *av[2] = {argv[0], argv[1]};
        size_t al[2] = {argl[0], argl[1]};
        cmd_del(c, op, 2, av, al); /* answers :1, the key being there */
        return CMD_PENDING;
    }
    cmd_expire_set(c, op, m, (uint64_t)when);
    return CMD_PENDING;
invalid:
    resp_add_error(&op->reply, "ERR invalid expire time in '%s' command", name);
    return CMD_REPLIED;
}

/* EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT: one handler, the variant named by argv[0]. */
static cmd_status_t proc_expire(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    static const struct {
        const char *name;
        int relative, in_seconds;
    } variants[] = {{"expire", 1, 1}, {"pexpire", 1, 0}, {"expireat", 0, 1}, {"pexpireat", 0, 0}};
    size_t i = 0;
    while (i < 3 && !arg_is(argv[0], argl[0], variants[i].name))
        i++;
    return expire_generic(c, op, argc, argv, argl, variants[i].name, variants[i].relative,
                          variants[i].in_seconds);
}

static cmd_status_t proc_persist(client_t *c, op_t *op, int argc, const char **argv,
                                 const size_t *argl)
{
    (void)argc;
    meta_t *m = meta_lookup(c->srv, argv[1], argl[1]);
    if (!m || !m->expire_ms) {
        resp_add_int(&op->reply, 0);
        return CMD_REPLIED;
    }
    cmd_expire_set(c, op, m, 0);
    return CMD_PENDING;
}

/* -2 without the key, -1 without an expiry (Redis's answers); else what `answer` makes of the
 * expiry and now. */
static void reply_expiry(client_t *c, op_t *op, const char *key, size_t keylen,
                         int64_t (*answer)(uint64_t expire_ms, uint64_t now_ms))
{
    meta_t *m = meta_lookup(c->srv, key, keylen);
    if (!m)
        resp_add_int(&op->reply, -2);
    else if (!m->expire_ms)
        resp_add_int(&op->reply, -1);
    else
        resp_add_int(&op->reply, answer(m->expire_ms, clock_wall_ms()));
}

static int64_t ms_left(uint64_t expire_ms, uint64_t now_ms)
{
    return expire_ms > now_ms ? (int64_t)(expire_ms - now_ms) : 0;
}

static int64_t ttl_answer(uint64_t expire_ms, uint64_t now_ms)
{
    return (ms_left(expire_ms, now_ms) + 500) / 1000; /* rounded, as Redis's TTL */
}

static int64_t pttl_answer(uint64_t expire_ms, uint64_t now_ms)
{
    return ms_left(expire_ms, now_ms);
}

static int64_t expiretime_answer(uint64_t expire_ms, uint64_t now_ms)
{
    (void)now_ms;
    return (int64_t)(expire_ms / 1000);
}

static int64_t pexpiretime_answer(uint64_t expire_ms, uint64_t now_ms)
{
    (void)now_ms;
    return (int64_t)expire_ms;
}

/* TTL, PTTL, EXPIRETIME and PEXPIRETIME: one handler, the variant named by argv[0]. */
static cmd_status_t proc_ttl(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    static const struct {
        const char *name;
        int64_t (*answer)(uint64_t expire_ms, uint64_t now_ms);
    } variants[] = {{"ttl", ttl_answer},
                    {"pttl", pttl_answer},
                    {"expiretime", expiretime_answer},
                    {"pexpiretime", pexpiretime_answer}};
    (void)argc;
    size_t i = 0;
    while (i < 3 && !arg_is(argv[0], argl[0], variants[i].name))
        i++;
    reply_expiry(c, op, argv[1], argl[1], variants[i].answer);
    return CMD_REPLIED;
}

/* ---- OBJECT and MEMORY: container commands, checked as Redis 7 checks subcommands ---- */

/* Redis's answer to an unknown subcommand of `container` (upper case). */
static void reply_unknown_subcommand(op_t *op, const char *container, const char *sub, size_t l)
{
    resp_add_error(&op->reply, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                   (int)strnlen(sub, l < 128 ? l : 128), sub, container);
}

/* Redis's arity check of a subcommand (arity as in command.h); 0 with the error given. */
static int subcommand_arity_ok(op_t *op, const char *fullname, int arity, int argc)
{
    if (arity >= 0 ? argc == arity : argc >= -arity) return 1;
    resp_add_error(&op->reply, "ERR wrong number of arguments for '%s' command", fullname);
    return 0;
}

static void reply_help(op_t *op, const char *const *lines, int n)
{
    resp_add_array_header(&op->reply, n);
    for (int i = 0; i < n; i++)
        resp_add_simple(&op->reply, lines[i]);
}

/* Redis 7.0's OBJECT HELP, word for word: every subcommand it lists is answered here. */
static const char *const object_help[] = {
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
};

/* OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT key, OBJECT HELP. Values are stored as chunks, never as
 * Redis's small encodings, so ENCODING is always "raw". Eviction is CLOCK, an approximation of
 * LRU, so FREQ answers what Redis answers under an LRU policy (an error) and IDLETIME the
 * seconds since the last read (GET, TOUCH) or write. Lookups do not count as reads (Redis's
 * LOOKUP_NOTOUCH). */
static cmd_status_t proc_object(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    static const struct {
        const char *name, *fullname;
        int arity;
    } subs[] = {{"ENCODING", "object|encoding", 3},
                {"FREQ", "object|freq", 3},
                {"IDLETIME", "object|idletime", 3},
                {"REFCOUNT", "object|refcount", 3},
                {"HELP", "object|help", 2}};
    size_t k = 0, nsubs = sizeof subs / sizeof *subs;
    while (k < nsubs && !arg_is(argv[1], argl[1], subs[k].name))
        k++;
    if (k == nsubs) {
        reply_unknown_subcommand(op, "OBJECT", argv[1], argl[1]);
        return CMD_REPLIED;
    }
    if (!subcommand_arity_ok(op, subs[k].fullname, subs[k].arity, argc)) return CMD_REPLIED;
    if (k == 4) {
        reply_help(op, object_help, (int)(sizeof object_help / sizeof *object_help));
        return CMD_REPLIED;
    }
    meta_t *m = meta_lookup(c->srv, argv[2], argl[2]);
    if (!m) {
        resp_add_null(&op->reply);
    } else if (k == 0) {
        resp_add_bulk(&op->reply, "raw", 3);
    } else if (k == 1) {
        resp_add_error(&op->reply,
                       "ERR An LFU maxmemory policy is not selected, access frequency not "
                       "tracked. Please note that when switching between policies at runtime LRU "
                       "and LFU data will take some time to adjust.");
    } else if (k == 2) {
        uint32_t now_s = (uint32_t)(clock_wall_ms() / 1000);
        resp_add_int(&op->reply, now_s > m->atime_s ? now_s - m->atime_s : 0);
    } else {
        resp_add_int(&op->reply, 1); /* one reference: the table's */
    }
    return CMD_REPLIED;
}

static const char *const memory_help[] = {
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
};

/* MEMORY USAGE key [SAMPLES count]: what the object costs, in bytes: each of its d+p chunks as
 * its node counts it (footprint.h), plus the proxy's metadata. SAMPLES is checked as Redis checks
 * it and has nothing to sample. MEMORY HELP lists only what is answered here. */
static cmd_status_t proc_memory(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    if (arg_is(argv[1], argl[1], "HELP")) {
        if (subcommand_arity_ok(op, "memory|help", 2, argc))
            reply_help(op, memory_help, (int)(sizeof memory_help / sizeof *memory_help));
        return CMD_REPLIED;
    }
    if (!arg_is(argv[1], argl[1], "USAGE")) {
        reply_unknown_subcommand(op, "MEMORY", argv[1], argl[1]);
        return CMD_REPLIED;
    }
    if (!subcommand_arity_ok(op, "memory|usage", -3, argc)) return CMD_REPLIED;
    for (int j = 3; j < argc; j++) {
        int64_t samples;
        if (arg_is(argv[j], argl[j], "SAMPLES") && j + 1 < argc) {
            if (parse_ll(argv[j + 1], argl[j + 1], &samples) < 0) {
                reply_not_integer(op);
                return CMD_REPLIED;
            }
            if (samples < 0) {
                reply_syntax_error(op);
                return CMD_REPLIED;
            }
            j++;
        } else {
            reply_syntax_error(op);
            return CMD_REPLIED;
        }
    }
    meta_t *m = meta_lookup(c->srv, argv[2], argl[2]);
    if (!m) {
        resp_add_null(&op->reply);
        return CMD_REPLIED;
    }
    uint64_t n = (uint64_t)m->d + m->p;
    uint64_t bytes =
        n * chunk_footprint(m->keylen, m->chunk_size) + meta_alloc_size(m->d, m->p, m->keylen);
    resp_add_int(&op->reply, (int64_t)bytes);
    return CMD_REPLIED;
}

/* clang-format off */
const command_t cmd_keyspace_commands[] = {
    {"del",         -2, 0, CMD_WRITE,               1, -1, 1, proc_del,         NULL},
    {"unlink",      -2, 0, CMD_WRITE,               1, -1, 1, proc_del,         NULL},
    {"icdel",       -2, 0, CMD_WRITE,               1, -1, 1, proc_del,         NULL},
    {"rename",       3, 0, CMD_WRITE,               1, 2, 1,  proc_rename,      NULL},
    {"renamenx",     3, 0, CMD_WRITE,               1, 2, 1,  proc_rename,      NULL},
    {"copy",        -3, 0, CMD_WRITE,               1, 2, 1,  proc_copy,        NULL},
    {"exists",      -2, 0, CMD_READONLY | CMD_FAST, 1, -1, 1, proc_exists,      NULL},
    {"touch",       -2, 0, CMD_READONLY | CMD_FAST, 1, -1, 1, proc_touch,       NULL},
    {"type",         2, 0, CMD_READONLY | CMD_FAST, 1, 1, 1,  proc_type,        NULL},
    {"randomkey",    1, 0, CMD_READONLY,            0, 0, 0,  proc_randomkey,   NULL},
    {"keys",         2, 0, CMD_READONLY,            0, 0, 0,  proc_keys,        NULL},
    {"scan",        -2, 0, CMD_READONLY,            0, 0, 0,  proc_scan,        NULL},
    {"expire",      -3, 0, CMD_WRITE,               1, 1, 1,  proc_expire,      NULL},
    {"pexpire",     -3, 0, CMD_WRITE,               1, 1, 1,  proc_expire,      NULL},
    {"expireat",    -3, 0, CMD_WRITE,               1, 1, 1,  proc_expire,      NULL},
    {"pexpireat",   -3, 0, CMD_WRITE,               1, 1, 1,  proc_expire,      NULL},
    {"persist",      2, 0, CMD_WRITE,               1, 1, 1,  proc_persist,     NULL},
    {"ttl",          2, 0, CMD_READONLY | CMD_FAST, 1, 1, 1,  proc_ttl,         NULL},
    {"pttl",         2, 0, CMD_READONLY | CMD_FAST, 1, 1, 1,  proc_ttl,         NULL},
    {"expiretime",   2, 0, CMD_READONLY | CMD_FAST, 1, 1, 1,  proc_ttl,         NULL},
    {"pexpiretime",  2, 0, CMD_READONLY | CMD_FAST, 1, 1, 1,  proc_ttl,         NULL},
    {"object",      -2, 0, CMD_READONLY,            0, 0, 0,  proc_object,      NULL},
    {"memory",      -2, 0, CMD_READONLY,            0, 0, 0,  proc_memory,      NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
