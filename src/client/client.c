/* client.c -- libinfinicache operations: erasure-coded ICSET, first-d ICGET with repair, DEL, EXISTS. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "icc.h"
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

void ic_client_free(ic_client_t *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->nproxies; i++) {
        icc_conn_close(&c->conns[i]);
        buf_free(&c->conns[i].rx);
        free(c->conns[i].addr);
    }
    free(c->conns);
    icc_ring_free(&c->ring);
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
    const char **names = NULL;
    if (!ec_params_valid(opt->d, opt->p) || opt->connect_timeout_ms <= 0 || opt->op_timeout_ms <= 0 ||
        opt->chunk_deadline_ms <= 0 || (opt->first_d != 0 && opt->first_d != 1) ||
        (opt->nproxies && !opt->proxies))
        goto fail;
    rc = IC_ENOMEM;
    c = calloc(1, sizeof *c);
    if (!c) goto fail;
    c->opt = *opt;
    c->opt.proxies = NULL; /* the copies below are what the client keeps */
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
    names = calloc(n, sizeof *names);
    if (!names) goto fail;
    for (size_t i = 0; i < n; i++) {
        icc_conn_t *k = &c->conns[i];
        const char *name = opt->nproxies ? opt->proxies[i] : ICC_DEFAULT_PROXY;
        k->addr = strdup(name ? name : "");
        if (!k->addr) goto fail;
        names[i] = k->addr;
        if (net_split_hostport(k->addr, k->host, sizeof k->host, &k->port) < 0 || k->port == 0) {
            rc = IC_EINVAL;
            goto fail;
        }
    }
    rc = icc_ring_build(&c->ring, names, n, ICC_RING_VNODES);
    if (rc < 0) goto fail;
    free(names);
    if (err) *err = 0;
    return c;
fail:
    free(names);
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

static icc_conn_t *conn_for(ic_client_t *c, const void *key, size_t keylen)
{
    return &c->conns[c->nproxies == 1 ? 0 : icc_ring_lookup(&c->ring, key, keylen)];
}

/* Any failure that may leave unread bytes of a reply closes the connection, so the next request
 * never reads a stale reply; the next use reconnects. */
static int drop(icc_conn_t *k, int rc)
{
    if (rc < 0 && rc != IC_ESERVER) icc_conn_close(k);
    return rc;
}

/* Reads one simple reply (+, -, :, or a bulk of at most ICC_MAX_INFO bytes into *bulk, which the
 * caller frees). -ERR becomes IC_ESERVER with the text in last_error. */
static int read_simple(ic_client_t *c, icc_conn_t *k, uint64_t deadline, resp_header_t *h, char **bulk)
{
    if (bulk) *bulk = NULL;
    for (;;) {
        ssize_t n = resp_parse_header(icc_rx_head(k), buf_len(&k->rx), &resp_default_limits, h);
        if (n < 0) return icc_fail(c, IC_EPROTO, "%s: %s", k->addr, resp_strerror((int)n));
        if (n > 0) {
            if (h->type == RESP_ERROR) {
                icc_fail(c, IC_ESERVER, "%.*s", (int)(h->len < 400 ? h->len : 400), h->str);
                buf_consume(&k->rx, (size_t)n);
                return IC_ESERVER;
            }
            buf_consume(&k->rx, (size_t)n);
            h->str = NULL; /* it pointed into rx, which moves */
            if (h->type == RESP_ARRAY) return icc_fail(c, IC_EPROTO, "%s: unexpected array reply", k->addr);
            if (h->type == RESP_BULK && h->n >= 0) {
                if (!bulk || (uint64_t)h->n > ICC_MAX_INFO)
                    return icc_fail(c, IC_EPROTO, "%s: unexpected bulk reply", k->addr);
                char *b = malloc((size_t)h->n + 3);
                if (!b) return icc_fail(c, IC_ENOMEM, "out of memory");
                int rc = icc_conn_read(c, k, b, (size_t)h->n + 2, deadline);
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
            }
            return 0;
        }
        int rc = icc_conn_fill(c, k, deadline);
        if (rc < 0) return rc;
    }
}

