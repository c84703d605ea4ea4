/* commands.c -- the command table assembled from each group's rows: lookup by name, the arity
 * check, and COMMAND (COUNT, INFO, LIST, DOCS), which reports the table as Redis 7 does. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "command.h"
#include "command_docs.h"
#include "globmatch.h"
#include "op.h"

/* ---- COMMAND ---- */

static void add_flags(buf_t *b, unsigned flags)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{CMD_WRITE, "write"},     {CMD_READONLY, "readonly"}, {CMD_ADMIN, "admin"},
                 {CMD_NO_AUTH, "no_auth"}, {CMD_FAST, "fast"},         {CMD_LARGE_ARG, "denyoom"},
                 {CMD_NO_MULTI, "no_multi"}};
    int n = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) n += (flags & names[i].bit) != 0;
    resp_add_set_header(b, n); /* a set in RESP3, as Redis sends flags */
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (flags & names[i].bit) resp_add_simple(b, names[i].name);
}

/* A command's ACL categories, derived from its flags and its group's name as Redis assigns them
 * (write or read, admin commands also dangerous, fast or slow, and the group's category), in
 * the order Redis lists categories. Fills names (room for 8) and returns how many. */
static int acl_categories(unsigned flags, const char *group, const char **names)
{
    int n = 0;
    if (group && !strcmp(group, "generic")) names[n++] = "keyspace";
    if (flags & CMD_READONLY) names[n++] = "read";
    if (flags & CMD_WRITE) names[n++] = "write";
    if (group && !strcmp(group, "string")) names[n++] = "string";
    if (flags & CMD_ADMIN) names[n++] = "admin";
    names[n++] = flags & CMD_FAST ? "fast" : "slow";
    if (flags & CMD_ADMIN) names[n++] = "dangerous";
    if (group && !strcmp(group, "connection")) names[n++] = "connection";
    return n;
}

static void add_acl_categories(buf_t *b, unsigned flags, const char *group)
{
    const char *names[8];
    int n = acl_categories(flags, group, names);
    resp_add_set_header(b, n);
    for (int i = 0; i < n; i++) {
        char cat[32];
        snprintf(cat, sizeof cat, "@%s", names[i]);
        resp_add_simple(b, cat);
    }
}

/* The one key specification a row's key positions make (Redis 7's shape): keys from argument
 * first_key to last_key (relative to the first: 0 one key, -1 to the end) every key_step. */
static void add_key_specs(buf_t *b, unsigned flags, int first_key, int last_key, int key_step)
{
    if (!first_key) {
        resp_add_array_header(b, 0);
        return;
    }
    resp_add_array_header(b, 1);
    resp_add_map_header(b, 3);
    resp_add_cstr(b, "flags");
    resp_add_set_header(b, 2);
    resp_add_simple(b, flags & CMD_WRITE ? "RW" : "RO");
    resp_add_simple(b, flags & CMD_WRITE ? "update" : "access");
    resp_add_cstr(b, "begin_search");
    resp_add_map_header(b, 2);
    resp_add_cstr(b, "type");
    resp_add_cstr(b, "index");
    resp_add_cstr(b, "spec");
    resp_add_map_header(b, 1);
    resp_add_cstr(b, "index");
    resp_add_int(b, first_key);
    resp_add_cstr(b, "find_keys");
    resp_add_map_header(b, 2);
    resp_add_cstr(b, "type");
    resp_add_cstr(b, "range");
    resp_add_cstr(b, "spec");
    resp_add_map_header(b, 3);
    resp_add_cstr(b, "lastkey");
    resp_add_int(b, last_key < 0 ? last_key : last_key - first_key);
    resp_add_cstr(b, "keystep");
    resp_add_int(b, key_step);
    resp_add_cstr(b, "limit");
    resp_add_int(b, 0);
}

/* One subcommand as Redis 7 describes it, from its documentation row. */
static void add_subcommand_info(buf_t *b, const command_doc_t *sub)
{
    resp_add_array_header(b, 10);
    resp_add_bulk(b, sub->name, strlen(sub->name));
    resp_add_int(b, sub->arity);
    add_flags(b, sub->flags);
    resp_add_int(b, sub->first_key);
    resp_add_int(b, sub->first_key);
    resp_add_int(b, sub->first_key ? 1 : 0);
    add_acl_categories(b, sub->flags, sub->group);
    resp_add_array_header(b, 0); /* tips */
    add_key_specs(b, sub->flags, sub->first_key, sub->first_key, 1);
    resp_add_array_header(b, 0);
}

