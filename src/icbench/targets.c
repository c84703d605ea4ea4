/* targets.c -- the servers icbench measures: icproxy through libinfinicache, any Redis-protocol
 * server, memcached. */
#include "targets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "infinicache.h"
#include "net.h"
#include "resp_client.h"

#define MC_LINE_MAX 1024                 /* longest memcached reply line we accept */
#define MC_VALUE_MAX ((uint64_t)4 << 30) /* largest value a memcached reply may announce */

struct target_conn {
    const target_t *t;
    int broken; /* reopen before the next request */
    /* ic */
    ic_client_t *ic;
    void *ic_value;
    /* resp */
    resp_client_t resp;
    /* memcached */
    int fd;
    char *rbuf;
    size_t rcap, rpos, rlen;
    uint64_t item_size_max;
    target_progress_fn progress;
    void *progress_arg;
};

static int parse_port(const char *s, int *port)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 65535) return -1;
    *port = (int)v;
    return 0;
}

int target_parse(const char *spec, target_t *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    t->d = 10;
    t->p = 2;
    t->first_d = 1;
    t->timeout_ms = 30000;
    if (strlen(spec) >= sizeof t->spec) goto bad;
    strcpy(t->spec, spec);
    char buf[300];
    strcpy(buf, spec);
    char *rest;
    if (!strncmp(buf, "ic:", 3)) {
        t->kind = TARGET_IC;
        rest = buf + 3;
    } else if (!strncmp(buf, "resp:", 5)) {
        t->kind = TARGET_RESP;
        rest = buf + 5;
    } else if (!strncmp(buf, "memcached:", 10)) {
        t->kind = TARGET_MEMCACHED;
        rest = buf + 10;
    } else {
        goto bad;
    }
    char *params = strchr(rest, ',');
    if (params) {
        if (t->kind != TARGET_IC) goto bad;
        *params++ = 0;
    }
    char *colon = strrchr(rest, ':');
    if (!colon || colon == rest || (size_t)(colon - rest) >= sizeof t->host) goto bad;
    *colon = 0;
    strcpy(t->host, rest);
    if (parse_port(colon + 1, &t->port) < 0) goto bad;
    while (params && *params) {
        char *next = strchr(params, ',');
        if (next) *next++ = 0;
        char *end;
        long v = strtol(params + 2, &end, 10);
        if (!strcmp(params, "firstd=0") || !strcmp(params, "firstd=1"))
            t->first_d = params[7] - '0';
        else if (!strncmp(params, "d=", 2) && end != params + 2 && !*end && v >= 1 && v <= 32)
            t->d = (int)v;
        else if (!strncmp(params, "p=", 2) && end != params + 2 && !*end && v >= 0 && v <= 47)
            t->p = (int)v;
        else
            goto bad;
        params = next;
    }
    if (t->d + t->p > 48) goto bad;
    return 0;
bad:
    snprintf(err, errlen,
             "target '%s': expected ic:HOST:PORT[,d=N,p=N,firstd=0|1] (d 1..32, d+p <= 48), "
             "resp:HOST:PORT "
             "or memcached:HOST:PORT",
             spec);
    return -1;
}

/* ---- memcached: text protocol over a blocking socket with a growable read buffer ---- */

static int tcp_connect(const target_t *t, char *err, size_t errlen)
{
    int fd = net_connect(t->host, t->port, t->timeout_ms);
    if (fd < 0) {
        snprintf(err, errlen, "cannot connect to %s:%d: %s", t->host, t->port, strerror(-fd));
        return -1;
    }
    net_set_io_timeout(fd, t->timeout_ms);
    return fd;
}

/* Makes at least need unread bytes available at rbuf + rpos. While a value of value_len bytes
 * (0: none) arrives at rbuf + rpos, reports its progress; the buffer does not move meanwhile. */
