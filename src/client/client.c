/* client.c -- libinfinicache operations: erasure-coded ICSET, first-d ICGET with spares and
 * repair, DEL, EXISTS. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "icc.h"
#include "layout.h"
#include "tls.h"
#include "net.h"

#define ICC_DEFAULT_PROXY "127.0.0.1:6378"
#define ICC_MAX_INFO (16u << 20) /* INFO text larger than this is refused */

void ic_options_init(ic_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->d = 10;
    o->p = 2;
    o->small_max = 64 * 1024;
    o->max_object_size = (uint64_t)1 << 30;
    o->connect_timeout_ms = 1000;
    o->op_timeout_ms = 10000;
    o->chunk_deadline_ms = 2000;
    o->repair = 1;
    o->first_d = 1;
}

const char *ic_strerror(int err)
{
    switch (err) {
    case IC_OK: return "ok";
    case IC_HIT: return "hit";
    case IC_EINVAL: return "invalid argument";
    case IC_ENOMEM: return "out of memory";
    case IC_ECONNECT: return "cannot connect to the proxy";
    case IC_EIO: return "connection to the proxy failed";
    case IC_ETIMEDOUT: return "the proxy did not answer in time";
    case IC_EPROTO: return "malformed reply from the proxy";
    case IC_ESERVER: return "the proxy reported an error";
    case IC_ETOOSMALL: return "buffer too small for the object";
    case IC_ECORRUPT: return "too few chunks passed their checksum";
    case IC_ETOOBIG: return "object larger than max_object_size";
    case IC_EAUTH: return "authentication failed (wrong or missing user/password)";
    default: return "unknown error";
    }
}

const char *ic_last_error(const ic_client_t *c)
{
    return c ? c->err : "";
}

void ic_free(void *p)
{
    free(p);
}

size_t ic_proxy_count(const ic_client_t *c)
{
    return c->nproxies;
}

/* Secrets do not outlive the client in freed memory. */
static void wipe_free(char *s)
{
    if (s) explicit_bzero(s, strlen(s));
    free(s);
}

void ic_client_free(ic_client_t *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->nproxies; i++) {
        icc_conn_close(&c->conns[i]);
        buf_free(&c->conns[i].rx);
        free(c->conns[i].addr);
    }
    free(c->conns);
    wipe_free((char *)c->opt.user);
    wipe_free((char *)c->opt.password);
    tls_ctx_free(c->tls_ctx);
    free(c->tls_ca_file);
    free(c->tls_cert_file);
    free(c->tls_key_file);
    free(c);
}

ic_client_t *ic_client_new(const ic_options_t *opt, int *err)
{
    ic_options_t def;
    if (!opt) {
        ic_options_init(&def);
        opt = &def;
    }
    int rc = IC_EINVAL;
    ic_client_t *c = NULL;
    if (!ec_params_valid(opt->d, opt->p) || opt->connect_timeout_ms <= 0 || opt->op_timeout_ms <= 0 ||
        opt->chunk_deadline_ms <= 0 || (opt->first_d != 0 && opt->first_d != 1) ||
        (opt->nproxies && !opt->proxies))
        goto fail;
    rc = IC_ENOMEM;
    c = calloc(1, sizeof *c);
    if (!c) goto fail;
    c->opt = *opt;
    c->opt.proxies = NULL; /* the copies below are what the client keeps */
    c->opt.user = opt->user ? strdup(opt->user) : NULL;
    c->opt.password = opt->password ? strdup(opt->password) : NULL;
    if ((opt->user && !c->opt.user) || (opt->password && !c->opt.password)) goto fail;
    c->opt.tls_ca_file = c->opt.tls_cert_file = c->opt.tls_key_file = NULL;
    if (opt->tls) {
        c->opt.tls = 1;
        if ((opt->tls_ca_file && !(c->tls_ca_file = strdup(opt->tls_ca_file))) ||
            (opt->tls_cert_file && !(c->tls_cert_file = strdup(opt->tls_cert_file))) ||
            (opt->tls_key_file && !(c->tls_key_file = strdup(opt->tls_key_file))))
            goto fail;
    }
    size_t n = opt->nproxies ? opt->nproxies : 1;
    c->conns = calloc(n, sizeof *c->conns);
    if (!c->conns) goto fail;
    c->nproxies = n;
    for (size_t i = 0; i < n; i++) c->conns[i].fd = -1; /* so a partial init frees cleanly */
    for (size_t i = 0; i < n; i++) {
        icc_conn_t *k = &c->conns[i];
        const char *name = opt->nproxies ? opt->proxies[i] : ICC_DEFAULT_PROXY;
        k->addr = strdup(name ? name : "");
        if (!k->addr) goto fail;
        if (net_split_hostport(k->addr, k->host, sizeof k->host, &k->port) < 0 || k->port == 0) {
            rc = IC_EINVAL;
            goto fail;
        }
    }
    c->ngiven = n;
    icc_slots_split(c, n);
    if (err) *err = 0;
    return c;
fail:
    ic_client_free(c);
    if (err) *err = rc;
    return NULL;
}

