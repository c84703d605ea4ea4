/* sync.c -- the source side of a backup (see sync.h). */
#include "sync.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "ev.h"
#include "inventory.h"
#include "invoke.h"
#include "log.h"
#include "net.h"
#include "nodeauth.h"
#include "nodeproto.h"
#include "resp.h"
#include "stream.h"
#include "tls.h"

#define SYNC_READ_MAX (256 * 1024)    /* reply bytes per read */
#define SYNC_BLOB_READ_MAX (4u << 20) /* inventory bytes per read */
#define SYNC_STEP_BUDGET 4096 /* inventory lines, store buckets or journal records per step */
#define SYNC_INDEX_MIN_SLOTS 1024
#define SYNC_TAG_SHIFT 40 /* slot tag: the hash's top 24 bits */
#define SYNC_TAG_MASK 0xffffffULL

/* ---------------- the peer index ---------------- */

void sync_index_init(sync_index_t *x, const char *blob, size_t blob_len)
{
    memset(x, 0, sizeof *x);
    x->blob = blob;
    x->blob_len = blob_len;
}

void sync_index_free(sync_index_t *x)
{
    free(x->slots);
    sync_index_init(x, NULL, 0);
}

static void slot_put(uint64_t *slots, size_t nslots, size_t line_off, uint64_t hash)
{
    size_t mask = nslots - 1, i = (size_t)hash & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = ((uint64_t)(line_off + 1) << 24) | (hash >> SYNC_TAG_SHIFT & SYNC_TAG_MASK);
}

static size_t slot_line(uint64_t slot)
{
    return (size_t)(slot >> 24) - 1;
}

/* Doubles the table; the full hashes come back by parsing the lines again. */
static int index_grow(sync_index_t *x)
{
    size_t n = x->nslots ? x->nslots * 2 : SYNC_INDEX_MIN_SLOTS;
    uint64_t *slots = calloc(n, sizeof *slots);
    if (!slots) return -ENOMEM;
    for (size_t i = 0; i < x->nslots; i++) {
        if (!x->slots[i]) continue;
        size_t pos = slot_line(x->slots[i]);
        inv_entry_t e;
        if (inv_next(x->blob, x->blob_len, &pos, &e) != 1) continue; /* added lines parse */
        slot_put(slots, n, slot_line(x->slots[i]), store_hash(e.key, e.keylen, e.index, e.version));
    }
    free(x->slots);
    x->slots = slots;
    x->nslots = n;
    return 0;
}

int sync_index_add(sync_index_t *x, size_t line_off, const char *key, size_t key_len,
                   uint32_t index, uint64_t version)
{
    if ((x->count + 1) * 2 > x->nslots && index_grow(x) < 0) return -ENOMEM;
    slot_put(x->slots, x->nslots, line_off, store_hash(key, key_len, index, version));
    x->count++;
    return 0;
}

int sync_index_has(const sync_index_t *x, const store_entry_t *e)
{
    if (!x->nslots) return 0;
    size_t mask = x->nslots - 1;
    uint64_t tag = e->hash >> SYNC_TAG_SHIFT & SYNC_TAG_MASK;
    for (size_t i = (size_t)e->hash & mask; x->slots[i]; i = (i + 1) & mask) {
        if ((x->slots[i] & SYNC_TAG_MASK) != tag) continue;
        size_t pos = slot_line(x->slots[i]);
        inv_entry_t p;
        if (inv_next(x->blob, x->blob_len, &pos, &p) != 1) continue;
        if (p.index == e->index && p.version == e->version && p.keylen == e->key_len &&
            memcmp(p.key, e->key, e->key_len) == 0)
            /* The same id with another body (a damaged copy), or another expiry (CEXPIRE), is
             * sent again. */
            return p.crc == e->crc && p.chunk_len == e->body_len && p.expire_ms == e->expire_ms;
    }
    return 0;
}

/* ---------------- state ---------------- */

