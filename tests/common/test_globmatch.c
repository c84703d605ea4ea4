/* test_globmatch.c -- Redis's glob syntax (src/common/globmatch.c): the cases Redis's own tests and
 * documentation give, binary bytes, unclosed classes, and patterns that would backtrack for ever.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "globmatch.h"

static int m(const char *p, const char *s)
{
    return globmatch(p, strlen(p), s, strlen(s));
}

static void test_documented(void **state)
{
    (void)state;
    /* KEYS's documentation: h?llo, h*llo, h[ae]llo, h[^e]llo, h[a-b]llo. */
    assert_true(m("h?llo", "hello") && m("h?llo", "hallo") && m("h?llo", "hxllo"));
    assert_true(m("h*llo", "hllo") && m("h*llo", "heeeello"));
    assert_true(m("h[ae]llo", "hello") && m("h[ae]llo", "hallo") && !m("h[ae]llo", "hillo"));
    assert_true(m("h[^e]llo", "hallo") && m("h[^e]llo", "hbllo") && !m("h[^e]llo", "hello"));
    assert_true(m("h[a-b]llo", "hallo") && m("h[a-b]llo", "hbllo") && !m("h[a-b]llo", "hcllo"));
    assert_true(m("*", "anything") && m("a*", "a") && !m("a?", "a"));
    assert_true(m("*a*b*", "xxaxxbxx") && !m("*a*b*", "xxbxxaxx"));
}

static void test_redis_quirks(void **state)
{
    (void)state;
    assert_false(m("*", "")); /* the loop needs a byte: KEYS/SCAN special-case "*" */
    assert_true(m("", ""));
    assert_true(m("[b-a]", "a")); /* a reversed range is swapped */
    /* "[a-]" is the range a..']' (swapped) and then an unclosed class, as in Redis. */
    assert_true(m("[a-]", "a") && m("[a-]", "]") && m("[a-]", "_") && !m("[a-]", "-"));
    assert_true(m("[abc", "c")); /* an unclosed class ends at the pattern's end */
    assert_false(m("[abc", "d"));
    assert_true(m("[", "[") == 0); /* an empty unclosed class matches nothing */
    assert_true(m("[^", "x"));     /* and its negation anything */
    assert_true(m("[]]", "]") == 0 && m("[]]", "]]") == 0); /* ']' right away closes the class */
    assert_true(m("\\*", "*") && !m("\\*", "a"));
    assert_true(m("[\\]]", "]") && m("[\\-]", "-"));
    assert_true(m("a\\", "a\\") && !m("a\\", "a")); /* a trailing '\' is itself */
    assert_true(m("a**", "a") && m("a**b", "ab") && m("**", "x"));
}

static void test_binary(void **state)
{
    (void)state;
    const char key[] = {'a', 0, 'b', (char)0xff};
    assert_true(globmatch("a?b?", 4, key, 4));
    assert_true(globmatch("a\0b*", 4, key, 4));
    assert_false(globmatch("a\0c*", 4, key, 4));
    /* Signed bytes, as Redis on x86-64: 0xff is -1, inside [\x80-\x01] but not [\x01-\x7f]. */
    assert_true(globmatch("a?b[\x80-\x01]", 8, key, 4));
    assert_false(globmatch("a?b[\x01-\x7f]", 8, key, 4));
    /* Neither buffer is read past its length (ASan checks this build). */
    char p[1] = {'*'}, q[1] = {'['}, r[2] = {'[', '^'};
    assert_true(globmatch(p, 1, "x", 1));
    assert_false(globmatch(q, 1, "x", 1));
    assert_true(globmatch(r, 2, "x", 1));
}

static void test_backtracking_is_bounded(void **state)
{
    (void)state;
    /* "a*a*a*...b" against "aaa...a": exponential without Redis's skip-longer-matches rule. */
    char p[201], s[101];
    for (int i = 0; i < 100; i++)
        p[2 * i] = 'a', p[2 * i + 1] = '*';
    p[200] = 'b';
    memset(s, 'a', sizeof s);
    assert_false(globmatch(p, sizeof p, s, sizeof s));
    /* Deeper than GLOBMATCH_MAX_NESTING stars: no match, no stack overflow. */
    static char deep[2 * (GLOBMATCH_MAX_NESTING + 10)];
    for (size_t i = 0; i < sizeof deep; i += 2)
        deep[i] = '*', deep[i + 1] = 'x';
    static char xs[GLOBMATCH_MAX_NESTING + 20];
    memset(xs, 'x', sizeof xs);
    assert_false(globmatch(deep, sizeof deep, xs, sizeof xs));
    assert_true(globmatch(deep, 20, xs, sizeof xs));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documented),
        cmocka_unit_test(test_redis_quirks),
        cmocka_unit_test(test_binary),
        cmocka_unit_test(test_backtracking_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
