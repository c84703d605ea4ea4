/* test_strnum.c -- the number syntax and formatting of the string commands (strnum.c), case by
 * case as Redis's string2ll, string2ld and ld2string decide them. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "strnum.h"

static int parse_i64(const char *s, int64_t *v)
{
    return strnum_parse_i64(s, strlen(s), v);
}

static void test_integers(void **state)
{
    (void)state;
    int64_t v;
    static const struct {
        const char *s;
        int64_t v;
    } good[] = {{"0", 0},
                {"1", 1},
                {"-1", -1},
                {"9223372036854775807", INT64_MAX},
                {"-9223372036854775808", INT64_MIN},
                {"12345678901234567", 12345678901234567}};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_int_equal(parse_i64(good[i].s, &v), 0);
        assert_true(v == good[i].v);
    }
    static const char *const bad[] = {"",
                                      "-",
                                      "-0",
                                      "007",
                                      "+1",
                                      " 1",
                                      "1 ",
                                      "1.0",
                                      "0x10",
                                      "1e3",
                                      "abc",
                                      "00",
                                      "--1",
                                      "9223372036854775808",
                                      "-9223372036854775809",
                                      "99999999999999999999",
                                      "123456789012345678901"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(parse_i64(bad[i], &v), -1);
    assert_int_equal(strnum_parse_i64("12\0003", 4, &v), -1); /* a NUL inside is not a digit */
}

static void test_long_doubles(void **state)
{
    (void)state;
    long double v;
    assert_int_equal(strnum_parse_ld("10.5", 4, &v), 0);
    assert_true(v == 10.5L);
    assert_int_equal(strnum_parse_ld("5.0e3", 5, &v), 0);
    assert_true(v == 5000.0L);
    assert_int_equal(strnum_parse_ld("-0x10", 5, &v), 0); /* strtold's hex: Redis takes it too */
    assert_true(v == -16.0L);
    assert_int_equal(strnum_parse_ld("inf", 3, &v), 0); /* the sum is refused, not the input */
    static const char *const bad[] = {"", " 1", "1 ", "abc", "nan", "1e5000", "1e-5000", "1.2.3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(strnum_parse_ld(bad[i], strlen(bad[i]), &v), -1);
}

static void test_human_format(void **state)
{
    (void)state;
    char buf[5 * 1024];
    static const struct {
        long double v;
        const char *s;
    } cases[] = {{10.5L, "10.5"},
                 {5200.0L, "5200"},
                 {0.0L, "0"},
                 {-0.0L, "0"},
                 {-1.5L, "-1.5"},
                 {3.0e3L, "3000"},
                 {1e20L, "100000000000000000000"},
                 {0.1L, "0.1"},
                 {1e-20L, "0"}, /* 17 decimals: what Redis prints */
                 {(long double)10.6, "10.59999999999999964"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int n = strnum_format_ld(buf, sizeof buf, cases[i].v);
        assert_int_equal(n, (int)strlen(cases[i].s));
        assert_string_equal(buf, cases[i].s);
    }
    assert_int_equal(strnum_format_ld(buf, 4, 12345.0L), -1); /* does not fit */
    assert_int_equal(strnum_format_i64(buf, INT64_MIN), 20);
    assert_string_equal(buf, "-9223372036854775808");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_long_doubles),
        cmocka_unit_test(test_human_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