void sync_init(sync_t *s, store_t *store, const sync_config_t *cfg)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->store = store;
    s->fd = -1;
    buf_init(&s->in);
    outq_init(&s->out, store);
    store_journal_init(&s->journal, SYNC_JOURNAL_MAX_RECS, SYNC_JOURNAL_MAX_KEY_BYTES);
    store_journal_init(&s->replay, SYNC_JOURNAL_MAX_RECS, SYNC_JOURNAL_MAX_KEY_BYTES);
    sync_index_init(&s->peer, NULL, 0);
}

/* Gives back everything a running sync holds; the counters and status stay for the report. */
static void release(sync_t *s)
{
    tls_free(s->tls);
    s->tls = NULL;
    if (s->fd >= 0) close(s->fd);
    s->fd = -1;
    if (s->store->journal == &s->journal) store_set_journal(s->store, NULL);
    outq_free(&s->out);
    outq_init(&s->out, s->store);
    buf_free(&s->in);
    free(s->fifo);
    s->fifo = NULL;
    s->fifo_head = s->fifo_n = s->fifo_cap = 0;
    s->window_bytes = 0;
    sync_index_free(&s->peer);
    free(s->blob);
    s->blob = NULL;
    s->blob_len = s->blob_got = s->blob_pos = 0;
    s->blob_reading = 0;
    store_journal_free(&s->journal);
    store_journal_free(&s->replay);
    s->replay_pos = 0;
    s->more = 0;
}

void sync_free(sync_t *s)
{
    release(s);
    s->phase = SYNC_IDLE;
}

int sync_active(const sync_t *s)
{
    return s->phase != SYNC_IDLE && s->phase != SYNC_FINISHED;
}

int sync_finished(const sync_t *s)
{
    return s->phase == SYNC_FINISHED;
}

static void finish(sync_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void finish(sync_t *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->status, sizeof s->status, fmt, ap);
    va_end(ap);
    /* The status travels as one bulk, but keep it one word for logs and humans. */
    for (char *p = s->status; *p; p++)
        if (*p == ' ' || *p == '\r' || *p == '\n') *p = '_';
    release(s);
    s->phase = SYNC_FINISHED;
}

#define fail(s, ...) finish(s, "failed:" __VA_ARGS__)

void sync_abort(sync_t *s, const char *reason)
{
    if (sync_active(s)) fail(s, "%s", reason);
}

void sync_reset(sync_t *s)
{
    release(s);
    s->phase = SYNC_IDLE;
    s->status[0] = 0;
}

/* Fresh counters for a new backup. */
static void begin(sync_t *s, const char *token)
{
    snprintf(s->token, sizeof s->token, "%s", token);
    s->chunks_sent = s->bytes_sent = s->chunks_deleted = 0;
    s->status[0] = 0;
    s->started_ms = s->last_progress = ev_now_ms();
}

/* Tokens and relay addresses go into a JSON string unescaped. */
static int plain_text(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] <= ' ' || p[i] > '~' || p[i] == '"' || p[i] == '\\') return 0;
    return 1;
}

