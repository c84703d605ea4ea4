/* backing.c -- the object store under the cache (docs/BACKING.md), on the event loop: which
 * requests a GET, SET, DEL or expiry sends to the store, what is answered from the result, and
 * the write-behind queue with its journal. The store's HTTP runs on s3client.c's thread (as the
 * invoker's Lambda calls do), so nothing here waits on the network; results arrive through the
 * loop's mailbox. Cache fills go through the ordinary SET path as background ops. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "awscreds.h"
#include "backing.h"
#include "client.h"
#include "clock.h"
#include "hash.h"
#include "layout.h"
#include "log.h"
#include "meta.h"
#include "op.h"
#include "prom.h"
#include "resp.h"
#include "s3client.h"
#include "server.h"
#include "wbjournal.h"

#define WB_UPLOADS_IN_FLIGHT 4
#define WB_TICK_MS 250
#define ETAG_TABLE_MAX (1u << 22) /* keys whose ETag is remembered; past it the table restarts */

/* An object queued for upload (write-behind). obj NULL: replayed from the journal, its bytes to
 * be read from the cache first. */
typedef struct wb_entry {
    struct wb_entry *next;
    uint64_t seq;
    objbuf_t *obj;
    uint64_t size;
    uint64_t queued_ms;
    struct backing *owner;
    int busy;    /* an upload or a cache read of it is under way */
    int reading; /* the cache read of a replayed entry */
    uint64_t retry_at_ms;
    size_t keylen;
    char key[];
} wb_entry_t;

typedef struct etag_entry {
    struct etag_entry *next;
    uint64_t hash;
    char etag[S3_ETAG_MAX + 1];
    size_t keylen;
    char key[];
} etag_entry_t;

typedef struct {
    uint64_t gets, store_hits, store_misses, too_large, get_bytes;
    uint64_t puts, put_bytes, deletes, errors;
    uint64_t checks, changed;
    uint64_t repairs, repair_fallbacks;
    uint64_t wb_uploaded, wb_lost, wb_replayed, wb_refused;
} backing_stats_t;

typedef struct backing {
    server_t *srv;
    backing_mode_t mode;
    int delete_on_del, authoritative;
    s3client_t *s3;
    awscreds_provider_t *own_creds; /* opened here when the proxy's invocations are unsigned */
    backing_stats_t st;
    etag_entry_t **etags;
    size_t etag_buckets, etag_count;
    /* write-behind */
    wb_entry_t *wb_head, **wb_tail;
    uint64_t wb_len, wb_bytes, wb_next_seq;
    int wb_busy;
    int journal_fd;
    char journal_path[4096];
    uint64_t tick;
} backing_t;

static backing_t *B(server_t *srv)
{
    return srv->backing;
}

/* ---- the ETags recorded at fill and SET time (authoritative checks) ---- */

static etag_entry_t **etag_slot(backing_t *b, const char *key, size_t keylen, uint64_t h)
{
    etag_entry_t **pp = &b->etags[h & (b->etag_buckets - 1)];
    while (*pp &&
           !((*pp)->hash == h && (*pp)->keylen == keylen && !memcmp((*pp)->key, key, keylen)))
        pp = &(*pp)->next;
    return pp;
}

static void etag_forget(backing_t *b, const char *key, size_t keylen)
{
    if (!b->etags) return;
    etag_entry_t **pp = etag_slot(b, key, keylen, hash_fnv1a64(key, keylen));
    if (!*pp) return;
    etag_entry_t *e = *pp;
    *pp = e->next;
    free(e);
    b->etag_count--;
}

static void etag_clear(backing_t *b)
{
    for (size_t i = 0; b->etags && i < b->etag_buckets; i++)
        while (b->etags[i]) {
            etag_entry_t *e = b->etags[i];
            b->etags[i] = e->next;
            free(e);
        }
    b->etag_count = 0;
}

static void etag_put(backing_t *b, const char *key, size_t keylen, const char *etag)
{
    if (!b->authoritative) return;
    if (!etag || !etag[0]) {
        etag_forget(b, key, keylen);
        return;
    }
    if (b->etag_count >= ETAG_TABLE_MAX) etag_clear(b); /* a miss of the table costs one GET */
    if (b->etag_count >= b->etag_buckets) {
        size_t nb = b->etag_buckets ? b->etag_buckets * 2 : 1024;
        etag_entry_t **t = calloc(nb, sizeof *t);
        if (t) {
            for (size_t i = 0; i < b->etag_buckets; i++)
                while (b->etags[i]) {
                    etag_entry_t *e = b->etags[i];
                    b->etags[i] = e->next;
                    e->next = t[e->hash & (nb - 1)];
                    t[e->hash & (nb - 1)] = e;
                }
            free(b->etags);
            b->etags = t;
            b->etag_buckets = nb;
        }
        if (!b->etags) return;
    }
    uint64_t h = hash_fnv1a64(key, keylen);
    etag_entry_t **pp = etag_slot(b, key, keylen, h);
    if (!*pp) {
        etag_entry_t *e = calloc(1, sizeof *e + keylen);
        if (!e) return;
        e->hash = h;
        e->keylen = keylen;
        memcpy(e->key, key, keylen);
        *pp = e;
        b->etag_count++;
    }
    snprintf((*pp)->etag, sizeof(*pp)->etag, "%s", etag);
}

