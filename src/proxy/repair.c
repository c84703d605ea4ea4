/* repair.c -- keeping every object at full redundancy: which chunks are gone (a node answers it
 * lacks one, or a new instance's inventory misses it), a rate-limited background queue that
 * rebuilds them oldest-first, and the rebuild of the metadata from the nodes' inventories after
 * the proxy restarts.
 *
 * Trust: a rebuilt object comes only from chunks whose announced object fields agree (version,
 * size, d, p, chunk length), at least d of them; any disagreement drops the candidate. Every
 * chunk is still checked against its CRC when read, so the proxy never serves bytes it cannot
 * vouch for. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "inventory.h"
#include "log.h"
#include "meta.h"
#include "nodepool.h"
#include "op.h"
#include "repair.h"
#include "server.h"

#define REPAIR_TICK_MS 20
#define REPAIR_MAX_ACTIVE 4
#define CAND_BUCKETS 4096

typedef struct {
    char *key;
    size_t keylen;
    uint64_t version;
} repair_item_t;

/* An object seen in inventories during the start-up rebuild, not yet trusted. */
typedef struct cand {
    struct cand *next;
    meta_t *m;      /* nodes/crcs filled for the known slots */
    uint64_t known; /* slots some node announced */
    int poisoned;   /* announcements disagreed: never promoted */
} cand_t;

/* A key's highest tombstone seen in any inventory during the start-up rebuild. */
typedef struct rtomb {
    struct rtomb *next;
    uint64_t version;
    size_t keylen;
    char key[];
} rtomb_t;

struct repair_queue {
    repair_item_t *items;
    size_t head, len, cap; /* ring */
    int active;
    double tokens; /* bytes that may be moved now */
    uint64_t last_ms;
    int rebuilding;
    cand_t **cands;
    rtomb_t **tombs; /* CAND_BUCKETS chains, by key, while rebuilding */
};

static int popcount64(uint64_t v)
{
    return __builtin_popcountll(v);
}

/* ---------------- the queue ---------------- */

void repair_enqueue(server_t *srv, meta_t *m)
{
    struct repair_queue *rq = srv->repair;
    /* --repair lazy: lost chunks wait for the GET that finds them (op_repair_from_obj). */
    if (!rq || !srv->cfg.repair || srv->cfg.repair == REPAIR_LAZY || m->repair_queued ||
        !m->lost_mask)
        return;
    if (rq->len == rq->cap) {
        size_t cap = rq->cap ? rq->cap * 2 : 256;
        repair_item_t *items = malloc(cap * sizeof *items);
        if (!items) return;
        for (size_t i = 0; i < rq->len; i++)
            items[i] = rq->items[(rq->head + i) % rq->cap];
        free(rq->items);
        rq->items = items;
        rq->cap = cap;
        rq->head = 0;
    }
    char *key = malloc(m->keylen ? m->keylen : 1);
    if (!key) return;
    memcpy(key, meta_key(m), m->keylen);
    rq->items[(rq->head + rq->len) % rq->cap] = (repair_item_t){key, m->keylen, m->version};
    rq->len++;
    m->repair_queued = 1;
}

void repair_note_lost(server_t *srv, meta_t *m, int slot)
{
    if (m->lost_mask >> slot & 1) return;
    m->lost_mask |= 1ull << slot;
    srv->stats.chunks_lost++;
    repair_enqueue(srv, m);
}

static void repair_op_done(op_t *op)
{
    server_t *srv = op->srv;
    srv->repair->active--;
    /* A read that could not gather d chunks right now (not lost, only unreachable) goes to the
     * back of the queue; a read that worked has queued its chunk stores already. */
    meta_t *m = meta_lookup(srv, op->key, op->keylen);
    if (m && m->version == op->version && op->nhave < op->d) repair_enqueue(srv, m);
    op_unref(op);
}

