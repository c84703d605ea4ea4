/* sim.c -- the discrete-event simulator: a virtual clock (an event heap) drives the decisions of
 * src/model (placement, eviction, warm-up, backup, billing, reclaim, policy) over a timing model.
 */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"
#include "layout.h"
#include "metatab.h"
#include "placement.h"
#include "queue.h"
#include "reclaim.h"
#include "schedule.h"
#include "throttle.h"

/* ---------------- events ---------------- */

typedef enum {
    EV_ISSUE = 1,  /* a client takes its next request (a = client) */
    EV_START_REQ,  /* a client's request is due (a = client, c = request index) */
    EV_INV_START,  /* an invocation reaches its instance (a = node, c = invocation serial) */
    EV_HELLO,      /* the node's HELLO reaches the proxy (a = node, c = invocation serial) */
    EV_ARRIVE,     /* a node request reaches the node (a = node, ptr = request) */
    EV_SERVED,     /* the node finished serving its current request (a = node) */
    EV_REPLY,      /* a node's reply reaches the proxy (ptr = request) */
    EV_CHECK,      /* ask the node's policy whether to return (a = node, c = check generation) */
    EV_KICK,       /* a node's pending requests may go now (a = node) */
    EV_INST_FREE,  /* a warm-up or backup-peer invocation ends (a = node, b = slot, c = uid) */
    EV_RECLAIM,    /* an idle instance's reclaim deadline (a = node, b = slot, c = uid) */
    EV_BACKUP_END, /* the sync of a backup ends (a = node) */
    EV_WARMUP_TICK,
    EV_BACKUP_TICK,
    EV_KILL,   /* fault injection: reclaim the instance node a uses */
    EV_REPAIR, /* eager repair: re-create the chunks node a lost (after the adoption) */
} ev_type_t;

typedef struct nreq nreq_t;

typedef struct {
    int64_t t;
    int64_t d; /* EV_RECLAIM: the idle period's start */
    uint64_t seq;
    int type, a, b;
    uint64_t c;
    nreq_t *ptr;
} event_t;

/* ---------------- the model ---------------- */

typedef enum { NR_GET, NR_SET, NR_DEL, NR_BACKUP } nreq_kind_t;

typedef struct op op_t;

struct nreq {
    nreq_kind_t kind;
    int node;
    int good;       /* GET: the node holds the chunk */
    uint64_t bytes; /* body moved (GET reply, SET upload) */
    op_t *op;       /* NULL: fire-and-forget */
    nreq_t *next;
};

struct op {
    int is_get, client, fill;
    int outstanding; /* replies still to come */
    int need, good;  /* replies (good GET chunks) that complete it */
    int completed;
    uint64_t key, size;
    char keystr[64];
    size_t keylen;
    uint16_t nodes[256];
    int n, d, p;
    uint64_t chunk_size;
    uint64_t version; /* SET: assigned at placement, as the proxy does; GET: the one read */
    uint64_t held;    /* GET: the chunks still on their nodes when the read began */
    int next_read;    /* GET of replicas: how many have been asked (layout_read_slot's k) */
    int stored;       /* GET: the object was in the cache */
};

typedef struct {
    int alive, busy;
    int64_t last_used_us;
    uint64_t uid;
    reclaim_rng_t rng;
} inst_t;

typedef enum { NS_ASLEEP = 0, NS_INVOKING, NS_AWAKE } nstate_t;

typedef struct {
    meta_room_t room;
    throttle_bucket_t bucket; /* the node's emulated network (icnode's own token bucket) */
    nstate_t state;
    inst_t inst[SIM_MAX_INSTANCES];
    int ninst;
    int primary, peer; /* slots, -1 none */
    int64_t peer_synced_ms;
    uint64_t bytes_since_sync;
    /* the current invocation */
    policy_t pol;
    int inv_slot;
    billing_kind_t inv_kind;
    int64_t inv_start_us;
    int started; /* the invocation reached its instance */
    uint64_t inv_serial, check_gen;
    int serving, extra_inflight;
    int receiving;         /* requests on their way to the node: their bytes are arriving */
    QUEUE(nreq_t) pending; /* at the proxy, waiting for the node */
    QUEUE(nreq_t) fifo;    /* arrived at the node, waiting to be served */
    int64_t warming_until_us;
    int kick_armed;
    uint64_t last_backup_ms;
    int backup_running;
    int64_t backup_started_us;
} node_t;

typedef struct {
    const sim_config_t *cfg;
    const sim_request_t *reqs;
    size_t nreqs, next_req;
    int clients_busy;
    event_t *heap;
    size_t nheap, capheap;
    uint64_t seq;
    int64_t now;
    node_t *nodes;
    meta_table_t table;
    meta_table_t lost; /* keys whose object was lost to reclaims, until stored again */
    reclaim_rng_t rng;
    uint64_t next_uid;
    uint64_t next_version; /* the proxy's version counter (it starts at its clock, here 0) */
    int backups_active;
    int done; /* every request finished: periodic work stops */
    int failed;
    sim_result_t *res;
    nreq_t *free_nreqs;
    double reclaim_per_us;
    int64_t idle_limit_us;
    uint64_t *lost_scratch;
    size_t lost_scratch_cap;
} sim_t;

static void push_d(sim_t *s, int64_t t, int type, int a, int b, uint64_t c, nreq_t *ptr, int64_t d)
{
    if (s->nheap == s->capheap) {
        size_t cap = s->capheap ? s->capheap * 2 : 4096;
        event_t *h = realloc(s->heap, cap * sizeof *h);
        if (!h) {
            s->failed = 1;
            return;
        }
        s->heap = h;
        s->capheap = cap;
    }
    event_t e = {t < s->now ? s->now : t, d, s->seq++, type, a, b, c, ptr};
    size_t i = s->nheap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        event_t *u = &s->heap[up];
        if (u->t < e.t || (u->t == e.t && u->seq < e.seq)) break;
        s->heap[i] = *u;
        i = up;
    }
    s->heap[i] = e;
}

static void push(sim_t *s, int64_t t, int type, int a, int b, uint64_t c, nreq_t *ptr)
{
    push_d(s, t, type, a, b, c, ptr, 0);
}

