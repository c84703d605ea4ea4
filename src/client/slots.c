/* slots.c -- which proxy serves a key: the Redis Cluster slot map read from CLUSTER SLOTS of any
 * proxy given (refreshed when a proxy answers -MOVED), or, when the proxies are not a cluster,
 * the 16384 slots split among them in the order given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "icc.h"
#include "net.h"

void icc_slots_split(ic_client_t *c, size_t n)
{
    for (unsigned s = 0; s < SLOT_COUNT; s++)
        c->slot_owner[s] = (uint16_t)((size_t)s * n / SLOT_COUNT);
}

int icc_conn_find_or_add(ic_client_t *c, const char *host, int port)
{
    for (size_t i = 0; i < c->nproxies; i++)
        if (c->conns[i].port == port && !strcmp(c->conns[i].host, host)) return (int)i;
    if (c->nproxies >= ICC_PROXIES_MAX || strlen(host) >= sizeof c->conns[0].host) return -1;
    icc_conn_t *more = realloc(c->conns, (c->nproxies + 1) * sizeof *more);
    if (!more) return -1;
    c->conns = more;
    icc_conn_t *k = &c->conns[c->nproxies];
    memset(k, 0, sizeof *k);
    k->fd = -1;
    char addr[300];
    snprintf(addr, sizeof addr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    k->addr = strdup(addr);
    if (!k->addr) return -1;
    snprintf(k->host, sizeof k->host, "%s", host);
    k->port = port;
    return (int)c->nproxies++;
}

/* ---- reading CLUSTER SLOTS ---- */

/* The next header of the reply on k, consumed; a bulk's body (at most 255 bytes, else an error)
 * goes to str, NUL-terminated. */
static int next_value(ic_client_t *c, icc_conn_t *k, uint64_t deadline, resp_header_t *h,
                      char str[256])
{
    int rc = icc_read_header(c, k, deadline, h, str, 256);
    if (rc < 0 || h->type != RESP_BULK || h->n < 0) return rc;
    if (h->n > 255) return icc_fail(c, IC_EPROTO, "%s: long string in CLUSTER SLOTS", k->addr);
    char body[258];
    rc = icc_conn_read(c, k, body, (size_t)h->n + 2, deadline);
    if (rc < 0) return rc;
    memcpy(str, body, (size_t)h->n);
    str[h->n] = 0;
    return 0;
}

/* Reads and drops one whole value (arrays and what they hold), at most depth levels deep. */
static int skip_value(ic_client_t *c, icc_conn_t *k, uint64_t deadline, int depth)
{
    resp_header_t h;
    char str[256];
    int rc = next_value(c, k, deadline, &h, str);
    if (rc < 0) return rc;
    if (h.type != RESP_ARRAY || h.n <= 0) return 0;
    if (depth <= 0) return icc_fail(c, IC_EPROTO, "%s: CLUSTER SLOTS nested too deep", k->addr);
    for (int64_t i = 0; i < h.n; i++)
        if ((rc = skip_value(c, k, deadline, depth - 1)) < 0) return rc;
    return 0;
}

typedef struct {
    int64_t first, last, port;
    char host[256];
} icc_range_t;

/* One range of the reply: [start, end, [host, port, id, ...], replicas...]. */
static int read_range(ic_client_t *c, icc_conn_t *k, uint64_t deadline, icc_range_t *r)
{
    resp_header_t h;
    char str[256];
    int rc = next_value(c, k, deadline, &h, str);
    if (rc < 0) return rc;
    if (h.type != RESP_ARRAY || h.n < 3 || h.n > 1000)
        return icc_fail(c, IC_EPROTO, "%s: bad CLUSTER SLOTS range", k->addr);
    int64_t fields = h.n;
    if ((rc = next_value(c, k, deadline, &h, str)) < 0) return rc;
    r->first = h.type == RESP_INTEGER ? h.n : -1;
    if ((rc = next_value(c, k, deadline, &h, str)) < 0) return rc;
    r->last = h.type == RESP_INTEGER ? h.n : -1;
    if ((rc = next_value(c, k, deadline, &h, str)) < 0) return rc;
    if (h.type != RESP_ARRAY || h.n < 2 || h.n > 100 || r->first < 0 || r->last < r->first ||
        r->last >= SLOT_COUNT)
        return icc_fail(c, IC_EPROTO, "%s: bad CLUSTER SLOTS range", k->addr);
    int64_t node_fields = h.n;
    if ((rc = next_value(c, k, deadline, &h, r->host)) < 0) return rc;
    if (h.type != RESP_BULK || h.n < 0)
        return icc_fail(c, IC_EPROTO, "%s: bad CLUSTER SLOTS host", k->addr);
    if ((rc = next_value(c, k, deadline, &h, str)) < 0) return rc;
    r->port = h.type == RESP_INTEGER ? h.n : -1;
    if (r->port <= 0 || r->port > 65535)
        return icc_fail(c, IC_EPROTO, "%s: bad CLUSTER SLOTS port", k->addr);
    for (int64_t i = 2; i < node_fields; i++)
        if ((rc = skip_value(c, k, deadline, 4)) < 0) return rc;
    for (int64_t i = 3; i < fields; i++) /* replicas: there are none to read from here */
        if ((rc = skip_value(c, k, deadline, 4)) < 0) return rc;
    /* Redis answers "" as the host of a node that does not know its own address: the one asked. */
    if (!r->host[0]) snprintf(r->host, sizeof r->host, "%s", k->host);
    return 0;
}

/* The ranges read become the map; connections are added only now, the reply read whole, since
 * adding one may move c->conns. */
