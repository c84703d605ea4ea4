/* bench_objects.c -- large-object GET/SET latency: libinfinicache and Redis protocol via icproxy,
 * against redis-server, memcached and raw loopback TCP. */
#include <errno.h>
#include <getopt.h>
#include <hiredis.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "clock.h"
#include "infinicache.h"
#include "net.h"

/* One line per figure, key=value fields, so run-all.sh can grep them into its summary table. */

enum { OP_GET = 0, OP_SET = 1 };
static const char *const op_names[] = {"get", "set"};

typedef struct {
    size_t size;
    int runs;
    int warmup;
    double series_seconds; /* a series stops early once it has run this long */
    const char *ic_addr;
    const char *redis_addr;
    const char *memcached_addr;
    int d, p;
    const char *only; /* comma-separated series names to run; NULL runs all */
    /* Which operations run, a bit per OP_*: one alone lets a caller sample a server's counters
     * between the SET and the GET series (bench/proxy_cpu.py), so the object is left in place. */
    unsigned ops;
    /* the library over TLS (series library_tls) against the proxy's tls-port */
    const char *ic_tls_addr, *tls_ca, *tls_cert, *tls_key;
} bench_options_t;

/* Whether the series `name` is selected by --only. */
static int selected(const bench_options_t *opt, const char *name)
{
    if (!opt->only) return 1;
    size_t n = strlen(name);
    for (const char *s = opt->only; *s;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (len == n && memcmp(s, name, n) == 0) return 1;
        s += len + (comma ? 1 : 0);
    }
    return 0;
}

/* What one series measured; n == 0 means the series did not run. */
typedef struct {
    int n;
    double median_ms, p90_ms;
} series_result_t;

/* One target: a function that runs one operation and returns 0 or -1 (after printing why). */
typedef int (*op_fn)(void *ctx, int op);

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Percentile by nearest rank on a sorted array. */
static double percentile(const double *sorted, int n, double pct)
{
    int rank = (int)(pct / 100.0 * n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return sorted[rank - 1];
}

static double gbps(size_t size, double ms)
{
    return ms > 0 ? size / (ms * 1e6) : 0;
}

/* Runs warm-up then up to opt->runs timed operations (bounded by series_seconds) and prints the
 * figure line. */
static series_result_t run_series(const bench_options_t *opt, const char *name, int op, op_fn fn,
                                  void *ctx)
{
    series_result_t r = {0, 0, 0};
    if (!selected(opt, name) || !(opt->ops & (1u << op))) return r;
    for (int i = 0; i < opt->warmup; i++)
        if (fn(ctx, op) != 0) return r;
    double *samples = calloc((size_t)opt->runs, sizeof(double));
    if (!samples) return r;
    double start = clock_mono_ms_double();
    int n = 0;
    while (n < opt->runs && clock_mono_ms_double() - start < opt->series_seconds * 1e3) {
        double t0 = clock_mono_ms_double();
        if (fn(ctx, op) != 0) break;
        samples[n++] = clock_mono_ms_double() - t0;
    }
    double total_ms = clock_mono_ms_double() - start;
    if (n > 0) {
        qsort(samples, (size_t)n, sizeof(double), cmp_double);
        r.n = n;
        r.median_ms = percentile(samples, n, 50);
        r.p90_ms = percentile(samples, n, 90);
        printf("figure=%s_%s size=%zu runs=%d median_ms=%.3f p90_ms=%.3f gbps=%.3f total_ms=%.3f\n",
               op_names[op], name, opt->size, n, r.median_ms, r.p90_ms,
               gbps(opt->size, r.median_ms), total_ms);
        fflush(stdout);
    }
    free(samples);
    return r;
}

/* Whether a selected series missed one of the operations it was asked to run. */
static int series_failed(const bench_options_t *opt, const char *name, const series_result_t *set,
                         const series_result_t *get)
{
    if (!selected(opt, name)) return 0;
    return ((opt->ops & (1u << OP_SET)) && !set->n) || ((opt->ops & (1u << OP_GET)) && !get->n);
}

/* Both operations ran, so nothing later expects the object: the series may delete it. */
static int both_ops(const bench_options_t *opt)
{
    return opt->ops == ((1u << OP_GET) | (1u << OP_SET));
}

/* Prints how a figure compares with its baseline: ratio = baseline time / time (> 1 is faster). */
static void print_ratio(const char *figure, const series_result_t *a, const char *baseline,
                        const series_result_t *b)
{
    if (a->n == 0 || b->n == 0) return;
    printf("ratio=%s/%s value=%.3f\n", figure, baseline, b->median_ms / a->median_ms);
    fflush(stdout);
}

static int split_addr(const char *addr, char *host, size_t hostcap, int *port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= hostcap) return -1;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    *port = atoi(colon + 1);
    return *port > 0 ? 0 : -1;
}

