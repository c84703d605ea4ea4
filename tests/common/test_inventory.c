/* test_inventory.c -- the inventory codec: round trips (binary keys, extreme numbers), the end
 * of the data, and malformed lines of every kind, never read past the given length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ec.h"
#include "inventory.h"

static void test_round_trip(void **state)
{
    (void)state;
    static const char key1[] = "k\0y\n \r:";
    inv_entry_t in[3] = {
        {.key = key1,
         .keylen = sizeof key1 - 1,
         .index = 11,
         .version = 1700000000123,
         .crc = 0xffffffffu,
         .chunk_len = 65536,
         .size = 655360,
         .d = 10,
         .p = 2,
         .expire_ms = 1700000999999},
        {.key = "",
         .keylen = 0,
         .index = 0,
         .version = UINT64_MAX,
         .crc = 0,
         .chunk_len = 0,
         .size = UINT64_MAX,
         .d = 1,
         .p = 0,
         .expire_ms = UINT64_MAX},
        {.key = "b",
         .keylen = 1,
         .index = 47,
         .version = 1,
         .crc = 5,
         .chunk_len = 64,
         .size = 1,
         .d = 1,
         .p = 47,
         .expire_ms = 0},
    };
    buf_t b;
    buf_init(&b);
    for (int i = 0; i < 3; i++)
        assert_int_equal(inv_append(&b, &in[i]), 0);
    assert_memory_equal(buf_head(&b),
                        "11 1700000000123 4294967295 65536 655360 10 2 1700000999999 7:k", 63);
    size_t pos = 0;
    for (int i = 0; i < 3; i++) {
        inv_entry_t e;
        assert_int_equal(inv_next(buf_head(&b), buf_len(&b), &pos, &e), 1);
        assert_int_equal(e.keylen, in[i].keylen);
        assert_memory_equal(e.key, in[i].key, e.keylen);
        assert_true(e.index == in[i].index && e.version == in[i].version && e.crc == in[i].crc);
        assert_true(e.chunk_len == in[i].chunk_len && e.size == in[i].size);
        assert_true(e.d == in[i].d && e.p == in[i].p && e.expire_ms == in[i].expire_ms);
    }
    inv_entry_t e;
    assert_int_equal(pos, buf_len(&b));
    assert_int_equal(inv_next(buf_head(&b), buf_len(&b), &pos, &e), 0);
    assert_int_equal(inv_next(NULL, 0, &(size_t){0}, &e), 0); /* empty inventory */
    buf_free(&b);
}

/* Each case alone must be refused, from a heap copy of exactly its length (ASan catches a read
 * past it), and *pos must not move. */
static void test_malformed(void **state)
{
    (void)state;
    static const char *bad[] = {
        "0 1 5 0 100 2 1 0 1:b",     /* no newline */
        "0 1 5 0 100 2 1 0 1:bb\n",  /* key longer than its length */
        "0 1 5 0 100 2 1 0 2:b\n",   /* key shorter: runs into the end */
        "0 1 5 0 100 2 1 0 1;b\n",   /* wrong separator before the key */
        "0 1 5 0 100 2 1 1:b\n",     /* a field missing */
        "0 1 5 0 100 2 1 0 0 1:b\n", /* a field too many */
        "0  1 5 0 100 2 1 0 1:b\n",  /* double space */
        " 0 1 5 0 100 2 1 0 1:b\n",  /* leading space */
        "-1 1 5 0 100 2 1 0 1:b\n",  /* sign */
        "0 1 5 0 100 2 1 0 +1:b\n",
        "0 x 5 0 100 2 1 0 1:b\n",                     /* not a number */
        "0 1 4294967296 0 100 2 1 0 1:b\n",            /* crc over 32 bits */
        "0 18446744073709551616 5 0 100 2 1 0 1:b\n",  /* version over 64 bits */
        "0 1 5 0 100 2 1 000000000000000000001 1:b\n", /* 21 digits */
        "0 1 5 0 100 0 1 0 1:b\n",                     /* d = 0 */
        "0 1 5 0 100 40 9 0 1:b\n",                    /* d + p over 48 */
        "3 1 5 0 100 2 1 0 1:b\n",                     /* index >= d + p */
        "48 1 5 0 100 48 0 0 1:b\n",
        "0 1 5 0 100 2 1 0 65537:b\n", /* key over 64 KiB */
        "\n",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i]);
        char *copy = malloc(n ? n : 1);
        memcpy(copy, bad[i], n);
        size_t pos = 0;
        inv_entry_t e;
        int rc = inv_next(copy, n, &pos, &e);
        if (n == 0) {
            assert_int_equal(rc, 0);
        } else if (rc >= 0) {
            fail_msg("case %zu accepted: %s", i, bad[i]);
        }
        assert_int_equal(pos, 0);
        free(copy);
    }
    /* Every prefix of a good line is "malformed" (truncated), never an entry. */
    static const char good[] = "2 10 77 3 1000 10 2 1700000000000 3:k\0y\n";
    for (size_t n = 1; n < sizeof good - 1; n++) {
        char *copy = malloc(n);
        memcpy(copy, good, n);
        size_t pos = 0;
        inv_entry_t e;
        assert_true(inv_next(copy, n, &pos, &e) < 0);
        free(copy);
    }
    /* A bad line after a good one: the good one is returned, then the error. */
    static const char mixed[] = "0 1 5 0 100 2 1 0 1:b\n0 1 5 0 100 0 1 0 1:b\n";
    size_t pos = 0;
    inv_entry_t e;
    assert_int_equal(inv_next(mixed, sizeof mixed - 1, &pos, &e), 1);
    assert_int_equal(pos, 22);
    assert_true(inv_next(mixed, sizeof mixed - 1, &pos, &e) < 0);
    assert_int_equal(pos, 22);
}