static int apply_ranges(ic_client_t *c, const icc_range_t *r, int64_t n)
{
    uint16_t *owner = malloc(SLOT_COUNT * sizeof *owner);
    if (!owner) return icc_fail(c, IC_ENOMEM, "out of memory");
    for (unsigned s = 0; s < SLOT_COUNT; s++)
        owner[s] = UINT16_MAX;
    for (int64_t i = 0; i < n; i++) {
        int idx = icc_conn_find_or_add(c, r[i].host, (int)r[i].port);
        if (idx < 0) {
            free(owner);
            return icc_fail(c, IC_ENOMEM, "too many proxies in the cluster map");
        }
        for (int64_t s = r[i].first; s <= r[i].last; s++)
            owner[s] = (uint16_t)idx;
    }
    for (unsigned s = 0; s < SLOT_COUNT; s++)
        if (owner[s] == UINT16_MAX) {
            free(owner);
            return icc_fail(c, IC_EPROTO, "CLUSTER SLOTS leaves slot %u to no proxy", s);
        }
    memcpy(c->slot_owner, owner, sizeof c->slot_owner);
    free(owner);
    return 0;
}

/* Asks proxy i for CLUSTER SLOTS. 0: c->slot_owner is the cluster's map; 1: the proxy is not a
 * cluster (it answered an error); < 0: no usable answer. */
static int slots_from(ic_client_t *c, size_t i)
{
    icc_conn_t *k = &c->conns[i];
    uint64_t deadline = ev_now_ms() + (uint64_t)c->opt.op_timeout_ms;
    int rc = icc_conn_open(c, k);
    if (rc < 0) return rc;
    buf_t out;
    buf_init(&out);
    const char *argv[2] = {"CLUSTER", "SLOTS"};
    if (resp_add_command(&out, 2, argv, NULL) < 0) return icc_fail(c, IC_ENOMEM, "out of memory");
    struct iovec iov = {buf_head(&out), buf_len(&out)};
    rc = icc_conn_send(c, k, &iov, 1, deadline);
    buf_free(&out);
    resp_header_t h;
    char str[256];
    if (rc == 0) rc = next_value(c, k, deadline, &h, str);
    if (rc == IC_ESERVER || rc == IC_EAUTH) return 1;
    if (rc == 0 && (h.type != RESP_ARRAY || h.n < 0 || h.n > SLOT_COUNT))
        rc = icc_fail(c, IC_EPROTO, "%s: unexpected reply to CLUSTER SLOTS", k->addr);
    icc_range_t *ranges = rc == 0 ? calloc(h.n ? (size_t)h.n : 1, sizeof *ranges) : NULL;
    if (rc == 0 && !ranges) rc = icc_fail(c, IC_ENOMEM, "out of memory");
    for (int64_t r = 0; rc == 0 && r < h.n; r++)
        rc = read_range(c, k, deadline, &ranges[r]);
    if (rc < 0) icc_conn_close(k);
    if (rc == 0) rc = apply_ranges(c, ranges, h.n);
    free(ranges);
    return rc;
}

int icc_slots_refresh(ic_client_t *c)
{
    int rc = IC_ECONNECT;
    char err[sizeof c->err];
    snprintf(err, sizeof err, "%s", c->err);
    /* Every proxy known may answer: the first that does gives the map. */
    for (size_t i = 0; i < c->nproxies; i++) {
        rc = slots_from(c, i);
        if (rc >= 0) break;
    }
    if (rc == 1) icc_slots_split(c, c->ngiven);
    c->slots_known = rc >= 0;
    snprintf(c->err, sizeof c->err, "%s", err); /* the operation's error, not the map's */
    return rc < 0 ? rc : 0;
}

icc_conn_t *icc_conn_for_key(ic_client_t *c, const void *key, size_t keylen)
{
    if (!c->slots_known) icc_slots_refresh(c); /* failing, the split stands: -MOVED corrects it */
    return &c->conns[c->slot_owner[slot_of_key(key, keylen)]];
}

/* "MOVED 3999 127.0.0.1:6381" or "ASK ...": the address's connection, or -1 if the error is
 * neither. A MOVED slot is the target's from now on. */
static int redirect_target(ic_client_t *c, const char *err, int *ask)
{
    const char *p;
    if (!strncmp(err, "MOVED ", 6)) {
        *ask = 0;
        p = err + 6;
    } else if (!strncmp(err, "ASK ", 4)) {
        *ask = 1;
        p = err + 4;
    } else {
        return -1;
    }
    char *sp;
    unsigned long slot = strtoul(p, &sp, 10);
    if (sp == p || *sp != ' ' || slot >= SLOT_COUNT) return -1;
    char host[256];
    int port;
    if (net_split_hostport(sp + 1, host, sizeof host, &port) < 0 || port <= 0) return -1;
    int idx = icc_conn_find_or_add(c, host, port);
    if (idx >= 0 && !*ask) c->slot_owner[slot] = (uint16_t)idx;
    return idx;
}

icc_conn_t *icc_follow_redirect(ic_client_t *c, int rc)
{
    int ask;
    if (rc != IC_ESERVER) return NULL;
    int idx = redirect_target(c, c->err, &ask);
    if (idx < 0) return NULL;
    if (!ask) {
        /* The map changed: read it again (a failed read keeps the old map, and the key's proxy
         * is retried as the redirection names it). The refresh may move c->conns. */
        icc_slots_refresh(c);
        return &c->conns[idx];
    }
    icc_conn_t *k = &c->conns[idx];
    /* -ASK: this key only, this once, on the target, right after ASKING. */
    const char *argv[1] = {"ASKING"};
    size_t argl[1] = {6};
    resp_header_t h;
    if (icc_small_command(c, k, 1, argv, argl, &h, NULL, 0) < 0) return NULL;
    return k;
}