int sync_start(sync_t *s, const char *relay, size_t relay_len, const char *token, size_t token_len,
               const char *endpoint, size_t endpoint_len, const char *sigv4, size_t sigv4_len,
               struct tls_ctx *tls, char *err, size_t errlen)
{
    if (s->phase != SYNC_IDLE) {
        snprintf(err, errlen, "a backup is already running");
        return -EBUSY;
    }
    char relay_s[300], host[256];
    int port = 0;
    if (relay_len == 0 || relay_len >= sizeof relay_s || !plain_text(relay, relay_len)) {
        snprintf(err, errlen, "relay must be host:port");
        return -EINVAL;
    }
    memcpy(relay_s, relay, relay_len);
    relay_s[relay_len] = 0;
    if (net_split_hostport(relay_s, host, sizeof host, &port) < 0 || !host[0] || port <= 0 ||
        port > 65535) {
        snprintf(err, errlen, "relay must be host:port");
        return -EINVAL;
    }
    if (token_len == 0 || token_len > SYNC_MAX_TOKEN || !plain_text(token, token_len)) {
        snprintf(err, errlen, "token must be 1..%d printable characters", SYNC_MAX_TOKEN);
        return -EINVAL;
    }
    char sigv4_s[128] = "";
    if (sigv4_len >= sizeof sigv4_s || (sigv4_len && !plain_text(sigv4, sigv4_len))) {
        snprintf(err, errlen, "sigv4 must be at most %zu printable characters", sizeof sigv4_s - 1);
        return -EINVAL;
    }
    if (sigv4_len) memcpy(sigv4_s, sigv4, sigv4_len);
    char token_s[SYNC_MAX_TOKEN + 1];
    memcpy(token_s, token, token_len);
    token_s[token_len] = 0;
    /* Sealed as the proxy seals its events: the peer obeys nothing else. */
    char inner[600], payload[1400], nonce[NODEAUTH_NONCE_HEX + 1];
    if (!s->cfg.secret || nodeauth_random_hex(nonce, NODEAUTH_NONCE_BYTES) < 0) {
        snprintf(err, errlen, "no node secret to seal the peer's event with");
        return -EINVAL;
    }
    int ilen =
        snprintf(inner, sizeof inner,
                 "{\"cmd\":\"backup-peer\",\"node_id\":%lld,\"relay\":\"%s\","
                 "\"token\":\"%s\",\"ts\":%llu,\"nonce\":\"%s\",\"epoch\":%lld%s}",
                 (long long)s->node_id, relay_s, token_s, (unsigned long long)clock_wall_ms(),
                 nonce, (long long)s->epoch, tls ? ",\"tls\":true" : "");
    /* Without a function name the invocation below fails with the reason. */
    int len = ilen > 0 && (size_t)ilen < sizeof inner
                  ? nodeauth_event_seal(s->cfg.secret, s->cfg.function ? s->cfg.function : "", inner,
                                    (size_t)ilen, payload, sizeof payload)
                  : -ENOSPC;
    if (len < 0) {
        snprintf(err, errlen, "backup-peer event too long");
        return -EINVAL;
    }
    uint64_t t0 = ev_now_ms();
    int rc = invoke_event(endpoint, endpoint_len, s->cfg.function, sigv4_s, payload, (size_t)len,
                          SYNC_INVOKE_TIMEOUT_MS, err, errlen);
    if (rc < 0) return rc;
    begin(s, token_s);
    s->tls_ctx = tls;
    snprintf(s->relay_host, sizeof s->relay_host, "%s", host);
    s->relay_port = port;
    s->phase = SYNC_CONNECT;
    log_info("event=backup_start token=%s relay=%s invoke_ms=%llu chunks=%zu", s->token, relay_s,
             (unsigned long long)(ev_now_ms() - t0), s->store->count);
    return 0;
}

/* ---------------- requests ---------------- */

static int push_req(sync_t *s, sync_req_kind_t kind, size_t bytes)
{
    if (s->fifo_head == s->fifo_n) s->fifo_head = s->fifo_n = 0;
    if (s->fifo_n == s->fifo_cap) {
        if (s->fifo_head > 0) {
            memmove(s->fifo, s->fifo + s->fifo_head, (s->fifo_n - s->fifo_head) * sizeof *s->fifo);
            s->fifo_n -= s->fifo_head;
            s->fifo_head = 0;
        } else {
            size_t cap = s->fifo_cap ? s->fifo_cap * 2 : 64;
            sync_req_t *p = realloc(s->fifo, cap * sizeof *p);
            if (!p) return -ENOMEM;
            s->fifo = p;
            s->fifo_cap = cap;
        }
    }
    s->fifo[s->fifo_n++] = (sync_req_t){.kind = kind, .bytes = (uint32_t)bytes};
    s->window_bytes += bytes;
    return 0;
}

static void pop_req(sync_t *s)
{
    s->window_bytes -= s->fifo[s->fifo_head].bytes;
    s->fifo_head++;
}

static size_t outstanding(const sync_t *s)
{
    return s->fifo_n - s->fifo_head;
}

static int room(const sync_t *s)
{
    return outstanding(s) < SYNC_WINDOW_REQUESTS && s->window_bytes < SYNC_WINDOW_BYTES;
}

