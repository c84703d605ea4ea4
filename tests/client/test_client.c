/* test_client.c -- libinfinicache against the fake proxy: round trips, first-d decoding, CRC
 * failures made up by spares (ICGETCHUNKS), lost chunks and repair, errors, malformed replies,
 * timeouts; plus the slot map and its redirections, and the parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "ev.h"
#include "fake_proxy.h"
#include "icc.h"
#include "infinicache.h"

static fake_proxy_t *fake;
static char fake_addr[64];

static ic_client_t *client_for(const char *addr, int d, int p)
{
    ic_options_t o;
    ic_options_init(&o);
    const char *proxies[1] = {addr};
    o.proxies = proxies;
    o.nproxies = 1;
    o.d = d;
    o.p = p;
    o.op_timeout_ms = 2000;
    o.chunk_deadline_ms = 400;
    int err = 0;
    ic_client_t *c = ic_client_new(&o, &err);
    assert_non_null(c);
    return c;
}

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *b = malloc(n + 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (uint8_t)(x >> 16);
    }
    return b;
}

static int setup(void **state)
{
    fake_proxy_reset_faults(fake);
    return 0;
}

/* ---- against the fake proxy ---- */

static void roundtrip(ic_client_t *c, size_t len, unsigned seed)
{
    uint8_t *v = pattern(len, seed);
    char key[32];
    snprintf(key, sizeof key, "rt-%zu-%u", len, seed);
    assert_int_equal(ic_set(c, key, strlen(key), v, len), IC_OK);
    void *got = NULL;
    size_t glen = 12345;
    assert_int_equal(ic_get(c, key, strlen(key), &got, &glen), IC_HIT);
    assert_int_equal(glen, len);
    assert_non_null(got);
    if (len) assert_memory_equal(got, v, len);
    ic_free(got);
    /* Zero-copy variant into an exact buffer. */
    uint8_t *buf = malloc(len + 1);
    assert_int_equal(ic_get_into(c, key, strlen(key), buf, len, &glen), IC_HIT);
    assert_int_equal(glen, len);
    if (len) assert_memory_equal(buf, v, len);
    free(buf);
    free(v);
}

static void test_roundtrip_sizes(void **state)
{
    ic_client_t *c = client_for(fake_addr, 10, 2);
    size_t sizes[] = {0, 1, 100, 640, 65536, 65537, 100000, 1 << 20, (1 << 20) + 7, 3000001};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) roundtrip(c, sizes[i], (unsigned)i);
    /* Small objects are one chunk plus p replicas; large ones RS(d+p). */
    pthread_mutex_lock(&fake->lock);
    fake_object_t *o = fake_proxy_find(fake, "rt-65536-4", 10);
    assert_non_null(o);
    assert_int_equal(o->d, 1);
    assert_int_equal(o->p, 2);
    o = fake_proxy_find(fake, "rt-65537-5", 10);
    assert_int_equal(o->d, 10);
    assert_int_equal(o->cs, 6592);
    pthread_mutex_unlock(&fake->lock);
    ic_client_free(c);
    c = client_for(fake_addr, 4, 0);
    roundtrip(c, 1 << 20, 77);
    ic_client_free(c);
    c = client_for(fake_addr, 32, 16);
    roundtrip(c, 999999, 78);
    ic_client_free(c);
}

static void test_get_into_too_small_and_miss(void **state)
{
    ic_client_t *c = client_for(fake_addr, 10, 2);
    uint8_t *v = pattern(200000, 9);
    assert_int_equal(ic_set(c, "sz", 2, v, 200000), IC_OK);
    size_t len = 0;
    assert_int_equal(ic_get_into(c, "sz", 2, NULL, 0, &len), IC_ETOOSMALL);
    assert_int_equal(len, 200000);
    uint8_t small[100];
    len = 0;
    assert_int_equal(ic_get_into(c, "sz", 2, small, sizeof small, &len), IC_ETOOSMALL);
    assert_int_equal(len, 200000);
    /* The connection was dropped mid-reply; the next call reconnects cleanly. */
    void *got;
    assert_int_equal(ic_get(c, "sz", 2, &got, &len), IC_HIT);
    assert_memory_equal(got, v, 200000);
    ic_free(got);
    assert_int_equal(ic_get(c, "nope", 4, &got, &len), IC_MISS);
    assert_int_equal(ic_exists(c, "sz", 2), IC_HIT);
    assert_int_equal(ic_exists(c, "nope", 4), IC_MISS);
    assert_int_equal(ic_del(c, "sz", 2), IC_HIT);
    assert_int_equal(ic_del(c, "sz", 2), IC_MISS);
    assert_int_equal(ic_get(c, "sz", 2, &got, &len), IC_MISS);
    char *info;
    assert_int_equal(ic_info(c, 0, &info, &len), IC_OK);
    assert_non_null(strstr(info, "fake_proxy:1"));
    ic_free(info);
    free(v);
    ic_client_free(c);
}