static void repair_tick(ev_loop_t *loop, void *arg)
{
    server_t *srv = arg;
    struct repair_queue *rq = srv->repair;
    uint64_t now = ev_now_ms();
    double rate = (double)srv->cfg.repair_rate;
    rq->tokens += rate * (double)(now - rq->last_ms) / 1000.0;
    if (rq->tokens > rate) rq->tokens = rate; /* at most a second's worth saved up */
    rq->last_ms = now;
    /* A fenced proxy (server_fence) reaches no node: its repairs would only fail. */
    while (!rq->rebuilding && !srv->fenced && rq->len > 0 && rq->active < REPAIR_MAX_ACTIVE &&
           rq->tokens > 0) {
        repair_item_t it = rq->items[rq->head];
        rq->head = (rq->head + 1) % rq->cap;
        rq->len--;
        meta_t *m = meta_lookup(srv, it.key, it.keylen);
        if (m && m->version == it.version) m->repair_queued = 0;
        int lost = m ? popcount64(m->lost_mask) : 0;
        if (!m || m->version != it.version || !lost) {
            free(it.key);
            continue;
        }
        if (srv->cfg.repair == REPAIR_HOT &&
            !meta_used_within(m, clock_wall_ms() / 1000, (uint64_t)srv->cfg.repair_hot_ms)) {
            /* Left lost: its next GET decodes and re-stores the chunks (or, past p lost, the
             * backing store answers it); a GET before then re-queues nothing, it repairs. */
            srv->stats.repairs_deferred++;
            free(it.key);
            continue;
        }
        /* Reads d chunks, writes the lost ones. */
        uint64_t bytes = (uint64_t)m->chunk_size * (uint64_t)(m->d + lost);
        rq->tokens -= (double)bytes;
        rq->active++;
        srv->stats.repairs_started++;
        srv->stats.repair_bytes += bytes;
        if (op_start_repair(srv, it.key, it.keylen, repair_op_done) < 0) rq->active--;
        free(it.key);
    }
    ev_timer_add(loop, REPAIR_TICK_MS, repair_tick, srv);
}

/* ---------------- inventories ---------------- */

static void inventory_reply_failed(nreq_t *q, nres_t res, const char *err)
{
    node_t *n = q->node;
    n->inventory_pending = 0;
    log_warn("event=inventory_failed node=%d err=\"%s\"", n->id, err ? err : "");
    /* A node that answered with an error cannot list its store; waiting would not help. A lost
     * connection is different: the next HELLO asks again. */
    if (n->conn && err && strstr(err, "node ")) n->inventoried = 1;
    nreq_free(q);
}

void repair_request_inventory(node_t *n)
{
    if (n->inventory_pending) return;
    nreq_t *q = nreq_new(NREQ_INVENTORY, NULL, 0, NULL, 0, 0, 0);
    if (!q) return;
    q->done = inventory_reply_failed; /* only on error: a good reply goes to repair_inventory */
    n->inventory_pending = 1;
    node_submit(n, q);
}