/* Tombstone lines: round trip beside chunk lines, and every malformed form refused. */
static void test_tombstones(void **state)
{
    (void)state;
    static const char key[] = "k\ny";
    inv_entry_t chunk = {.key = "a", .keylen = 1, .index = 0, .version = 5, .crc = 7,
                         .chunk_len = 3, .size = 3, .d = 1, .p = 2};
    inv_entry_t tomb = {.key = key, .keylen = 3, .version = UINT64_MAX, .expire_ms = 1700003600123,
                        .tomb = 1};
    buf_t b;
    buf_init(&b);
    assert_int_equal(inv_append(&b, &tomb), 0);
    assert_int_equal(inv_append(&b, &chunk), 0);
    static const char want[] = "T 18446744073709551615 1700003600123 3:k\ny\n0 5 7 3 3 1 2 0 1:a\n";
    assert_int_equal(buf_len(&b), sizeof want - 1);
    assert_memory_equal(buf_head(&b), want, sizeof want - 1);
    size_t pos = 0;
    inv_entry_t e;
    memset(&e, 0xAA, sizeof e);
    assert_int_equal(inv_next(buf_head(&b), buf_len(&b), &pos, &e), 1);
    assert_true(e.tomb && e.version == UINT64_MAX && e.expire_ms == 1700003600123);
    assert_true(e.keylen == 3 && memcmp(e.key, key, 3) == 0);
    assert_true(e.index == 0 && e.d == 0 && e.p == 0 && e.crc == 0 && e.chunk_len == 0);
    assert_int_equal(inv_next(buf_head(&b), buf_len(&b), &pos, &e), 1);
    assert_true(!e.tomb && e.version == 5 && e.d == 1 && e.p == 2);
    assert_int_equal(inv_next(buf_head(&b), buf_len(&b), &pos, &e), 0);
    buf_free(&b);
    static const char *bad[] = {
        "T",
        "T ",
        "T 1 2 1:b",                     /* no newline */
        "T 1 2 1:bb\n",                  /* key longer than its length */
        "T 1 2 2:b\n",                   /* key shorter */
        "T 1 1:b\n",                     /* a field missing */
        "T 1 2 3 1:b\n",                 /* a field too many */
        "T  1 2 1:b\n",                  /* double space */
        "T1 2 1:b\n",                    /* no space after T */
        "t 1 2 1:b\n",                   /* lower case */
        "T 18446744073709551616 2 1:b\n", /* version over 64 bits */
        "T -1 2 1:b\n",
        "T 1 2 65537:b\n", /* key over 64 KiB */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = strlen(bad[i]);
        char *copy = malloc(n);
        memcpy(copy, bad[i], n);
        pos = 0;
        if (inv_next(copy, n, &pos, &e) >= 0) fail_msg("case %zu accepted: %s", i, bad[i]);
        assert_int_equal(pos, 0);
        free(copy);
    }
}

static void test_limits_accepted(void **state)
{
    (void)state;
    /* The largest key and the widest coding are fine. */
    buf_t b;
    buf_init(&b);
    char *key = malloc(INV_MAX_KEY);
    memset(key, 0xff, INV_MAX_KEY);
    inv_entry_t in = {.key = key,
                      .keylen = INV_MAX_KEY,
                      .index = EC_MAX_CHUNKS - 1,
                      .d = 1,
                      .p = EC_MAX_CHUNKS - 1};
    assert_int_equal(inv_append(&b, &in), 0);
    size_t pos = 0;
    inv_entry_t e;
    assert_int_equal(inv_next(buf_head(&b), buf_len(&b), &pos, &e), 1);
    assert_int_equal(e.keylen, INV_MAX_KEY);
    assert_int_equal(e.index, EC_MAX_CHUNKS - 1);
    free(key);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_tombstones),
        cmocka_unit_test(test_limits_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