static event_t pop(sim_t *s)
{
    event_t top = s->heap[0];
    event_t last = s->heap[--s->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        event_t *best = &last;
        if (l < s->nheap &&
            (s->heap[l].t < best->t || (s->heap[l].t == best->t && s->heap[l].seq < best->seq))) {
            m = l;
            best = &s->heap[l];
        }
        if (l + 1 < s->nheap && (s->heap[l + 1].t < best->t ||
                                 (s->heap[l + 1].t == best->t && s->heap[l + 1].seq < best->seq)))
            m = l + 1;
        if (m == i) break;
        s->heap[i] = s->heap[m];
        i = m;
    }
    if (s->nheap) s->heap[i] = last;
    return top;
}

/* ---------------- accounting ---------------- */

static sim_counts_t *hour(sim_t *s)
{
    size_t h = (size_t)(s->now / 3600000000LL);
    if (h >= SIM_HOURS_MAX) h = SIM_HOURS_MAX - 1;
    sim_result_t *r = s->res;
    if (h >= r->nhours) {
        sim_counts_t *n = realloc(r->hours, (h + 1) * sizeof *n);
        if (!n) {
            s->failed = 1;
            static sim_counts_t sink;
            return &sink;
        }
        memset(n + r->nhours, 0, (h + 1 - r->nhours) * sizeof *n);
        r->hours = n;
        r->nhours = h + 1;
    }
    return &r->hours[h];
}

#define COUNT(s, field) ((s)->res->total.field++, hour(s)->field++)
#define ADD(s, field, v) ((s)->res->total.field += (v), hour(s)->field += (v))

static void bill(sim_t *s, billing_kind_t kind, int64_t duration_us)
{
    billing_record_t rec = {.kind = kind,
                            .duration_us = duration_us,
                            .billed_ms = billing_round_ms(duration_us, s->cfg->billing_ms),
                            .memory_mb = s->cfg->node_memory_mb,
                            .outcome = BILLING_OK};
    billing_totals_add(&s->res->total.bill, &rec);
    billing_totals_add(&hour(s)->bill, &rec);
}

static uint64_t transfer_us(uint64_t bytes, uint64_t bandwidth)
{
    return bandwidth ? (uint64_t)((double)bytes * 1e6 / (double)bandwidth) : 0;
}

static int64_t now_ms(sim_t *s)
{
    return s->now / 1000;
}

/* How long node n takes to send `bytes` to the proxy under its token bucket: what the bucket
 * holds goes at once, the rest at the rate (the bucket is empty until then). As icnode's writer,
 * on the millisecond clock the bucket works in. */
static int64_t node_send_us(sim_t *s, node_t *n, uint64_t bytes)
{
    if (!s->cfg->node_bandwidth) return 0;
    uint64_t now = (uint64_t)now_ms(s);
    size_t allow = throttle_bucket_allow(&n->bucket, now);
    uint64_t first = bytes < allow ? bytes : allow;
    throttle_bucket_consume(&n->bucket, first);
    uint64_t rest = bytes - first;
    if (!rest) return 0;
    uint64_t rate = n->bucket.rate;
    uint64_t ms = (rest * 1000 + rate - 1) / rate;
    n->bucket.milli = 0;
    n->bucket.last_ms = now + ms;
    return (int64_t)((now + ms) * 1000) - s->now;
}

/* Chunk store times live in the table's CRC slots (no bytes, nothing to checksum): virtual ms + 1,
 * so 0 never means a time. */
static uint32_t stamp(sim_t *s)
{
    return (uint32_t)(now_ms(s) + 1);
}

/* ---------------- the object store ---------------- */

static uint64_t store_parts(const sim_config_t *c, uint64_t size)
{
    uint64_t part = c->store_part ? c->store_part : (uint64_t)8 << 20;
    return size ? (size + part - 1) / part : 1;
}

/* A whole object read from the store: parallel ranged GETs of one part each. */
static void store_read(sim_t *s, uint64_t size)
{
    ADD(s, store_gets, store_parts(s->cfg, size));
}

/* A client SET written through: one PUT, or a multipart upload (create, parts, complete). */
static void store_write(sim_t *s, uint64_t size)
{
    uint64_t parts = store_parts(s->cfg, size);
    ADD(s, store_puts, parts > 1 ? parts + 2 : 1);
}

/* ---------------- instances (the platform's part) ---------------- */

static void observe(sim_t *s, sim_choice_t c)
{
    if (s->cfg->observe) s->cfg->observe(s->cfg->observe_arg, &c);
}

static meta_room_t *room_of(void *arg, int i)
{
    return &((sim_t *)arg)->nodes[i].room;
}

static void arm_reclaim(sim_t *s, int nid, int slot)
{
    inst_t *in = &s->nodes[nid].inst[slot];
    int64_t wait = reclaim_exponential_us(&in->rng, s->reclaim_per_us);
    int64_t at = wait < s->idle_limit_us ? wait : s->idle_limit_us;
    if (at >= RECLAIM_NEVER_US) return;
    push_d(s, in->last_used_us + at, EV_RECLAIM, nid, slot, in->uid, NULL, in->last_used_us);
}

static void inst_idle(sim_t *s, int nid, int slot, int64_t at)
{
    inst_t *in = &s->nodes[nid].inst[slot];
    in->busy = 0;
    in->last_used_us = at;
    arm_reclaim(s, nid, slot);
}