/* One command as Redis 7 describes it: name, arity, flags, first key, last key, step, ACL
 * categories, tips, key specifications, subcommands. */
static void add_command_info(buf_t *b, const command_t *cmd)
{
    const command_doc_t *doc = command_doc_find(cmd->name);
    size_t nsub = 0;
    const command_doc_t *sub = command_doc_subcommands(cmd->name, &nsub);
    resp_add_array_header(b, 10);
    resp_add_bulk(b, cmd->name, strlen(cmd->name));
    resp_add_int(b, cmd->arity);
    add_flags(b, cmd->flags);
    resp_add_int(b, cmd->first_key);
    resp_add_int(b, cmd->last_key);
    resp_add_int(b, cmd->key_step);
    add_acl_categories(b, cmd->flags, doc ? doc->group : NULL);
    resp_add_array_header(b, 0); /* tips */
    add_key_specs(b, cmd->flags, cmd->first_key, cmd->last_key, cmd->key_step);
    resp_add_array_header(b, (int64_t)nsub);
    for (size_t i = 0; i < nsub; i++) add_subcommand_info(b, &sub[i]);
}

/* A command's or subcommand's documentation by its name in any case ("GET", "config|get"). */
static const command_doc_t *find_doc(const char *name, size_t len)
{
    char lower[64];
    if (len >= sizeof lower || memchr(name, 0, len)) return NULL;
    for (size_t i = 0; i < len; i++) lower[i] = (char)tolower((unsigned char)name[i]);
    lower[len] = 0;
    char *bar = strchr(lower, '|');
    if (bar) *bar = 0;
    if (!command_find(lower, strlen(lower))) return NULL; /* only what the proxy answers */
    if (bar) *bar = '|';
    return command_doc_find(lower);
}

/* COMMAND DOCS [name ...]: a map of each known name to its documentation (unknown names are
 * left out, as Redis leaves them out). */
static void command_docs(buf_t *b, int argc, const char **argv, const size_t *argl)
{
    size_t n;
    const command_t *const *all = command_all(&n);
    if (argc == 2) {
        resp_add_map_header(b, (int64_t)n);
        for (size_t i = 0; i < n; i++) {
            const command_doc_t *doc = command_doc_find(all[i]->name);
            resp_add_cstr(b, all[i]->name);
            if (doc)
                command_doc_add(b, doc);
            else /* a command without documentation: tests/proxy/test_command_docs.c fails */
                resp_add_map_header(b, 0);
        }
        return;
    }
    int found = 0;
    for (int i = 2; i < argc; i++) found += find_doc(argv[i], argl[i]) != NULL;
    resp_add_map_header(b, found);
    for (int i = 2; i < argc; i++) {
        const command_doc_t *doc = find_doc(argv[i], argl[i]);
        if (!doc) continue;
        resp_add_cstr(b, doc->name);
        command_doc_add(b, doc);
    }
}

/* True if the command or subcommand (its flags and group) is in the ACL category cat (any case,
 * without its '@'). */
static int in_category(unsigned flags, const char *group, const char *cat, size_t len)
{
    const char *names[8];
    int n = acl_categories(flags, group, names);
    for (int i = 0; i < n; i++)
        if (arg_is(cat, len, names[i])) return 1;
    return 0;
}

/* COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: the names of the
 * commands, and of their subcommands under ACLCAT and PATTERN, as Redis 7 lists them. */