/* CSET key index version crc size d p expire_ms chunk, the body written from the store. */
static void queue_cset(sync_t *s, store_entry_t *e)
{
    nodeproto_cset_t c = {.key = e->key,
                          .keylen = e->key_len,
                          .index = e->index,
                          .version = e->version,
                          .crc = e->crc,
                          .size = e->obj_size,
                          .d = e->d,
                          .p = e->p,
                          .expire_ms = e->expire_ms,
                          .body_len = e->body_len};
    int rc = nodeproto_put_cset(&s->out.small, &c);
    if (!rc) rc = outq_push_chunk(&s->out, e);
    if (!rc) rc = nodeproto_put_body_end(&s->out.small);
    if (!rc) rc = push_req(s, SYNC_REQ_CSET, e->body_len);
    if (rc) fail(s, "out_of_memory");
}

/* CDEL key index version, and with `tomb` the TOMB that makes the peer keep the key's tombstone. */
static void queue_cdel(sync_t *s, const char *key, size_t key_len, uint32_t index, uint64_t version,
                       int tomb)
{
    int rc = nodeproto_put_cdel(&s->out.small, key, key_len, index, version, tomb);
    if (!rc) rc = push_req(s, SYNC_REQ_CDEL, 0);
    if (rc) fail(s, "out_of_memory");
}

static void queue_tomb(const store_tomb_t *t, void *arg)
{
    queue_cdel(arg, t->key, t->key_len, 0, t->version, 1);
}

static void queue_simple(sync_t *s, nodeproto_cmd_t cmd, sync_req_kind_t kind)
{
    if (nodeproto_put_simple(&s->out.small, cmd) < 0 || push_req(s, kind, 0) < 0)
        fail(s, "out_of_memory");
}

int sync_attach(sync_t *s, int fd, const char *token, const char *challenge)
{
    int rc = net_set_nonblock(fd, 1);
    if (rc < 0) {
        tls_free(s->tls);
        s->tls = NULL;
        close(fd);
        return rc;
    }
    if (s->phase == SYNC_IDLE) begin(s, token);
    s->fd = fd;
    s->last_progress = ev_now_ms();
    /* The relay pairs the two ends by token, once each proved the node secret over its
     * challenge; it answers nothing. */
    char proof[NODEAUTH_MAC_HEX + 1];
    if (challenge && s->cfg.secret)
        nodeauth_relay_proof(s->cfg.secret, challenge, strlen(challenge), s->token, strlen(s->token),
                         "source", 6, proof);
    if (nodeproto_put_relay(&s->out.small, s->token, "source",
                            challenge && s->cfg.secret ? proof : NULL) < 0) {
        fail(s, "out_of_memory");
        return -ENOMEM;
    }
    s->phase = SYNC_INVENTORY;
    queue_simple(s, NODEPROTO_INVENTORY, SYNC_REQ_INVENTORY);
    return sync_active(s) ? 0 : -ENOMEM;
}

/* ---------------- the walk ---------------- */

static void inventory_arrived(sync_t *s)
{
    sync_index_init(&s->peer, s->blob, s->blob_len);
    s->blob_pos = 0;
    /* From here on the store's changes are journaled, and the scan leaves newer commits to it. */
    s->snapshot_seq = s->store->commits;
    store_journal_clear(&s->journal);
    store_set_journal(s->store, &s->journal);
    s->phase = SYNC_DELETE;
    log_debug("event=backup_inventory token=%s bytes=%zu", s->token, s->blob_len);
}

static void scan_visit(store_entry_t *e, void *arg)
{
    sync_t *s = arg;
    if (s->phase != SYNC_SCAN) return; /* failed earlier in this bucket */
    if (e->commit_seq > s->snapshot_seq || sync_index_has(&s->peer, e)) return;
    queue_cset(s, e);
}