static const char *etag_get(backing_t *b, const char *key, size_t keylen)
{
    if (!b->etags) return NULL;
    etag_entry_t *e = *etag_slot(b, key, keylen, hash_fnv1a64(key, keylen));
    return e ? e->etag : NULL;
}

/* ---- reads: a miss, an undecodable object, an authoritative check ---- */

static void fill_done(op_t *w)
{
    if (w->pool_too_small) B(w->srv)->st.too_large++; /* served from the store every time */
    op_unref(w); /* the reference op_alloc gave the fill */
}

/* The store's bytes of r in an object buffer (one reference for the caller; NULL when out of
 * memory), and the cache filled with them in the background, unless the cache now holds a
 * version of the key other than expect_version, the one these bytes replace (a SET came first:
 * it wins), or the object is too large for the cache. */
static objbuf_t *value_and_fill(op_t *op, s3_req_t *r, uint64_t expect_version)
{
    server_t *srv = op->srv;
    backing_t *b = B(srv);
    objbuf_t *value = NULL;
    op_t *w = op_alloc(srv, OP_SET);
    meta_t *now = meta_lookup(srv, op->key, op->keylen);
    uint64_t now_version = now ? now->version : 0;
    int fill = w && (!now || now_version == expect_version) &&
               op_copy_key(w, op->key, op->keylen) == 0 &&
               set_prepare_value(w, (const char *)r->data, r->size) == 0;
    if (fill) {
        value = objbuf_ref(w->obj); /* the reply refers to the fill's buffer: no second copy */
    } else {
        if (w) {
            if (buf_len(&w->reply) && !w->obj) b->st.too_large++;
            op_unref(w);
            w = NULL;
        }
        value = objbuf_new(r->size + 1);
        if (value) memcpy(value->data, r->data, r->size);
    }
    b->st.store_hits++;
    b->st.get_bytes += r->size;
    if (w) {
        w->cas = 1;
        w->cas_version = now_version;
        w->bg_done = fill_done;
        w->backing_passed = 1; /* the store has these bytes: nothing to write back */
        etag_put(b, op->key, op->keylen, r->etag);
        cmd_set(NULL, w);
    }
    return value;
}

/* Answers op with bytes [first, first + len) of value (taking the caller's reference). */
static void reply_value(op_t *op, objbuf_t *value, uint64_t first, uint64_t len)
{
    if (!value) {
        resp_add_error(&op->reply, "ERR out of memory");
        return;
    }
    resp_add_bulk_header(&op->reply, len);
    op->reply_ref = value;
    op->reply_ref_off = first;
    op->reply_ref_len = len;
}

/* A GET is answered with the bulk, an ICGET with the library's reply shape. */
static void answer_and_fill(op_t *op, s3_req_t *r, uint64_t expect_version)
{
    objbuf_t *value = value_and_fill(op, r, expect_version);
    if (op->kind == OP_ICGET)
        icget_answer_value(op, value, r->size);
    else
        reply_value(op, value, 0, r->size);
}

static int is_read(const op_t *op)
{
    return op->kind == OP_GET || op->kind == OP_ICGET;
}

/* The op's answer is decided: its riders get the same, then the client. */
static void read_answered(op_t *op)
{
    op->finished = 1;
    op_answer_riders(op);
    client_on_op_done(op);
    op_unref(op); /* the store request's */
}

/* The error a failed store request answers (counted): room for the store's whole message. */
#define STORE_ERR_MAX (sizeof ((s3_req_t *)0)->err + 96)
static void store_error_text(op_t *op, const s3_req_t *r, char *err, size_t errlen)
{
    B(op->srv)->st.errors++;
    op->srv->stats.errors++;
    if (r->too_large)
        snprintf(err, errlen,
                 "ERR backing store: object of %" PRIu64
                 " bytes is larger than the proxy reads from the store",
                 r->size);
    else
        snprintf(err, errlen, "ERR backing store: %s", r->err);
}

static void store_error_reply(op_t *op, s3_req_t *r)
{
    char err[STORE_ERR_MAX];
    store_error_text(op, r, err, sizeof err);
    resp_add_error(&op->reply, "%s", err);
}

static void miss_read_done(s3_req_t *r)
{
    op_t *op = r->arg;
    backing_t *b = B(op->srv);
    uint64_t expect_version = op->version; /* the undecodable object's, or 0 */
    if (!r->ok)
        store_error_reply(op, r);
    else if (r->not_found) {
        b->st.store_misses++;
        op->srv->stats.get_misses++;
        resp_add_null(&op->reply);
    } else {
        op->srv->stats.get_hits++;
        answer_and_fill(op, r, expect_version);
    }
    s3_req_free(r);
    read_answered(op);
}

static int read_from_store(op_t *op, s3_done_fn *done, const char *if_none_match)
{
    backing_t *b = B(op->srv);
    s3_req_t *r = s3_req_new(S3_GET, op->key, op->keylen, done, op);
    if (!r) return 0;
    /* The store may hold objects the cache cannot (larger than max-object-size): those are
     * served from the store, up to 4 times that, and not cached. */
    r->max_size = (uint64_t)op->srv->cfg.max_object_size * 4;
    if (if_none_match) snprintf(r->if_none_match, sizeof r->if_none_match, "%s", if_none_match);
    op_ref(op);
    b->st.gets++;
    s3client_submit(b->s3, r);
    return 1;
}