/* Stores a 10+2 object and returns a copy of it; chunk bytes stay in the fake for comparison. */
static uint8_t *store_object(ic_client_t *c, const char *key, size_t len)
{
    uint8_t *v = pattern(len, (unsigned)len);
    assert_int_equal(ic_set(c, key, strlen(key), v, len), IC_OK);
    return v;
}

static void expect_get(ic_client_t *c, const char *key, const uint8_t *v, size_t len)
{
    void *got = NULL;
    size_t glen = 0;
    int rc = ic_get(c, key, strlen(key), &got, &glen);
    if (rc != IC_HIT) fail_msg("get %s: %d %s (%s)", key, rc, ic_strerror(rc), ic_last_error(c));
    assert_int_equal(glen, len);
    assert_memory_equal(got, v, len);
    ic_free(got);
}

/* Clears the faults and reads key whole: the client recovers on its next call. */
static void expect_get_ok_after_reset(ic_client_t *c, const char *key, const uint8_t *v, size_t len)
{
    fake_proxy_reset_faults(fake);
    expect_get(c, key, v, len);
}

/* Checks that the fake received ICREPAIR for `index` carrying the exact original chunk. */
static void expect_repair(const char *key, int index)
{
    pthread_mutex_lock(&fake->lock);
    fake_object_t *o = fake_proxy_find(fake, key, strlen(key));
    assert_non_null(o);
    int found = 0;
    for (int i = 0; i < fake->nrepairs; i++) {
        fake_repair_t *r = &fake->repairs[i];
        if ((int)r->index != index) continue;
        found = 1;
        assert_int_equal(r->version, o->version);
        assert_int_equal(r->len, o->cs);
        assert_memory_equal(r->chunk, o->chunk[index], o->cs);
        assert_int_equal(r->crc, o->crc[index]);
    }
    pthread_mutex_unlock(&fake->lock);
    if (!found) fail_msg("no ICREPAIR for chunk %d", index);
}

static int nrepairs(void)
{
    pthread_mutex_lock(&fake->lock);
    int n = fake->nrepairs;
    pthread_mutex_unlock(&fake->lock);
    return n;
}

