/* op_rmw.c -- compound commands: read a key's value, compute, write it back (INCR, APPEND,
 * SETRANGE, GETSET, SET ... GET, GETDEL, GETEX), and MSET/MSETNX, with the keys held so that no
 * other command on them runs in between. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backing.h"
#include "clock.h"
#include "hash.h"
#include "log.h"
#include "client.h"
#include "meta.h"
#include "op.h"
#include "server.h"
#include "watch.h"

/* ---- held keys ----
 * A compound command takes its keys in this table before it reads and lets go once it has
 * written. While a key is in it, every command naming the key, from any client, waits before it
 * is dispatched (client.c command_must_wait); when the last hold of a key goes, the waiting
 * clients are resumed at the end of the loop iteration. The count lets one command name a key
 * twice (MSET k a k b). */
typedef struct hold {
    struct hold *next;
    uint64_t hash;
    int count;
    size_t keylen;
    char key[];
} hold_t;

struct key_holds {
    hold_t **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;   /* keys held */
    size_t total;   /* holds, the counts summed */
    uint64_t wake_timer;
};

static hold_t **hold_slot(struct key_holds *h, const char *key, size_t keylen, uint64_t hash)
{
    hold_t **pp = &h->buckets[hash & (h->nbuckets - 1)];
    while (*pp && !((*pp)->hash == hash && (*pp)->keylen == keylen &&
                    memcmp((*pp)->key, key, keylen) == 0))
        pp = &(*pp)->next;
    return pp;
}

int rmw_key_held(server_t *srv, const char *key, size_t keylen)
{
    return rmw_hold_count(srv, key, keylen) > 0;
}

int rmw_hold_count(server_t *srv, const char *key, size_t keylen)
{
    struct key_holds *h = srv->holds;
    if (!h || !h->count) return 0;
    hold_t *e = *hold_slot(h, key, keylen, hash_fnv1a64(key, keylen));
    return e ? e->count : 0;
}

size_t rmw_holds_total(server_t *srv)
{
    return srv->holds ? srv->holds->total : 0;
}