/* ---- libinfinicache ---- */

typedef struct {
    ic_client_t *client;
    const char *key;
    unsigned char *value, *readback;
    size_t size;
    int verified;
} library_ctx_t;

static int library_op(void *arg, int op)
{
    library_ctx_t *c = arg;
    int rc;
    if (op == OP_SET) {
        rc = ic_set(c->client, c->key, strlen(c->key), c->value, c->size);
        if (rc != IC_OK) goto fail;
        return 0;
    }
    size_t len = 0;
    rc = ic_get_into(c->client, c->key, strlen(c->key), c->readback, c->size, &len);
    if (rc != IC_HIT || len != c->size) goto fail;
    if (!c->verified) {
        if (memcmp(c->readback, c->value, c->size) != 0) {
            fprintf(stderr, "library: GET returned wrong bytes\n");
            return -1;
        }
        c->verified = 1;
    }
    return 0;
fail:
    fprintf(stderr, "library %s: rc=%d %s (%s)\n", op_names[op], rc, rc < 0 ? ic_strerror(rc) : "",
            ic_last_error(c->client));
    return -1;
}

/* ---- hiredis (icproxy's Redis path and redis-server) ---- */

typedef struct {
    redisContext *rc;
    const char *who;
    const char *key;
    const unsigned char *value;
    size_t size;
    int verified;
} hiredis_ctx_t;

static int hiredis_op(void *arg, int op)
{
    hiredis_ctx_t *c = arg;
    redisReply *reply;
    if (op == OP_SET)
        reply = redisCommand(c->rc, "SET %s %b", c->key, (const char *)c->value, c->size);
    else
        reply = redisCommand(c->rc, "GET %s", c->key);
    if (!reply) {
        fprintf(stderr, "%s %s: %s\n", c->who, op_names[op], c->rc->errstr);
        return -1;
    }
    int ok;
    if (op == OP_SET) {
        ok = reply->type == REDIS_REPLY_STATUS;
    } else {
        ok = reply->type == REDIS_REPLY_STRING && (size_t)reply->len == c->size;
        if (ok && !c->verified) {
            ok = memcmp(reply->str, c->value, c->size) == 0;
            c->verified = ok;
        }
    }
    if (!ok)
        fprintf(stderr, "%s %s: unexpected reply type=%d len=%zu %.100s\n", c->who, op_names[op],
                reply->type, (size_t)reply->len,
                reply->type == REDIS_REPLY_ERROR ? reply->str : "");
    freeReplyObject(reply);
    return ok ? 0 : -1;
}

static redisContext *hiredis_connect(const char *addr)
{
    char host[256];
    int port;
    if (split_addr(addr, host, sizeof host, &port) != 0) return NULL;
    struct timeval tv = {5, 0};
    redisContext *rc = redisConnectWithTimeout(host, port, tv);
    if (!rc || rc->err) {
        fprintf(stderr, "connect %s: %s\n", addr, rc ? rc->errstr : "no memory");
        if (rc) redisFree(rc);
        return NULL;
    }
    redisSetTimeout(rc, (struct timeval){30, 0});
    return rc;
}

/* ---- plain blocking sockets (memcached text protocol, raw loopback) ---- */

static int tcp_connect(const char *addr)
{
    char host[256];
    int port;
    if (split_addr(addr, host, sizeof host, &port) != 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) return -1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

typedef struct {
    int fd;
    const char *key;
    const unsigned char *value;
    unsigned char *readback;
    size_t size;
    int verified;
} memcached_ctx_t;

/* Reads until line[0..cap) holds a "\r\n"; returns the line's length with it, *got = bytes read. */
static int read_line(int fd, char *line, size_t cap, size_t *got)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, line + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        n += (size_t)r;
        for (size_t i = 1; i < n; i++) {
            if (line[i - 1] == '\r' && line[i] == '\n') {
                *got = n;
                return (int)i + 1;
            }
        }
    }
    return -1;
}