/* Queues requests while the window has room, at most SYNC_STEP_BUDGET units of work. */
static void produce(sync_t *s)
{
    s->more = 0;
    if (s->store->journal == &s->journal && s->journal.overflow) {
        fail(s, "journal_overflow");
        return;
    }
    for (int budget = SYNC_STEP_BUDGET; sync_active(s); budget--) {
        if (!room(s)) return;
        if (budget == 0) {
            s->more = 1;
            return;
        }
        switch (s->phase) {
        case SYNC_DELETE: {
            inv_entry_t e;
            size_t at = s->blob_pos;
            int rc = inv_next(s->blob, s->blob_len, &s->blob_pos, &e);
            if (rc < 0) {
                fail(s, "malformed_inventory_at_byte_%zu", at);
                return;
            }
            if (rc == 0) {
                s->phase = SYNC_SCAN;
                s->cursor = 0;
                break;
            }
            if (e.tomb) break; /* the peer's tombstones: the source sends its own below */
            if (sync_index_add(&s->peer, at, e.key, e.keylen, e.index, e.version) < 0) {
                fail(s, "out_of_memory");
                return;
            }
            if (!store_get(s->store, e.key, e.keylen, e.index, e.version))
                queue_cdel(s, e.key, e.keylen, e.index, e.version, 0);
            break;
        }
        case SYNC_SCAN:
            s->cursor = store_scan(s->store, s->cursor, scan_visit, s);
            if (s->phase == SYNC_SCAN && s->cursor == 0) {
                /* The source's tombstones, so the peer, should it take over, keeps honouring
                 * the deletes (they are few: one small entry per deleted key, for their TTL). */
                store_tomb_expire(s->store, clock_wall_ms());
                store_tomb_each(s->store, queue_tomb, s);
                sync_index_free(&s->peer);
                free(s->blob);
                s->blob = NULL;
                s->blob_len = 0;
                s->phase = SYNC_JOURNAL;
            }
            break;
        case SYNC_JOURNAL:
            if (s->replay_pos == s->replay.n) {
                if (s->journal.overflow) {
                    fail(s, "journal_overflow");
                    return;
                }
                if (s->journal.n == 0) {
                    /* Everything the store changed is queued before this, and the peer answers
                     * in order: once it says +OK it holds exactly what the source held here. */
                    store_set_journal(s->store, NULL);
                    queue_simple(s, NODEPROTO_SYNCDONE, SYNC_REQ_SYNCDONE);
                    s->phase = SYNC_DONE_SENT;
                    return;
                }
                store_journal_t t = s->replay;
                s->replay = s->journal;
                s->journal = t;
                store_journal_clear(&s->journal);
                s->replay_pos = 0;
                break;
            }
            {
                size_t i = s->replay_pos++;
                const store_journal_rec_t *r = &s->replay.recs[i];
                const char *key = store_journal_key(&s->replay, i);
                /* The current state, whatever the change was. */
                store_entry_t *e = store_get(s->store, key, r->key_len, r->index, r->version);
                if (r->op == STORE_OP_TOMB)
                    queue_cdel(s, key, r->key_len, r->index, r->version, 1);
                else if (e)
                    queue_cset(s, e);
                else
                    queue_cdel(s, key, r->key_len, r->index, r->version, 0);
            }
            break;
        default:
            return;
        }
    }
}

/* ---------------- replies ---------------- */