/* The platform's choice for an invocation of node nid's function: a slot, or -1 at capacity. */
static int platform_pick(sim_t *s, int nid, int *cold)
{
    node_t *n = &s->nodes[nid];
    placement_slot_t slots[SIM_MAX_INSTANCES];
    for (int i = 0; i < n->ninst; i++)
        slots[i] = (placement_slot_t){n->inst[i].alive, n->inst[i].alive && !n->inst[i].busy,
                                      n->inst[i].last_used_us};
    int64_t cap =
        s->cfg->max_instances < SIM_MAX_INSTANCES ? s->cfg->max_instances : SIM_MAX_INSTANCES;
    size_t pick = 0;
    placement_decision_t d = placement_choose(slots, (size_t)n->ninst, cap, &pick);
    if (d == PLACEMENT_AT_CAPACITY) return -1;
    *cold = d == PLACEMENT_COLD_START;
    if (d == PLACEMENT_WARM) return (int)pick;
    int slot = -1;
    for (int i = 0; i < n->ninst; i++)
        if (!n->inst[i].alive) {
            slot = i;
            break;
        }
    if (slot < 0) {
        if (n->ninst == SIM_MAX_INSTANCES) return -1;
        slot = n->ninst++;
    }
    inst_t *in = &n->inst[slot];
    memset(in, 0, sizeof *in);
    in->alive = 1;
    in->uid = ++s->next_uid;
    in->last_used_us = s->now;
    reclaim_rng_seed(&in->rng, s->cfg->seed, in->uid);
    COUNT(s, cold_starts);
    return slot;
}

/* ---------------- objects ---------------- */

static int popcount_lost(const meta_t *m)
{
    return __builtin_popcountll(m->lost_mask);
}

static void kick(sim_t *s, int nid);

static nreq_t *nreq_new(sim_t *s, nreq_kind_t kind, int node, uint64_t bytes, op_t *op)
{
    nreq_t *q = s->free_nreqs;
    if (q)
        s->free_nreqs = q->next;
    else if (!(q = malloc(sizeof *q))) {
        s->failed = 1;
        return NULL;
    }
    *q = (nreq_t){.kind = kind, .node = node, .good = 1, .bytes = bytes, .op = op};
    return q;
}

static void nreq_free(sim_t *s, nreq_t *q)
{
    q->next = s->free_nreqs;
    s->free_nreqs = q;
}

static void submit(sim_t *s, nreq_t *q);

/* As the proxy's node_delete_chunk: a node with no instance holds nothing worth waking it for. */
static void delete_chunk(sim_t *s, int nid)
{
    node_t *n = &s->nodes[nid];
    if (n->primary < 0 && n->state == NS_ASLEEP) return;
    nreq_t *q = nreq_new(s, NR_DEL, nid, 0, NULL);
    if (q) submit(s, q);
}

/* As the proxy's meta_drop: delete the chunks, release the rooms, forget the object. */
static void drop_object(sim_t *s, meta_t *m)
{
    int n = m->d + m->p;
    for (int i = 0; i < n; i++)
        delete_chunk(s, meta_nodes(m)[i]);
    meta_rooms_release(room_of, s, meta_nodes(m), n, m->chunk_size, m->keylen);
    meta_remove(&s->table, m);
    free(m);
}

static void evict_cb(void *arg, meta_t *victim)
{
    sim_t *s = arg;
    COUNT(s, evictions);
    observe(s, (sim_choice_t){.kind = SIM_CHOICE_EVICT,
                              .key = meta_key(victim),
                              .keylen = victim->keylen,
                              .size = victim->size,
                              .version = victim->version});
    drop_object(s, victim);
}

static void lost_note(sim_t *s, const char *key, size_t keylen)
{
    if (meta_find(&s->lost, key, keylen)) return;
    meta_t *k = meta_new(key, keylen, 0, 0);
    if (!k || meta_insert(&s->lost, k) < 0) {
        free(k);
        s->failed = 1;
    }
}

static void lost_forget(sim_t *s, const char *key, size_t keylen)
{
    meta_t *k = meta_find(&s->lost, key, keylen);
    if (!k) return;
    meta_remove(&s->lost, k);
    free(k);
}

/* The node's data now lives only on an instance holding what was stored up to `kept_ms` (-1:
 * nothing): every later chunk on it is lost; an object with more than p lost is gone. */
static void lose_chunks(sim_t *s, int nid, int64_t kept_ms)
{
    size_t nvictims = 0;
    int repair_due = 0;
    meta_table_t *t = &s->table;
    if (t->clock_len > s->lost_scratch_cap) {
        uint64_t *v = realloc(s->lost_scratch, t->clock_len * sizeof *v);
        if (!v) {
            s->failed = 1;
            return;
        }
        s->lost_scratch = v;
        s->lost_scratch_cap = t->clock_len;
    }
    for (size_t i = 0; i < t->clock_len; i++) {
        meta_t *m = t->clock[i];
        if (!m) continue;
        int n = m->d + m->p, changed = 0;
        for (int k = 0; k < n; k++) {
            if (meta_nodes(m)[k] != nid || (m->lost_mask >> k & 1)) continue;
            if (kept_ms >= 0 && (int64_t)meta_crcs(m)[k] - 1 <= kept_ms) continue;
            m->lost_mask |= 1ull << k;
            COUNT(s, chunks_lost);
            changed = 1;
        }
        /* With eager repair an object is re-created from the store, or from d surviving
         * chunks while at most p are lost; only the rest are gone. */
        int repairable =
            s->cfg->repair != SIM_REPAIR_LAZY && (s->cfg->store || popcount_lost(m) <= m->p);
        if (changed && popcount_lost(m) > m->p && !repairable)
            s->lost_scratch[nvictims++] = (uint64_t)i;
        if (changed && repairable) repair_due = 1;
    }
    for (size_t v = 0; v < nvictims; v++) {
        meta_t *m = t->clock[s->lost_scratch[v]];
        COUNT(s, objects_lost);
        lost_note(s, meta_key(m), m->keylen);
        drop_object(s, m);
    }
    /* After the adoption: requests queued now would make the node being invoked invoke again. */
    if (repair_due) push(s, s->now, EV_REPAIR, nid, 0, 0, NULL);
}

/* Eager repair of the objects with chunks lost on node nid, as the proxy would on learning of an
 * empty instance (SIM_REPAIR_* in sim.h says what is read). Requests are queued first and the
 * nodes kicked after, since a kick can invoke (and adopt, and drop objects) while the table is
 * walked. */
static void queue_chunk_request(sim_t *s, nreq_kind_t kind, int node, uint64_t bytes,
                                uint8_t *touched)
{
    nreq_t *q = nreq_new(s, kind, node, bytes, NULL);
    if (!q) return;
    QUEUE_PUSH_TAIL(&s->nodes[node].pending, q, next);
    touched[node] = 1;
}