int backing_read_miss(op_t *op, uint64_t cache_version)
{
    backing_t *b = B(op->srv);
    if (!b || b->mode == BACKING_NONE || op->bg_done || !op->key || !is_read(op)) return 0;
    op->version = cache_version;
    return read_from_store(op, miss_read_done, NULL);
}

/* GETRANGE of a key the cache does not have: the object is read whole (and cached), the range
 * answered from it. op is an OP_RMW op with the range in rmw_int, rmw_int2. */
static void range_read_done(s3_req_t *r)
{
    op_t *op = r->arg;
    backing_t *b = B(op->srv);
    if (!r->ok) {
        store_error_reply(op, r);
    } else if (r->not_found) {
        b->st.store_misses++;
        resp_add_bulk(&op->reply, "", 0);
    } else {
        uint64_t first = 0;
        uint64_t n = layout_range_clamp(op->rmw_int, op->rmw_int2, r->size, &first);
        objbuf_t *value = value_and_fill(op, r, 0);
        if (n == 0 && value) {
            objbuf_unref(value);
            resp_add_bulk(&op->reply, "", 0);
        } else {
            reply_value(op, value, first, n);
        }
    }
    s3_req_free(r);
    read_answered(op);
}

int backing_getrange_miss(op_t *op, const char *key, size_t keylen, int64_t start, int64_t end)
{
    backing_t *b = B(op->srv);
    if (!b || b->mode == BACKING_NONE || op->bg_done || op_copy_key(op, key, keylen) < 0) return 0;
    op->kind = OP_RMW; /* the range lives in the compound commands' members */
    op->rmw_int = start;
    op->rmw_int2 = end;
    return read_from_store(op, range_read_done, NULL);
}

static void check_done(s3_req_t *r)
{
    op_t *op = r->arg;
    server_t *srv = op->srv;
    backing_t *b = B(srv);
    if (!r->ok) {
        store_error_reply(op, r);
    } else if (r->not_modified) {
        s3_req_free(r);
        /* the cache's value is the store's: read it */
        if (op->kind == OP_ICGET)
            cmd_icget_continue(op);
        else
            cmd_get_continue(op);
        op_unref(op);         /* the store request's, once the read holds its own */
        return;
    } else if (r->not_found) {
        /* The store no longer has the object: neither may the cache answer it. */
        b->st.store_misses++;
        b->st.changed++;
        srv->stats.get_misses++;
        meta_t *m = meta_lookup(srv, op->key, op->keylen);
        if (m && m->version == op->version) meta_drop(srv, m);
        etag_forget(b, op->key, op->keylen);
        resp_add_null(&op->reply);
    } else {
        /* Changed behind the cache: the cached copy goes now, before the fill records the new
         * ETag. Otherwise a GET checked between the two would hear "not modified" and read the
         * old bytes still cached. A newer version cached meanwhile (a SET) stays, unfilled. */
        b->st.changed++;
        srv->stats.get_hits++;
        meta_t *m = meta_lookup(srv, op->key, op->keylen);
        if (m && m->version == op->version) meta_drop(srv, m);
        answer_and_fill(op, r, op->version);
    }
    s3_req_free(r);
    read_answered(op);
}

/* The store's bytes are this version of the object when every data chunk cut from them has the
 * CRC the metadata recorded (the last one zero-padded, as stored). */
static int store_copy_matches(op_t *op, const s3_req_t *r)
{
    size_t cs = op->chunk_size;
    if (r->size != op->size || (uint64_t)cs * (uint64_t)op->d < r->size) return 0;
    memcpy(op->obj->data, r->data, r->size);
    memset(op->obj->data + r->size, 0, cs * (size_t)op->d - r->size);
    for (int i = 0; i < op->d; i++)
        if (ec_crc(op->obj->data + (size_t)i * cs, cs) != meta_crcs(op->meta)[i]) return 0;
    return 1;
}

static void repair_read_done(s3_req_t *r)
{
    op_t *op = r->arg;
    backing_t *b = B(op->srv);
    int from_store = r->ok && !r->not_found && store_copy_matches(op, r);
    s3_req_free(r);
    if (from_store) {
        /* Every chunk is at hand: the lost ones are re-stored as after a decoded read. */
        b->st.repairs++;
        op->nhave = op->d;
        op->finished = 1;
        op_repair_from_obj(op);
        client_on_op_done(op); /* a background op: its bg_done ends the repair */
    } else {
        b->st.repair_fallbacks++;
        op_request_chunks(op);
        op_get_check(op);
    }
    op_unref(op); /* the store request's */
}

int backing_repair_read(op_t *op)
{
    backing_t *b = B(op->srv);
    if (!b || b->mode == BACKING_NONE || !op->srv->cfg.backing_repair || !op->obj) return 0;
    return read_from_store(op, repair_read_done, NULL);
}