void icc_client_adopt_fd(ic_client_t *c, size_t proxy, int fd)
{
    icc_conn_t *k = &c->conns[proxy];
    icc_conn_close(k);
    net_set_nonblock(fd, 1);
    k->fd = fd;
}

/* Any failure that may leave unread bytes of a reply closes the connection, so the next request
 * never reads a stale reply; the next use reconnects. */
static int drop(icc_conn_t *k, int rc)
{
    if (rc < 0 && rc != IC_ESERVER) icc_conn_close(k);
    return rc;
}

int icc_read_header(ic_client_t *c, icc_conn_t *k, uint64_t deadline, resp_header_t *h,
                    char *simple, size_t cap)
{
    for (;;) {
        ssize_t n = resp_parse_header(icc_rx_head(k), buf_len(&k->rx), &resp_default_limits, h);
        if (n < 0) return icc_fail(c, IC_EPROTO, "%s: %s", k->addr, resp_strerror((int)n));
        if (n > 0) {
            if (h->type == RESP_ERROR) {
                int rc = icc_server_error(c, h->str, h->len);
                buf_consume(&k->rx, (size_t)n);
                return rc;
            }
            if (simple && cap) {
                size_t len = h->type == RESP_SIMPLE ? (h->len < cap - 1 ? h->len : cap - 1) : 0;
                if (len) memcpy(simple, h->str, len);
                simple[len] = 0;
            }
            buf_consume(&k->rx, (size_t)n);
            h->str = NULL; /* it pointed into rx, which moves */
            return 0;
        }
        int rc = icc_conn_fill(c, k, deadline);
        if (rc < 0) return rc;
    }
}

/* Reads one reply that is not an array (-ERR becomes IC_ESERVER with the text in last_error); a
 * bulk one only if bulk is given and it is at most max_bulk bytes (*bulk: malloc'ed,
 * NUL-terminated). */
static int read_simple(ic_client_t *c, icc_conn_t *k, uint64_t deadline, resp_header_t *h, char **bulk,
                       uint64_t max_bulk)
{
    if (bulk) *bulk = NULL;
    int rc = icc_read_header(c, k, deadline, h, NULL, 0);
    if (rc < 0) return rc;
    if (h->type == RESP_ARRAY) return icc_fail(c, IC_EPROTO, "%s: unexpected array reply", k->addr);
    if (h->type != RESP_BULK || h->n < 0) return 0;
    if (!bulk || (uint64_t)h->n > max_bulk)
        return icc_fail(c, IC_EPROTO, "%s: unexpected bulk reply", k->addr);
    char *b = malloc((size_t)h->n + 3);
    if (!b) return icc_fail(c, IC_ENOMEM, "out of memory");
    rc = icc_conn_read(c, k, b, (size_t)h->n + 2, deadline);
    if (rc < 0) {
        free(b);
        return rc;
    }
    if (b[h->n] != '\r' || b[h->n + 1] != '\n') {
        free(b);
        return icc_fail(c, IC_EPROTO, "%s: bulk not followed by CRLF", k->addr);
    }
    b[h->n] = 0;
    *bulk = b;
    return 0;
}

/* Sends a small command and reads its simple reply, retrying once on a fresh connection when a
 * reused one turns out dead before any reply byte arrives (the proxy restarted, an idle close). */
int icc_small_command(ic_client_t *c, icc_conn_t *k, int argc, const char *const *argv,
                      const size_t *argl, resp_header_t *h, char **bulk, uint64_t max_bulk)
{
    buf_t out;
    buf_init(&out);
    if (resp_add_command(&out, argc, argv, argl) < 0) return icc_fail(c, IC_ENOMEM, "out of memory");
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        int reused = k->fd >= 0;
        uint64_t deadline = ev_now_ms() + (uint64_t)c->opt.op_timeout_ms;
        rc = icc_conn_open(c, k);
        if (rc < 0) break;
        uint64_t before = k->rx_total;
        struct iovec iov = {buf_head(&out), buf_len(&out)};
        rc = icc_conn_send(c, k, &iov, 1, deadline);
        if (rc == 0) rc = read_simple(c, k, deadline, h, bulk, max_bulk);
        drop(k, rc);
        if (!(rc == IC_EIO && reused && k->rx_total == before)) break;
    }
    buf_free(&out);
    return rc;
}

