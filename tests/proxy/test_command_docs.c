/* test_command_docs.c -- the documentation table (command_docs.c) against the command table:
 * every command has its row (so a new command cannot forget its docs), every row documents a
 * command the proxy answers, rows are sorted, and each argument tree is well formed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "command.h"
#include "command_docs.h"
#include "resp.h"

static void test_every_command_has_docs(void **state)
{
    (void)state;
    size_t n;
    const command_t *const *all = command_all(&n);
    for (size_t i = 0; i < n; i++) {
        const command_doc_t *doc = command_doc_find(all[i]->name);
        if (!doc) fail_msg("command '%s' has no row in src/proxy/command_docs.c", all[i]->name);
        assert_non_null(doc->summary);
        assert_non_null(doc->since);
        assert_non_null(doc->group);
        assert_int_equal(doc->arity, 0); /* a command's arity is its row's, not its docs' */
    }
}

static void test_every_row_documents_a_command(void **state)
{
    (void)state;
    size_t n;
    const command_doc_t *docs = command_docs_all(&n);
    for (size_t i = 0; i < n; i++) {
        const command_doc_t *d = &docs[i];
        char container[64];
        snprintf(container, sizeof container, "%s", d->name);
        char *bar = strchr(container, '|');
        if (bar) *bar = 0;
        if (!command_find(container, strlen(container)))
            fail_msg("docs row '%s' names no command", d->name);
        if (i) assert_true(strcmp(docs[i - 1].name, d->name) < 0); /* sorted, no duplicates */
        assert_ptr_equal(command_doc_find(d->name), d);
        assert_true(d->summary && *d->summary);
        assert_true(d->since && *d->since);
        assert_true(!strcmp(d->group, "string") || !strcmp(d->group, "generic") ||
                    !strcmp(d->group, "server") || !strcmp(d->group, "connection") ||
                    !strcmp(d->group, "transactions") || !strcmp(d->group, "cluster"));
        assert_int_equal(!!d->deprecated_since, !!d->replaced_by);
        if (bar) {
            /* A subcommand: its own arity (with the container's name), its key if any. */
            assert_int_not_equal(d->arity, 0);
            assert_true(d->first_key == 0 || d->first_key == 2);
            size_t nsub;
            const command_doc_t *sub = command_doc_subcommands(container, &nsub);
            assert_true(d >= sub && d < sub + nsub);
        }
    }
}

/* Checks one argument tree; counts the key arguments in *keys. */
static void check_args(const char *cmd, const doc_arg_t *a, int *keys)
{
    for (; a && a->name; a++) {
        assert_true(*a->name);
        int nested = a->type == DOC_ONEOF || a->type == DOC_BLOCK;
        if (nested != (a->args != NULL))
            fail_msg("%s: argument '%s' has arguments iff it is oneof or block", cmd, a->name);
        if (a->type == DOC_PURE_TOKEN && !a->token)
            fail_msg("%s: pure token '%s' without its token", cmd, a->name);
        if ((a->flags & DOC_MULTIPLE_TOKEN) && !(a->flags & DOC_MULTIPLE))
            fail_msg("%s: '%s' repeats its token but is not multiple", cmd, a->name);
        *keys += a->type == DOC_KEY;
        if (a->args) check_args(cmd, a->args, keys);
    }
}

static void test_arguments_are_well_formed(void **state)
{
    (void)state;
    size_t n;
    const command_doc_t *docs = command_docs_all(&n);
    for (size_t i = 0; i < n; i++) {
        int keys = 0;
        check_args(docs[i].name, docs[i].args, &keys);
        /* Key arguments where the command table (or the subcommand's row) has keys. */
        const command_t *cmd = command_find(docs[i].name, strlen(docs[i].name));
        int has_keys = cmd ? cmd->first_key != 0 : docs[i].first_key != 0;
        if (has_keys != (keys > 0))
            fail_msg("%s: key arguments (%d) disagree with its key positions", docs[i].name, keys);
    }
}

static void test_subcommands_follow_their_container(void **state)
{
    (void)state;
    size_t n;
    const command_doc_t *sub = command_doc_subcommands("config", &n);
    assert_int_equal(n, 5);
    assert_string_equal(sub[0].name, "config|get");
    assert_string_equal(sub[n - 1].name, "config|set");
    assert_null(command_doc_subcommands("nosuch", &n));
    assert_int_equal(n, 0);
    command_doc_subcommands("get", &n);
    assert_int_equal(n, 0);
}

/* Every row encodes in both protocols: a map of at least summary, since and group. */
static void test_every_row_encodes(void **state)
{
    (void)state;
    size_t n;
    const command_doc_t *docs = command_docs_all(&n);
    for (int proto = 2; proto <= 3; proto++) {
        for (size_t i = 0; i < n; i++) {
            buf_t b;
            buf_init(&b);
            b.resp_proto = proto;
            command_doc_add(&b, &docs[i]);
            assert_true(buf_len(&b) > 20);
            assert_int_equal(buf_head(&b)[0], proto == 3 ? '%' : '*');
            buf_free(&b);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_command_has_docs),
        cmocka_unit_test(test_every_row_documents_a_command),
        cmocka_unit_test(test_arguments_are_well_formed),
        cmocka_unit_test(test_subcommands_follow_their_container),
        cmocka_unit_test(test_every_row_encodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