static void command_list(buf_t *b, int argc, const char **argv, const size_t *argl)
{
    size_t n;
    const command_t *const *all = command_all(&n);
    enum { ALL, MODULE, ACLCAT, PATTERN } by = ALL;
    if (argc == 5 && arg_is(argv[2], argl[2], "FILTERBY")) {
        if (arg_is(argv[3], argl[3], "MODULE")) by = MODULE;
        if (arg_is(argv[3], argl[3], "ACLCAT")) by = ACLCAT;
        if (arg_is(argv[3], argl[3], "PATTERN")) by = PATTERN;
    }
    if ((argc != 2 && by == ALL) || by == MODULE) {
        if (by == MODULE)
            resp_add_array_header(b, 0); /* the proxy loads no modules */
        else
            resp_add_error(b, "ERR syntax error");
        return;
    }
    int pass;
    int64_t count = 0;
    /* Two passes: count, then write. */
    for (pass = 0; pass < 2; pass++) {
        if (pass) resp_add_array_header(b, count);
        for (size_t i = 0; i < n; i++) {
            const command_doc_t *doc = command_doc_find(all[i]->name);
            size_t nsub = 0;
            const command_doc_t *sub = command_doc_subcommands(all[i]->name, &nsub);
            for (size_t k = 0; k <= (by == ALL ? 0 : nsub); k++) {
                const char *name = k ? sub[k - 1].name : all[i]->name;
                unsigned flags = k ? sub[k - 1].flags : all[i]->flags;
                const char *group = k ? sub[k - 1].group : doc ? doc->group : NULL;
                int ok = by == ALL ||
                         (by == ACLCAT && in_category(flags, group, argv[4], argl[4])) ||
                         (by == PATTERN && globmatch(argv[4], argl[4], name, strlen(name)));
                if (!ok) continue;
                if (pass)
                    resp_add_bulk(b, name, strlen(name));
                else
                    count++;
            }
        }
    }
}

/* COMMAND GETKEYS command arg...: the keys of a command line, from its row's key positions, with
 * Redis 7's errors. GETKEYSANDFLAGS adds each key's flags (RW, or RO for read-only commands). */
static void command_getkeys(buf_t *b, int argc, const char **argv, const size_t *argl,
                            int with_flags)
{
    if (argc < 4) { /* COMMAND GETKEYS name arg...: Redis's arity -4 */
        resp_add_error(b, "ERR wrong number of arguments for 'command|%s' command",
                       with_flags ? "getkeysandflags" : "getkeys");
        return;
    }
    const command_t *cmd = command_find(argv[2], argl[2]);
    int n = argc - 2; /* the command line's own argc */
    if (!cmd) {
        resp_add_error(b, "ERR Invalid command specified");
        return;
    }
    if (!command_arity_ok(cmd, n)) {
        resp_add_error(b, "ERR Invalid number of arguments specified for command");
        return;
    }
    if (!cmd->first_key) {
        resp_add_error(b, "ERR The command has no key arguments");
        return;
    }
    int last = cmd->last_key < 0 ? n + cmd->last_key : cmd->last_key;
    int step = cmd->key_step > 0 ? cmd->key_step : 1;
    int64_t count = 0;
    for (int i = cmd->first_key; i <= last && i < n; i += step)
        count++;
    resp_add_array_header(b, count);
    for (int i = cmd->first_key; i <= last && i < n; i += step) {
        if (with_flags) {
            resp_add_array_header(b, 2);
            resp_add_bulk(b, argv[2 + i], argl[2 + i]);
            resp_add_set_header(b, 1);
            resp_add_simple(b, cmd->flags & CMD_WRITE ? "RW" : "RO");
        } else {
            resp_add_bulk(b, argv[2 + i], argl[2 + i]);
        }
    }
}