static int memcached_op(void *arg, int op)
{
    memcached_ctx_t *c = arg;
    char line[512];
    size_t got = 0;
    if (op == OP_SET) {
        char head[256];
        int hl = snprintf(head, sizeof head, "set %s 0 0 %zu\r\n", c->key, c->size);
        struct iovec iov[3] = {{head, (size_t)hl}, {(void *)c->value, c->size}, {"\r\n", 2}};
        if (net_writev_all(c->fd, iov, 3) != 0) goto io;
        int ll = read_line(c->fd, line, sizeof line, &got);
        if (ll < 0) goto io;
        if (strncmp(line, "STORED\r\n", 8) != 0) {
            fprintf(stderr, "memcached set: %.*s\n", ll, line);
            return -1;
        }
        return 0;
    }
    char req[256];
    int rl = snprintf(req, sizeof req, "get %s\r\n", c->key);
    if (net_write_all(c->fd, req, (size_t)rl) != 0) goto io;
    int ll = read_line(c->fd, line, sizeof line, &got);
    if (ll < 0) goto io;
    size_t len = 0;
    char keybuf[256];
    if (sscanf(line, "VALUE %255s %*u %zu", keybuf, &len) != 2 || len != c->size) {
        fprintf(stderr, "memcached get: %.*s\n", ll, line);
        return -1;
    }
    /* The body (plus "\r\nEND\r\n") starts right after the header line; some may be in line[]. */
    size_t total = c->size + 7, have = got - (size_t)ll;
    if (have > total) have = total;
    if (have > c->size) {
        memcpy(c->readback, line + ll, c->size);
        char tail[7];
        memcpy(tail, line + ll + c->size, have - c->size);
        if (net_read_all(c->fd, tail + (have - c->size), total - have) != 0) goto io;
    } else {
        memcpy(c->readback, line + ll, have);
        if (net_read_all(c->fd, c->readback + have, c->size - have) != 0) goto io;
        char tail[7];
        if (net_read_all(c->fd, tail, 7) != 0) goto io;
    }
    if (!c->verified) {
        if (memcmp(c->readback, c->value, c->size) != 0) {
            fprintf(stderr, "memcached get: wrong bytes\n");
            return -1;
        }
        c->verified = 1;
    }
    return 0;
io:
    fprintf(stderr, "memcached %s: I/O error: %s\n", op_names[op], strerror(errno));
    return -1;
}

/* Raw loopback: a thread serves 'G' (send size bytes) and 'S' (receive size bytes, ack 1 byte)
 * over one TCP connection, so GET/SET of the raw bytes is timed exactly like a cache round trip. */
typedef struct {
    int listen_fd;
    size_t size;
    unsigned char *buf;
} raw_server_t;

static void *raw_server_main(void *arg)
{
    raw_server_t *s = arg;
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0) return NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char cmd;
    while (net_read_all(fd, &cmd, 1) == 0) {
        if (cmd == 'G') {
            if (net_write_all(fd, s->buf, s->size) != 0) break;
        } else if (cmd == 'S') {
            if (net_read_all(fd, s->buf, s->size) != 0 || net_write_all(fd, "+", 1) != 0) break;
        } else {
            break;
        }
    }
    close(fd);
    return NULL;
}

typedef struct {
    int fd;
    const unsigned char *value;
    unsigned char *readback;
    size_t size;
} raw_ctx_t;

static int raw_op(void *arg, int op)
{
    raw_ctx_t *c = arg;
    char ack;
    if (op == OP_GET) {
        if (net_write_all(c->fd, "G", 1) != 0 || net_read_all(c->fd, c->readback, c->size) != 0)
            return -1;
        return 0;
    }
    if (net_write_all(c->fd, "S", 1) != 0 || net_write_all(c->fd, c->value, c->size) != 0 ||
        net_read_all(c->fd, &ack, 1) != 0)
        return -1;
    return 0;
}

typedef struct {
    unsigned char *dst;
    const unsigned char *src;
    size_t size;
} memcpy_ctx_t;