int icc_conn_auth(ic_client_t *c, icc_conn_t *k)
{
    if (!c->opt.password && !c->opt.user) return 0;
    const char *argv[3] = {"AUTH", c->opt.user, c->opt.password ? c->opt.password : ""};
    size_t argl[3] = {4, c->opt.user ? strlen(c->opt.user) : 0, strlen(argv[2])};
    int argc = 3;
    if (!c->opt.user) {
        argv[1] = argv[2];
        argl[1] = argl[2];
        argc = 2;
    }
    buf_t out;
    buf_init(&out);
    if (resp_add_command(&out, argc, argv, argl) < 0) return icc_fail(c, IC_ENOMEM, "out of memory");
    uint64_t deadline = ev_now_ms() + (uint64_t)c->opt.op_timeout_ms;
    struct iovec iov = {buf_head(&out), buf_len(&out)};
    int rc = icc_conn_send(c, k, &iov, 1, deadline);
    resp_header_t h = {0};
    if (rc == 0) rc = read_simple(c, k, deadline, &h, NULL, 0);
    if (rc == IC_ESERVER) rc = IC_EAUTH; /* e.g. AUTH against a proxy with no password set */
    if (rc == 0 && h.type != RESP_SIMPLE)
        rc = icc_fail(c, IC_EPROTO, "%s: unexpected reply to AUTH", k->addr);
    if (rc < 0 && rc != IC_EAUTH && rc != IC_ENOMEM)
        snprintf(c->err + strlen(c->err), sizeof c->err - strlen(c->err), " (during AUTH)");
    explicit_bzero(out.data, out.cap);
    buf_free(&out);
    return rc;
}

static int check_key(ic_client_t *c, const void *key, size_t keylen)
{
    if (!c) return IC_EINVAL;
    if ((!key && keylen) || keylen > (64u << 10)) return icc_fail(c, IC_EINVAL, "bad key");
    c->err[0] = 0;
    return 0;
}

/* ---------------- SET ---------------- */

/* The caller's value is never copied except for the zero-padded tail chunk: data chunk pointers
 * point into it, and writev sends them from there. */
int ic_set(ic_client_t *c, const void *key, size_t keylen, const void *value, size_t len)
{
    int rc = check_key(c, key, keylen);
    if (rc < 0) return rc;
    if (!value && len) return icc_fail(c, IC_EINVAL, "NULL value");
    if (len > c->opt.max_object_size)
        return icc_fail(c, IC_ETOOBIG, "object of %zu bytes over max_object_size", len);
    int d = layout_data_chunks(len, c->opt.small_max, c->opt.d), p = c->opt.p, n = d + p;
    size_t cs = ec_chunk_size(len, d);
    if (cs > EC_MAX_CHUNK_SIZE) /* checked before the value is read: no node would store it */
        return icc_fail(c, IC_ETOOBIG,
                        "object of %zu bytes needs chunks of %zu bytes, over the nodes' %zu", len,
                        cs, EC_MAX_CHUNK_SIZE);
    size_t full = cs ? len / cs : 0; /* data chunks lying wholly inside the value */
    if (full > (size_t)d) full = (size_t)d;
    uint8_t *chunk[EC_MAX_CHUNKS];
    uint8_t *extra = NULL;
    static uint8_t empty[1];
    size_t nextra = (size_t)(d - (int)full + p);
    if (cs) {
        extra = calloc(nextra, cs);
        if (!extra) return icc_fail(c, IC_ENOMEM, "out of memory for %zu parity bytes", nextra * cs);
    }
    for (int i = 0; i < n; i++) {
        if (!cs) chunk[i] = empty;
        else if ((size_t)i < full) chunk[i] = (uint8_t *)value + (size_t)i * cs;
        else chunk[i] = extra + (size_t)(i - (int)full) * cs;
    }
    for (int i = (int)full; i < d && cs; i++) { /* the tail: what is left of the value, then zeros */
        size_t off = (size_t)i * cs;
        if (off < len) memcpy(chunk[i], (const uint8_t *)value + off, len - off < cs ? len - off : cs);
    }
    ec_encode(d, p, cs, chunk, chunk + d);

    buf_t hdr, bulkhdr;
    buf_init(&hdr);
    buf_init(&bulkhdr);
    uint32_t crcs[EC_MAX_CHUNKS];
    for (int i = 0; i < n; i++)
        crcs[i] = ec_crc(chunk[i], cs);
    int ok = icproto_put_icset(&hdr, key, keylen, d, p, len, crcs) == 0 &&
             icproto_put_chunk_header(&bulkhdr, cs) == 0;
    if (!ok) {
        rc = icc_fail(c, IC_ENOMEM, "out of memory");
        goto out;
    }
    icc_conn_t *k = icc_conn_for_key(c, key, keylen);
    for (int attempt = 0, hops = 0; attempt < 2; attempt++) {
        struct iovec iov[1 + 3 * EC_MAX_CHUNKS];
        int niov = 0;
        iov[niov++] = (struct iovec){buf_head(&hdr), buf_len(&hdr)};
        for (int i = 0; i < n; i++) {
            iov[niov++] = (struct iovec){buf_head(&bulkhdr), buf_len(&bulkhdr)};
            iov[niov++] = (struct iovec){chunk[i], cs};
            iov[niov++] = (struct iovec){"\r\n", 2};
        }
        int reused = k->fd >= 0;
        uint64_t deadline = ev_now_ms() + (uint64_t)c->opt.op_timeout_ms;
        rc = icc_conn_open(c, k);
        if (rc < 0) break;
        uint64_t before = k->rx_total;
        rc = icc_conn_send(c, k, iov, niov, deadline);
        resp_header_t h = {0};
        if (rc == 0) {
            rc = read_simple(c, k, deadline, &h, NULL, 0);
        } else if (rc == IC_EIO) {
            /* The proxy may have refused early and closed: its -ERR explains more than EPIPE. */
            char keep[sizeof c->err];
            memcpy(keep, c->err, sizeof keep);
            int why = read_simple(c, k, ev_now_ms() + 100, &h, NULL, 0);
            if (why == IC_ESERVER || why == IC_EAUTH) rc = why;
            else memcpy(c->err, keep, sizeof keep);
        }
        if (rc == 0 && !(h.type == RESP_SIMPLE))
            rc = icc_fail(c, IC_EPROTO, "%s: unexpected reply to ICSET", k->addr);
        drop(k, rc);
        icc_conn_t *next = hops < ICC_REDIRECTS_MAX ? icc_follow_redirect(c, rc) : NULL;
        if (next) { /* another proxy serves the key: the same request again, there */
            k = next;
            hops++;
            attempt = -1;
            continue;
        }
        if (!(rc == IC_EIO && reused && k->rx_total == before)) break;
    }
out:
    buf_free(&hdr);
    buf_free(&bulkhdr);
    free(extra);
    return rc;
}