static int holds_grow(struct key_holds *h)
{
    size_t n = h->nbuckets ? h->nbuckets * 2 : 64;
    hold_t **b = calloc(n, sizeof *b);
    if (!b) return -1;
    for (size_t i = 0; i < h->nbuckets; i++)
        for (hold_t *e = h->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(h->buckets);
    h->buckets = b;
    h->nbuckets = n;
    return 0;
}

/* 0, or -1 when out of memory (the key is then not held). */
int rmw_hold_take(server_t *srv, const char *key, size_t keylen)
{
    if (!srv->holds && !(srv->holds = calloc(1, sizeof *srv->holds))) return -1;
    struct key_holds *h = srv->holds;
    if (h->count >= h->nbuckets && holds_grow(h) < 0 && !h->nbuckets) return -1;
    uint64_t hash = hash_fnv1a64(key, keylen);
    hold_t **pp = hold_slot(h, key, keylen, hash);
    if (*pp) {
        (*pp)->count++;
        h->total++;
        return 0;
    }
    hold_t *e = malloc(sizeof *e + keylen);
    if (!e) return -1;
    e->next = NULL;
    e->hash = hash;
    e->count = 1;
    e->keylen = keylen;
    memcpy(e->key, key, keylen);
    *pp = e;
    h->count++;
    h->total++;
    return 0;
}

/* Clients that waited for a held key try their command again. Deferred to a timer so that no
 * client runs inside another's completion. */
static void wake_waiters(ev_loop_t *loop, void *arg)
{
    server_t *srv = arg;
    (void)loop;
    srv->holds->wake_timer = 0;
    srv->hold_waiters = 0;
    for (client_t *c = srv->clients, *next; c; c = next) {
        next = c->next;
        if (!c->hold_wait) continue;
        c->hold_wait = 0;
        client_resume_input(c); /* may wait again, and count itself again */
    }
}

void rmw_wake_waiters(server_t *srv)
{
    struct key_holds *h = srv->holds;
    if (h && srv->hold_waiters && !h->wake_timer)
        h->wake_timer = ev_timer_add(srv->loop, 0, wake_waiters, srv);
}

/* Every release wakes the waiters, not only the last hold of a key: a transaction's command
 * waits for a compound command inside the same transaction while the transaction's own hold
 * of the key stays (cmd_tx.c). */
void rmw_hold_release(server_t *srv, const char *key, size_t keylen)
{
    struct key_holds *h = srv->holds;
    if (!h) return;
    hold_t **pp = hold_slot(h, key, keylen, hash_fnv1a64(key, keylen));
    hold_t *e = *pp;
    if (!e) return;
    h->total--;
    if (--e->count == 0) {
        *pp = e->next;
        free(e);
        h->count--;
    }
    rmw_wake_waiters(srv);
}

void rmw_holds_free(server_t *srv)
{
    struct key_holds *h = srv->holds;
    if (!h) return;
    for (size_t i = 0; i < h->nbuckets; i++)
        for (hold_t *e = h->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    if (h->wake_timer) ev_timer_cancel(srv->loop, h->wake_timer);
    free(h->buckets);
    free(h);
    srv->holds = NULL;
}

/* ---- replies ---- */

/* Values up to this size are copied into the reply; larger ones go out by reference. */
#define RMW_COPY_MAX 8192

void rmw_reply_value(op_t *op, objbuf_t *obj, const char *data, size_t len)
{
    if (len <= RMW_COPY_MAX || !obj) {
        resp_add_bulk(&op->reply, data, len);
        return;
    }
    resp_add_bulk_header(&op->reply, len);
    op->reply_ref = objbuf_ref(obj);
    op->reply_ref_off = (size_t)(data - obj->data);
    op->reply_ref_len = len;
}

static void rmw_clear_reply(op_t *op)
{
    buf_clear(&op->reply);
    objbuf_unref(op->reply_ref);
    op->reply_ref = NULL;
    op->reply_ref_off = op->reply_ref_len = 0;
}

/* ---- read, compute, write ---- */

/* A store in flight when the key was taken may commit between the read and the write; the
 * write is then refused (its version check) and the command starts over. Holds keep new ones
 * out, so this happens at most once per such store; the bound is a safety net. */
#define RMW_MAX_TRIES 64

static void rmw_read(op_t *op);

static void rmw_finish(op_t *op)
{
    if (op->rmw->hold) rmw_hold_release(op->srv, op->key, op->keylen);
    if (op->rmw->writes_arg) rmw_hold_release(op->srv, op->rmw_arg, op->rmw_arglen);
    if (op->rmw->next_key && op->rmw->next_key(op)) {
        op->rmw_tries = 0;
        rmw_read(op);
        return;
    }
    client_on_op_done(op);
    op_unref(op); /* the reference rmw_start took for the steps */
}

static void rmw_fail(op_t *op, const char *err)
{
    rmw_clear_reply(op);
    op->srv->stats.errors++;
    resp_add_error(&op->reply, "%s", err);
    rmw_finish(op);
}

static void rmw_retry(op_t *op)
{
    rmw_clear_reply(op);
    log_debug("event=rmw_retry key_len=%zu tries=%d", op->keylen, op->rmw_tries + 1);
    if (++op->rmw_tries >= RMW_MAX_TRIES) {
        rmw_fail(op, "ERR the key kept changing under a concurrent write; try again");
        return;
    }
    rmw_read(op);
}

static void rmw_write_done(op_t *w)
{
    op_t *op = w->parent;
    const buf_t *r = &w->reply;
    if (buf_len(r) && buf_head(r)[0] == '+') {
        rmw_finish(op);
    } else if (buf_len(r) && buf_head(r)[0] == '$') { /* refused: the version moved */
        rmw_retry(op);
    } else {
        char err[256];
        size_t n = buf_len(r) > 3 ? buf_len(r) - 3 : 0; /* "-...\r\n" */
        snprintf(err, sizeof err, "%.*s", (int)(n < sizeof err ? n : sizeof err - 1),
                 buf_len(r) ? buf_head(r) + 1 : "");
        rmw_fail(op, err[0] ? err : "ERR store failed");
    }
    w->parent = NULL;
    op_unref(w); /* the reference op_alloc gave the step */
}

/* The key's version now (0: absent), to compare with the one the command computed from. */
static uint64_t current_version(op_t *op, meta_t **m)
{
    *m = meta_lookup(op->srv, op->key, op->keylen);
    return *m ? (*m)->version : 0;
}

static void rmw_compute(op_t *op, const rmw_old_t *old)
{
    server_t *srv = op->srv;
    op_t *w = op_alloc(srv, OP_SET);
    const char *wkey = op->rmw->writes_arg ? op->rmw_arg : op->key;
    size_t wkeylen = op->rmw->writes_arg ? op->rmw_arglen : op->keylen;
    if (!w || op_copy_key(w, wkey, wkeylen) < 0) {
        if (w) op_unref(w);
        rmw_fail(op, "ERR out of memory");
        return;
    }
    /* The write commits only on the version computed from (compute may decide otherwise). */
    w->cas = 1;
    w->cas_version = op->rmw_version;
    rmw_next_t next = op->rmw->compute(op, old, w);
    meta_t *m;
    if (next == RMW_TTL && op->rmw_from_store && !op->rmw_persist &&
        (uint64_t)op->rmw_expire_ms > clock_wall_ms()) {
        /* A TTL for an object only the store has: it is cached with that TTL (the store keeps
         * its copy, as the store keeps every object; the expiry deletes it with the cached
         * one under --backing-delete yes). */
        if (set_prepare_value(w, old->data, old->len) < 0) {
            op_unref(w); /* too large for the cache: the value is answered, no TTL to keep */
            rmw_finish(op);
            return;
        }
        w->expire_ms = op->rmw_expire_ms;
        w->backing_passed = 1; /* the store has these bytes */
        next = RMW_WRITE;
    }
    switch (next) {
    case RMW_REPLIED:
        op_unref(w);
        if (buf_len(&op->reply) && buf_head(&op->reply)[0] == '-') srv->stats.errors++;
        rmw_finish(op);
        return;
    case RMW_WRITE:
        w->parent = op;
        w->bg_done = rmw_write_done;
        cmd_set(NULL, w); /* answers through rmw_write_done, maybe before this returns */
        return;
    case RMW_DELETE:
    case RMW_TTL:
        op_unref(w);
        /* Metadata only, decided now: the version check and the change are one step. */
        if (current_version(op, &m) != op->rmw_version) {
            rmw_retry(op);
            return;
        }
        int gone = next == RMW_DELETE;
        if (m && !gone) {
            watch_touch(srv, op->key, op->keylen);
            m->expire_ms = op->rmw_persist ? 0 : (uint64_t)op->rmw_expire_ms;
        }
        if (next == RMW_TTL && !op->rmw_persist && op->rmw_expire_ms > 0 &&
            (uint64_t)op->rmw_expire_ms <= clock_wall_ms())
            gone = 1; /* a time already past deletes the key, as Redis's GETEX does */
        if (gone && m) meta_delete(srv, m);
        /* --backing-delete yes: the store's object goes too, or the next GET reads it back. */
        if (gone && (m || op->rmw_from_store) && backing_rmw_delete(op)) return;
        rmw_finish(op);
        return;
    }
}

void rmw_store_deleted(op_t *op, const char *err)
{
    if (err)
        rmw_fail(op, err);
    else
        rmw_finish(op);
}

void rmw_store_read(op_t *op, const char *value, uint64_t size, const char *err)
{
    if (err) {
        rmw_fail(op, err);
        return;
    }
    /* No objbuf: a reply of the value is copied into the reply (rmw_reply_value). */
    rmw_old_t old = {value, value ? (size_t)size : 0, value != NULL, NULL};
    op->rmw_version = 0; /* the cache has no version: the write commits only if still absent */
    op->rmw_from_store = value != NULL;
    rmw_compute(op, &old);
}

static void rmw_read_done(op_t *r)
{
    op_t *op = r->parent;
    const buf_t *rep = &r->reply;
    r->parent = NULL;
    if (buf_len(rep) && buf_head(rep)[0] == '$' && buf_len(rep) >= 2 && buf_head(rep)[1] != '-') {
        rmw_old_t old = {r->obj->data, r->size, 1, r->obj};
        op->rmw_version = r->version;
        rmw_compute(op, &old);
    } else if (buf_len(rep) && buf_head(rep)[0] == '$') {
        /* The object was found lost: it is gone now, as if it had never been. */
        rmw_old_t old = {NULL, 0, 0, NULL};
        op->rmw_version = 0;
        rmw_compute(op, &old);
    } else {
        char err[256];
        size_t n = buf_len(rep) > 3 ? buf_len(rep) - 3 : 0;
        snprintf(err, sizeof err, "%.*s", (int)(n < sizeof err ? n : sizeof err - 1),
                 buf_len(rep) ? buf_head(rep) + 1 : "");
        rmw_fail(op, err[0] ? err : "ERR read failed");
    }
    op_unref(r); /* the reference op_alloc gave the step (the value stays while referred to) */
}

static void rmw_read(op_t *op)
{
    server_t *srv = op->srv;
    meta_t *m = meta_lookup(srv, op->key, op->keylen);
    op->rmw_from_store = 0;
    if (!m) {
        if (op->rmw->reads_store && backing_rmw_read(op)) return; /* rmw_store_read() goes on */
        rmw_old_t old = {NULL, 0, 0, NULL};
        op->rmw_version = 0;
        rmw_compute(op, &old);
        return;
    }
    op_t *r = op_alloc(srv, OP_GET);
    if (!r) {
        rmw_fail(op, "ERR out of memory");
        return;
    }
    r->parent = op;
    r->bg_done = rmw_read_done;
    if (op_read_begin_key(srv, r, op->key, op->keylen)) { /* out of memory: answered */
        r->bg_done = NULL;
        op_unref(r);
        rmw_fail(op, "ERR out of memory");
        return;
    }
    r->obj = objbuf_new(r->chunk_size * (size_t)r->n + 1);
    if (!r->obj) {
        r->bg_done = NULL;
        op_unref(r);
        rmw_fail(op, "ERR out of memory");
        return;
    }
    op_ref(r); /* the read may be decided inside these calls */
    op_request_chunks(r);
    op_get_check(r);
    op_unref(r);
}

void rmw_start(client_t *c, op_t *op, const char *key, size_t keylen, const struct rmw_kind *k)
{
    (void)c;
    op->kind = OP_RMW;
    op->rmw = k;
    if (op_copy_key(op, key, keylen) < 0 || (k->hold && rmw_hold_take(op->srv, key, keylen) < 0)) {
        resp_add_error(&op->reply, "ERR out of memory");
        client_on_op_done(op);
        return;
    }
    if (k->writes_arg && rmw_hold_take(op->srv, op->rmw_arg, op->rmw_arglen) < 0) {
        if (k->hold) rmw_hold_release(op->srv, key, keylen);
        resp_add_error(&op->reply, "ERR out of memory");
        client_on_op_done(op);
        return;
    }
    op_ref(op); /* the steps' (the client may go while they run) */
    rmw_read(op);
}

/* ---- MSET, MSETNX ---- */

/* The keys of an MSET are argv[1], argv[3], ... of the command; the op keeps them as the
 * concatenation of (u32 length, bytes) in rmw_arg, to let go of the holds at the end. */
static void mset_release(op_t *op)
{
    const char *p = op->rmw_arg, *end = op->rmw_arg + op->rmw_arglen;
    while (p < end) {
        uint32_t l;
        memcpy(&l, p, sizeof l);
        rmw_hold_release(op->srv, p + sizeof l, l);
        p += sizeof l + l;
    }
}

/* One step of an MSET is decided (a store, or the start itself): the last one answers. */
static void mset_step_done(op_t *op)
{
    if (--op->rmw_pending > 0) {
        op_unref(op);
        return;
    }
    if (op->err[0]) {
        op->srv->stats.errors++;
        resp_add_error(&op->reply, "%s", op->err);
    } else if (op->rmw_nx) {
        resp_add_int(&op->reply, !op->rmw_failed);
    } else {
        resp_add_simple(&op->reply, "OK");
    }
    mset_release(op);
    client_on_op_done(op);
    op_unref(op);
}

static void mset_store_done(op_t *w)
{
    op_t *op = w->parent;
    const buf_t *r = &w->reply;
    w->parent = NULL;
    if (buf_len(r) && buf_head(r)[0] == '-') {
        size_t n = buf_len(r) > 3 ? buf_len(r) - 3 : 0;
        op_fail(op, "%.*s", (int)(n < 200 ? n : 200), buf_head(r) + 1);
    } else if (buf_len(r) && buf_head(r)[0] == '$') {
        op->rmw_failed = 1; /* MSETNX: a store in flight created the key after all */
    }
    op_unref(w); /* the reference op_alloc gave the step */
    mset_step_done(op);
}

void cmd_mset(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl, int nx)
{
    server_t *srv = c->srv;
    if (argc % 2 == 0) {
        resp_add_error(&op->reply, "ERR wrong number of arguments for '%s' command",
                       nx ? "msetnx" : "mset");
        client_on_op_done(op);
        return;
    }
    op->kind = OP_RMW;
    op->rmw_nx = nx;
    size_t keys_len = 0;
    for (int i = 1; i < argc; i += 2)
        keys_len += sizeof(uint32_t) + argl[i];
    op->rmw_arg = malloc(keys_len ? keys_len : 1);
    if (!op->rmw_arg) {
        resp_add_error(&op->reply, "ERR out of memory");
        client_on_op_done(op);
        return;
    }
    int held = 0;
    for (int i = 1; i < argc; i += 2) {
        uint32_t l = (uint32_t)argl[i];
        if (rmw_hold_take(srv, argv[i], argl[i]) < 0) break;
        memcpy(op->rmw_arg + op->rmw_arglen, &l, sizeof l);
        memcpy(op->rmw_arg + op->rmw_arglen + sizeof l, argv[i], l);
        op->rmw_arglen += sizeof l + l;
        held++;
    }
    if (held * 2 + 1 < argc) {
        mset_release(op);
        resp_add_error(&op->reply, "ERR out of memory");
        client_on_op_done(op);
        return;
    }
    /* Held, the keys cannot change from here but by a store already in flight (which the
     * version check of each MSETNX store catches). */
    if (nx)
        for (int i = 1; i < argc; i += 2)
            if (meta_lookup(srv, argv[i], argl[i])) {
                mset_release(op);
                resp_add_int(&op->reply, 0);
                client_on_op_done(op);
                return;
            }
    /* Every value is checked before any is stored: a refusal leaves nothing half done. */
    op_t *w[RESP_CMD_MAX_SMALL_ARGS / 2 + 1];
    int nw = 0;
    for (int i = 1; i < argc && nw < (int)(sizeof w / sizeof *w); i += 2) {
        /* A key named again later is stored once, with its last value, as Redis leaves it. */
        int again = 0;
        for (int j = i + 2; j < argc && !again; j += 2)
            again = argl[j] == argl[i] && memcmp(argv[j], argv[i], argl[i]) == 0;
        if (again) continue;
        op_t *s = op_alloc(srv, OP_SET);
        if (!s) {
            op_fail(op, "ERR out of memory");
            break;
        }
        w[nw++] = s;
        if (op_copy_key(s, argv[i], argl[i]) < 0) {
            op_fail(op, "ERR out of memory");
            break;
        }
        if (set_prepare_value(s, argv[i + 1], argl[i + 1]) < 0) {
            size_t n = buf_len(&s->reply) > 3 ? buf_len(&s->reply) - 3 : 0;
            op_fail(op, "%.*s", (int)(n < 200 ? n : 200), buf_head(&s->reply) + 1);
            break;
        }
    }
    if (op->err[0]) {
        for (int k = 0; k < nw; k++)
            op_unref(w[k]);
        mset_release(op);
        resp_add_error(&op->reply, "%s", op->err);
        client_on_op_done(op);
        return;
    }
    op->rmw_pending = nw + 1; /* + this call's, so no store finishes the op while it starts */
    op_ref(op);
    for (int k = 0; k < nw; k++) {
        w[k]->parent = op_ref(op);
        w[k]->bg_done = mset_store_done;
        if (nx) w[k]->cas = 1; /* cas_version 0: still absent */
        cmd_set(NULL, w[k]);
    }
    mset_step_done(op);
}