static int mc_fill_value(target_conn_t *c, size_t need, size_t value_len)
{
    if (c->rlen - c->rpos >= need) return 0;
    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (need > c->rcap) {
        size_t cap = c->rcap ? c->rcap : 65536;
        while (cap < need)
            cap *= 2;
        char *b = realloc(c->rbuf, cap);
        if (!b) return -1;
        c->rbuf = b;
        c->rcap = cap;
    }
    while (c->rlen < need) {
        ssize_t r = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        c->rlen += (size_t)r;
        if (value_len && c->progress) {
            size_t have = c->rlen - c->rpos;
            c->progress(c->progress_arg, c->rbuf + c->rpos, value_len,
                        have < value_len ? have : value_len);
        }
    }
    return 0;
}

static int mc_fill(target_conn_t *c, size_t need)
{
    return mc_fill_value(c, need, 0);
}

/* The next reply line without its "\r\n", NUL-terminated in the buffer; NULL on error. */
static char *mc_line(target_conn_t *c, char *err, size_t errlen)
{
    size_t scanned = 0;
    for (;;) {
        char *start = c->rbuf + c->rpos;
        size_t have = c->rlen - c->rpos;
        for (size_t i = scanned ? scanned - 1 : 0; i + 1 < have; i++) {
            if (start[i] == '\r' && start[i + 1] == '\n') {
                start[i] = 0;
                c->rpos += i + 2;
                return start;
            }
        }
        scanned = have;
        if (have >= MC_LINE_MAX) {
            snprintf(err, errlen, "memcached: reply line longer than %d bytes", MC_LINE_MAX);
            return NULL;
        }
        if (mc_fill(c, have + 1) < 0) {
            snprintf(err, errlen, "memcached: connection lost: %s",
                     errno ? strerror(errno) : "closed");
            return NULL;
        }
    }
}

static int mc_open(target_conn_t *c, char *err, size_t errlen)
{
    c->fd = tcp_connect(c->t, err, errlen);
    if (c->fd < 0) return -1;
    c->rpos = c->rlen = 0;
    c->broken = 0;
    return 0;
}

static int mc_check(target_conn_t *c, char *err, size_t errlen)
{
    struct iovec iov[1] = {{(void *)"version\r\nstats settings\r\n", 25}};
    if (net_writev_all(c->fd, iov, 1) < 0) {
        snprintf(err, errlen, "memcached: cannot send: %s", strerror(errno));
        return -1;
    }
    char *line = mc_line(c, err, errlen);
    if (!line) return -1;
    if (strncmp(line, "VERSION ", 8) != 0) {
        snprintf(err, errlen, "not a memcached server (version answered '%.60s')", line);
        return -1;
    }
    while ((line = mc_line(c, err, errlen)) != NULL && strcmp(line, "END") != 0) {
        unsigned long long v;
        if (sscanf(line, "STAT item_size_max %llu", &v) == 1) c->item_size_max = v;
    }
    return line ? 0 : -1;
}

static int mc_get(target_conn_t *c, const char *key, size_t keylen, const void **value, size_t *len,
                  char *err, size_t errlen)
{
    struct iovec iov[3] = {{(void *)"get ", 4}, {(void *)key, keylen}, {(void *)"\r\n", 2}};
    if (net_writev_all(c->fd, iov, 3) < 0) {
        snprintf(err, errlen, "memcached: cannot send: %s", strerror(errno));
        return TARGET_ERROR;
    }
    char *line = mc_line(c, err, errlen);
    if (!line) return TARGET_ERROR;
    if (!strcmp(line, "END")) return TARGET_MISS;
    unsigned long long bytes;
    unsigned flags;
    int keyend = 0;
    if (sscanf(line, "VALUE %*s%n %u %llu", &keyend, &flags, &bytes) != 2 || bytes > MC_VALUE_MAX) {
        snprintf(err, errlen, "memcached: unexpected reply '%.60s'", line);
        return TARGET_ERROR;
    }
    if ((size_t)keyend != 6 + keylen || memcmp(line + 6, key, keylen) != 0) {
        snprintf(err, errlen, "memcached: reply for another key '%.60s'", line);
        return TARGET_ERROR;
    }
    if (mc_fill_value(c, (size_t)bytes + 7, (size_t)bytes) < 0) {
        snprintf(err, errlen, "memcached: connection lost in a value: %s",
                 errno ? strerror(errno) : "closed");
        return TARGET_ERROR;
    }
    char *v = c->rbuf + c->rpos;
    if (memcmp(v + bytes, "\r\nEND\r\n", 7) != 0) {
        snprintf(err, errlen, "memcached: value of %llu bytes not followed by END", bytes);
        return TARGET_ERROR;
    }
    c->rpos += (size_t)bytes + 7;
    *value = v;
    *len = (size_t)bytes;
    return TARGET_HIT;
}