static void test_any_order_and_parity_first(void **state)
{
    ic_client_t *c = client_for(fake_addr, 10, 2);
    size_t len = 1000003;
    uint8_t *v = store_object(c, "ord", len);
    int rev[12] = {11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
    memcpy(fake->order, rev, sizeof rev);
    fake->norder = 12;
    /* First d in this order are 11,10,9..2: two parity chunks, so 0 and 1 are decoded. */
    expect_get(c, "ord", v, len);
    assert_int_equal(nrepairs(), 0); /* late chunks are not lost: nothing to repair */
    int mixed[12] = {3, 10, 0, 7, 11, 5, 1, 9, 2, 8, 6, 4};
    memcpy(fake->order, mixed, sizeof mixed);
    expect_get(c, "ord", v, len);
    /* Zero-copy path with decoding straight into the caller's buffer. */
    uint8_t *buf = malloc(len);
    size_t glen;
    assert_int_equal(ic_get_into(c, "ord", 3, buf, len, &glen), IC_HIT);
    assert_memory_equal(buf, v, len);
    free(buf);
    free(v);
    ic_client_free(c);
}

static void test_lost_chunks_are_rebuilt_and_repaired(void **state)
{
    ic_client_t *c = client_for(fake_addr, 10, 2);
    size_t len = 777777;
    uint8_t *v = store_object(c, "lost", len);
    fake->state[3] = FK_LOST;  /* a data chunk */
    fake->state[11] = FK_LOST; /* a parity chunk */
    expect_get(c, "lost", v, len);
    assert_int_equal(nrepairs(), 2);
    expect_repair("lost", 3);
    expect_repair("lost", 11);
    /* The tail data chunk (zero padded) lost: rebuilt and repaired with its padding. */
    fake_proxy_reset_faults(fake);
    fake->state[9] = FK_LOST;
    expect_get(c, "lost", v, len);
    expect_repair("lost", 9);
    free(v);
    ic_client_free(c);
}

static void test_corrupt_chunk(void **state)
{
    ic_client_t *c = client_for(fake_addr, 10, 2);
    size_t len = 500000;
    uint8_t *v = store_object(c, "bad", len);
    /* The proxy delivers all 12: one fails its CRC, d good ones remain -> hit, and a repair. */
    fake->send_all = 1;
    fake->state[4] = FK_CORRUPT;
    expect_get(c, "bad", v, len);
    expect_repair("bad", 4);
    /* Only the first d delivered, one corrupt, and a proxy that knows no ICGETCHUNKS: never
     * wrong bytes, a clear error. */
    fake_proxy_reset_faults(fake);
    fake->state[0] = FK_CORRUPT;
    fake->spare_refuse = 1;
    void *got = NULL;
    size_t glen;
    assert_int_equal(ic_get(c, "bad", 3, &got, &glen), IC_ECORRUPT);
    assert_null(got);
    assert_non_null(strstr(ic_last_error(c), "checksum"));
    uint8_t *buf = calloc(1, len);
    assert_int_equal(ic_get_into(c, "bad", 3, buf, len, &glen), IC_ECORRUPT);
    free(buf);
    assert_int_equal(nrepairs(), 0);
    expect_get_ok_after_reset(c, "bad", v, len); /* the connection stayed usable */
    /* Small replicated object with a corrupt first replica and the others delivered. */
    fake_proxy_reset_faults(fake);
    uint8_t *s = store_object(c, "small", 1000);
    fake->send_all = 1;
    fake->state[0] = FK_CORRUPT;
    expect_get(c, "small", s, 1000);
    expect_repair("small", 0);
    free(s);
    free(v);
    ic_client_free(c);
}

/* The indexes an ICGETCHUNKS asked for, as a mask. */
static uint64_t mask_of(int n, const int *idx)
{
    uint64_t m = 0;
    for (int i = 0; i < n; i++) m |= 1ull << idx[i];
    return m;
}

static int spare_gets(void)
{
    pthread_mutex_lock(&fake->lock);
    int n = fake->spare_gets;
    pthread_mutex_unlock(&fake->lock);
    return n;
}

/* First-d with spares: corrupt chunks among the first d are made up for by the p not sent, which
 * the library asks for (ICGETCHUNKS); the bad chunks are rebuilt and re-stored (ICREPAIR). */
static void test_corrupt_in_first_d_uses_spares(void **state)
{
    ic_client_t *c = client_for(fake_addr, 10, 2);
    size_t len = 500001;
    uint8_t *v = store_object(c, "spare", len);
    /* One corrupt data chunk among the first d (0..9): both spares asked for, one needed. */
    fake->state[0] = FK_CORRUPT;
    expect_get(c, "spare", v, len);
    assert_int_equal(spare_gets(), 1);
    assert_int_equal(fake->spare_listed, mask_of(2, (int[]){10, 11}));
    assert_int_equal(fake->spare_need, 1);
    assert_int_equal(nrepairs(), 1);
    expect_repair("spare", 0);
    /* p corrupt ones (the tail chunk too): both spares needed; both bad chunks re-stored. */
    fake_proxy_reset_faults(fake);
    fake->state[4] = FK_CORRUPT;
    fake->state[9] = FK_CORRUPT;
    uint8_t *buf = malloc(len);
    size_t glen = 0;
    assert_int_equal(ic_get_into(c, "spare", 5, buf, len, &glen), IC_HIT);
    assert_int_equal(glen, len);
    assert_memory_equal(buf, v, len);
    free(buf);
    assert_int_equal(fake->spare_need, 2);
    assert_int_equal(nrepairs(), 2);
    expect_repair("spare", 4);
    expect_repair("spare", 9);
    /* Parity first, a corrupt parity chunk: the spares are data chunks 0 and 1. */
    fake_proxy_reset_faults(fake);
    int rev[12] = {11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
    memcpy(fake->order, rev, sizeof rev);
    fake->norder = 12;
    fake->state[10] = FK_CORRUPT;
    expect_get(c, "spare", v, len);
    assert_int_equal(fake->spare_listed, mask_of(2, (int[]){0, 1}));
    expect_repair("spare", 10);
    /* A spare that is itself corrupt: another round asks for the last one. */
    fake_proxy_reset_faults(fake);
    fake->state[2] = FK_CORRUPT;
    fake->state[10] = FK_CORRUPT;
    int order[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    memcpy(fake->order, order, sizeof order);
    fake->norder = 12;
    /* The fake sends spares in order, so 10 (bad) comes first for need 1, then 11. */
    expect_get(c, "spare", v, len);
    assert_int_equal(spare_gets(), 2);
    assert_int_equal(fake->spare_listed, mask_of(1, (int[]){11}));
    expect_repair("spare", 2);
    expect_repair("spare", 10);
    /* A replicated (small) object: the corrupt replica is replaced by the next one. */
    fake_proxy_reset_faults(fake);
    uint8_t *sv = store_object(c, "spare-small", 3000);
    fake->state[0] = FK_CORRUPT;
    expect_get(c, "spare-small", sv, 3000);
    assert_int_equal(spare_gets(), 1);
    assert_int_equal(fake->spare_need, 1);
    expect_repair("spare-small", 0);
    free(sv);
    free(v);
    ic_client_free(c);
}

/* First-d off (ICGET key ALL): chunks that did not come in time are asked for as spares too. */
static void test_all_mode_uses_spares(void **state)
{
    ic_options_t o;
    ic_options_init(&o);
    const char *proxies[1] = {fake_addr};
    o.proxies = proxies;
    o.nproxies = 1;
    o.d = 4;
    o.p = 2;
    o.first_d = 0;
    o.op_timeout_ms = 2000;
    o.chunk_deadline_ms = 400;
    ic_client_t *c = ic_client_new(&o, NULL);
    assert_non_null(c);
    size_t len = 300000;
    uint8_t *v = store_object(c, "spare-all", len);
    /* Of the six, two were not sent in time and two are corrupt: two good, two needed. */
    fake->state[1] = FK_CORRUPT;
    fake->state[2] = FK_CORRUPT;
    fake->state[3] = FK_LATE;
    fake->state[5] = FK_LATE;
    expect_get(c, "spare-all", v, len);
    assert_int_equal(spare_gets(), 1);
    assert_int_equal(fake->spare_listed, mask_of(2, (int[]){3, 5}));
    assert_int_equal(fake->spare_need, 2);
    expect_repair("spare-all", 1);
    expect_repair("spare-all", 2);
    free(v);
    ic_client_free(c);
}

/* More corrupt chunks than p: never wrong bytes, IC_ECORRUPT, and nothing re-stored. */
static void test_too_many_corrupt(void **state)
{
    ic_client_t *c = client_for(fake_addr, 10, 2);
    size_t len = 400000;
    uint8_t *v = store_object(c, "rotten", len);
    fake->state[0] = FK_CORRUPT;
    fake->state[3] = FK_CORRUPT;
    fake->state[11] = FK_CORRUPT;
    void *got = NULL;
    size_t glen = 0;
    assert_int_equal(ic_get(c, "rotten", 6, &got, &glen), IC_ECORRUPT);
    assert_null(got);
    assert_non_null(strstr(ic_last_error(c), "3 of 12 chunks failed their checksum"));
    assert_true(spare_gets() >= 1);
    uint8_t *buf = calloc(1, len);
    assert_int_equal(ic_get_into(c, "rotten", 6, buf, len, &glen), IC_ECORRUPT);
    free(buf);
    assert_int_equal(nrepairs(), 0);
    /* Three corrupt among the first d already: the two spares cannot make d, none are asked. */
    fake_proxy_reset_faults(fake);
    fake->state[0] = FK_CORRUPT;
    fake->state[1] = FK_CORRUPT;
    fake->state[2] = FK_CORRUPT;
    assert_int_equal(ic_get(c, "rotten", 6, &got, &glen), IC_ECORRUPT);
    assert_int_equal(spare_gets(), 0);
    expect_get_ok_after_reset(c, "rotten", v, len);
    free(v);
    ic_client_free(c);
}

/* A SET of the key between the first reply and the spare request: the spare request answers
 * -STALE and the GET starts over once, reading the new version whole. */
static void test_version_changed_before_spares(void **state)
{
    ic_client_t *c = client_for(fake_addr, 10, 2);
    size_t len = 250000;
    uint8_t *old = store_object(c, "chg", len);
    uint8_t *next = pattern(len + 999, 4242);
    assert_int_equal(ic_set(c, "chg-next", 8, next, len + 999), IC_OK);
    fake->state[7] = FK_CORRUPT;
    strcpy(fake->replace_with, "chg-next");
    int icgets = fake->icgets;
    expect_get(c, "chg", next, len + 999); /* the new value, never a mix with the old */
    assert_int_equal(fake->icgets - icgets, 2);
    assert_int_equal(spare_gets(), 2); /* the stale one, then the new version's */
    expect_repair("chg", 7);           /* with the new version */
    /* The key keeps changing: one restart only, then a clear error (no bytes). */
    fake_proxy_reset_faults(fake);
    fake->state[7] = FK_CORRUPT;
    fake->spare_stale = 1;
    icgets = fake->icgets;
    void *got = NULL;
    size_t glen = 0;
    assert_int_equal(ic_get(c, "chg", 3, &got, &glen), IC_ESERVER);
    assert_null(got);
    assert_non_null(strstr(ic_last_error(c), "changed while it was read"));
    assert_int_equal(fake->icgets - icgets, 2);
    assert_int_equal(nrepairs(), 0);
    expect_get_ok_after_reset(c, "chg", next, len + 999);
    free(old);
    free(next);
    ic_client_free(c);
}

static void test_fewer_than_d_is_a_miss(void **state)
{
    ic_client_t *c = client_for(fake_addr, 10, 2);
    uint8_t *v = store_object(c, "gone", 300000);
    fake->state[1] = FK_LOST;
    fake->state[5] = FK_LOST;
    fake->state[10] = FK_LOST;
    void *got = NULL;
    size_t glen;
    assert_int_equal(ic_get(c, "gone", 4, &got, &glen), IC_MISS);
    assert_null(got);
    assert_int_equal(nrepairs(), 0);
    free(v);
    ic_client_free(c);
}

static void test_errors_and_recovery(void **state)
{
    ic_client_t *c = client_for(fake_addr, 10, 2);
    uint8_t *v = store_object(c, "e", 100000);
    void *got = NULL;
    size_t glen;
    struct {
        int mode, want;
        const char *text;
    } cases[] = {
        {FM_ERR, IC_ESERVER, "fake failure"},
        {FM_MALFORMED, IC_EPROTO, ""},
        {FM_CLOSE, IC_EIO, "closed"},
        {FM_TRUNCATE, IC_EIO, ""},
        {FM_SILENT, IC_ETIMEDOUT, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fake->mode = cases[i].mode;
        uint64_t t0 = ev_now_ms();
        int rc = ic_get(c, "e", 1, &got, &glen);
        if (rc != cases[i].want) fail_msg("mode %d: got %d (%s)", cases[i].mode, rc, ic_last_error(c));
        assert_true(ev_now_ms() - t0 < 1500); /* the chunk deadline (400 ms) bounds silence */
        assert_non_null(strstr(ic_last_error(c), cases[i].text));
        assert_null(got);
        fake->mode = FM_NORMAL;
        expect_get(c, "e", v, 100000); /* the client recovers on the next call */
    }
    free(v);
    ic_client_free(c);
    /* Nobody listening. */
    c = client_for("127.0.0.1:1", 10, 2);
    assert_int_equal(ic_set(c, "k", 1, "v", 1), IC_ECONNECT);
    assert_non_null(strstr(ic_last_error(c), "127.0.0.1:1"));
    ic_client_free(c);
}

static ic_client_t *client_with_password(const char *user, const char *password)
{
    ic_options_t o;
    ic_options_init(&o);
    const char *proxies[1] = {fake_addr};
    o.proxies = proxies;
    o.nproxies = 1;
    o.d = 2;
    o.p = 1;
    o.op_timeout_ms = 2000;
    o.user = user;
    o.password = password;
    ic_client_t *c = ic_client_new(&o, NULL);
    assert_non_null(c);
    return c;
}

/* AUTH goes first on every connection the library opens (again after a reconnect), the options'
 * strings are copied, and refusals are IC_EAUTH with the proxy's text. */
static void test_auth(void **state)
{
    snprintf(fake->password, sizeof fake->password, "pw");
    char pass[8] = "pw", user[8] = "app";
    ic_client_t *c = client_with_password(NULL, pass);
    memset(pass, 'x', sizeof pass - 1); /* the client kept its own copy */
    int before = fake->auths;
    assert_int_equal(ic_set(c, "a", 1, "value", 5), IC_OK);
    assert_int_equal(fake->auths, before + 1);
    void *got = NULL;
    size_t glen;
    assert_int_equal(ic_get(c, "a", 1, &got, &glen), IC_HIT);
    assert_int_equal(fake->auths, before + 1); /* one AUTH per connection, not per request */
    ic_free(got);
    icc_conn_close(&c->conns[0]);
    assert_int_equal(ic_exists(c, "a", 1), IC_HIT);
    assert_int_equal(fake->auths, before + 2);
    ic_client_free(c);

    c = client_with_password(user, "pw");
    memset(user, 'x', sizeof user - 1);
    assert_int_equal(ic_exists(c, "a", 1), IC_HIT);
    ic_client_free(c);

    c = client_with_password(NULL, "wrong");
    assert_int_equal(ic_set(c, "b", 1, "v", 1), IC_EAUTH);
    assert_non_null(strstr(ic_last_error(c), "WRONGPASS"));
    assert_null(strstr(ic_last_error(c), "wrong"));
    assert_int_equal(ic_get(c, "a", 1, &got, &glen), IC_EAUTH);
    ic_client_free(c);

    c = client_with_password(NULL, NULL); /* the proxy wants a password, the client has none */
    assert_int_equal(ic_exists(c, "a", 1), IC_EAUTH);
    assert_non_null(strstr(ic_last_error(c), "NOAUTH"));
    assert_int_equal(ic_get(c, "a", 1, &got, &glen), IC_EAUTH);
    char *info;
    size_t ilen;
    assert_int_equal(ic_info(c, 0, &info, &ilen), IC_EAUTH);
    assert_string_equal(ic_strerror(IC_EAUTH),
                        "authentication failed (wrong or missing user/password)");
    ic_client_free(c);
    fake->password[0] = 0;
}

static void test_bad_options(void **state)
{
    ic_options_t o;
    ic_options_init(&o);
    int err = 0;
    o.d = 0;
    assert_null(ic_client_new(&o, &err));
    assert_int_equal(err, IC_EINVAL);
    ic_options_init(&o);
    o.d = 40;
    o.p = 9;
    assert_null(ic_client_new(&o, &err));
    ic_options_init(&o);
    assert_int_equal(o.first_d, 1); /* first-d is the default */
    o.first_d = 2;
    assert_null(ic_client_new(&o, &err));
    assert_int_equal(err, IC_EINVAL);
    ic_options_init(&o);
    const char *bad[1] = {"nocolon"};
    o.proxies = bad;
    o.nproxies = 1;
    assert_null(ic_client_new(&o, &err));
    ic_client_t *c = ic_client_new(NULL, &err);
    assert_non_null(c);
    assert_int_equal(ic_proxy_count(c), 1);
    assert_int_equal(ic_get(c, NULL, 3, NULL, NULL), IC_EINVAL);
    ic_client_free(c);
    assert_string_equal(ic_strerror(IC_ECORRUPT), "too few chunks passed their checksum");
}

/* An object whose chunks would pass the nodes' 1 GiB is refused before any byte of it is read:
 * the value is address space that faults on any access. */
static void test_chunks_over_node_limit_refused(void **state)
{
    ic_options_t o;
    ic_options_init(&o);
    const char *proxies[1] = {fake_addr};
    o.proxies = proxies;
    o.nproxies = 1;
    o.d = 2;
    o.p = 1;
    o.max_object_size = (uint64_t)64 << 30;
    ic_client_t *c = ic_client_new(&o, NULL);
    assert_non_null(c);
    size_t len = 2 * EC_MAX_CHUNK_SIZE + 1;
    void *value = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(value != MAP_FAILED);
    int sets_before = fake->icsets;
    assert_int_equal(ic_set(c, "huge", 4, value, len), IC_ETOOBIG);
    assert_non_null(strstr(ic_last_error(c), "chunks of"));
    assert_int_equal(fake->icsets, sets_before);
    /* Exactly d x 1 GiB is not refused for its chunks; it would go on to be stored. */
    assert_int_equal(ec_chunk_size(2 * EC_MAX_CHUNK_SIZE, 2), EC_MAX_CHUNK_SIZE);
    munmap(value, len);
    ic_client_free(c);
}

static void test_several_proxies(void **state)
{
    fake_proxy_t *more[3] = {fake, fake_proxy_start(0), fake_proxy_start(0)};
    char addrs[3][64];
    const char *proxies[3];
    for (int i = 0; i < 3; i++) {
        assert_non_null(more[i]);
        snprintf(addrs[i], sizeof addrs[i], "127.0.0.1:%d", more[i]->port);
        proxies[i] = addrs[i];
    }
    ic_options_t o;
    ic_options_init(&o);
    o.proxies = proxies;
    o.nproxies = 3;
    ic_client_t *c = ic_client_new(&o, NULL);
    assert_non_null(c);
    int sets_before[3];
    for (int i = 0; i < 3; i++) sets_before[i] = more[i]->icsets;
    for (int i = 0; i < 60; i++) {
        char key[16];
        snprintf(key, sizeof key, "multi%d", i);
        assert_int_equal(ic_set(c, key, strlen(key), key, strlen(key)), IC_OK);
    }
    for (int i = 0; i < 60; i++) {
        char key[16];
        snprintf(key, sizeof key, "multi%d", i);
        expect_get(c, key, (const uint8_t *)key, strlen(key));
    }
    for (int i = 0; i < 3; i++) assert_true(more[i]->icsets - sets_before[i] >= 5); /* all used */
    ic_client_free(c);
}

/* Proxies that are not a cluster split the 16384 slots in the order given; a key goes where its
 * slot falls, the same for every client given the same list. */
static void expect_slots_split(fake_proxy_t **more, ic_client_t *c)
{
    for (int i = 0; i < 30; i++) {
        char key[16];
        snprintf(key, sizeof key, "split%d", i);
        size_t want = (size_t)slot_of_key(key, strlen(key)) * 3 / SLOT_COUNT;
        int before = more[want]->icsets;
        assert_int_equal(ic_set(c, key, strlen(key), key, strlen(key)), IC_OK);
        assert_int_equal(more[want]->icsets, before + 1);
    }
    assert_int_equal(ic_proxy_count(c), 3);
}

/* Given one proxy of a cluster, the client reads the map from its CLUSTER SLOTS (proxies it was
 * not given included), follows -MOVED (and reads the map again) and -ASK (ASKING first, the map
 * unchanged), gives up on a redirection loop, and splits the slots when there is no cluster. */
static void test_cluster_map_and_redirections(void **state)
{
    (void)state;
    fake_proxy_t *f[3] = {fake, fake_proxy_start(0), fake_proxy_start(0)};
    assert_non_null(f[1]);
    assert_non_null(f[2]);
    char addr0[64];
    snprintf(addr0, sizeof addr0, "127.0.0.1:%d", f[0]->port);
    const char *proxies[1] = {addr0};
    ic_options_t o;
    ic_options_init(&o);
    o.proxies = proxies;
    o.nproxies = 1;
    /* The map: slots 0-8191 on f[2], 8192-16383 on f[1]; f[0] serves none. */
    f[0]->nranges = 2;
    f[0]->range_first[0] = 0, f[0]->range_last[0] = 8191, f[0]->range_port[0] = f[2]->port;
    f[0]->range_first[1] = 8192, f[0]->range_last[1] = 16383, f[0]->range_port[1] = f[1]->port;
    int asked = f[0]->slots_asked;
    ic_client_t *c = ic_client_new(&o, NULL);
    assert_non_null(c);
    const char *low = "hello", *high = "foo"; /* slots 866 and 12182 */
    int sets[3] = {f[0]->icsets, f[1]->icsets, f[2]->icsets};
    assert_int_equal(ic_set(c, low, 5, "L", 1), IC_OK);
    assert_int_equal(ic_set(c, high, 3, "H", 1), IC_OK);
    assert_int_equal(f[0]->icsets, sets[0]);
    assert_int_equal(f[1]->icsets, sets[1] + 1);
    assert_int_equal(f[2]->icsets, sets[2] + 1);
    assert_int_equal(ic_proxy_count(c), 3);
    assert_int_equal(f[0]->slots_asked, asked + 1);
    expect_get(c, low, (const uint8_t *)"L", 1);

    /* The low slots move to f[1]: f[2] answers -MOVED, f[0]'s map says so too. */
    f[0]->range_port[0] = f[1]->port;
    f[2]->moved_port = f[1]->port;
    assert_int_equal(ic_set(c, low, 5, "M", 1), IC_OK);
    assert_int_equal(f[1]->icsets, sets[1] + 2);
    assert_int_equal(f[0]->slots_asked, asked + 2);
    expect_get(c, low, (const uint8_t *)"M", 1);
    assert_int_equal(ic_exists(c, low, 5), IC_HIT);
    assert_int_equal(ic_del(c, low, 5), IC_HIT);
    assert_int_equal(f[0]->slots_asked, asked + 2); /* the map was right since */

    /* -ASK: the one request goes to the target after ASKING; the map stays. */
    f[1]->ask_port = f[2]->port;
    f[2]->moved_port = 0;
    assert_int_equal(ic_set(c, high, 3, "A", 1), IC_OK);
    assert_int_equal(f[2]->askings, 1);
    assert_int_equal(f[2]->icsets, sets[2] + 2);
    assert_int_equal(ic_exists(c, high, 3), IC_HIT);
    assert_int_equal(f[2]->askings, 2);
    assert_int_equal(f[0]->slots_asked, asked + 2);

    /* A redirection loop ends with the proxy's error, not for ever. */
    f[1]->ask_port = 0;
    f[1]->moved_port = f[2]->port;
    f[2]->moved_port = f[1]->port;
    f[0]->nranges = 0;
    assert_int_equal(ic_exists(c, high, 3), IC_ESERVER);
    assert_non_null(strstr(ic_last_error(c), "MOVED"));
    ic_client_free(c);

    /* Not a cluster: the slots are split among the three in the order given. */
    char addrs[3][64];
    const char *three[3];
    for (int i = 0; i < 3; i++) {
        fake_proxy_reset_faults(f[i]);
        snprintf(addrs[i], sizeof addrs[i], "127.0.0.1:%d", f[i]->port);
        three[i] = addrs[i];
    }
    o.proxies = three;
    o.nproxies = 3;
    c = ic_client_new(&o, NULL);
    assert_non_null(c);
    expect_slots_split(f, c);
    ic_client_free(c);
}

int main(void)
{
    fake = fake_proxy_start(0);
    if (!fake) return 1;
    snprintf(fake_addr, sizeof fake_addr, "127.0.0.1:%d", fake->port);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_roundtrip_sizes, setup),
        cmocka_unit_test_setup(test_get_into_too_small_and_miss, setup),
        cmocka_unit_test_setup(test_any_order_and_parity_first, setup),
        cmocka_unit_test_setup(test_lost_chunks_are_rebuilt_and_repaired, setup),
        cmocka_unit_test_setup(test_corrupt_chunk, setup),
        cmocka_unit_test_setup(test_corrupt_in_first_d_uses_spares, setup),
        cmocka_unit_test_setup(test_all_mode_uses_spares, setup),
        cmocka_unit_test_setup(test_too_many_corrupt, setup),
        cmocka_unit_test_setup(test_version_changed_before_spares, setup),
        cmocka_unit_test_setup(test_fewer_than_d_is_a_miss, setup),
        cmocka_unit_test_setup(test_errors_and_recovery, setup),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test_setup(test_auth, setup),
        cmocka_unit_test_setup(test_several_proxies, setup),
        cmocka_unit_test_setup(test_cluster_map_and_redirections, setup),
        cmocka_unit_test_setup(test_chunks_over_node_limit_refused, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
