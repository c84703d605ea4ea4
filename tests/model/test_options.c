/* test_options.c -- icproxy, icsim and icbench take the shared options from one declaration: every
 * row of each group a program includes is in its table with the same name, type, bounds, default
 * and help, each table names each option once, and the billing option parses as the proxy's did. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bench_options.h"
#include "options.h"
#include "proxy_config.h"
#include "sim_options.h"

typedef struct {
    const char *program;
    const conf_option_t *table;
    const char *groups[8]; /* the groups it includes, NULL-terminated */
} program_t;

static const conf_option_t *find(const conf_option_t *t, const char *name)
{
    for (; t->name; t++)
        if (!strcmp(t->name, name)) return t;
    return NULL;
}

static const model_option_group_t *group(const char *name)
{
    for (const model_option_group_t *g = model_option_groups; g->name; g++)
        if (!strcmp(g->name, name)) return g;
    return NULL;
}

static int same_row(const conf_option_t *a, const conf_option_t *b)
{
    return a->type == b->type && a->min == b->min && a->max == b->max && !strcmp(a->def, b->def) &&
           !strcmp(a->help, b->help);
}

static void test_programs_share_the_rows(void **state)
{
    (void)state;
    const program_t programs[] = {
        {"icproxy", proxy_option_table, {"pool", "platform", "node-policy", "lifecycle"}},
        {"icsim",
         icsim_options,
         {"pool", "platform", "node-policy", "lifecycle", "workload", "trace", "prices"}},
        {"icbench", icbench_options, {"workload", "trace", "prices"}},
    };
    int checked = 0;
    for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
        const program_t *p = &programs[i];
        for (int k = 0; p->groups[k]; k++) {
            const model_option_group_t *g = group(p->groups[k]);
            assert_non_null(g);
            for (const conf_option_t *row = g->rows; row->name; row++) {
                const conf_option_t *mine = find(p->table, row->name);
                if (!mine || !same_row(mine, row))
                    fail_msg("%s's option %s is not the %s group's row", p->program, row->name,
                             g->name);
                checked++;
            }
        }
    }
    assert_int_equal(checked, 18 + 33 + 15); /* icproxy 18 rows, icsim 33, icbench 15 */
}

/* An option named twice in one table would be parsed by its first row and shown twice. */
static void test_names_once(void **state)
{
    (void)state;
    const conf_option_t *tables[] = {proxy_option_table, icsim_options, icbench_options};
    for (size_t i = 0; i < 3; i++)
        for (const conf_option_t *a = tables[i]; a->name; a++)
            for (const conf_option_t *b = a + 1; b->name; b++)
                if (!strcmp(a->name, b->name)) fail_msg("option %s named twice", a->name);
    /* And each group's rows once over all groups. */
    for (const model_option_group_t *g = model_option_groups; g->name; g++)
        for (const conf_option_t *row = g->rows; row->name; row++)
            for (const model_option_group_t *h = g + 1; h->name; h++)
                assert_null(find(h->rows, row->name));
}

static void test_billing_parse(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_int_equal(model_billing_parse("1ms", &ms), 0);
    assert_int_equal(ms, 1);
    assert_int_equal(model_billing_parse("100ms", &ms), 0);
    assert_int_equal(ms, 100);
    assert_int_equal(model_billing_parse("10ms", &ms), -1);
    assert_int_equal(model_billing_parse("1s", &ms), -1);
    assert_int_equal(model_billing_parse("", &ms), -1);
    assert_int_equal(ms, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_programs_share_the_rows),
        cmocka_unit_test(test_names_once),
        cmocka_unit_test(test_billing_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