static void restore_chunk(sim_t *s, meta_t *m, int k, uint8_t *touched)
{
    queue_chunk_request(s, NR_SET, meta_nodes(m)[k], m->chunk_size, touched);
    meta_crcs(m)[k] = stamp(s);
    s->nodes[meta_nodes(m)[k]].bytes_since_sync += m->chunk_size;
    m->lost_mask &= ~(1ull << k);
    COUNT(s, chunks_restored);
}

static void repair_node(sim_t *s, int nid)
{
    meta_table_t *t = &s->table;
    uint8_t *touched = calloc((size_t)s->cfg->pool_size, 1);
    if (!touched) {
        s->failed = 1;
        return;
    }
    uint32_t now_s = (uint32_t)(s->now / 1000000);
    for (size_t i = 0; i < t->clock_len; i++) {
        meta_t *m = t->clock[i];
        if (!m || !m->lost_mask) continue;
        int n = m->d + m->p, on_node = 0;
        for (int k = 0; k < n; k++)
            on_node |= meta_nodes(m)[k] == nid && (m->lost_mask >> k & 1);
        if (!on_node) continue;
        if (s->cfg->repair == SIM_REPAIR_HOT && !meta_used_within(m, now_s, s->cfg->repair_hot_ms))
            continue;
        if (s->cfg->store) {
            int restored = 0;
            for (int k = 0; k < m->d; k++) {
                if (!(m->lost_mask >> k & 1)) continue;
                ADD(s, store_gets, 1); /* the chunk's byte range of the object */
                restore_chunk(s, m, k, touched);
                restored = 1;
            }
            if (restored) COUNT(s, repairs_from_store);
        } else if (popcount_lost(m) <= m->p) {
            for (int k = 0, asked = 0; k < n && asked < m->d; k++) {
                if (m->lost_mask >> k & 1) continue;
                queue_chunk_request(s, NR_GET, meta_nodes(m)[k], m->chunk_size, touched);
                asked++;
            }
            for (int k = 0; k < n; k++)
                if (m->lost_mask >> k & 1) restore_chunk(s, m, k, touched);
            COUNT(s, repairs_from_cache);
        }
    }
    for (int i = 0; i < s->cfg->pool_size; i++)
        if (touched[i]) kick(s, i);
    free(touched);
}

/* An invocation landed on `slot`: if the proxy's instance is gone, this one takes its place with
 * whatever it holds (the peer: the data of its last sync; any other: nothing). */
static void adopt_instance(sim_t *s, int nid, int slot)
{
    node_t *n = &s->nodes[nid];
    if (slot == n->primary) return;
    if (n->primary >= 0 && n->inst[n->primary].alive) return; /* a stray: the proxy keeps its own */
    if (slot == n->peer) {
        lose_chunks(s, nid, n->peer_synced_ms);
        n->peer = -1;
    } else {
        lose_chunks(s, nid, -1);
    }
    n->primary = slot;
    n->bytes_since_sync = n->room.mem_placed;
}

/* ---------------- node invocations ---------------- */

/* The node has work: serving, a backup beside it, requests queued, or bytes arriving (a chunk's
 * upload takes up to tens of ms; the node is reading it, not idle, and must not return). */
static int node_busy(const node_t *n)
{
    return n->serving || n->extra_inflight || n->fifo.head || n->receiving;
}

static void check_soon(sim_t *s, int nid)
{
    node_t *n = &s->nodes[nid];
    if (!n->started) return;
    int wait = policy_wait_ms(&n->pol, (uint64_t)now_ms(s), node_busy(n));
    push(s, (now_ms(s) + wait) * 1000 + (wait == 0 ? s->now % 1000 : 0), EV_CHECK, nid, 0,
         ++n->check_gen, NULL);
}

static void invoke(sim_t *s, int nid, billing_kind_t kind)
{
    node_t *n = &s->nodes[nid];
    int cold = 0;
    int slot = platform_pick(s, nid, &cold);
    if (slot < 0) {
        /* At capacity: the proxy's invoke-retry tries again in a second. */
        if (!n->kick_armed) {
            n->kick_armed = 1;
            push(s, s->now + 1000000, EV_KICK, nid, 0, 0, NULL);
        }
        return;
    }
    n->inst[slot].busy = 1;
    adopt_instance(s, nid, slot);
    n->state = NS_INVOKING;
    n->inv_slot = slot;
    n->inv_kind = kind;
    n->started = 0;
    n->inv_serial++;
    push(s, s->now + (cold ? s->cfg->cold_invoke_us : s->cfg->warm_invoke_us), EV_INV_START, nid, 0,
         n->inv_serial, NULL);
}

/* What the proxy's node_kick does with a node's pending requests. */
static void kick(sim_t *s, int nid)
{
    node_t *n = &s->nodes[nid];
    if (!n->pending.head) return;
    if (n->state == NS_ASLEEP) {
        if (s->now < n->warming_until_us) {
            /* A warm-up runs on the instance: invoking now would start a second, empty one. */
            if (!n->kick_armed) {
                n->kick_armed = 1;
                push(s, n->warming_until_us, EV_KICK, nid, 0, 0, NULL);
            }
            return;
        }
        int backup_only = n->pending.head->kind == NR_BACKUP && !n->pending.head->next;
        invoke(s, nid, billing_kind_of_command(sched_wake_command(backup_only)));
        return;
    }
    if (n->state != NS_AWAKE) return;
    while (!QUEUE_EMPTY(&n->pending)) {
        nreq_t *q;
        QUEUE_POP_HEAD(&n->pending, q, next);
        uint64_t up = q->kind == NR_SET ? transfer_us(q->bytes, s->cfg->upload_bandwidth) : 0;
        n->receiving++;
        push(s, s->now + s->cfg->rtt_us / 2 + (int64_t)up, EV_ARRIVE, nid, 0, 0, q);
    }
}

static void submit(sim_t *s, nreq_t *q)
{
    node_t *n = &s->nodes[q->node];
    QUEUE_PUSH_TAIL(&n->pending, q, next);
    kick(s, q->node);
}