int backing_check_hit(op_t *op)
{
    backing_t *b = B(op->srv);
    if (!b || !b->authoritative || op->bg_done || !is_read(op)) return 0;
    b->st.checks++;
    const char *etag = etag_get(b, op->key, op->keylen);
    if (read_from_store(op, check_done, etag)) return 1;
    resp_add_error(&op->reply, "ERR out of memory");
    client_on_op_done(op);
    return 1;
}

/* ---- compound commands (op_rmw.c) ---- */

static void rmw_read_done_store(s3_req_t *r)
{
    op_t *op = r->arg;
    backing_t *b = B(op->srv);
    char err[STORE_ERR_MAX];
    if (!r->ok) {
        store_error_text(op, r, err, sizeof err);
        rmw_store_read(op, NULL, 0, err);
    } else if (r->not_found) {
        b->st.store_misses++;
        rmw_store_read(op, NULL, 0, NULL);
    } else {
        b->st.store_hits++;
        b->st.get_bytes += r->size;
        rmw_store_read(op, (const char *)r->data, r->size, NULL);
    }
    s3_req_free(r);
    op_unref(op);
}

int backing_rmw_read(op_t *op)
{
    backing_t *b = B(op->srv);
    if (!b || b->mode == BACKING_NONE) return 0;
    return read_from_store(op, rmw_read_done_store, NULL);
}

static void rmw_delete_done(s3_req_t *r)
{
    op_t *op = r->arg;
    char err[STORE_ERR_MAX];
    if (r->ok) {
        B(op->srv)->st.deletes++;
        rmw_store_deleted(op, NULL);
    } else {
        store_error_text(op, r, err, sizeof err);
        rmw_store_deleted(op, err);
    }
    s3_req_free(r);
    op_unref(op);
}

/* ---- writes ---- */

static void put_done(s3_req_t *r)
{
    op_t *op = r->arg;
    backing_t *b = B(op->srv);
    if (r->ok) {
        b->st.puts++;
        b->st.put_bytes += r->body_len;
        op->backing_stored = 1;
        etag_put(b, op->key, op->keylen, r->etag);
        s3_req_free(r);
        cmd_set_continue(op);
    } else {
        b->st.errors++;
        log_warn("event=backing_put_failed key_len=%zu error=\"%s\"", op->keylen, r->err);
        op_fail(op, "ERR backing store: %s", r->err);
        s3_req_free(r);
        cmd_set_continue(op); /* answers the error; the cache is left as it was */
    }
    op_unref(op);
}

static int journal_append(backing_t *b, const wbj_rec_t *rec, int sync)
{
    char small[256];
    size_t cap = 64 + 2 * rec->keylen;
    char *line = cap <= sizeof small ? small : malloc(cap);
    if (!line) return -1;
    int n = wbj_format(rec, line, cap);
    ssize_t w = n > 0 ? write(b->journal_fd, line, (size_t)n) : -1;
    if (line != small) free(line);
    if (w != n) return -1;
    if (sync && fdatasync(b->journal_fd) < 0) return -1;
    return 0;
}

static wb_entry_t *wb_add(backing_t *b, uint64_t seq, const char *key, size_t keylen, objbuf_t *obj,
                          uint64_t size)
{
    wb_entry_t *e = calloc(1, sizeof *e + keylen);
    if (!e) return NULL;
    e->owner = b;
    e->seq = seq;
    e->keylen = keylen;
    memcpy(e->key, key, keylen);
    e->obj = obj ? objbuf_ref(obj) : NULL;
    e->size = size;
    e->queued_ms = clock_wall_ms();
    *b->wb_tail = e;
    b->wb_tail = &e->next;
    b->wb_len++;
    b->wb_bytes += size;
    return e;
}

static void wb_pump(backing_t *b);

static void wb_remove(backing_t *b, wb_entry_t *e)
{
    for (wb_entry_t **pp = &b->wb_head; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            if (b->wb_tail == &e->next) b->wb_tail = pp;
            break;
        }
    b->wb_len--;
    b->wb_bytes -= e->size;
    wbj_rec_t rec = {WBJ_DONE, e->seq, NULL, 0};
    if (journal_append(b, &rec, 0) < 0)
        log_warn("event=backing_journal_write_failed error=\"%s\"", strerror(errno));
    if (!b->wb_head && ftruncate(b->journal_fd, 0) == 0) fdatasync(b->journal_fd);
    objbuf_unref(e->obj);
    free(e);
}

static void wb_lost(backing_t *b, wb_entry_t *e)
{
    b->st.wb_lost++;
    log_warn("event=backing_write_behind_lost seq=%" PRIu64 " key_len=%zu reason=\"the cache no "
             "longer holds the value\"",
             e->seq, e->keylen);
    wb_remove(b, e);
}

static void wb_upload_done(s3_req_t *r)
{
    wb_entry_t *e = r->arg;
    backing_t *b = e->owner;
    e->busy = 0;
    b->wb_busy--;
    if (r->ok) {
        b->st.puts++;
        b->st.put_bytes += e->size;
        b->st.wb_uploaded++;
        etag_put(b, e->key, e->keylen, r->etag);
        wb_remove(b, e);
    } else {
        b->st.errors++;
        log_warn("event=backing_upload_failed seq=%" PRIu64 " error=\"%s\" retry_ms=1000", e->seq,
                 r->err);
        e->retry_at_ms = ev_now_ms() + 1000;
    }
    s3_req_free(r);
    wb_pump(b);
}