/* ---------------- GET ---------------- */

typedef struct {
    icproto_meta_t m;
    uint8_t *out;               /* the object, size bytes (caller's or ours) */
    uint8_t *scratch[EC_MAX_CHUNKS]; /* chunks that are not wholly inside out */
    uint8_t state[EC_MAX_CHUNKS];    /* 0 unseen, 1 good, 2 bad crc, 3 late, 4 lost */
    int ngood;
    int alloc;   /* out is allocated here when the metadata arrives (ic_get) */
    size_t cap;  /* else out is the caller's buffer of cap bytes (ic_get_into) */
    size_t *len; /* where the object's size is reported */
} get_ctx_t;

enum { CH_UNSEEN, CH_GOOD, CH_BADCRC, CH_LATE, CH_LOST };

/* Where chunk i lives: straight in the object for data chunks that fit wholly, else scratch. */
static uint8_t *chunk_home(get_ctx_t *g, int i, int alloc)
{
    size_t cs = g->m.chunk_size;
    if (i < g->m.d && (uint64_t)(i + 1) * cs <= g->m.size) return g->out + (size_t)i * cs;
    if (!g->scratch[i] && alloc) g->scratch[i] = malloc(cs ? cs : 1);
    return g->scratch[i];
}

/* Picks d good chunks (data first, so no decoding is needed when all of them came). */
static void pick_have(get_ctx_t *g, int *have_idx, uint8_t **have)
{
    int nh = 0;
    for (int i = 0; i < g->m.n && nh < g->m.d; i++)
        if (g->state[i] == CH_GOOD) {
            have_idx[nh] = i;
            have[nh++] = chunk_home(g, i, 0);
        }
}

/* Rebuilds the missing data chunks (only if a parity chunk is among the d used), then copies the
 * tail chunk(s) held in scratch into the object. */
static int assemble(ic_client_t *c, get_ctx_t *g)
{
    int d = g->m.d;
    size_t cs = g->m.chunk_size;
    int have_idx[EC_MAX_CHUNKS], want_idx[EC_MAX_CHUNKS], nwant = 0;
    uint8_t *have[EC_MAX_CHUNKS], *want[EC_MAX_CHUNKS];
    pick_have(g, have_idx, have);
    for (int i = 0; i < d; i++) {
        if (g->state[i] == CH_GOOD) continue;
        if ((uint64_t)i * cs >= g->m.size) continue; /* pure padding: nothing to rebuild */
        uint8_t *to = chunk_home(g, i, 1);
        if (!to) return icc_fail(c, IC_ENOMEM, "out of memory");
        want_idx[nwant] = i;
        want[nwant++] = to;
    }
    if (nwant && ec_decode(d, g->m.p, cs, have_idx, have, nwant, want_idx, want) < 0)
        return icc_fail(c, IC_EPROTO, "decoding failed");
    for (int i = 0; i < d; i++) {
        uint64_t off = (uint64_t)i * cs;
        if (off >= g->m.size || off + cs <= g->m.size) continue;
        memcpy(g->out + off, g->scratch[i], (size_t)(g->m.size - off));
    }
    return 0;
}

