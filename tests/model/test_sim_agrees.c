/* test_sim_agrees.c -- the simulator takes the proxy's decisions: one sequence of SETs and GETs of
 * objects of many sizes runs through icsim's engine (sim_run, observed) and through the proxy's
 * own code (set_prepare_value for the layout, meta_place for placement and CLOCK eviction, its
 * version counter, and the read order of op_read.c's op_request_chunks/request_more), and every choice
 * must be the same: d and p, the nodes of each chunk, each victim, the chunks a GET asks for. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "layout.h"
#include "meta.h"
#include "nodepool.h"
#include "op.h"
#include "server.h"
#include "sim.h"
#include "test_server.h"

#define NODES 8
#define NODE_MB 2 /* node memory; 1 MiB of it is reserved, so each node holds 1 MiB */
#define KEYS 14
#define REQUESTS 400
#define PREFIX "icb0:"

/* A log of choices, one line each; evictions of one placement are sorted, as their order within
 * one placement is not a decision the proxy shows (both sides sweep the same CLOCK). */
typedef struct {
    char *text;
    size_t len, cap;
    char evicts[64][48];
    int nevicts;
} log_t;

static void log_line(log_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(log_t *l, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof line);
    if (l->len + (size_t)n + 2 > l->cap) {
        l->cap = (l->cap + (size_t)n + 2) * 2;
        l->text = realloc(l->text, l->cap);
        assert_non_null(l->text);
    }
    memcpy(l->text + l->len, line, (size_t)n);
    l->len += (size_t)n;
    l->text[l->len++] = '\n';
    l->text[l->len] = 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void log_evict(log_t *l, const char *key, size_t keylen)
{
    assert_true(l->nevicts < 64);
    snprintf(l->evicts[l->nevicts++], sizeof l->evicts[0], "evict %.*s", (int)keylen, key);
}

static void log_place(log_t *l, const char *key, size_t keylen, uint64_t size, uint64_t version,
                      int d, int p, const uint16_t *nodes)
{
    qsort(l->evicts, (size_t)l->nevicts, sizeof l->evicts[0], cmp_str);
    for (int i = 0; i < l->nevicts; i++)
        log_line(l, "%s", l->evicts[i]);
    l->nevicts = 0;
    char list[256];
    size_t at = 0;
    for (int i = 0; i < d + p; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%u", i ? "," : "", nodes[i]);
    log_line(l, "place %.*s size=%" PRIu64 " version=%" PRIu64 " d=%d p=%d nodes=%s", (int)keylen,
             key, size, version, d, p, list);
}

static void log_read(log_t *l, const char *key, size_t keylen, uint64_t version, int slot, int node)
{
    log_line(l, "read %.*s version=%" PRIu64 " slot=%d node=%d", (int)keylen, key, version, slot,
             node);
}

/* ---------------- the workload ---------------- */

static const uint64_t sizes[] = {
    1,
    10 << 10,
    64 << 10, /* at small-object-max: replicated */
    (64 << 10) + 1,
    300 << 10,
    700 << 10,
    1200 << 10,
    2 << 20,
    3500 << 10,
};

static void workload(sim_request_t *reqs, size_t n, uint64_t seed)
{
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t r = x >> 33;
        reqs[i] = (sim_request_t){.op = r % 3 == 0 ? TRACE_OP_SET : TRACE_OP_GET,
                                  .key = (r >> 2) % KEYS,
                                  .size = sizes[(r >> 8) % (sizeof sizes / sizeof sizes[0])]};
    }
}

/* ---------------- the simulator's side ---------------- */

static void sim_observed(void *arg, const sim_choice_t *c)
{
    log_t *l = arg;
    switch (c->kind) {
    case SIM_CHOICE_EVICT:
        log_evict(l, c->key, c->keylen);
        break;
    case SIM_CHOICE_PLACE:
        log_place(l, c->key, c->keylen, c->size, c->version, c->d, c->p, c->nodes);
        break;
    case SIM_CHOICE_READ:
        log_read(l, c->key, c->keylen, c->version, c->slot, c->node);
        break;
    }
}

static void run_sim(const sim_request_t *reqs, size_t n, log_t *l)
{
    sim_config_t cfg;
    sim_config_defaults(&cfg);
    cfg.pool_size = NODES;
    cfg.node_memory_mb = NODE_MB;
    cfg.node_reserved_mb = 1;
    cfg.d = 4;
    cfg.p = 2;
    cfg.small_object_max = 64 << 10;
    cfg.key_prefix = PREFIX;
    cfg.warmup_interval_ms = cfg.backup_interval_ms = 0;
    cfg.idle_reclaim_ms = 0;
    cfg.reclaim_rate = 0;
    cfg.clients = 1; /* one request at a time, in order */
    cfg.observe = sim_observed;
    cfg.observe_arg = l;
    sim_result_t res;
    char err[256];
    assert_int_equal(sim_run(&cfg, reqs, n, &res, err, sizeof err), 0);
    assert_true(res.total.evictions > 10); /* the scenario does exercise CLOCK */
    sim_result_free(&res);
}

/* ---------------- the proxy's side ---------------- */

static server_t *make_proxy(void)
{
    server_t *srv = make_server(NODES, (uint64_t)(NODE_MB - 1) << 20);
    assert_non_null(srv);
    srv->cfg.d = 4;
    srv->cfg.p = 2;
    srv->cfg.small_object_max = 64 << 10;
    srv->cfg.max_object_size = 1 << 30;
    return srv;
}

/* A SET as op_write.c runs it: the layout, the placement (evicting), a version, and the commit that
 * replaces the previous version. */
static void proxy_set(server_t *srv, const char *key, size_t keylen, uint64_t size, log_t *l)
{
    op_t *op = calloc(1, sizeof *op);
    assert_non_null(op);
    op->srv = srv;
    op->keylen = keylen;
    assert_int_equal(set_prepare_value(op, NULL, size), 0);
    objbuf_unref(op->obj);
    /* Which keys the placement evicts: the ones gone from the table after it. */
    char before[KEYS][32];
    int nbefore = 0;
    for (size_t i = 0; i < srv->meta.clock_len; i++) {
        meta_t *m = srv->meta.clock[i];
        if (m) snprintf(before[nbefore++], sizeof before[0], "%.*s", m->keylen, meta_key(m));
    }
    uint16_t nodes[EC_MAX_CHUNKS];
    if (meta_place(srv, key, keylen, op->n, op->chunk_size, nodes) == 0) {
        for (int i = 0; i < nbefore; i++)
            if (!meta_find(&srv->meta, before[i], strlen(before[i])))
                log_evict(l, before[i], strlen(before[i]));
        uint64_t version = server_next_version(srv);
        log_place(l, key, keylen, size, version, op->d, op->p, nodes);
        meta_t *m = meta_new(key, keylen, op->d, op->p);
        assert_non_null(m);
        m->version = version;
        m->size = size;
        m->chunk_size = (uint32_t)op->chunk_size;
        memcpy(meta_nodes(m), nodes, sizeof(uint16_t) * (size_t)op->n);
        meta_t *old = meta_find(&srv->meta, key, keylen);
        if (old) meta_drop(srv, old);
        assert_int_equal(meta_insert(&srv->meta, m), 0);
    }
    buf_free(&op->reply);
    free(op);
}

/* A GET as op_write.c runs it: a hit marks the object referenced and asks every chunk of a coded
 * object, or the first replica of a replicated one in request_more's rotation; a miss is filled
 * by the client's SET. */
static void proxy_get(server_t *srv, const char *key, size_t keylen, uint64_t size, log_t *l)
{
    meta_t *m = meta_lookup(srv, key, keylen);
    if (!m) {
        proxy_set(srv, key, keylen, size, l);
        return;
    }
    m->referenced = 1;
    int n = m->d + m->p;
    if (m->d == 1) {
        int i = layout_read_slot(m->version, n, 0);
        log_read(l, key, keylen, m->version, i, meta_nodes(m)[i]);
        return;
    }
    for (int i = 0; i < n; i++)
        log_read(l, key, keylen, m->version, i, meta_nodes(m)[i]);
}

static void run_proxy(const sim_request_t *reqs, size_t n, log_t *l)
{
    server_t *srv = make_proxy();
    for (size_t i = 0; i < n; i++) {
        char key[64];
        int len = snprintf(key, sizeof key, "%s%016" PRIx64, PREFIX, reqs[i].key);
        if (reqs[i].op == TRACE_OP_GET)
            proxy_get(srv, key, (size_t)len, reqs[i].size, l);
        else
            proxy_set(srv, key, (size_t)len, reqs[i].size, l);
    }
    free_server(srv);
}

/* ---------------- the comparison ---------------- */

static void test_same_choices(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        sim_request_t reqs[REQUESTS];
        workload(reqs, REQUESTS, seed);
        log_t sim = {0}, proxy = {0};
        run_sim(reqs, REQUESTS, &sim);
        run_proxy(reqs, REQUESTS, &proxy);
        assert_non_null(sim.text);
        assert_non_null(proxy.text);
        if (strcmp(sim.text, proxy.text) != 0) {
            /* Show the first line that differs. */
            const char *a = sim.text, *b = proxy.text;
            int line = 1;
            while (*a && *a == *b) {
                if (*a == '\n') line++;
                a++, b++;
            }
            while (a > sim.text && a[-1] != '\n')
                a--, b--;
            fprintf(stderr, "seed %" PRIu64 ", choice %d differs:\n  sim:   %.*s\n  proxy: %.*s\n",
                    seed, line, (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
            fail();
        }
        /* Both layouts, both read orders and evictions all came up. */
        assert_non_null(strstr(sim.text, " d=1 p=2"));
        assert_non_null(strstr(sim.text, " d=4 p=2"));
        assert_non_null(strstr(sim.text, "evict "));
        free(sim.text);
        free(proxy.text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_choices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