static void serve_next(sim_t *s, int nid)
{
    node_t *n = &s->nodes[nid];
    if (n->serving || !n->fifo.head) return;
    nreq_t *q = n->fifo.head;
    policy_on_request(&n->pol, (uint64_t)now_ms(s), POLICY_REQ_DATA);
    if (q->kind == NR_BACKUP) {
        /* The sync runs beside the serving loop: requests keep being served meanwhile. */
        QUEUE_POP_HEAD(&n->fifo, q, next);
        node_t *nn = n;
        nn->extra_inflight++;
        int cold = 0;
        int peer = platform_pick(s, nid, &cold);
        if (peer < 0) {
            nn->extra_inflight--;
            nn->backup_running = 0;
            nn->last_backup_ms = (uint64_t)now_ms(s);
            s->backups_active--;
            nreq_free(s, q);
            serve_next(s, nid);
            return;
        }
        uint64_t changed = peer == n->peer ? n->bytes_since_sync : n->room.mem_placed;
        int64_t peer_start = s->now + (cold ? s->cfg->cold_invoke_us : s->cfg->warm_invoke_us);
        int64_t end =
            peer_start + s->cfg->hello_us + s->cfg->rtt_us +
            (int64_t)transfer_us(changed, s->cfg->sync_bandwidth ? s->cfg->sync_bandwidth
                                                                 : s->cfg->node_bandwidth);
        n->inst[peer].busy = 1;
        n->peer = peer;
        n->bytes_since_sync = 0;
        /* The peer's copy is what the source held when the sync started plus what it journaled. */
        push(s, end, EV_BACKUP_END, nid, peer, (uint64_t)(end - peer_start), NULL);
        nreq_free(s, q);
        check_soon(s, nid);
        serve_next(s, nid);
        return;
    }
    n->serving = 1;
    int64_t service = q->kind == NR_GET && q->good ? node_send_us(s, n, q->bytes) : 0;
    push(s, s->now + service, EV_SERVED, nid, 0, 0, NULL);
}

static void node_return(sim_t *s, int nid)
{
    node_t *n = &s->nodes[nid];
    bill(s, n->inv_kind, s->now - n->inv_start_us + s->cfg->post_us);
    inst_idle(s, nid, n->inv_slot, s->now + s->cfg->post_us);
    n->state = NS_ASLEEP;
    n->started = 0;
    n->check_gen++;
    kick(s, nid); /* requests that reached the proxy after the return wake it again */
}

/* ---------------- client requests ---------------- */

static void client_next(sim_t *s, int client);

static void op_finish(sim_t *s, op_t *op)
{
    op->completed = 1;
    if (op->is_get && op->good < op->need) {
        /* Fewer than d good chunks: the object is dropped and the GET reads as a miss. */
        meta_t *m = meta_find(&s->table, op->keystr, op->keylen);
        if (m) {
            COUNT(s, objects_lost);
            lost_note(s, op->keystr, op->keylen);
            drop_object(s, m);
        }
    }
}

static void start_set(sim_t *s, op_t *op);
static void read_next_replica(sim_t *s, op_t *op);

static void complete_client_op(sim_t *s, op_t *op)
{
    int client = op->client;
    if (op->is_get && op->good < op->need) {
        COUNT(s, misses);
        if (s->cfg->store) {
            /* The object was lost on the way: the store answers, then the cache is filled. */
            store_read(s, op->size);
            COUNT(s, store_answers);
            COUNT(s, store_answers_of_stored);
        }
        op_t *fill = calloc(1, sizeof *fill);
        if (!fill) {
            s->failed = 1;
            return;
        }
        *fill = (op_t){.client = client, .fill = 1, .key = op->key, .size = op->size};
        COUNT(s, fills);
        start_set(s, fill);
        return;
    }
    if (op->is_get) {
        COUNT(s, hits);
        COUNT(s, hits_of_stored);
    }
    client_next(s, client);
}

static void reply(sim_t *s, nreq_t *q)
{
    op_t *op = q->op;
    if (op) {
        op->outstanding--;
        if (op->is_get) {
            if (q->good)
                op->good++;
            else if (!op->completed && op->d == 1)
                read_next_replica(s, op); /* as the proxy's request_more: the next in rotation */
            if (!op->completed && (op->good >= op->need || op->outstanding == 0)) {
                op_finish(s, op);
                complete_client_op(s, op);
            }
        } else if (op->outstanding == 0) {
            /* Every chunk stored: the new version becomes visible, the old one is deleted. */
            meta_t *old = meta_find(&s->table, op->keystr, op->keylen);
            meta_t *m = meta_new(op->keystr, op->keylen, op->d, op->p);
            if (!m) {
                s->failed = 1;
            } else {
                m->size = op->size;
                m->version = op->version;
                m->chunk_size = (uint32_t)op->chunk_size;
                m->atime_s = (uint32_t)(s->now / 1000000);
                memcpy(meta_nodes(m), op->nodes, sizeof(uint16_t) * (size_t)op->n);
                for (int i = 0; i < op->n; i++)
                    meta_crcs(m)[i] = stamp(s);
                if (old) drop_object(s, old);
                if (meta_insert(&s->table, m) < 0) s->failed = 1;
                lost_forget(s, op->keystr, op->keylen);
            }
            COUNT(s, sets);
            client_next(s, op->client);
        }
        if (op->outstanding == 0) free(op);
    }
    nreq_free(s, q);
}

static void format_key(sim_t *s, op_t *op)
{
    int len = snprintf(op->keystr, sizeof op->keystr, "%s%016" PRIx64, s->cfg->key_prefix, op->key);
    op->keylen = (size_t)len < sizeof op->keystr ? (size_t)len : sizeof op->keystr - 1;
}