/* Re-stores lost and corrupt chunks after the object is complete. It runs synchronously before
 * ic_get returns, on the same connection; its failures are ignored (the object is already read,
 * and the next GET will try again). */
static void repair(ic_client_t *c, icc_conn_t *k, const void *key, size_t keylen, get_ctx_t *g)
{
    int want_idx[EC_MAX_CHUNKS], nwant = 0;
    for (int i = 0; i < g->m.n; i++)
        if (g->state[i] == CH_LOST || g->state[i] == CH_BADCRC) want_idx[nwant++] = i;
    if (!nwant || k->fd < 0 || g->m.chunk_size == 0) return;
    size_t cs = g->m.chunk_size;
    int have_idx[EC_MAX_CHUNKS];
    uint8_t *have[EC_MAX_CHUNKS], *want[EC_MAX_CHUNKS];
    /* Data chunks rebuilt by assemble() are exact now; padding-only ones were skipped, so they
     * are rebuilt here like the others. */
    pick_have(g, have_idx, have);
    uint8_t *mem = malloc((size_t)nwant * cs);
    if (!mem) return;
    for (int i = 0; i < nwant; i++) want[i] = mem + (size_t)i * cs;
    if (ec_decode(g->m.d, g->m.p, cs, have_idx, have, nwant, want_idx, want) < 0) {
        free(mem);
        return;
    }
    char saved[sizeof c->err];
    memcpy(saved, c->err, sizeof saved);
    for (int i = 0; i < nwant && k->fd >= 0; i++) {
        buf_t hdr;
        buf_init(&hdr);
        if (icproto_put_icrepair(&hdr, key, keylen, g->m.version, want_idx[i],
                                 ec_crc(want[i], cs)) < 0 ||
            icproto_put_chunk_header(&hdr, cs) < 0) {
            buf_free(&hdr);
            break;
        }
        struct iovec iov[3] = {{buf_head(&hdr), buf_len(&hdr)}, {want[i], cs}, {"\r\n", 2}};
        uint64_t deadline = ev_now_ms() + (uint64_t)c->opt.op_timeout_ms;
        resp_header_t h;
        int rc = icc_conn_send(c, k, iov, 3, deadline);
        if (rc == 0) rc = read_simple(c, k, deadline, &h, NULL, 0);
        drop(k, rc);
        buf_free(&hdr);
    }
    memcpy(c->err, saved, sizeof saved);
    free(mem);
}

/* With first-d off the read waits for every chunk, but not forever: when the chunk deadline (or
 * the operation's) passes with d good chunks in hand, the rest of the reply is abandoned (the
 * connection is closed, so no stale bytes are read later) and the object is assembled. */
static int enough_after_timeout(ic_client_t *c, icc_conn_t *k, const get_ctx_t *g, int rc)
{
    if (c->opt.first_d || rc != IC_ETIMEDOUT || g->m.d == 0 || g->ngood < g->m.d) return 0;
    icc_conn_close(k);
    c->err[0] = 0;
    return 1;
}

/* How reading a reply ended, besides the IC_E* errors. */
enum { READ_DONE = 1, READ_MISS, READ_STALE };

/* Takes one entry of a reply: a chunk body is read into its home and verified against its CRC;
 * an entry without a body records what became of that chunk. *verified counts chunks newly
 * verified (good or not). 0, READ_DONE (the reply was abandoned with d good chunks), or an
 * error. */
static int take_entry(ic_client_t *c, icc_conn_t *k, get_ctx_t *g, const icproto_reply_event_t *ev,
                      uint64_t deadline, int *verified)
{
    int i = ev->index;
    if (ev->state != 0) {
        /* A spare reply answers every index, also those it was not asked for: "not sent" never
         * overrides what is known, and "lost" only a chunk not in hand. */
        if (g->state[i] == CH_UNSEEN || g->state[i] == CH_LATE)
            g->state[i] = ev->state == 1 ? CH_LATE : CH_LOST;
        return 0;
    }
    if (g->ngood >= g->m.d || g->state[i] == CH_GOOD || g->state[i] == CH_BADCRC) {
        /* Already have d verified chunks (more come only when first-d is off, or from a proxy
         * that sends too many), or this one was checked already: skipped past, so a good copy
         * in hand is never overwritten. */
        int rc = icc_conn_read(c, k, NULL, g->m.chunk_size, deadline);
        if (g->state[i] == CH_UNSEEN) g->state[i] = CH_LATE;
        if (rc < 0 && enough_after_timeout(c, k, g, rc)) return READ_DONE;
        return rc;
    }
    uint8_t *to = chunk_home(g, i, 1);
    if (!to) return icc_fail(c, IC_ENOMEM, "out of memory");
    int rc = icc_conn_read(c, k, to, g->m.chunk_size, deadline);
    if (rc < 0) return rc;
    int good = ec_crc(to, g->m.chunk_size) == g->m.crc[i];
    g->state[i] = good ? CH_GOOD : CH_BADCRC;
    g->ngood += good;
    (*verified)++;
    return 0;
}