/* A replayed entry's bytes, read back from the cache. */
static void wb_read_done(op_t *r)
{
    backing_t *b = B(r->srv);
    wb_entry_t *e = b->wb_head;
    while (e && !(e->reading && e->keylen == r->keylen && !memcmp(e->key, r->key, e->keylen)))
        e = e->next;
    const buf_t *rep = &r->reply;
    if (e) {
        e->reading = 0;
        e->busy = 0;
        b->wb_busy--;
        if (buf_len(rep) >= 2 && buf_head(rep)[0] == '$' && buf_head(rep)[1] != '-') {
            e->obj = objbuf_ref(r->obj);
            e->size = r->size;
            b->wb_bytes += r->size;
        } else if (buf_len(rep) && buf_head(rep)[0] == '$') {
            wb_lost(b, e);
        } else {
            e->retry_at_ms = ev_now_ms() + 1000; /* the cache could not answer now */
        }
    }
    op_unref(r);
    wb_pump(b);
}

/* Starts reading a replayed entry's value from the cache: 1 if under way (maybe already
 * decided), 0 when memory is short, -1 when the cache no longer has the key. */
static int wb_start_read(backing_t *b, wb_entry_t *e)
{
    server_t *srv = b->srv;
    if (!meta_lookup(srv, e->key, e->keylen)) return -1;
    op_t *r = op_alloc(srv, OP_GET);
    if (!r) return 0;
    r->bg_done = wb_read_done;
    r->parent = NULL;
    if (op_read_begin_key(srv, r, e->key, e->keylen)) { /* out of memory: answered */
        r->bg_done = NULL;
        op_unref(r);
        return 0;
    }
    r->obj = objbuf_new(r->chunk_size * (size_t)r->n + 1);
    if (!r->obj) {
        r->bg_done = NULL;
        op_unref(r);
        return 0;
    }
    e->busy = e->reading = 1;
    b->wb_busy++;
    op_ref(r); /* the read may be decided inside these calls */
    op_request_chunks(r);
    op_get_check(r);
    op_unref(r);
    return 1;
}

/* Starts what may start: uploads (up to WB_UPLOADS_IN_FLIGHT), and the cache reads of replayed
 * entries once the pool is ready. Each step changes the list, so the walk starts over. */
static void wb_pump(backing_t *b)
{
    server_t *srv = b->srv;
    for (;;) {
        if (b->wb_busy >= WB_UPLOADS_IN_FLIGHT || srv->stopping) return;
        uint64_t now = ev_now_ms();
        wb_entry_t *e = b->wb_head;
        while (e && (e->busy || e->retry_at_ms > now || (!e->obj && !srv->ready)))
            e = e->next;
        if (!e) return;
        if (!e->obj) {
            int started = wb_start_read(b, e); /* e may be gone once this returns 1 */
            if (started < 0) wb_lost(b, e);
            if (started == 0) return; /* memory is short: the tick tries again */
            continue;
        }
        s3_req_t *r = s3_req_new(S3_PUT, e->key, e->keylen, wb_upload_done, e);
        if (!r) return;
        r->body = e->obj->data;
        r->body_len = e->size;
        e->busy = 1;
        b->wb_busy++;
        s3client_submit(b->s3, r);
    }
}

static void wb_tick(ev_loop_t *loop, void *arg)
{
    backing_t *b = arg;
    wb_pump(b);
    if (!b->srv->stopping) b->tick = ev_timer_add(loop, WB_TICK_MS, wb_tick, b);
}

int backing_takes_sets(const server_t *srv)
{
    const backing_t *b = srv->backing;
    return b && b->mode >= BACKING_WRITE_THROUGH;
}

int backing_before_set(op_t *op)
{
    server_t *srv = op->srv;
    backing_t *b = B(srv);
    if (!b || op->backing_passed || b->mode < BACKING_WRITE_THROUGH) return 0;
    op->backing_passed = 1;
    if (b->mode == BACKING_WRITE_THROUGH) {
        s3_req_t *r = s3_req_new(S3_PUT, op->key, op->keylen, put_done, op);
        if (!r) return 0;
        r->body = op->obj->data;
        r->body_len = op->size;
        op_ref(op);
        s3client_submit(b->s3, r);
        return 1;
    }
    /* Write-behind: journaled (and synced) before the SET may be acknowledged. */
    if (b->wb_bytes + op->size > (uint64_t)srv->cfg.backing_queue_max) {
        b->st.wb_refused++;
        op_fail(op,
                "ERR backing store: the write-behind queue is full (%" PRIu64
                " bytes waiting); try again",
                b->wb_bytes);
        return -1;
    }
    uint64_t seq = ++b->wb_next_seq;
    wbj_rec_t rec = {WBJ_QUEUED, seq, op->key, op->keylen};
    if (journal_append(b, &rec, 1) < 0 || !wb_add(b, seq, op->key, op->keylen, op->obj, op->size)) {
        b->st.errors++;
        op_fail(op, "ERR backing store: cannot journal the write-behind upload: %s",
                strerror(errno));
        return -1;
    }
    wb_pump(b);
    return 0;
}

