/* test_slot.c -- the key slot (src/common/slot.c) against values a redis-server with
 * cluster-enabled answered to CLUSTER KEYSLOT, and the hash-tag rule's edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "slot.h"

static unsigned s(const char *key)
{
    return slot_of_key(key, strlen(key));
}

static void test_crc16_check_value(void **state)
{
    (void)state;
    /* The CRC16-XMODEM check value of the standard test string. */
    assert_int_equal(slot_crc16("123456789", 9), 0x31c3);
}

static void test_redis_keyslot(void **state)
{
    (void)state;
    /* CLUSTER KEYSLOT of redis-server 7.0 for each key. */
    assert_int_equal(s(""), 0);
    assert_int_equal(s("foo"), 12182);
    assert_int_equal(s("bar"), 5061);
    assert_int_equal(s("hello"), 866);
    assert_int_equal(s("123456789"), 12739);
    assert_int_equal(s("key:000000000042"), 7803);
    assert_int_equal(s("{user1000}.following"), 3443);
    assert_int_equal(s("{user1000}.followers"), 3443);
}

static void test_hash_tags(void **state)
{
    (void)state;
    /* Each against redis-server 7.0's CLUSTER KEYSLOT. */
    assert_int_equal(s("{}"), 15257); /* empty tag: the whole key */
    assert_int_equal(s("{"), 4092);   /* no closing brace */
    assert_int_equal(s("}"), 12090);
    assert_int_equal(s("a{b"), 13340);
    assert_int_equal(s("a{}{b}"), 15033); /* the first '{' decides: empty, whole key */
    assert_int_equal(s("{a}{b}"), 15495); /* the first tag: "a" */
    assert_int_equal(s("{a}{b}"), s("a"));
    assert_int_equal(s("foo{}{bar}"), 8363);
    assert_int_equal(s("foo{{bar}}zap"), 4015); /* tag "{bar" */
    assert_int_equal(s("foo{{bar}}zap"), s("{bar"));
    assert_int_equal(s("foo{bar}{zap}"), 5061); /* tag "bar" */
    /* Binary-safe: a NUL inside the key counts. */
    assert_int_not_equal(slot_of_key("a\0b", 3), s("a"));
    assert_int_equal(slot_of_key("{a\0}x", 5), slot_of_key("a\0", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_check_value),
        cmocka_unit_test(test_redis_keyslot),
        cmocka_unit_test(test_hash_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