static int same_object(const icproto_meta_t *a, const icproto_meta_t *b)
{
    return a->version == b->version && a->size == b->size && a->d == b->d && a->p == b->p &&
           a->chunk_size == b->chunk_size &&
           memcmp(a->crc, b->crc, sizeof a->crc[0] * (size_t)a->n) == 0;
}

/* Reads one ICGET (spare = 0) or ICGETCHUNKS (spare = 1) reply into g. The first reply sets the
 * metadata and the object's buffer; a spare reply must describe the very same version. Returns
 * READ_DONE, READ_MISS (first reply: no such key), READ_STALE (spare reply: the version is no
 * longer current, or the key is gone), or an error. */
static int read_reply(ic_client_t *c, icc_conn_t *k, get_ctx_t *g, uint64_t deadline, int spare,
                      int *verified)
{
    icproto_reply_t r;
    icproto_reply_init(&r, c->opt.max_object_size);
    for (;;) {
        size_t used;
        icproto_reply_event_t ev;
        int e = icproto_reply_feed(&r, icc_rx_head(k), buf_len(&k->rx), &used, &ev);
        if (e == ICPROTO_REPLY_ERROR) {
            int stale = spare && ev.len >= 5 && memcmp(ev.str, "STALE", 5) == 0;
            int rc = icc_server_error(c, ev.str, ev.len);
            buf_consume(&k->rx, used);
            return stale ? READ_STALE : rc;
        }
        buf_consume(&k->rx, used);
        int rc;
        switch (e) {
        case ICPROTO_REPLY_NEED_MORE:
            rc = icc_conn_fill(c, k, deadline);
            if (rc < 0 && enough_after_timeout(c, k, g, rc)) return READ_DONE;
            if (rc < 0) return rc;
            break;
        case ICPROTO_REPLY_MISS:
            return spare ? READ_STALE : READ_MISS;
        case ICPROTO_REPLY_META:
            if (spare) {
                if (!same_object(&r.meta, &g->m)) {
                    icc_conn_close(k); /* the rest of the reply is not worth reading */
                    return icc_fail(c, IC_EPROTO, "%s: ICGETCHUNKS answered for another object",
                                    k->addr);
                }
                break;
            }
            g->m = r.meta;
            if (g->alloc) {
                g->out = malloc(g->m.size ? (size_t)g->m.size : 1);
                if (!g->out)
                    return icc_fail(c, IC_ENOMEM, "out of memory for %" PRIu64 " bytes", g->m.size);
            } else if (g->m.size > g->cap) {
                *g->len = (size_t)g->m.size;
                /* The rest of the reply is not worth reading: reconnect instead. */
                icc_conn_close(k);
                return icc_fail(c, IC_ETOOSMALL, "object of %" PRIu64 " bytes, buffer of %zu",
                                g->m.size, g->cap);
            }
            break;
        case ICPROTO_REPLY_CHUNK:
            rc = take_entry(c, k, g, &ev, deadline, verified);
            if (rc != 0) return rc;
            icproto_reply_body_done(&r);
            break;
        case ICPROTO_REPLY_DONE:
            return READ_DONE;
        default:
            return icc_fail(c, IC_EPROTO, "%s: malformed ICGET reply: %s", k->addr,
                            r.err ? r.err : "unexpected event");
        }
    }
}

/* First-d with spares: while fewer than d chunks passed their checksum and enough others were not
 * sent (late, or after the first d), asks the proxy for those of this version with ICGETCHUNKS on
 * the same connection. Each round verifies at least one more chunk or ends the loop, so there are
 * at most n rounds, all within the GET's deadline. 0, READ_STALE, or an error. */