static void start_set(sim_t *s, op_t *op)
{
    const sim_config_t *cfg = s->cfg;
    format_key(s, op);
    op->d = layout_data_chunks(op->size, cfg->small_object_max, cfg->d);
    op->p = cfg->p;
    op->n = op->d + op->p;
    op->chunk_size = ec_chunk_size(op->size, op->d);
    int rc = meta_place_rooms(&s->table, cfg->pool_size, room_of, evict_cb, s, op->keystr,
                              op->keylen, op->n, op->chunk_size, op->nodes);
    if (rc < 0) {
        COUNT(s, set_errors);
        int client = op->client;
        free(op);
        client_next(s, client);
        return;
    }
    op->version = ++s->next_version;
    if (s->cfg->store && !op->fill) store_write(s, op->size);
    observe(s, (sim_choice_t){.kind = SIM_CHOICE_PLACE,
                              .key = op->keystr,
                              .keylen = op->keylen,
                              .size = op->size,
                              .version = op->version,
                              .d = op->d,
                              .p = op->p,
                              .n = op->n,
                              .nodes = op->nodes});
    op->outstanding = op->n;
    for (int i = 0; i < op->n; i++) {
        node_t *n = &s->nodes[op->nodes[i]];
        n->bytes_since_sync += meta_chunk_cost(op->chunk_size, op->keylen);
        nreq_t *q = nreq_new(s, NR_SET, op->nodes[i], op->chunk_size, op);
        if (q) submit(s, q);
    }
}

/* Asks chunk i of the object a GET reads; the reply is good if the node still holds it. */
static void read_chunk(sim_t *s, op_t *op, int i)
{
    observe(s, (sim_choice_t){.kind = SIM_CHOICE_READ,
                              .key = op->keystr,
                              .keylen = op->keylen,
                              .version = op->version,
                              .slot = i,
                              .node = op->nodes[i]});
    nreq_t *q = nreq_new(s, NR_GET, op->nodes[i], op->chunk_size, op);
    if (!q) return;
    q->good = (int)(op->held >> i & 1);
    op->outstanding++;
    submit(s, q);
}

static void read_next_replica(sim_t *s, op_t *op)
{
    if (op->next_read < op->n)
        read_chunk(s, op, layout_read_slot(op->version, op->n, op->next_read++));
}

static void start_get(sim_t *s, op_t *op)
{
    format_key(s, op);
    COUNT(s, gets);
    meta_t *m = meta_find(&s->table, op->keystr, op->keylen);
    int lost = !m && meta_find(&s->lost, op->keystr, op->keylen);
    if (m || lost) COUNT(s, gets_of_stored);
    if (!m) {
        COUNT(s, misses);
        if (s->cfg->store) {
            store_read(s, op->size);
            COUNT(s, store_answers);
            if (lost) COUNT(s, store_answers_of_stored);
        }
        op_t *fill = op;
        *fill = (op_t){.client = op->client, .fill = 1, .key = op->key, .size = op->size};
        COUNT(s, fills);
        start_set(s, fill);
        return;
    }
    m->referenced = 1;
    m->atime_s = (uint32_t)(s->now / 1000000);
    op->stored = 1;
    int n = m->d + m->p;
    op->d = m->d;
    op->n = n;
    op->need = m->d;
    op->version = m->version;
    op->chunk_size = m->chunk_size;
    op->outstanding = 0;
    memcpy(op->nodes, meta_nodes(m), sizeof(uint16_t) * (size_t)n);
    op->held = ~m->lost_mask;
    /* Coded objects ask every node; replicated ones (d = 1) one replica at a time, in the
     * proxy's rotation, the next one only when a replica turns out lost. */
    if (m->d == 1)
        read_next_replica(s, op);
    else
        for (int i = 0; i < n; i++)
            read_chunk(s, op, i);
    /* Lost chunks found on the way are re-stored (the proxy holds the decoded object). */
    if (m->lost_mask && __builtin_popcountll(m->lost_mask) <= m->p) {
        for (int i = 0; i < n; i++) {
            if (!(m->lost_mask >> i & 1)) continue;
            nreq_t *q = nreq_new(s, NR_SET, meta_nodes(m)[i], m->chunk_size, NULL);
            if (q) submit(s, q);
            meta_crcs(m)[i] = stamp(s);
            s->nodes[meta_nodes(m)[i]].bytes_since_sync += m->chunk_size;
            COUNT(s, chunks_restored);
        }
        m->lost_mask = 0;
    }
}

static void client_next(sim_t *s, int client)
{
    s->clients_busy--;
    push(s, s->now, EV_ISSUE, client, 0, 0, NULL);
}

static void start_request(sim_t *s, int client, size_t idx)
{
    const sim_request_t *r = &s->reqs[idx];
    op_t *op = calloc(1, sizeof *op);
    if (!op) {
        s->failed = 1;
        return;
    }
    op->client = client;
    op->key = r->key;
    op->size = r->size;
    op->is_get = r->op == TRACE_OP_GET;
    if (op->is_get)
        start_get(s, op);
    else
        start_set(s, op);
}

/* ---------------- lifecycle ticks (the proxy's lifecycle.c decisions) ---------------- */

static void warmup_tick(sim_t *s)
{
    for (int i = 0; i < s->cfg->pool_size; i++) {
        node_t *n = &s->nodes[i];
        if (!sched_warmup_wanted(n->state == NS_AWAKE || n->state == NS_INVOKING)) continue;
        int cold = 0;
        int slot = platform_pick(s, i, &cold);
        n->warming_until_us = s->now + SCHED_WARMUP_GRACE_MS * 1000;
        if (slot < 0) continue;
        COUNT(s, warmups);
        n->inst[slot].busy = 1;
        adopt_instance(s, i, slot);
        /* The node returns at once: its instance is busy for the invocation's short run. */
        int64_t start = s->now + (cold ? s->cfg->cold_invoke_us : s->cfg->warm_invoke_us);
        bill(s, billing_kind_of_command("warmup"), s->cfg->warmup_run_us);
        push(s, start + s->cfg->warmup_run_us, EV_INST_FREE, i, slot, n->inst[slot].uid, NULL);
    }
    push(s, s->now + (int64_t)s->cfg->warmup_interval_ms * 1000, EV_WARMUP_TICK, 0, 0, 0, NULL);
}