void backing_set_failed(op_t *op)
{
    backing_t *b = B(op->srv);
    if (!b || !op->backing_stored) return;
    /* The store has the new value; the cache's older one would be a wrong answer now. */
    meta_t *m = meta_lookup(op->srv, op->key, op->keylen);
    if (m) meta_drop(op->srv, m);
    etag_forget(b, op->key, op->keylen);
}

int backing_holds_instead(op_t *op)
{
    backing_t *b = B(op->srv);
    if (!b || !op->backing_stored || !op->pool_too_small || op->failed || op->body_failed)
        return 0;
    backing_set_failed(op);
    b->st.too_large++;
    op->err[0] = 0;
    return 1;
}

static void delete_done(s3_req_t *r)
{
    op_t *op = r->arg;
    backing_t *b = B(op->srv);
    if (r->ok) {
        b->st.deletes++;
    } else {
        b->st.errors++;
        op_fail(op, "ERR backing store: %s", r->err);
    }
    s3_req_free(r);
    ops_delete_acked(op);
}

/* A deleted key's uploads still waiting are dropped: they would bring the value back to the
 * store after its DELETE. One already under way is ordered before the DELETE by s3client. */
static void wb_drop_key(backing_t *b, const char *key, size_t keylen)
{
    for (wb_entry_t *e = b->wb_head, *next; e; e = next) {
        next = e->next;
        if (!e->busy && e->keylen == keylen && !memcmp(e->key, key, keylen)) wb_remove(b, e);
    }
}

/* --backing-delete yes: the store's object of key goes (its ETag and any upload of it still
 * waiting with it), done answering op. 1 when the DELETE is sent. */
static int send_delete(op_t *op, const char *key, size_t keylen, s3_done_fn *done)
{
    backing_t *b = B(op->srv);
    if (!b || b->mode == BACKING_NONE || !b->delete_on_del) return 0;
    etag_forget(b, key, keylen);
    wb_drop_key(b, key, keylen);
    s3_req_t *r = s3_req_new(S3_DELETE, key, keylen, done, op);
    if (!r) return 0;
    op_ref(op);
    s3client_submit(b->s3, r);
    return 1;
}

int backing_rmw_delete(op_t *op)
{
    return send_delete(op, op->key, op->keylen, rmw_delete_done);
}

int backing_delete(op_t *op, const char *key, size_t keylen)
{
    if (!send_delete(op, key, keylen, delete_done)) return 0;
    op->outstanding++;
    return 1;
}

static void expired_delete_done(s3_req_t *r)
{
    backing_t *b = r->arg;
    if (r->ok)
        b->st.deletes++;
    else
        b->st.errors++, log_warn("event=backing_delete_failed error=\"%s\"", r->err);
    s3_req_free(r);
}

void backing_expired(server_t *srv, const char *key, size_t keylen)
{
    backing_t *b = B(srv);
    if (!b || b->mode == BACKING_NONE || !b->delete_on_del) return;
    etag_forget(b, key, keylen);
    wb_drop_key(b, key, keylen);
    s3_req_t *r = s3_req_new(S3_DELETE, key, keylen, expired_delete_done, b);
    if (r) s3client_submit(b->s3, r);
}

/* ---- start, stop, INFO, metrics ---- */

static int parse_mode(const char *s, backing_mode_t *mode)
{
    static const char *const names[] = {"none", "read-through", "write-through", "write-behind"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) {
            *mode = (backing_mode_t)i;
            return 0;
        }
    return -1;
}

static const char *mode_name(backing_mode_t m)
{
    static const char *const names[] = {"none", "read-through", "write-through", "write-behind"};
    return names[m];
}

static void replay_queued(uint64_t seq, const char *key, size_t keylen, void *arg)
{
    backing_t *b = arg;
    if (wb_add(b, seq, key, keylen, NULL, 0)) b->st.wb_replayed++;
}