/* A fingerprint of (key, index, version) for the set of chunks a node holds. */
static uint64_t chunk_fp(const char *key, size_t keylen, uint32_t index, uint64_t version)
{
    uint64_t h = meta_hash(key, keylen) ^ (version * 0x9E3779B97F4A7C15ull) ^
                 ((uint64_t)index * 0xC2B2AE3D27D4EB4Full);
    h ^= h >> 31;
    return h * 0xBF58476D1CE4E5B9ull;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int entry_ok(const inv_entry_t *e)
{
    return e->d >= 1 && e->d + e->p <= EC_MAX_CHUNKS && e->index < e->d + e->p &&
           e->chunk_len <= UINT32_MAX && e->keylen <= UINT16_MAX;
}

/* ---- rebuild candidates ---- */

/* By key only: every version of a key shares a chain, where rebuild_finish() lets the newest
 * complete one win before any is promoted (and counted). */
static size_t cand_bucket(const char *key, size_t keylen)
{
    return (size_t)(meta_hash(key, keylen) % CAND_BUCKETS);
}

static void cand_add(server_t *srv, node_t *n, const inv_entry_t *e)
{
    struct repair_queue *rq = srv->repair;
    cand_t **bp = &rq->cands[cand_bucket(e->key, e->keylen)], *c;
    for (c = *bp; c; c = c->next)
        if (c->m->version == e->version && c->m->keylen == e->keylen &&
            !memcmp(meta_key(c->m), e->key, e->keylen))
            break;
    if (!c) {
        c = calloc(1, sizeof *c);
        meta_t *m = c ? meta_new(e->key, e->keylen, (int)e->d, (int)e->p) : NULL;
        if (!m) {
            free(c);
            return;
        }
        m->version = e->version;
        m->size = e->size;
        m->chunk_size = (uint32_t)e->chunk_len;
        m->expire_ms = e->expire_ms;
        c->m = m;
        c->next = *bp;
        *bp = c;
    }
    meta_t *m = c->m;
    if (m->size != e->size || m->d != e->d || m->p != e->p || m->chunk_size != e->chunk_len ||
        m->expire_ms != e->expire_ms || (c->known >> e->index & 1)) {
        /* Two stories about one object: trust neither. This chunk goes now, the others when the
         * window closes. */
        c->poisoned = 1;
        node_delete_chunk(n, e->key, e->keylen, (int)e->index, e->version, 0);
        return;
    }
    c->known |= 1ull << e->index;
    meta_nodes(m)[e->index] = (uint16_t)n->id;
    meta_crcs(m)[e->index] = e->crc;
}

static rtomb_t **rtomb_slot(struct repair_queue *rq, const char *key, size_t keylen)
{
    rtomb_t **pp = &rq->tombs[cand_bucket(key, keylen)];
    while (*pp && !((*pp)->keylen == keylen && !memcmp((*pp)->key, key, keylen))) pp = &(*pp)->next;
    return pp;
}

/* Remembers the highest tombstone of a key seen while rebuilding. Out of memory it is lost, and
 * a deleted key may come back (as without tombstones). */
static void rtomb_add(struct repair_queue *rq, const inv_entry_t *e)
{
    rtomb_t **pp = rtomb_slot(rq, e->key, e->keylen);
    if (*pp) {
        if ((*pp)->version < e->version) (*pp)->version = e->version;
        return;
    }
    rtomb_t *t = malloc(sizeof *t + (e->keylen ? e->keylen : 1));
    if (!t) return;
    t->next = NULL;
    t->version = e->version;
    t->keylen = e->keylen;
    memcpy(t->key, e->key, e->keylen);
    *pp = t;
}

/* A node for a slot whose chunk nobody announced: one holding no other chunk of the object. */
static int pick_node(server_t *srv, meta_t *m, uint64_t known, uint64_t cost)
{
    int n = m->d + m->p;
    for (int k = 0; k < srv->nnodes; k++) {
        int id = (int)((m->hash + (uint64_t)k) % (uint64_t)srv->nnodes);
        int used = 0;
        for (int i = 0; i < n && !used; i++)
            used = (known >> i & 1) && meta_nodes(m)[i] == id;
        node_t *nd = &srv->nodes[id];
        if (!used && nd->room.mem_placed + cost <= nd->room.mem_limit) return id;
    }
    return -1;
}

static void cand_discard(server_t *srv, cand_t *c)
{
    meta_t *m = c->m;
    for (int i = 0; i < m->d + m->p; i++)
        if (c->known >> i & 1)
            node_delete_chunk(&srv->nodes[meta_nodes(m)[i]], meta_key(m), m->keylen, i,
                              m->version, 0);
    free(m);
    free(c);
}

/* End of the start-up window: objects with d agreeing chunks become live, the rest go. */
static void rebuild_finish(server_t *srv)
{
    struct repair_queue *rq = srv->repair;
    uint64_t promoted = 0, dropped = 0, tombed = 0;
    for (size_t b = 0; b < CAND_BUCKETS; b++) {
        cand_t *c = rq->cands[b];
        rq->cands[b] = NULL;
        while (c) {
            cand_t *next = c->next;
            meta_t *m = c->m;
            int n = m->d + m->p;
            meta_t *live = meta_lookup(srv, meta_key(m), m->keylen);
            /* A newer candidate of the same key may still be in this bucket chain: the highest
             * version with d chunks wins, the others are deleted. */
            int beaten = live && live->version >= m->version;
            for (cand_t *o = next; o && !beaten; o = o->next)
                beaten = !o->poisoned && popcount64(o->known) >= o->m->d &&
                         o->m->keylen == m->keylen && !memcmp(meta_key(o->m), meta_key(m), m->keylen) &&
                         o->m->version > m->version;
            uint64_t cost = meta_chunk_cost(m->chunk_size, m->keylen);
            /* A version some node holds a tombstone for was deleted before the restart. */
            rtomb_t *tomb = *rtomb_slot(rq, meta_key(m), m->keylen);
            int deleted = tomb && tomb->version >= m->version;
            if (deleted) tombed++;
            if (c->poisoned || popcount64(c->known) < m->d || beaten || deleted) {
                cand_discard(srv, c);
                dropped++;
                c = next;
                continue;
            }
            if (live) meta_drop(srv, live);
            m->lost_mask = 0;
            for (int i = 0; i < n; i++) {
                if (c->known >> i & 1) continue;
                int id = pick_node(srv, m, c->known | m->lost_mask, cost);
                if (id < 0) id = meta_nodes(m)[0]; /* no room: stays lost until there is */
                meta_nodes(m)[i] = (uint16_t)id;
                m->lost_mask |= 1ull << i;
            }
            meta_charge_placement(srv, meta_nodes(m), n, m->chunk_size, m->keylen);
            m->atime_s = (uint32_t)(clock_wall_ms() / 1000);
            meta_insert(&srv->meta, m);
            srv->stats.chunks_lost += (uint64_t)popcount64(m->lost_mask);
            free(c);
            promoted++;
            c = next;
        }
    }
    for (size_t b = 0; b < CAND_BUCKETS; b++) {
        rtomb_t *t = rq->tombs[b];
        rq->tombs[b] = NULL;
        while (t) {
            rtomb_t *next = t->next;
            free(t);
            t = next;
        }
    }
    rq->rebuilding = 0;
    srv->stats.rebuilt_objects += promoted;
    if (promoted || dropped)
        log_info("event=rebuild_done objects=%" PRIu64 " dropped=%" PRIu64 " deleted=%" PRIu64,
                 promoted, dropped, tombed);
    /* Now that every object is in place, repairs can start. */
    meta_table_t *t = &srv->meta;
    for (size_t i = 0; i < t->clock_len; i++)
        if (t->clock[i] && t->clock[i]->lost_mask) repair_enqueue(srv, t->clock[i]);
}

int repair_rebuilding(server_t *srv)
{
    return srv->repair && srv->repair->rebuilding;
}

void repair_rebuild_done(server_t *srv)
{
    if (repair_rebuilding(srv)) rebuild_finish(srv);
}

/* ---- reconcile a node's inventory with the metadata ---- */

void repair_inventory(node_t *n, char *data, size_t len)
{
    server_t *srv = n->srv;
    struct repair_queue *rq = srv->repair;
    srv->stats.inventories++;
    size_t pos = 0, count = 0, cap = 0;
    uint64_t *fps = NULL;
    inv_entry_t e;
    int rc;
    uint64_t stale = 0, tombs = 0;
    while ((rc = inv_next(data, len, &pos, &e)) == 1) {
        /* Versions handed out after a restart must pass every version the nodes hold, and every
         * tombstone's (a SET after a restart must not be taken for a deleted version). */
        if (e.version > srv->next_version && e.version < UINT64_MAX / 2)
            srv->next_version = e.version;
        if (e.tomb) {
            tombs++;
            if (rq->rebuilding) {
                rtomb_add(rq, &e);
                continue;
            }
            /* A delete this proxy does not remember (it restarted, and this node answered too
             * late for the rebuild): the object it covers is gone. */
            meta_t *m = meta_find(&srv->meta, e.key, e.keylen);
            if (m && m->version <= e.version) {
                srv->stats.stale_chunks++;
                meta_delete(srv, m);
            }
            continue;
        }
        if (!entry_ok(&e)) continue;
        meta_t *m = meta_lookup(srv, e.key, e.keylen);
        if (rq->rebuilding && (!m || m->version < e.version)) {
            cand_add(srv, n, &e);
        } else if (m && m->version > e.version) {
            /* An older version than the live one: left behind by an overwrite this instance
             * missed (it was frozen, or it is a backup peer). */
            node_delete_chunk(n, e.key, e.keylen, (int)e.index, e.version, 0);
            stale++;
        } else if (!rq->rebuilding && (!m || m->version != e.version) &&
                   !opindex_find(&srv->storing, e.key, e.keylen, e.version)) {
            /* No object owns it (deleted, evicted, expired or overwritten while its delete did
             * not reach this instance, or a failed store's leftover), and no store under way
             * is writing it: memory the proxy cannot see, and data a restarted proxy would
             * bring back. */
            node_delete_chunk(n, e.key, e.keylen, (int)e.index, e.version, 0);
            stale++;
        }
        if (count == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            uint64_t *p = realloc(fps, nc * sizeof *p);
            if (!p) break;
            fps = p;
            cap = nc;
        }
        fps[count++] = chunk_fp(e.key, e.keylen, e.index, e.version);
    }
    if (rc < 0) log_warn("event=inventory_malformed node=%d at=%zu", n->id, pos);
    if (count) qsort(fps, count, sizeof *fps, cmp_u64);
    /* Every chunk the metadata places on this node must be in the inventory. */
    uint64_t missing = 0, found = 0;
    meta_table_t *t = &srv->meta;
    for (size_t i = 0; i < t->clock_len && rc >= 0; i++) {
        meta_t *m = t->clock[i];
        if (!m) continue;
        int nchunks = m->d + m->p;
        for (int k = 0; k < nchunks; k++) {
            if (meta_nodes(m)[k] != n->id) continue;
            uint64_t fp = chunk_fp(meta_key(m), m->keylen, (uint32_t)k, m->version);
            int held = count && bsearch(&fp, fps, count, sizeof *fps, cmp_u64);
            if (held && (m->lost_mask >> k & 1)) {
                /* Taken for lost when the old instance went away, but this one (a backup peer)
                 * has it: nothing to repair. */
                m->lost_mask &= ~(1ull << k);
                found++;
            } else if (!held && !(m->lost_mask >> k & 1)) {
                repair_note_lost(srv, m, k);
                missing++;
            }
        }
    }
    free(fps);
    free(data);
    srv->stats.stale_chunks += stale;
    n->inventoried = rc >= 0;
    log_info("event=inventory node=%d instance=%s chunks=%zu tombstones=%" PRIu64
             " missing=%" PRIu64 " found=%" PRIu64 " stale=%" PRIu64,
             n->id, n->instance, count, tombs, missing, found, stale);
}

int repair_init(server_t *srv)
{
    struct repair_queue *rq = calloc(1, sizeof *rq);
    if (!rq) return -ENOMEM;
    rq->cands = calloc(CAND_BUCKETS, sizeof *rq->cands);
    rq->tombs = calloc(CAND_BUCKETS, sizeof *rq->tombs);
    if (!rq->cands || !rq->tombs) {
        free(rq->cands);
        free(rq->tombs);
        free(rq);
        return -ENOMEM;
    }
    rq->last_ms = ev_now_ms();
    rq->rebuilding = 1;
    srv->repair = rq;
    ev_timer_add(srv->loop, REPAIR_TICK_MS, repair_tick, srv);
    return 0;
}