static int mc_set(target_conn_t *c, const char *key, size_t keylen, const void *value, size_t len,
                  char *err, size_t errlen)
{
    char tail[48];
    int tl = snprintf(tail, sizeof tail, " 0 0 %zu\r\n", len);
    struct iovec iov[5] = {{(void *)"set ", 4},
                           {(void *)key, keylen},
                           {tail, (size_t)tl},
                           {(void *)value, len},
                           {(void *)"\r\n", 2}};
    if (net_writev_all(c->fd, iov, 5) < 0) {
        snprintf(err, errlen, "memcached: cannot send: %s", strerror(errno));
        return TARGET_ERROR;
    }
    char *line = mc_line(c, err, errlen);
    if (!line) return TARGET_ERROR;
    if (!strcmp(line, "STORED")) return TARGET_STORED;
    snprintf(err, errlen, "memcached: %.100s", line);
    /* memcached swallows a too-large value and answers once; the connection stays usable. */
    return TARGET_ERROR;
}

/* ---- public ---- */

static int open_conn(target_conn_t *c, int check, char *err, size_t errlen)
{
    const target_t *t = c->t;
    c->broken = 0;
    switch (t->kind) {
    case TARGET_IC: {
        ic_options_t o;
        ic_options_init(&o);
        char addr[300];
        snprintf(addr, sizeof addr, "%s:%d", t->host, t->port);
        const char *proxies[1] = {addr};
        o.proxies = proxies;
        o.nproxies = 1;
        o.d = t->d;
        o.p = t->p;
        o.first_d = t->first_d;
        o.op_timeout_ms = t->timeout_ms;
        int e = 0;
        c->ic = ic_client_new(&o, &e);
        if (!c->ic) {
            snprintf(err, errlen, "libinfinicache: %s", ic_strerror(e));
            return -1;
        }
        if (check) {
            int rc = ic_exists(c->ic, "icbench:ping", 12);
            if (rc < 0) {
                snprintf(err, errlen, "%s (%s)", ic_strerror(rc), ic_last_error(c->ic));
                return -1;
            }
        }
        return 0;
    }
    case TARGET_RESP: {
        int fd = tcp_connect(t, err, errlen);
        if (fd < 0) return -1;
        resp_client_init(&c->resp, fd, 0);
        c->resp.progress = c->progress;
        c->resp.progress_arg = c->progress_arg;
        if (check) {
            const void *argv[1] = {"PING"};
            size_t argl[1] = {4};
            resp_reply_t r;
            if (resp_client_send(&c->resp, 1, argv, argl, err, errlen) < 0 ||
                resp_client_read(&c->resp, &r, err, errlen) < 0)
                return -1;
            if (r.kind != RESP_REPLY_STATUS || strcmp(r.text, "PONG") != 0) {
                snprintf(err, errlen, "PING not answered with PONG: %.100s",
                         r.kind == RESP_REPLY_ERROR ? r.text : "other reply");
                return -1;
            }
        }
        return 0;
    }
    case TARGET_MEMCACHED:
        if (mc_open(c, err, errlen) < 0) return -1;
        return check ? mc_check(c, err, errlen) : 0;
    }
    return -1;
}

static void close_conn(target_conn_t *c)
{
    if (c->ic) ic_client_free(c->ic);
    if (c->ic_value) ic_free(c->ic_value);
    resp_client_close(&c->resp);
    if (c->fd >= 0) close(c->fd);
    c->ic = NULL;
    c->ic_value = NULL;
    c->fd = -1;
}

target_conn_t *target_connect(const target_t *t, char *err, size_t errlen)
{
    target_conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->t = t;
    c->fd = -1;
    c->resp.fd = -1;
    if (open_conn(c, 1, err, errlen) < 0) {
        target_close(c);
        return NULL;
    }
    return c;
}

void target_close(target_conn_t *c)
{
    if (!c) return;
    close_conn(c);
    free(c->rbuf);
    free(c);
}