static int memcpy_op(void *arg, int op)
{
    memcpy_ctx_t *c = arg;
    (void)op;
    memcpy(c->dst, c->src, c->size);
    __asm__ volatile("" ::"r"(c->dst) : "memory"); /* keep the copy */
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_objects [--size BYTES] [--runs N] [--warmup N] [--series-seconds S]\n"
            "                     [--ic HOST:PORT] [--redis HOST:PORT] [--memcached HOST:PORT]\n"
            "                     [--d N] [--p N] [--only SERIES,...] [--ops set|get|set,get]\n"
            "                     [--ic-tls HOST:PORT --tls-ca F [--tls-cert F --tls-key F]]\n"
            "Times GET and SET of one object (default 10 MiB, 30 runs): through libinfinicache\n"
            "and the Redis protocol to icproxy (--ic), redis-server (--redis), memcached\n"
            "(--memcached), raw loopback TCP and memcpy. Prints one key=value line per figure.\n"
            "Series: memcpy raw_tcp redis memcached library proxy_resp library_tls.\n"
            "--ops set or get alone runs that operation only and leaves the object stored (a GET\n"
            "alone reads what an earlier --ops set stored); total_ms is the series' wall time.\n");
}

int main(int argc, char **argv)
{
    bench_options_t opt = {.size = 10u << 20,
                           .runs = 30,
                           .warmup = 2,
                           .series_seconds = 60.0,
                           .d = 10,
                           .p = 2,
                           .ops = (1u << OP_GET) | (1u << OP_SET)};
    static const struct option longopts[] = {{"size", required_argument, 0, 's'},
                                             {"runs", required_argument, 0, 'n'},
                                             {"warmup", required_argument, 0, 'w'},
                                             {"series-seconds", required_argument, 0, 't'},
                                             {"ic", required_argument, 0, 'i'},
                                             {"redis", required_argument, 0, 'r'},
                                             {"memcached", required_argument, 0, 'm'},
                                             {"d", required_argument, 0, 'd'},
                                             {"p", required_argument, 0, 'p'},
                                             {"only", required_argument, 0, 'o'},
                                             {"ops", required_argument, 0, 'x'},
                                             {"ic-tls", required_argument, 0, 'I'},
                                             {"tls-ca", required_argument, 0, 'A'},
                                             {"tls-cert", required_argument, 0, 'C'},
                                             {"tls-key", required_argument, 0, 'K'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    /* Keep the client's freed memory for its next request. hiredis builds every SET in fresh
     * buffers (three 10 MiB copies); with glibc's defaults these are new mappings whose page
     * faults cost 60-110 ms per SET on this microVM, far more than either server takes, and
     * whether they happen depends on the allocator's history, not on the server measured. Every
     * series runs in this one process under the same setting. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 's':
            opt.size = strtoull(optarg, NULL, 10);
            break;
        case 'n':
            opt.runs = atoi(optarg);
            break;
        case 'w':
            opt.warmup = atoi(optarg);
            break;
        case 't':
            opt.series_seconds = atof(optarg);
            break;
        case 'i':
            opt.ic_addr = optarg;
            break;
        case 'r':
            opt.redis_addr = optarg;
            break;
        case 'm':
            opt.memcached_addr = optarg;
            break;
        case 'd':
            opt.d = atoi(optarg);
            break;
        case 'p':
            opt.p = atoi(optarg);
            break;
        case 'o':
            opt.only = optarg;
            break;
        case 'x':
            opt.ops = strcmp(optarg, "set") == 0   ? 1u << OP_SET
                      : strcmp(optarg, "get") == 0 ? 1u << OP_GET
                      : strcmp(optarg, "set,get") == 0 || strcmp(optarg, "get,set") == 0
                          ? (1u << OP_GET) | (1u << OP_SET)
                          : 0;
            break;
        case 'I':
            opt.ic_tls_addr = optarg;
            break;
        case 'A':
            opt.tls_ca = optarg;
            break;
        case 'C':
            opt.tls_cert = optarg;
            break;
        case 'K':
            opt.tls_key = optarg;
            break;
        default:
            usage();
            return ch == 'h' ? 0 : 2;
        }
    }
    if (opt.size == 0 || opt.runs < 1 || opt.runs > 100000 || opt.warmup < 0 || opt.ops == 0) {
        usage();
        return 2;
    }

    unsigned char *value = malloc(opt.size), *readback = malloc(opt.size);
    if (!value || !readback) return 1;
    uint64_t x = 0x9E3779B97F4A7C15ull; /* xorshift: incompressible, reproducible bytes */
    for (size_t i = 0; i < opt.size; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        value[i] = (unsigned char)x;
    }
    memset(readback, 1, opt.size); /* fault the pages in before timing */
    int failures = 0;

    series_result_t res[2][7];
    memset(res, 0, sizeof res);
    enum { T_MEMCPY, T_RAW, T_REDIS, T_MEMCACHED, T_LIBRARY, T_PROXY_RESP, T_LIBRARY_TLS };

    /* memcpy and raw loopback TCP: the ceilings. */
    if (selected(&opt, "raw_tcp") || selected(&opt, "memcpy")) {
        memcpy_ctx_t mc = {readback, value, opt.size};
        res[OP_GET][T_MEMCPY] = run_series(&opt, "memcpy", OP_GET, memcpy_op, &mc);

        raw_server_t srv = {-1, opt.size, malloc(opt.size)};
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof sa;
        srv.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
        pthread_t th;
        if (srv.buf && srv.listen_fd >= 0 &&
            bind(srv.listen_fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
            listen(srv.listen_fd, 1) == 0 &&
            getsockname(srv.listen_fd, (struct sockaddr *)&sa, &sl) == 0 &&
            (memset(srv.buf, 2, opt.size), pthread_create(&th, NULL, raw_server_main, &srv) == 0)) {
            char addr[64];
            snprintf(addr, sizeof addr, "127.0.0.1:%d", ntohs(sa.sin_port));
            raw_ctx_t rc = {tcp_connect(addr), value, readback, opt.size};
            if (rc.fd >= 0) {
                res[OP_GET][T_RAW] = run_series(&opt, "raw_tcp", OP_GET, raw_op, &rc);
                res[OP_SET][T_RAW] = run_series(&opt, "raw_tcp", OP_SET, raw_op, &rc);
                net_write_all(rc.fd, "Q", 1);
                close(rc.fd);
            }
            pthread_join(th, NULL);
        } else {
            fprintf(stderr, "raw loopback: setup failed: %s\n", strerror(errno));
            failures++;
        }
        if (srv.listen_fd >= 0) close(srv.listen_fd);
        free(srv.buf);
    }

    if (opt.redis_addr) {
        hiredis_ctx_t hc = {
            hiredis_connect(opt.redis_addr), "redis-server", "bench:object", value, opt.size, 0};
        if (hc.rc) {
            res[OP_SET][T_REDIS] = run_series(&opt, "redis", OP_SET, hiredis_op, &hc);
            res[OP_GET][T_REDIS] = run_series(&opt, "redis", OP_GET, hiredis_op, &hc);
            redisFree(hc.rc);
        }
        if (series_failed(&opt, "redis", &res[OP_SET][T_REDIS], &res[OP_GET][T_REDIS])) failures++;
    }

    if (opt.memcached_addr) {
        memcached_ctx_t mc = {
            tcp_connect(opt.memcached_addr), "bench:object", value, readback, opt.size, 0};
        if (mc.fd >= 0) {
            res[OP_SET][T_MEMCACHED] = run_series(&opt, "memcached", OP_SET, memcached_op, &mc);
            res[OP_GET][T_MEMCACHED] = run_series(&opt, "memcached", OP_GET, memcached_op, &mc);
            close(mc.fd);
        }
        if (series_failed(&opt, "memcached", &res[OP_SET][T_MEMCACHED], &res[OP_GET][T_MEMCACHED]))
            failures++;
    }

    if (opt.ic_addr) {
        ic_options_t io;
        ic_options_init(&io);
        const char *proxies[1] = {opt.ic_addr};
        io.proxies = proxies;
        io.nproxies = 1;
        io.d = opt.d;
        io.p = opt.p;
        io.op_timeout_ms = 30000;
        int err = 0;
        library_ctx_t lc = {
            ic_client_new(&io, &err), "bench:library", value, readback, opt.size, 0};
        if (lc.client) {
            res[OP_SET][T_LIBRARY] = run_series(&opt, "library", OP_SET, library_op, &lc);
            res[OP_GET][T_LIBRARY] = run_series(&opt, "library", OP_GET, library_op, &lc);
            if (both_ops(&opt)) ic_del(lc.client, lc.key, strlen(lc.key));
            ic_client_free(lc.client);
        } else {
            fprintf(stderr, "ic_client_new: %s\n", ic_strerror(err));
        }
        if (series_failed(&opt, "library", &res[OP_SET][T_LIBRARY], &res[OP_GET][T_LIBRARY]))
            failures++;

        hiredis_ctx_t hc = {
            hiredis_connect(opt.ic_addr), "icproxy-resp", "bench:resp", value, opt.size, 0};
        if (hc.rc) {
            res[OP_SET][T_PROXY_RESP] = run_series(&opt, "proxy_resp", OP_SET, hiredis_op, &hc);
            res[OP_GET][T_PROXY_RESP] = run_series(&opt, "proxy_resp", OP_GET, hiredis_op, &hc);
            redisReply *r = both_ops(&opt) ? redisCommand(hc.rc, "DEL %s", hc.key) : NULL;
            if (r) freeReplyObject(r);
            redisFree(hc.rc);
        }
        if (series_failed(&opt, "proxy_resp", &res[OP_SET][T_PROXY_RESP],
                          &res[OP_GET][T_PROXY_RESP]))
            failures++;
    }

    if (opt.ic_tls_addr) {
        ic_options_t io;
        ic_options_init(&io);
        const char *proxies[1] = {opt.ic_tls_addr};
        io.proxies = proxies;
        io.nproxies = 1;
        io.d = opt.d;
        io.p = opt.p;
        io.op_timeout_ms = 30000;
        io.tls = 1;
        io.tls_ca_file = opt.tls_ca;
        io.tls_cert_file = opt.tls_cert;
        io.tls_key_file = opt.tls_key;
        int err = 0;
        library_ctx_t lc = {
            ic_client_new(&io, &err), "bench:library-tls", value, readback, opt.size, 0};
        if (lc.client) {
            res[OP_SET][T_LIBRARY_TLS] = run_series(&opt, "library_tls", OP_SET, library_op, &lc);
            res[OP_GET][T_LIBRARY_TLS] = run_series(&opt, "library_tls", OP_GET, library_op, &lc);
            if (both_ops(&opt)) ic_del(lc.client, lc.key, strlen(lc.key));
            ic_client_free(lc.client);
        } else {
            fprintf(stderr, "ic_client_new: %s\n", ic_strerror(err));
        }
        if (series_failed(&opt, "library_tls", &res[OP_SET][T_LIBRARY_TLS],
                          &res[OP_GET][T_LIBRARY_TLS]))
            failures++;
    }

    /* TLS against plaintext, same library, same proxy (> 1 would mean TLS is faster). */
    for (int op = OP_GET; op <= OP_SET; op++) {
        char a[64], b[64];
        snprintf(a, sizeof a, "%s_library_tls", op_names[op]);
        snprintf(b, sizeof b, "%s_library", op_names[op]);
        print_ratio(a, &res[op][T_LIBRARY_TLS], b, &res[op][T_LIBRARY]);
    }

    /* Ratios against redis-server with the same hiredis client and object (> 1: faster). */
    for (int op = OP_GET; op <= OP_SET; op++) {
        char a[64], b[64];
        snprintf(b, sizeof b, "%s_redis", op_names[op]);
        snprintf(a, sizeof a, "%s_library", op_names[op]);
        print_ratio(a, &res[op][T_LIBRARY], b, &res[op][T_REDIS]);
        snprintf(a, sizeof a, "%s_proxy_resp", op_names[op]);
        print_ratio(a, &res[op][T_PROXY_RESP], b, &res[op][T_REDIS]);
        snprintf(a, sizeof a, "%s_memcached", op_names[op]);
        print_ratio(a, &res[op][T_MEMCACHED], b, &res[op][T_REDIS]);
        snprintf(a, sizeof a, "%s_raw_tcp", op_names[op]);
        print_ratio(a, &res[op][T_RAW], b, &res[op][T_REDIS]);
    }
    free(value);
    free(readback);
    return failures ? 1 : 0;
}