/* Sends a small command and reads its simple reply, retrying once on a fresh connection when a
 * reused one turns out dead before any reply byte arrives (the proxy restarted, an idle close). */
static int small_command(ic_client_t *c, icc_conn_t *k, int argc, const char *const *argv,
                         const size_t *argl, resp_header_t *h, char **bulk)
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
        if (rc == 0) rc = read_simple(c, k, deadline, h, bulk);
        drop(k, rc);
        if (!(rc == IC_EIO && reused && k->rx_total == before)) break;
    }
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

/* Formats v as a bulk argument of the ICSET header. */
static int add_num(buf_t *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    return resp_add_bulk(b, tmp, (size_t)n);
}

/* The caller's value is never copied except for the zero-padded tail chunk: data chunk pointers
 * point into it, and writev sends them from there. */
int ic_set(ic_client_t *c, const void *key, size_t keylen, const void *value, size_t len)
{
    int rc = check_key(c, key, keylen);
    if (rc < 0) return rc;
    if (!value && len) return icc_fail(c, IC_EINVAL, "NULL value");
    if (len > c->opt.max_object_size)
        return icc_fail(c, IC_ETOOBIG, "object of %zu bytes over max_object_size", len);
    int d = len <= c->opt.small_max ? 1 : c->opt.d, p = c->opt.p, n = d + p;
    size_t cs = ec_chunk_size(len, d);
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
    int ok = resp_add_array_header(&hdr, 5 + 2 * n) == 0 && resp_add_bulk(&hdr, "ICSET", 5) == 0 &&
             resp_add_bulk(&hdr, key, keylen) == 0 && add_num(&hdr, (uint64_t)d) == 0 &&
             add_num(&hdr, (uint64_t)p) == 0 && add_num(&hdr, len) == 0 &&
             resp_add_bulk_header(&bulkhdr, cs) == 0;
    for (int i = 0; i < n && ok; i++) ok = add_num(&hdr, ec_crc(chunk[i], cs)) == 0;
    if (!ok) {
        rc = icc_fail(c, IC_ENOMEM, "out of memory");
        goto out;
    }
    icc_conn_t *k = conn_for(c, key, keylen);
    for (int attempt = 0; attempt < 2; attempt++) {
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
            rc = read_simple(c, k, deadline, &h, NULL);
        } else if (rc == IC_EIO) {
            /* The proxy may have refused early and closed: its -ERR explains more than EPIPE. */
            char keep[sizeof c->err];
            memcpy(keep, c->err, sizeof keep);
            int why = read_simple(c, k, ev_now_ms() + 100, &h, NULL);
            if (why == IC_ESERVER) rc = why;
            else memcpy(c->err, keep, sizeof keep);
        }
        if (rc == 0 && !(h.type == RESP_SIMPLE))
            rc = icc_fail(c, IC_EPROTO, "%s: unexpected reply to ICSET", k->addr);
        drop(k, rc);
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
    icc_meta_t m;
    uint8_t *out;               /* the object, size bytes (caller's or ours) */
    uint8_t *scratch[EC_MAX_CHUNKS]; /* chunks that are not wholly inside out */
    uint8_t state[EC_MAX_CHUNKS];    /* 0 unseen, 1 good, 2 bad crc, 3 late, 4 lost */
    int ngood;
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
        char ver[24], idx[8], crc[16];
        snprintf(ver, sizeof ver, "%" PRIu64, g->m.version);
        snprintf(idx, sizeof idx, "%d", want_idx[i]);
        snprintf(crc, sizeof crc, "%" PRIu32, ec_crc(want[i], cs));
        buf_t hdr;
        buf_init(&hdr);
        if (resp_add_array_header(&hdr, 6) < 0 || resp_add_bulk(&hdr, "ICREPAIR", 8) < 0 ||
            resp_add_bulk(&hdr, key, keylen) < 0 || resp_add_bulk(&hdr, ver, strlen(ver)) < 0 ||
            resp_add_bulk(&hdr, idx, strlen(idx)) < 0 || resp_add_bulk(&hdr, crc, strlen(crc)) < 0 ||
            resp_add_bulk_header(&hdr, cs) < 0) {
            buf_free(&hdr);
            break;
        }
        struct iovec iov[3] = {{buf_head(&hdr), buf_len(&hdr)}, {want[i], cs}, {"\r\n", 2}};
        uint64_t deadline = ev_now_ms() + (uint64_t)c->opt.op_timeout_ms;
        resp_header_t h;
        int rc = icc_conn_send(c, k, iov, 3, deadline);
        if (rc == 0) rc = read_simple(c, k, deadline, &h, NULL);
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

/* Reads the ICGET reply for key into ubuf (or a buffer it allocates when alloc is set). */
static int get_once(ic_client_t *c, icc_conn_t *k, const void *key, size_t keylen, uint8_t *ubuf,
                    size_t cap, int alloc, void **value, size_t *len)
{
    uint64_t deadline = ev_now_ms() + (uint64_t)c->opt.op_timeout_ms;
    int rc = icc_conn_open(c, k);
    if (rc < 0) return rc;
    buf_t out;
    buf_init(&out);
    const char *argv[3] = {"ICGET", key, "ALL"};
    size_t argl[3] = {5, keylen, 3};
    if (resp_add_command(&out, c->opt.first_d ? 2 : 3, argv, argl) < 0) {
        buf_free(&out);
        return icc_fail(c, IC_ENOMEM, "out of memory");
    }
    struct iovec iov = {buf_head(&out), buf_len(&out)};
    rc = icc_conn_send(c, k, &iov, 1, deadline);
    buf_free(&out);
    if (rc < 0) return drop(k, rc);

    get_ctx_t g;
    memset(&g, 0, sizeof g);
    icc_reply_t r;
    icc_reply_init(&r, c->opt.max_object_size);
    int result = IC_HIT, done = 0;
    while (!done) {
        size_t used;
        icc_reply_event_t ev;
        int e = icc_reply_feed(&r, icc_rx_head(k), buf_len(&k->rx), &used, &ev);
        if (e == ICC_REPLY_ERROR) {
            icc_fail(c, IC_ESERVER, "%.*s", (int)(ev.len < 400 ? ev.len : 400), ev.str);
            buf_consume(&k->rx, used);
            rc = IC_ESERVER;
            goto out;
        }
        buf_consume(&k->rx, used);
        switch (e) {
        case ICC_REPLY_NEED_MORE:
            rc = icc_conn_fill(c, k, deadline);
            if (rc < 0 && enough_after_timeout(c, k, &g, rc)) {
                done = 1;
                break;
            }
            if (rc < 0) goto out;
            break;
        case ICC_REPLY_MISS:
            result = IC_MISS;
            done = 1;
            break;
        case ICC_REPLY_META:
            g.m = r.meta;
            if (alloc) {
                ubuf = malloc(g.m.size ? (size_t)g.m.size : 1);
                if (!ubuf) {
                    rc = icc_fail(c, IC_ENOMEM, "out of memory for %" PRIu64 " bytes", g.m.size);
                    goto out;
                }
            } else if (g.m.size > cap) {
                *len = (size_t)g.m.size;
                /* The rest of the reply is not worth reading: reconnect instead. */
                rc = icc_fail(c, IC_ETOOSMALL, "object of %" PRIu64 " bytes, buffer of %zu", g.m.size, cap);
                icc_conn_close(k);
                goto out;
            }
            g.out = ubuf;
            break;
        case ICC_REPLY_CHUNK:
            if (ev.state != 0) {
                g.state[ev.index] = ev.state == 1 ? CH_LATE : CH_LOST;
                break;
            }
            if (g.ngood >= g.m.d) {
                /* Already have d verified chunks: more come only when first-d is off (or from a
                 * proxy that sends too many); they are skipped past. */
                rc = icc_conn_read(c, k, NULL, g.m.chunk_size, deadline);
                g.state[ev.index] = CH_LATE;
                if (rc < 0 && enough_after_timeout(c, k, &g, rc)) {
                    done = 1;
                    break;
                }
            } else {
                uint8_t *to = chunk_home(&g, ev.index, 1);
                if (!to) {
                    rc = icc_fail(c, IC_ENOMEM, "out of memory");
                    goto out;
                }
                rc = icc_conn_read(c, k, to, g.m.chunk_size, deadline);
                if (rc == 0) {
                    int good = ec_crc(to, g.m.chunk_size) == g.m.crc[ev.index];
                    g.state[ev.index] = good ? CH_GOOD : CH_BADCRC;
                    g.ngood += good;
                }
            }
            if (rc < 0) goto out;
            icc_reply_body_done(&r);
            break;
        case ICC_REPLY_DONE:
            done = 1;
            break;
        default:
            rc = icc_fail(c, IC_EPROTO, "%s: malformed ICGET reply", k->addr);
            goto out;
        }
    }
    rc = result;
    if (result == IC_MISS) goto out;
    if (g.ngood < g.m.d) {
        int bad = 0;
        for (int i = 0; i < g.m.n; i++) bad += g.state[i] == CH_BADCRC;
        int lost = 0;
        for (int i = 0; i < g.m.n; i++) lost += g.state[i] == CH_LOST;
        if (bad) rc = icc_fail(c, IC_ECORRUPT, "%d of %d chunks failed their checksum, %d good, %d needed",
                               bad, g.m.n, g.ngood, g.m.d);
        else if (lost > g.m.p) rc = IC_MISS; /* more than p chunks are gone: so is the object */
        else rc = icc_fail(c, IC_EIO, "%s: only %d of the %d chunks needed could be read; try again",
                           k->addr, g.ngood, g.m.d);
        goto out;
    }
    rc = assemble(c, &g);
    if (rc < 0) goto out;
    if (c->opt.repair) repair(c, k, key, keylen, &g);
    *len = (size_t)g.m.size;
    if (alloc) {
        *value = ubuf;
        ubuf = NULL;
    }
    rc = IC_HIT;
out:
    for (int i = 0; i < EC_MAX_CHUNKS; i++) free(g.scratch[i]);
    if (alloc) free(ubuf);
    return drop(k, rc);
}

static int get_common(ic_client_t *c, const void *key, size_t keylen, uint8_t *buf, size_t cap,
                      int alloc, void **value, size_t *len)
{
    int rc = check_key(c, key, keylen);
    if (rc < 0) return rc;
    if (!len || (alloc && !value) || (!alloc && !buf && cap)) return icc_fail(c, IC_EINVAL, "bad arguments");
    icc_conn_t *k = conn_for(c, key, keylen);
    for (int attempt = 0; attempt < 2; attempt++) {
        int reused = k->fd >= 0;
        uint64_t before = k->rx_total;
        rc = get_once(c, k, key, keylen, buf, cap, alloc, value, len);
        if (!(rc == IC_EIO && reused && k->rx_total == before)) break;
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

/* ---------------- DEL, EXISTS, INFO ---------------- */

static int int_command(ic_client_t *c, const char *cmd, const void *key, size_t keylen)
{
    int rc = check_key(c, key, keylen);
    if (rc < 0) return rc;
    icc_conn_t *k = conn_for(c, key, keylen);
    const char *argv[2] = {cmd, key};
    size_t argl[2] = {strlen(cmd), keylen};
    resp_header_t h;
    rc = small_command(c, k, 2, argv, argl, &h, NULL);
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
    int rc = small_command(c, &c->conns[proxy], 1, argv, NULL, &h, &bulk);
    if (rc < 0) return rc;
    if (!bulk) return drop(&c->conns[proxy], icc_fail(c, IC_EPROTO, "unexpected reply to INFO"));
    *text = bulk;
    if (len) *len = (size_t)h.n;
    return IC_OK;
}