static int read_spares(ic_client_t *c, icc_conn_t *k, const void *key, size_t keylen, get_ctx_t *g,
                       uint64_t deadline)
{
    for (int round = 0; round < g->m.n && g->ngood < g->m.d && k->fd >= 0; round++) {
        int indexes[EC_MAX_CHUNKS], m = 0, need = g->m.d - g->ngood;
        for (int i = 0; i < g->m.n; i++)
            if (g->state[i] == CH_UNSEEN || g->state[i] == CH_LATE) indexes[m++] = i;
        if (m < need) return 0; /* even all of them would not make d */
        buf_t out;
        buf_init(&out);
        if (icproto_put_icgetchunks(&out, key, keylen, g->m.version, (unsigned)need, indexes, m) <
            0) {
            buf_free(&out);
            return icc_fail(c, IC_ENOMEM, "out of memory");
        }
        struct iovec iov = {buf_head(&out), buf_len(&out)};
        int rc = icc_conn_send(c, k, &iov, 1, deadline);
        buf_free(&out);
        if (rc < 0) return rc;
        int verified = 0;
        rc = read_reply(c, k, g, deadline, 1, &verified);
        /* A proxy that knows no ICGETCHUNKS (or refuses it) leaves the GET to what it has. */
        if (rc == IC_ESERVER) return 0;
        if (rc != READ_DONE) return rc;
        if (!verified) return 0;
    }
    return 0;
}

/* Reads key into ubuf (or a buffer it allocates when alloc is set): ICGET, then spares if the
 * first d were not all good. *again is set when the caller should start over once: the version
 * read changed under the spare request, or more than p of its chunks were found lost (the proxy
 * has then dropped the object, and the next ICGET is a miss it may answer from its backing
 * store). */
static int get_once(ic_client_t *c, icc_conn_t *k, const void *key, size_t keylen, uint8_t *ubuf,
                    size_t cap, int alloc, void **value, size_t *len, int *again)
{
    uint64_t deadline = ev_now_ms() + (uint64_t)c->opt.op_timeout_ms;
    int rc = icc_conn_open(c, k);
    if (rc < 0) return rc;
    buf_t out;
    buf_init(&out);
    if (icproto_put_icget(&out, key, keylen, !c->opt.first_d) < 0) {
        buf_free(&out);
        return icc_fail(c, IC_ENOMEM, "out of memory");
    }
    struct iovec iov = {buf_head(&out), buf_len(&out)};
    rc = icc_conn_send(c, k, &iov, 1, deadline);
    buf_free(&out);
    if (rc < 0) return drop(k, rc);

    get_ctx_t g;
    memset(&g, 0, sizeof g);
    g.alloc = alloc;
    g.cap = cap;
    g.len = len;
    g.out = alloc ? NULL : ubuf;
    int verified = 0;
    rc = read_reply(c, k, &g, deadline, 0, &verified);
    if (rc == READ_MISS) {
        rc = IC_MISS;
        goto out;
    }
    if (rc < 0) goto out;
    rc = read_spares(c, k, key, keylen, &g, deadline);
    if (rc == READ_STALE) {
        *again = 1;
        rc = icc_fail(c, IC_ESERVER, "the object changed while it was read; try again");
        goto out;
    }
    if (rc < 0) goto out;
    if (g.ngood < g.m.d) {
        int bad = 0;
        for (int i = 0; i < g.m.n; i++) bad += g.state[i] == CH_BADCRC;
        int lost = 0;
        for (int i = 0; i < g.m.n; i++) lost += g.state[i] == CH_LOST;
        if (bad) rc = icc_fail(c, IC_ECORRUPT, "%d of %d chunks failed their checksum, %d good, %d needed",
                               bad, g.m.n, g.ngood, g.m.d);
        else if (lost > g.m.p) { /* more than p chunks are gone: so is the object */
            rc = IC_MISS;
            *again = 1;
        }
        else rc = icc_fail(c, IC_EIO, "%s: only %d of the %d chunks needed could be read; try again",
                           k->addr, g.ngood, g.m.d);
        goto out;
    }
    rc = assemble(c, &g);
    if (rc < 0) goto out;
    if (c->opt.repair) repair(c, k, key, keylen, &g);
    *len = (size_t)g.m.size;
    if (alloc) {
        *value = g.out;
        g.out = NULL;
    }
    rc = IC_HIT;
out:
    for (int i = 0; i < EC_MAX_CHUNKS; i++) free(g.scratch[i]);
    if (alloc) free(g.out);
    return drop(k, rc);
}

static int get_common(ic_client_t *c, const void *key, size_t keylen, uint8_t *buf, size_t cap,
                      int alloc, void **value, size_t *len)
{
    int rc = check_key(c, key, keylen);
    if (rc < 0) return rc;
    if (!len || (alloc && !value) || (!alloc && !buf && cap)) return icc_fail(c, IC_EINVAL, "bad arguments");
    icc_conn_t *k = icc_conn_for_key(c, key, keylen);
    int restarts = 0, hops = 0;
    for (int attempt = 0; attempt < 2;) {
        int reused = k->fd >= 0, again = 0;
        uint64_t before = k->rx_total;
        rc = get_once(c, k, key, keylen, buf, cap, alloc, value, len, &again);
        icc_conn_t *next = hops < ICC_REDIRECTS_MAX ? icc_follow_redirect(c, rc) : NULL;
        if (next) {
            k = next;
            hops++;
            continue;
        }
        /* A new version was stored between the reply and the spare request, or the object
         * was found lost: start over once from the top, which reads the new version (or the
         * backing store's copy, or misses). */
        if (again && restarts++ == 0) continue;
        if (!(rc == IC_EIO && reused && k->rx_total == before)) break;
        attempt++;
    }
    return rc;
}

