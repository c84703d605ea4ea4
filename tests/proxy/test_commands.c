/* test_commands.c -- the command table: every row well formed (name, arity, keys, flags, handlers),
 * lookup in any case, and each row's arity checked against calls with one argument too few and
 * too many. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"

static void test_rows_are_well_formed(void **state)
{
    (void)state;
    size_t n;
    const command_t *const *all = command_all(&n);
    assert_true(n >= 25);
    for (size_t i = 0; i < n; i++) {
        const command_t *c = all[i];
        char what[64];
        snprintf(what, sizeof what, "%s", c->name);
        for (const char *p = c->name; *p; p++) assert_false(isupper((unsigned char)*p));
        if (i) assert_true(strcmp(all[i - 1]->name, c->name) < 0); /* sorted, no duplicates */
        assert_non_null(c->proc);
        assert_int_not_equal(c->arity, 0);
        if (c->max_args) {
            assert_true(c->arity < 0);            /* an exact arity needs no upper bound */
            assert_true(c->max_args >= -c->arity); /* and the bound leaves some call possible */
        }
        /* A command that takes big arguments says so, and has the handler for them. */
        assert_int_equal(!!(c->flags & CMD_LARGE_ARG), c->big != NULL);
        assert_false((c->flags & CMD_WRITE) && (c->flags & CMD_READONLY));
        if (c->first_key == 0) {
            assert_int_equal(c->last_key, 0);
            assert_int_equal(c->key_step, 0);
        } else {
            assert_true(c->key_step >= 1);
            assert_true(c->last_key == -1 || c->last_key >= c->first_key);
            /* Every call the arity allows has its first key. */
            assert_true(c->first_key < (c->arity > 0 ? c->arity : -c->arity));
        }
        if (c->flags & CMD_STORE) assert_true(c->flags & CMD_WRITE);
    }
}

static void test_lookup_in_any_case(void **state)
{
    (void)state;
    size_t n;
    const command_t *const *all = command_all(&n);
    for (size_t i = 0; i < n; i++) {
        char upper[32];
        size_t len = strlen(all[i]->name);
        for (size_t j = 0; j <= len; j++) upper[j] = (char)toupper((unsigned char)all[i]->name[j]);
        assert_ptr_equal(command_find(all[i]->name, len), all[i]);
        assert_ptr_equal(command_find(upper, len), all[i]);
    }
    assert_non_null(command_find("GeT", 3));
    assert_null(command_find("GETX", 4));
    assert_null(command_find("GE", 2));
    assert_null(command_find("", 0));
    assert_null(command_find("lpush", 5)); /* other data types are unknown commands */
    char longname[100];
    memset(longname, 'g', sizeof longname);
    assert_null(command_find(longname, sizeof longname));
    assert_null(command_find("get\0x", 5)); /* the whole argument is the name */
}

/* Each row against calls around its arity: the smallest call it allows passes, one argument
 * fewer fails, and one more than allowed fails. */
static void test_arity_against_calls(void **state)
{
    (void)state;
    size_t n;
    const command_t *const *all = command_all(&n);
    for (size_t i = 0; i < n; i++) {
        const command_t *c = all[i];
        int least = c->arity > 0 ? c->arity : -c->arity;
        assert_true(command_arity_ok(c, least));
        assert_false(command_arity_ok(c, least - 1));
        if (c->arity > 0)
            assert_false(command_arity_ok(c, least + 1));
        else if (c->max_args)
            assert_true(command_arity_ok(c, c->max_args)), assert_false(command_arity_ok(c, c->max_args + 1));
        else
            assert_true(command_arity_ok(c, least + 50));
    }
    /* A few rows as Redis 7 defines them. */
    assert_int_equal(command_find("get", 3)->arity, 2);
    assert_int_equal(command_find("set", 3)->arity, -3);
    assert_int_equal(command_find("del", 3)->arity, -2);
    assert_int_equal(command_find("del", 3)->last_key, -1);
    assert_int_equal(command_find("ping", 4)->arity, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_are_well_formed),
        cmocka_unit_test(test_lookup_in_any_case),
        cmocka_unit_test(test_arity_against_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