uint64_t target_item_size_max(const target_conn_t *c)
{
    return c->item_size_max;
}

void target_set_progress(target_conn_t *c, target_progress_fn fn, void *arg)
{
    c->progress = fn;
    c->progress_arg = arg;
    c->resp.progress = fn;
    c->resp.progress_arg = arg;
}

/* Releases the previous reply and reopens a broken connection. */
static int prepare(target_conn_t *c, char *err, size_t errlen)
{
    if (c->ic_value) {
        ic_free(c->ic_value);
        c->ic_value = NULL;
    }
    if (c->broken) {
        close_conn(c);
        if (open_conn(c, 0, err, errlen) < 0) {
            c->broken = 1;
            return -1;
        }
    }
    return 0;
}

int target_get(target_conn_t *c, const char *key, size_t keylen, const void **value, size_t *len,
               char *err, size_t errlen)
{
    if (prepare(c, err, errlen) < 0) return TARGET_ERROR;
    switch (c->t->kind) {
    case TARGET_IC: {
        size_t n = 0;
        int rc = ic_get(c->ic, key, keylen, &c->ic_value, &n);
        if (rc == IC_HIT) {
            *value = c->ic_value;
            *len = n;
            return TARGET_HIT;
        }
        if (rc == IC_MISS) return TARGET_MISS;
        snprintf(err, errlen, "%s (%s)", ic_strerror(rc), ic_last_error(c->ic));
        return TARGET_ERROR;
    }
    case TARGET_RESP: {
        const void *argv[2] = {"GET", key};
        size_t argl[2] = {3, keylen};
        resp_reply_t r;
        if (resp_client_send(&c->resp, 2, argv, argl, err, errlen) < 0 ||
            resp_client_read(&c->resp, &r, err, errlen) < 0) {
            c->broken = 1;
            return TARGET_ERROR;
        }
        if (r.kind == RESP_REPLY_NIL) return TARGET_MISS;
        if (r.kind == RESP_REPLY_BULK) {
            *value = r.value;
            *len = r.len;
            return TARGET_HIT;
        }
        snprintf(err, errlen, "unexpected reply to GET: %.100s",
                 r.kind == RESP_REPLY_ERROR ? r.text : "not a bulk string");
        return TARGET_ERROR;
    }
    case TARGET_MEMCACHED: {
        int rc = mc_get(c, key, keylen, value, len, err, errlen);
        if (rc == TARGET_ERROR) c->broken = 1;
        return rc;
    }
    }
    return TARGET_ERROR;
}

int target_set(target_conn_t *c, const char *key, size_t keylen, const void *value, size_t len,
               char *err, size_t errlen)
{
    if (prepare(c, err, errlen) < 0) return TARGET_ERROR;
    switch (c->t->kind) {
    case TARGET_IC: {
        int rc = ic_set(c->ic, key, keylen, value, len);
        if (rc == IC_OK) return TARGET_STORED;
        snprintf(err, errlen, "%s (%s)", ic_strerror(rc), ic_last_error(c->ic));
        return TARGET_ERROR;
    }
    case TARGET_RESP: {
        const void *argv[3] = {"SET", key, value};
        size_t argl[3] = {3, keylen, len};
        resp_reply_t r;
        if (resp_client_send(&c->resp, 3, argv, argl, err, errlen) < 0 ||
            resp_client_read(&c->resp, &r, err, errlen) < 0) {
            c->broken = 1;
            return TARGET_ERROR;
        }
        if (r.kind == RESP_REPLY_STATUS) return TARGET_STORED;
        snprintf(err, errlen, "unexpected reply to SET: %.100s",
                 r.kind == RESP_REPLY_ERROR ? r.text : "not a status");
        return TARGET_ERROR;
    }
    case TARGET_MEMCACHED: {
        int rc = mc_set(c, key, keylen, value, len, err, errlen);
        /* A reply we could not read leaves the stream at an unknown place. */
        if (rc == TARGET_ERROR && strncmp(err, "memcached: SERVER_ERROR", 23) != 0) c->broken = 1;
        return rc;
    }
    }
    return TARGET_ERROR;
}