/* Consumes the replies in s->in. Returns 0, or -1 once the sync is finished. */
static int process_replies(sync_t *s)
{
    for (;;) {
        if (s->blob_reading) {
            if (s->blob_got < s->blob_len) {
                size_t want = s->blob_len - s->blob_got;
                size_t take = buf_len(&s->in) < want ? buf_len(&s->in) : want;
                if (take) memcpy(s->blob + s->blob_got, buf_head(&s->in), take);
                buf_consume(&s->in, take);
                s->blob_got += take;
                if (s->blob_got < s->blob_len) return 0;
            }
            if (buf_len(&s->in) < 2) return 0;
            if (nodeproto_body_in_buffer(buf_head(&s->in), 2, 0) < 0) {
                fail(s, "bad_inventory_reply");
                return -1;
            }
            buf_consume(&s->in, 2);
            s->blob_reading = 0;
            pop_req(s);
            inventory_arrived(s);
            continue;
        }
        if (buf_len(&s->in) == 0) return 0;
        if (outstanding(s) == 0) {
            fail(s, "unexpected_reply_from_peer");
            return -1;
        }
        sync_req_t *q = &s->fifo[s->fifo_head];
        static const nodeproto_cmd_t asked[] = {
            [SYNC_REQ_INVENTORY] = NODEPROTO_INVENTORY,
            [SYNC_REQ_CSET] = NODEPROTO_CSET,
            [SYNC_REQ_CDEL] = NODEPROTO_CDEL,
            [SYNC_REQ_SYNCDONE] = NODEPROTO_SYNCDONE,
        };
        nodeproto_reply_t h;
        ssize_t n = nodeproto_parse_reply(buf_head(&s->in), buf_len(&s->in), asked[q->kind], &h);
        if (n == 0) return 0;
        if (n == NODEPROTO_ETOOBIG && q->kind == SYNC_REQ_INVENTORY) {
            fail(s, "inventory_too_large");
            return -1;
        }
        if (n < 0) {
            fail(s, "bad_reply_from_peer");
            return -1;
        }
        if (h.kind == NODEPROTO_REPLY_ERROR) {
            fail(s, "peer_error:%.*s", (int)(h.len < 60 ? h.len : 60), h.str);
            return -1;
        }
        int ok = 0;
        switch (q->kind) {
        case SYNC_REQ_INVENTORY:
            s->blob = malloc(h.body_len ? h.body_len : 1);
            if (!s->blob) {
                fail(s, "out_of_memory");
                return -1;
            }
            s->blob_len = h.body_len;
            s->blob_got = 0;
            s->blob_reading = 1;
            buf_consume(&s->in, (size_t)n);
            continue; /* popped once its bytes are in */
        case SYNC_REQ_CSET:
            ok = h.len == 2 && memcmp(h.str, "OK", 2) == 0;
            if (ok) {
                s->chunks_sent++;
                s->bytes_sent += q->bytes;
            }
            break;
        case SYNC_REQ_CDEL:
            ok = h.n == 0 || h.n == 1;
            if (ok) s->chunks_deleted += (uint64_t)h.n;
            break;
        case SYNC_REQ_SYNCDONE:
            ok = h.len == 2 && memcmp(h.str, "OK", 2) == 0;
            if (ok) {
                buf_consume(&s->in, (size_t)n);
                pop_req(s);
                finish(s, "ok");
                return -1;
            }
            break;
        }
        if (!ok) {
            fail(s, "bad_reply_from_peer");
            return -1;
        }
        buf_consume(&s->in, (size_t)n);
        pop_req(s);
    }
}

/* One read: the inventory's bytes straight into their buffer, replies through s->in.
 * Returns 0, or -1 once the sync is finished. */
static int read_some(sync_t *s)
{
    ssize_t n;
    if (s->blob_reading && s->blob_got < s->blob_len && buf_len(&s->in) == 0) {
        size_t want = s->blob_len - s->blob_got;
        if (want > SYNC_BLOB_READ_MAX) want = SYNC_BLOB_READ_MAX;
        n = stream_recv(s->fd, s->tls, "relay", s->blob + s->blob_got, want);
        if (n > 0) s->blob_got += (size_t)n;
    } else if (buf_reserve(&s->in, SYNC_READ_MAX) < 0) {
        n = -ENOMEM;
    } else {
        n = stream_recv(s->fd, s->tls, "relay", s->in.data + s->in.end, SYNC_READ_MAX);
        if (n > 0) s->in.end += (size_t)n;
    }
    if (n == -EAGAIN || n == -EWOULDBLOCK) return 0;
    if (n == 0) {
        fail(s, "relay_closed");
        return -1;
    }
    if (n < 0) {
        fail(s, "relay_read:%s", strerror((int)-n));
        return -1;
    }
    s->last_progress = ev_now_ms();
    return process_replies(s);
}

