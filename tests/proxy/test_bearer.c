/* test_bearer.c -- the metrics listener's Authorization check: what it accepts and refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bearer.h"

static const char tok[] = "s3cret-token-0123456789";
#define TOK_LEN (sizeof tok - 1)

static void test_accepts(void **state)
{
    assert_true(bearer_check("Bearer s3cret-token-0123456789", tok, TOK_LEN));
    assert_true(bearer_check("bearer s3cret-token-0123456789", tok, TOK_LEN));
    assert_true(bearer_check("BEARER   s3cret-token-0123456789 \t ", tok, TOK_LEN));
}

static void test_refuses(void **state)
{
    const char *bad[] = {
        NULL,
        "",
        "Bearer",
        "Bearer ",
        "Bearers3cret-token-0123456789",
        "Basic s3cret-token-0123456789",
        " Bearer s3cret-token-0123456789",
        "Bearer\ts3cret-token-0123456789",
        "Bearer s3cret-token-012345678",   /* a prefix */
        "Bearer s3cret-token-01234567890", /* longer */
        "Bearer s3cret-token-0123456788",  /* last byte differs */
        "Bearer S3cret-token-0123456789",  /* the token is case-sensitive */
        "Bearer s3cret-token-0123456789 x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(bearer_check(bad[i], tok, TOK_LEN));
    /* No token configured matches nothing, not even an empty one. */
    assert_false(bearer_check("Bearer ", "", 0));
}

static void test_refuses_overlong_header(void **state)
{
    char h[BEARER_HEADER_MAX + 64];
    memset(h, ' ', sizeof h);
    memcpy(h, "Bearer ", 7);
    memcpy(h + 7, tok, TOK_LEN);
    h[sizeof h - 1] = 0; /* the token, then more blanks than any header may have */
    assert_false(bearer_check(h, tok, TOK_LEN));
    h[BEARER_HEADER_MAX] = 0; /* exactly the limit: still looked at */
    assert_true(bearer_check(h, tok, TOK_LEN));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_refuses_overlong_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