int ic_get(ic_client_t *c, const void *key, size_t keylen, void **value, size_t *len)
{
    return get_common(c, key, keylen, NULL, 0, 1, value, len);
}

int ic_get_into(ic_client_t *c, const void *key, size_t keylen, void *buf, size_t cap, size_t *len)
{
    return get_common(c, key, keylen, buf, cap, 0, NULL, len);
}

/* ---------------- ranges ---------------- */

int ic_get_range(ic_client_t *c, const void *key, size_t keylen, uint64_t offset, size_t length,
                 void **value, size_t *len)
{
    int rc = check_key(c, key, keylen);
    if (rc < 0) return rc;
    if (!value || !len || offset > INT64_MAX || length > INT64_MAX - offset)
        return icc_fail(c, IC_EINVAL, "bad arguments");
    *value = NULL;
    *len = 0;
    if (length == 0) return ic_exists(c, key, keylen);
    icc_conn_t *k = icc_conn_for_key(c, key, keylen);
    char start[24], end[24];
    snprintf(start, sizeof start, "%" PRIu64, offset);
    snprintf(end, sizeof end, "%" PRIu64, offset + (uint64_t)length - 1);
    const char *argv[4] = {"GETRANGE", key, start, end};
    size_t argl[4] = {8, keylen, strlen(start), strlen(end)};
    resp_header_t h;
    char *data = NULL;
    rc = icc_small_command(c, k, 4, argv, argl, &h, &data, length);
    for (int hops = 0; rc < 0 && hops < ICC_REDIRECTS_MAX; hops++) {
        icc_conn_t *next = icc_follow_redirect(c, rc);
        if (!next) break;
        k = next;
        rc = icc_small_command(c, k, 4, argv, argl, &h, &data, length);
    }
    if (rc < 0) return rc;
    if (h.type != RESP_BULK || h.n < 0) {
        free(data);
        return icc_fail(c, IC_EPROTO, "%s: unexpected reply to GETRANGE", k->addr);
    }
    size_t got = (size_t)h.n;
    if (got == 0) { /* GETRANGE answers "" for a missing key too */
        free(data);
        return ic_exists(c, key, keylen);
    }
    *value = data;
    *len = got;
    return IC_HIT;
}

/* ---------------- DEL, EXISTS, INFO ---------------- */

static int int_command(ic_client_t *c, const char *cmd, const void *key, size_t keylen)
{
    int rc = check_key(c, key, keylen);
    if (rc < 0) return rc;
    icc_conn_t *k = icc_conn_for_key(c, key, keylen);
    const char *argv[2] = {cmd, key};
    size_t argl[2] = {strlen(cmd), keylen};
    resp_header_t h;
    rc = icc_small_command(c, k, 2, argv, argl, &h, NULL, 0);
    for (int hops = 0; rc < 0 && hops < ICC_REDIRECTS_MAX; hops++) {
        icc_conn_t *next = icc_follow_redirect(c, rc);
        if (!next) break;
        k = next;
        rc = icc_small_command(c, k, 2, argv, argl, &h, NULL, 0);
    }
    if (rc < 0) return rc;
    if (h.type != RESP_INTEGER || h.n < 0)
        return drop(k, icc_fail(c, IC_EPROTO, "%s: unexpected reply to %s", k->addr, cmd));
    return h.n > 0 ? IC_HIT : IC_MISS;
}

int ic_del(ic_client_t *c, const void *key, size_t keylen)
{
    return int_command(c, "DEL", key, keylen);
}

int ic_exists(ic_client_t *c, const void *key, size_t keylen)
{
    return int_command(c, "EXISTS", key, keylen);
}

int ic_info(ic_client_t *c, size_t proxy, char **text, size_t *len)
{
    if (!c || !text || proxy >= c->nproxies) return IC_EINVAL;
    c->err[0] = 0;
    const char *argv[1] = {"INFO"};
    resp_header_t h;
    char *bulk = NULL;
    int rc = icc_small_command(c, &c->conns[proxy], 1, argv, NULL, &h, &bulk, ICC_MAX_INFO);
    if (rc < 0) return rc;
    if (!bulk) return drop(&c->conns[proxy], icc_fail(c, IC_EPROTO, "unexpected reply to INFO"));
    *text = bulk;
    if (len) *len = (size_t)h.n;
    return IC_OK;
}