static void write_some(sync_t *s)
{
    if (!outq_pending(&s->out)) return;
    ssize_t w = s->tls ? outq_write_with(&s->out, stream_tls_writer, s->tls, UINT64_MAX, SIZE_MAX)
                       : outq_write(&s->out, s->fd);
    if (w < 0) {
        fail(s, "relay_write:%s", strerror((int)-w));
        return;
    }
    if (w > 0) s->last_progress = ev_now_ms();
}

/* Reads the relay's CHALLENGE (an 80-byte message, sent first) from a non-blocking socket (TLS
 * when tls is not NULL), byte by byte so nothing after it is taken. 0, or
 * -ETIMEDOUT/-EPROTO/-errno. */
static int read_challenge(int fd, struct tls *tls, int timeout_ms, char *out)
{
    char msg[96];
    size_t len = 0;
    uint64_t until = ev_now_ms() + (uint64_t)timeout_ms;
    while (len < sizeof msg) {
        uint64_t now = ev_now_ms();
        if (now >= until) return -ETIMEDOUT;
        if (!stream_input_held(tls)) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int pr = poll(&pfd, 1, (int)(until - now));
            if (pr < 0 && errno == EINTR) continue;
            if (pr < 0) return -errno;
            if (pr == 0) continue;
        }
        ssize_t n = stream_recv(fd, tls, "relay", msg + len, 1);
        if (n == 0) return -ECONNRESET;
        if (n == -EAGAIN || n == -EINTR) continue;
        if (n < 0) return (int)n;
        len++;
        ssize_t used = nodeauth_parse_challenge(msg, len, out);
        if (used < 0) return -EPROTO;
        if (used == 0) continue;
        return 0;
    }
    return -EPROTO;
}

static void connect_relay(sync_t *s)
{
    int fd = net_connect(s->relay_host, s->relay_port, s->cfg.connect_timeout_ms);
    int rc = fd < 0 ? fd : net_set_nonblock(fd, 1);
    if (rc < 0) {
        if (fd >= 0) close(fd);
        fail(s, "relay_unreachable:%s", strerror(-rc));
        return;
    }
    if (s->tls_ctx) {
        s->tls = stream_tls_dial(s->tls_ctx, fd, s->relay_host, s->relay_port, "relay",
                                 s->cfg.connect_timeout_ms, &rc);
        if (!s->tls) {
            close(fd);
            fail(s, "relay_tls:%s", rc == -EPROTO ? "handshake_failed" : strerror(-rc));
            return;
        }
    }
    char challenge[NODEAUTH_NONCE_HEX + 1];
    rc = read_challenge(fd, s->tls, s->cfg.connect_timeout_ms, challenge);
    if (rc < 0) {
        tls_free(s->tls);
        s->tls = NULL;
        close(fd);
        fail(s, "relay_no_challenge:%s", strerror(-rc));
        return;
    }
    sync_attach(s, fd, s->token, challenge);
}

/* ---------------- driving ---------------- */

int sync_fd(const sync_t *s)
{
    return sync_active(s) ? s->fd : -1;
}

short sync_poll_events(const sync_t *s)
{
    if (s->fd < 0) return 0;
    return (short)(POLLIN | (outq_pending(&s->out) ? POLLOUT : 0));
}

int sync_wait_ms(const sync_t *s, uint64_t now)
{
    if (!sync_active(s)) return -1;
    if (s->phase == SYNC_CONNECT || s->more || stream_input_held(s->tls)) return 0;
    uint64_t end = s->last_progress + s->cfg.timeout_ms;
    if (end <= now) return 0;
    uint64_t w = end - now;
    return w > 60000 ? 60000 : (int)w;
}

void sync_step(sync_t *s, short revents, uint64_t now)
{
    if (!sync_active(s)) return;
    if (s->phase == SYNC_CONNECT) {
        connect_relay(s);
        if (!sync_active(s)) return;
    }
    if ((revents & (POLLIN | POLLHUP | POLLERR) || stream_input_held(s->tls)) && read_some(s) < 0)
        return;
    produce(s);
    if (!sync_active(s)) return;
    write_some(s);
    if (!sync_active(s)) return;
    if (now > s->last_progress && now - s->last_progress >= s->cfg.timeout_ms) fail(s, "timeout");
}