static void backup_tick(sim_t *s)
{
    uint64_t interval = s->cfg->backup_interval_ms;
    for (int i = 0; i < s->cfg->pool_size && s->backups_active < s->cfg->backup_concurrency; i++) {
        node_t *n = &s->nodes[i];
        /* The simulated table is exact: there is no inventory to reconcile. */
        int eligible = sched_backup_source_ok(n->primary >= 0 && n->inst[n->primary].alive, 1,
                                              n->state == NS_INVOKING);

        if (sched_backup_check(&n->last_backup_ms, !n->backup_running, n->room.chunks_placed,
                               eligible, (uint64_t)now_ms(s) + 1, interval,
                               reclaim_rng_next(&s->rng)) != SCHED_BACKUP_START)
            continue;
        n->backup_running = 1;
        n->backup_started_us = s->now;
        s->backups_active++;
        COUNT(s, backups);
        nreq_t *q = nreq_new(s, NR_BACKUP, i, 0, NULL);
        if (q) submit(s, q);
    }
    push(s, s->now + (int64_t)sched_backup_tick_ms(interval) * 1000, EV_BACKUP_TICK, 0, 0, 0, NULL);
}

static void reclaim(sim_t *s, int nid, int slot, int random)
{
    node_t *n = &s->nodes[nid];
    n->inst[slot].alive = 0;
    if (random)
        COUNT(s, reclaims_random);
    else
        COUNT(s, reclaims_idle);
    if (slot == n->peer) n->peer = -1;
    if (slot != n->primary) return;
    n->primary = -1;
    /* The proxy sees the connection close and, if the node held data, invokes the function at
     * once: the instance that answers (the peer, or an empty newcomer) is adopted. */
    if (n->room.chunks_placed && !s->done) {
        invoke(s, nid, billing_kind_of_command("activate"));
    }
}

/* ---------------- the loop ---------------- */

static void handle(sim_t *s, const event_t *e)
{
    node_t *n = e->a >= 0 && e->a < s->cfg->pool_size ? &s->nodes[e->a] : NULL;
    switch (e->type) {
    case EV_ISSUE:
        if (s->next_req >= s->nreqs) {
            if (s->clients_busy == 0) s->done = 1;
            return;
        }
        s->clients_busy++;
        {
            size_t idx = s->next_req++;
            int64_t at = (int64_t)(s->reqs[idx].at * 1e6);
            if (at > s->now)
                push(s, at, EV_START_REQ, e->a, 0, idx, NULL);
            else
                start_request(s, e->a, idx);
        }
        return;
    case EV_START_REQ:
        start_request(s, e->a, (size_t)e->c);
        return;
    case EV_INV_START:
        if (e->c != n->inv_serial || n->state != NS_INVOKING) return;
        n->started = 1;
        n->inv_start_us = s->now;
        policy_begin(&n->pol, (uint64_t)now_ms(s),
                     (uint64_t)(now_ms(s) + s->cfg->function_timeout_ms));
        push(s, s->now + s->cfg->hello_us, EV_HELLO, e->a, 0, e->c, NULL);
        check_soon(s, e->a);
        return;
    case EV_HELLO:
        if (e->c != n->inv_serial || n->state != NS_INVOKING) return;
        n->state = NS_AWAKE;
        kick(s, e->a);
        return;
    case EV_ARRIVE:
        n->receiving--;
        if (n->state != NS_AWAKE) {
            /* The node returned meanwhile: the request waits for the next invocation. */
            nreq_t *q = e->ptr;
            QUEUE_PUSH_TAIL(&n->pending, q, next);
            kick(s, e->a);
            return;
        }
        QUEUE_PUSH_TAIL(&n->fifo, e->ptr, next);
        serve_next(s, e->a);
        check_soon(s, e->a);
        return;
    case EV_SERVED: {
        nreq_t *q;
        QUEUE_POP_HEAD(&n->fifo, q, next);
        n->serving = 0;
        push(s, s->now + s->cfg->rtt_us / 2, EV_REPLY, -1, 0, 0, q);
        if (!node_busy(n)) policy_on_done(&n->pol, (uint64_t)now_ms(s));
        serve_next(s, e->a);
        check_soon(s, e->a);
        return;
    }
    case EV_REPLY:
        reply(s, e->ptr);
        return;
    case EV_CHECK: {
        if (e->c != n->check_gen || !n->started) return;
        if (policy_should_return(&n->pol, (uint64_t)now_ms(s), node_busy(n)))
            node_return(s, e->a);
        else
            check_soon(s, e->a);
        return;
    }
    case EV_KICK:
        n->kick_armed = 0;
        kick(s, e->a);
        return;
    case EV_INST_FREE:
        if (n->inst[e->b].alive && n->inst[e->b].uid == e->c) inst_idle(s, e->a, e->b, s->now);
        return;
    case EV_RECLAIM: {
        inst_t *in = &n->inst[e->b];
        if (s->done || !in->alive || in->busy || in->uid != e->c || in->last_used_us != e->d)
            return; /* used since: a new idle period drew its own deadline */
        reclaim(s, e->a, e->b, s->now - in->last_used_us < s->idle_limit_us);
        return;
    }
    case EV_BACKUP_END: {
        /* e->b: the peer's slot; e->c: its invocation's duration. */
        bill(s, billing_kind_of_command("backup-peer"), (int64_t)e->c + s->cfg->post_us);
        if (n->inst[e->b].alive) {
            inst_idle(s, e->a, e->b, s->now + s->cfg->post_us);
            if (n->peer == e->b) n->peer_synced_ms = now_ms(s);
        }
        n->backup_running = 0;
        n->last_backup_ms = (uint64_t)now_ms(s) + 1;
        s->backups_active--;
        n->extra_inflight--;
        if (n->started && !node_busy(n)) policy_on_done(&n->pol, (uint64_t)now_ms(s));
        check_soon(s, e->a);
        return;
    }
    case EV_WARMUP_TICK:
        if (!s->done) warmup_tick(s);
        return;
    case EV_BACKUP_TICK:
        if (!s->done) backup_tick(s);
        return;
    case EV_KILL:
        /* A serving instance is killed once it is idle: the model has no failed request. */
        if (n->primary >= 0 && n->inst[n->primary].alive && n->inst[n->primary].busy)
            push(s, s->now + 1000, EV_KILL, e->a, 0, 0, NULL);
        else if (n->primary >= 0 && n->inst[n->primary].alive)
            reclaim(s, e->a, n->primary, 1);
        return;
    case EV_REPAIR:
        repair_node(s, e->a);
        return;
    }
}