static cmd_status_t proc_command(client_t *c, op_t *op, int argc, const char **argv,
                                 const size_t *argl)
{
    (void)c;
    buf_t *b = &op->reply;
    size_t n;
    const command_t *const *all = command_all(&n);
    if (argc == 1) {
        resp_add_array_header(b, (int64_t)n);
        for (size_t i = 0; i < n; i++) add_command_info(b, all[i]);
    } else if (arg_is(argv[1], argl[1], "COUNT") && argc == 2) {
        resp_add_int(b, (int64_t)n);
    } else if (arg_is(argv[1], argl[1], "LIST")) {
        command_list(b, argc, argv, argl);
    } else if (arg_is(argv[1], argl[1], "INFO")) {
        if (argc == 2) { /* Redis 7: COMMAND INFO with no names is every command */
            resp_add_array_header(b, (int64_t)n);
            for (size_t i = 0; i < n; i++) add_command_info(b, all[i]);
            return CMD_REPLIED;
        }
        resp_add_array_header(b, argc - 2);
        for (int i = 2; i < argc; i++) {
            const command_t *cmd = command_find(argv[i], argl[i]);
            const command_doc_t *doc = cmd ? NULL : find_doc(argv[i], argl[i]);
            if (cmd)
                add_command_info(b, cmd);
            else if (doc && strchr(doc->name, '|'))
                add_subcommand_info(b, doc);
            else
                resp_add_array_header(b, -1); /* *-1: no such command */
        }
    } else if (arg_is(argv[1], argl[1], "GETKEYS") || arg_is(argv[1], argl[1], "GETKEYSANDFLAGS")) {
        command_getkeys(b, argc, argv, argl, arg_is(argv[1], argl[1], "GETKEYSANDFLAGS"));
    } else if (arg_is(argv[1], argl[1], "DOCS")) {
        command_docs(b, argc, argv, argl);
    } else if (arg_is(argv[1], argl[1], "HELP") && argc == 2) {
        static const char *const help[] = {
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all commands.",
            "COUNT",
            "    Return the total number of commands.",
            "LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
            "    Return a list of all commands, optionally filtered.",
            "INFO [<command-name> ...]",
            "    Return details about the given commands, or all of them.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about the given commands, or all of them.",
            "GETKEYS <full-command>",
            "    Return the keys from a full command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and their access flags from a full command.",
            "HELP",
            "    Print this help."};
        command_add_help(b, help, sizeof help / sizeof *help);
    } else {
        resp_add_error(b, "ERR unknown subcommand '%.*s'. Try COMMAND HELP.",
                       (int)(argl[1] < 64 ? argl[1] : 64), argv[1]);
    }
    return CMD_REPLIED;
}

/* COMMAND lives with the table it reports. */
static const command_t table_commands[] = {
    {"command", -1, 0, CMD_FAST, 0, 0, 0, proc_command, NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};

/* ---- the table ---- */

/* Every group of commands; a new cmd_*.c file adds its rows here. */
static const command_t *const groups[] = {
    table_commands,      cmd_server_commands,  cmd_connection_commands, cmd_keyspace_commands,
    cmd_string_commands, cmd_large_commands,   cmd_config_commands,     cmd_diag_commands,
    cmd_tx_commands,     cmd_cluster_commands, cmd_migrate_commands,
};

#define COMMANDS_MAX 256
#define NAME_MAX_LEN 31

static const command_t *sorted[COMMANDS_MAX];
static size_t nsorted;
static pthread_once_t sorted_once = PTHREAD_ONCE_INIT;

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const command_t *const *)a)->name, (*(const command_t *const *)b)->name);
}

static void sort_commands(void)
{
    for (size_t g = 0; g < sizeof groups / sizeof *groups; g++)
        for (const command_t *c = groups[g]; c->name && nsorted < COMMANDS_MAX; c++)
            sorted[nsorted++] = c;
    qsort(sorted, nsorted, sizeof *sorted, by_name);
}

const command_t *const *command_all(size_t *n)
{
    pthread_once(&sorted_once, sort_commands);
    *n = nsorted;
    return sorted;
}

const command_t *command_find(const char *name, size_t len)
{
    size_t n;
    const command_t *const *all = command_all(&n);
    char lower[NAME_MAX_LEN + 1];
    if (len > NAME_MAX_LEN || memchr(name, 0, len)) return NULL; /* the whole argument names it */
    for (size_t i = 0; i < len; i++) lower[i] = (char)tolower((unsigned char)name[i]);
    lower[len] = 0;
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int cmp = strcmp(lower, all[mid]->name);
        if (cmp == 0) return all[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void command_add_help(buf_t *b, const char *const *lines, size_t n)
{
    resp_add_array_header(b, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        resp_add_simple(b, lines[i]);
}

int command_arity_ok(const command_t *cmd, int argc)
{
    if (cmd->arity >= 0 ? argc != cmd->arity : argc < -cmd->arity) return 0;
    return cmd->max_args == 0 || argc <= cmd->max_args;
}