static int open_journal(backing_t *b, char *err, size_t errlen)
{
    const proxy_config_t *cfg = &b->srv->cfg;
    if (!cfg->backing_queue_dir[0]) {
        snprintf(err, errlen,
                 "backing-mode write-behind needs backing-queue-dir (the journal that "
                 "keeps the upload queue across restarts)");
        return -1;
    }
    if (mkdir(cfg->backing_queue_dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "backing-queue-dir %s: %s", cfg->backing_queue_dir, strerror(errno));
        return -1;
    }
    snprintf(b->journal_path, sizeof b->journal_path, "%s/write-behind.journal",
             cfg->backing_queue_dir);
    uint64_t bad = 0;
    int64_t max_seq = wbj_replay(b->journal_path, replay_queued, b, &bad);
    if (max_seq < 0) {
        snprintf(err, errlen, "%s: %s", b->journal_path, strerror(errno));
        return -1;
    }
    b->wb_next_seq = (uint64_t)max_seq;
    b->journal_fd = open(b->journal_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (b->journal_fd < 0) {
        snprintf(err, errlen, "%s: %s", b->journal_path, strerror(errno));
        return -1;
    }
    if (bad) {
        /* The torn tail is cut off, so that what is appended now is read at the next start. The
         * pending records are written again behind a fresh start of the file. */
        if (ftruncate(b->journal_fd, 0) < 0) {
            snprintf(err, errlen, "%s: %s", b->journal_path, strerror(errno));
            return -1;
        }
        for (wb_entry_t *e = b->wb_head; e; e = e->next) {
            wbj_rec_t rec = {WBJ_QUEUED, e->seq, e->key, e->keylen};
            journal_append(b, &rec, 0);
        }
        fdatasync(b->journal_fd);
    }
    log_info("event=backing_journal_replayed path=%s pending=%" PRIu64 " torn_lines=%" PRIu64,
             b->journal_path, b->wb_len, bad);
    return 0;
}

int backing_start(server_t *srv, char *err, size_t errlen)
{
    const proxy_config_t *cfg = &srv->cfg;
    backing_mode_t mode = BACKING_NONE;
    if (cfg->backing_mode[0] && parse_mode(cfg->backing_mode, &mode) < 0) {
        snprintf(err, errlen,
                 "backing-mode '%s' is not none, read-through, write-through or "
                 "write-behind",
                 cfg->backing_mode);
        return -1;
    }
    if (!cfg->backing[0]) {
        if (mode != BACKING_NONE) {
            snprintf(err, errlen, "backing-mode %s needs backing s3://BUCKET[/PREFIX]",
                     cfg->backing_mode);
            return -1;
        }
        return 0;
    }
    if (!cfg->backing_mode[0]) mode = BACKING_WRITE_THROUGH; /* the default with a store */
    if (mode == BACKING_WRITE_BEHIND && cfg->backing_authoritative) {
        /* The store lags the cache by design: the check would find every queued value missing
         * or older and answer the store's. */
        snprintf(err, errlen,
                 "backing-authoritative yes does not go with backing-mode "
                 "write-behind (the store lags the cache)");
        return -1;
    }
    if (strncmp(cfg->backing, "s3://", 5) || !cfg->backing[5] || cfg->backing[5] == '/') {
        snprintf(err, errlen, "backing '%s' is not s3://BUCKET[/PREFIX]", cfg->backing);
        return -1;
    }
    char bucket[256], prefix[512] = "";
    const char *bs = cfg->backing + 5, *slash = strchr(bs, '/');
    size_t bl = slash ? (size_t)(slash - bs) : strlen(bs);
    if (bl >= sizeof bucket || (slash && strlen(slash + 1) >= sizeof prefix)) {
        snprintf(err, errlen, "backing '%s': bucket or prefix too long", cfg->backing);
        return -1;
    }
    memcpy(bucket, bs, bl);
    bucket[bl] = 0;
    if (slash) snprintf(prefix, sizeof prefix, "%s", slash + 1);
    backing_t *b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    b->srv = srv;
    b->mode = mode;
    b->delete_on_del = (int)cfg->backing_delete;
    b->authoritative = (int)cfg->backing_authoritative;
    b->wb_tail = &b->wb_head;
    b->journal_fd = -1;
    srv->backing = b;
    awscreds_provider_t *creds = srv->aws;
    if (!creds) {
        /* The same credential chain the signed invocations use (awscreds.c). */
        awscreds_options_t opt = proxy_aws_options(cfg, 0);
        char why[800];
        if (awscreds_open(&opt, &b->own_creds, why, sizeof why) < 0) {
            snprintf(err, errlen, "backing: %.480s", why);
            return -1;
        }
        creds = b->own_creds;
    }
    s3client_options_t so = {
        .endpoint = cfg->backing_endpoint,
        .bucket = bucket,
        .prefix = prefix,
        .region = awscreds_region(creds),
        .creds = creds,
        .timeout_ms = cfg->backing_timeout_ms,
        .part_size = (uint64_t)cfg->backing_part_size,
        .max_parallel = 16,
    };
    if (mode == BACKING_WRITE_BEHIND && open_journal(b, err, errlen) < 0) return -1;
    b->s3 = s3client_start(srv->loop, &so);
    if (!b->s3) {
        snprintf(err, errlen, "backing: cannot start the store's client");
        return -1;
    }
    if (mode == BACKING_WRITE_BEHIND) b->tick = ev_timer_add(srv->loop, WB_TICK_MS, wb_tick, b);
    log_info("event=backing_start store=%s endpoint=%s mode=%s delete=%s authoritative=%s",
             cfg->backing, cfg->backing_endpoint[0] ? cfg->backing_endpoint : "aws",
             mode_name(mode), b->delete_on_del ? "yes" : "no", b->authoritative ? "yes" : "no");
    return 0;
}

void backing_stop(server_t *srv)
{
    backing_t *b = B(srv);
    if (!b) return;
    s3client_stop(b->s3);
    ev_timer_cancel(srv->loop, b->tick);
    while (b->wb_head) {
        wb_entry_t *e = b->wb_head;
        b->wb_head = e->next;
        objbuf_unref(e->obj);
        free(e);
    }
    if (b->journal_fd >= 0) close(b->journal_fd);
    etag_clear(b);
    free(b->etags);
    awscreds_close(b->own_creds);
    free(b);
    srv->backing = NULL;
}

static uint64_t oldest_age_ms(const backing_t *b)
{
    uint64_t now = clock_wall_ms();
    return b->wb_head && now > b->wb_head->queued_ms ? now - b->wb_head->queued_ms : 0;
}

void backing_info(server_t *srv, buf_t *out)
{
    backing_t *b = B(srv);
    buf_printf(out, "# Backing\r\nbacking_mode:%s\r\n", b ? mode_name(b->mode) : "none");
    if (!b) {
        buf_printf(out, "\r\n");
        return;
    }
    const backing_stats_t *s = &b->st;
    buf_printf(out,
               "backing_store:%s\r\nbacking_delete:%s\r\nbacking_authoritative:%s\r\n"
               "backing_gets:%" PRIu64 "\r\nbacking_store_hits:%" PRIu64
               "\r\nbacking_store_misses:%" PRIu64 "\r\nbacking_get_bytes:%" PRIu64
               "\r\nbacking_too_large:%" PRIu64 "\r\nbacking_puts:%" PRIu64
               "\r\nbacking_put_bytes:%" PRIu64 "\r\nbacking_deletes:%" PRIu64
               "\r\nbacking_errors:%" PRIu64 "\r\nbacking_checks:%" PRIu64
               "\r\nbacking_changed:%" PRIu64 "\r\nbacking_repairs:%" PRIu64
               "\r\nbacking_repair_fallbacks:%" PRIu64 "\r\nbacking_part_retries:%" PRIu64
               "\r\nbacking_in_flight:%" PRIu64
               "\r\nbacking_queue_length:%" PRIu64 "\r\nbacking_queue_bytes:%" PRIu64
               "\r\nbacking_queue_oldest_age_ms:%" PRIu64 "\r\nbacking_queue_uploaded:%" PRIu64
               "\r\nbacking_queue_replayed:%" PRIu64 "\r\nbacking_queue_lost:%" PRIu64
               "\r\nbacking_queue_refused:%" PRIu64 "\r\n\r\n",
               srv->cfg.backing, b->delete_on_del ? "yes" : "no", b->authoritative ? "yes" : "no",
               s->gets, s->store_hits, s->store_misses, s->get_bytes, s->too_large, s->puts,
               s->put_bytes, s->deletes, s->errors, s->checks, s->changed, s->repairs,
               s->repair_fallbacks, s3client_part_retries(b->s3), s3client_in_flight(b->s3),
               b->wb_len, b->wb_bytes,
               oldest_age_ms(b), s->wb_uploaded, s->wb_replayed, s->wb_lost, s->wb_refused);
}

static void counter(buf_t *out, const char *name, const char *help, uint64_t v)
{
    prom_family(out, name, "counter", help);
    prom_sample_u64(out, name, NULL, v);
}

static void gauge(buf_t *out, const char *name, const char *help, double v)
{
    prom_family(out, name, "gauge", help);
    prom_sample_double(out, name, NULL, v);
}

void backing_metrics(server_t *srv, buf_t *out)
{
    backing_t *b = B(srv);
    if (!b) return;
    const backing_stats_t *s = &b->st;
    prom_family(out, "infinicache_backing_requests_total", "counter",
                "Requests to the backing object store, by kind.");
    prom_label_t get = {"kind", "get"}, put = {"kind", "put"}, del = {"kind", "delete"};
    prom_sample_u64(out, "infinicache_backing_requests_total", &get, s->gets);
    prom_sample_u64(out, "infinicache_backing_requests_total", &put, s->puts);
    prom_sample_u64(out, "infinicache_backing_requests_total", &del, s->deletes);
    counter(out, "infinicache_backing_store_hits_total",
            "GETs answered with the backing store's bytes.", s->store_hits);
    counter(out, "infinicache_backing_store_misses_total",
            "GETs the backing store had no object for.", s->store_misses);
    counter(out, "infinicache_backing_errors_total",
            "Backing store requests that failed (answered as errors, or retried).", s->errors);
    counter(out, "infinicache_backing_read_bytes_total", "Bytes read from the backing store.",
            s->get_bytes);
    counter(out, "infinicache_backing_written_bytes_total", "Bytes written to the backing store.",
            s->put_bytes);
    counter(out, "infinicache_backing_repairs_total",
            "Objects whose lost chunks were rebuilt from the store's copy.", s->repairs);
    counter(out, "infinicache_backing_repair_fallbacks_total",
            "Repairs that read the nodes after all (the store's copy differed or failed).",
            s->repair_fallbacks);
    counter(out, "infinicache_backing_part_retries_total",
            "Parts of multi-part reads and uploads sent again after a transient failure.",
            s3client_part_retries(b->s3));
    counter(out, "infinicache_backing_changed_total",
            "Authoritative checks that found the store's object changed or gone.", s->changed);
    gauge(out, "infinicache_backing_queue_length", "Write-behind uploads waiting.",
          (double)b->wb_len);
    gauge(out, "infinicache_backing_queue_bytes", "Bytes of the write-behind uploads waiting.",
          (double)b->wb_bytes);
    gauge(out, "infinicache_backing_queue_oldest_age_seconds",
          "Age of the oldest write-behind upload waiting (the store's lag).",
          (double)oldest_age_ms(b) / 1000.0);
    counter(out, "infinicache_backing_queue_lost_total",
            "Write-behind uploads replayed after a restart whose value the cache no longer had.",
            s->wb_lost);
}