void sim_config_defaults(sim_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->pool_size = 32;
    c->node_memory_mb = 256;
    c->node_reserved_mb = 32;
    c->d = 10;
    c->p = 2;
    c->small_object_max = 64 << 10;
    c->key_prefix = "icb0:";
    c->warmup_interval_ms = 60000;
    c->backup_interval_ms = 300000;
    c->backup_concurrency = SCHED_BACKUP_CONCURRENCY;
    c->billing_ms = 1;
    c->max_instances = 4;
    c->idle_reclaim_ms = 27 * 60000;
    c->function_timeout_ms = 900000;
    c->reclaim_rate = 0;
    c->seed = 1;
    c->policy = (policy_config_t){.kind = POLICY_ANTICIPATORY,
                                  .idle_return_ms = 10,
                                  .deadline_margin_ms = 50,
                                  .billing_ms = 1,
                                  .billing_margin_ms = 0,
                                  .billing_idle_ms = 10};
    c->node_bandwidth = 0;
    c->upload_bandwidth = 0;
    c->rtt_us = 300;
    c->warm_invoke_us = 3000;
    c->cold_invoke_us = 60000;
    c->hello_us = 2000;
    c->warmup_run_us = 3000;
    c->post_us = 2000;
    c->clients = 1;
}

void sim_result_free(sim_result_t *r)
{
    free(r->hours);
    memset(r, 0, sizeof *r);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int sim_run(const sim_config_t *cfg, const sim_request_t *reqs, size_t nreqs, sim_result_t *out,
            char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (cfg->pool_size < 1 || cfg->pool_size > SIM_POOL_MAX)
        return fail(err, errlen, "pool size must be 1..%d", SIM_POOL_MAX);
    if (!ec_params_valid(cfg->d, cfg->p) || cfg->d + cfg->p > cfg->pool_size)
        return fail(err, errlen, "bad d=%d p=%d for a pool of %d", cfg->d, cfg->p, cfg->pool_size);
    if (cfg->node_memory_mb <= cfg->node_reserved_mb)
        return fail(err, errlen, "node memory must exceed the reserved memory");
    if (cfg->clients < 1 || cfg->clients > SIM_CLIENTS_MAX)
        return fail(err, errlen, "clients must be 1..%d", SIM_CLIENTS_MAX);
    if (cfg->max_instances < 2)
        return fail(err, errlen, "max instances must be at least 2 (a backup needs a peer)");
    if (cfg->billing_ms < 1) return fail(err, errlen, "billing must be at least 1 ms");
    if (cfg->backup_concurrency < 1)
        return fail(err, errlen, "backup concurrency must be at least 1");
    if (!cfg->key_prefix || strlen(cfg->key_prefix) > 32)
        return fail(err, errlen, "key prefix of 0..32 characters");
    sim_t s = {.cfg = cfg, .reqs = reqs, .nreqs = nreqs, .res = out};
    s.nodes = calloc((size_t)cfg->pool_size, sizeof *s.nodes);
    if (!s.nodes || meta_table_init(&s.table) < 0 || meta_table_init(&s.lost) < 0) {
        free(s.nodes);
        meta_table_free(&s.table);
        return fail(err, errlen, "out of memory");
    }
    reclaim_rng_seed(&s.rng, cfg->seed, UINT64_MAX);
    s.reclaim_per_us = reclaim_rate_per_us(cfg->reclaim_rate, 1.0);
    s.idle_limit_us = cfg->idle_reclaim_ms > 0 ? reclaim_idle_limit_us(cfg->idle_reclaim_ms, 1.0)
                                               : RECLAIM_NEVER_US;
    /* The pool starts warm (icproxy's warm-on-start): one idle instance per function. */
    for (int i = 0; i < cfg->pool_size; i++) {
        node_t *n = &s.nodes[i];
        n->room.mem_limit = (uint64_t)(cfg->node_memory_mb - cfg->node_reserved_mb) << 20;
        n->primary = 0;
        n->peer = -1;
        n->ninst = 1;
        n->inst[0] = (inst_t){.alive = 1, .uid = ++s.next_uid};
        reclaim_rng_seed(&n->inst[0].rng, cfg->seed, n->inst[0].uid);
        policy_init(&n->pol, &cfg->policy);
        throttle_bucket_init(&n->bucket, cfg->node_bandwidth, 0, 0);
        arm_reclaim(&s, i, 0);
    }
    for (int c = 0; c < cfg->clients; c++)
        push(&s, 0, EV_ISSUE, c, 0, 0, NULL);
    if (cfg->warmup_interval_ms)
        push(&s, (int64_t)cfg->warmup_interval_ms * 1000, EV_WARMUP_TICK, 0, 0, 0, NULL);
    if (cfg->backup_interval_ms) push(&s, 0, EV_BACKUP_TICK, 0, 0, 0, NULL);
    for (int k = 0; k < cfg->nkills && k < SIM_KILLS_MAX; k++)
        if (cfg->kills[k].node >= 0 && cfg->kills[k].node < cfg->pool_size)
            push(&s, cfg->kills[k].at_ms * 1000, EV_KILL, cfg->kills[k].node, 0, 0, NULL);
    int64_t last_done = 0;
    while (s.nheap && !s.failed) {
        event_t e = pop(&s);
        s.now = e.t;
        out->events++;
        int was_done = s.done;
        handle(&s, &e);
        if (s.done && !was_done) last_done = s.now;
    }
    out->end_s = (double)last_done / 1e6;
    out->objects_end = s.table.count;
    int failed = s.failed;
    for (nreq_t *q = s.free_nreqs, *next; q; q = next) {
        next = q->next;
        free(q);
    }
    meta_table_free(&s.table);
    meta_table_free(&s.lost);
    free(s.nodes);
    free(s.heap);
    free(s.lost_scratch);
    if (failed) {
        sim_result_free(out);
        return fail(err, errlen, "out of memory");
    }
    return 0;
}
