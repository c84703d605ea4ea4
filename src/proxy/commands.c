/* commands.c -- the command table assembled from each group's rows: lookup by name, the arity
 * check, and COMMAND (COUNT, INFO, LIST, DOCS), which reports the table as Redis 7 does. */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "command.h"
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

/* One command as Redis 7 describes it: name, arity, flags, first key, last key, step, ACL
 * categories, tips, key specifications, subcommands. */
static void add_command_info(buf_t *b, const command_t *cmd)
{
    resp_add_array_header(b, 10);
    resp_add_bulk(b, cmd->name, strlen(cmd->name));
    resp_add_int(b, cmd->arity);
    add_flags(b, cmd->flags);
    resp_add_int(b, cmd->first_key);
    resp_add_int(b, cmd->last_key);
    resp_add_int(b, cmd->key_step);
    resp_add_set_header(b, 0); /* ACL categories */
    for (int i = 0; i < 3; i++)
        resp_add_array_header(b, 0);
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
    } else if (arg_is(argv[1], argl[1], "LIST") && argc == 2) {
        resp_add_array_header(b, (int64_t)n);
        for (size_t i = 0; i < n; i++) resp_add_bulk(b, all[i]->name, strlen(all[i]->name));
    } else if (arg_is(argv[1], argl[1], "INFO")) {
        if (argc == 2) { /* Redis 7: COMMAND INFO with no names is every command */
            resp_add_array_header(b, (int64_t)n);
            for (size_t i = 0; i < n; i++) add_command_info(b, all[i]);
            return CMD_REPLIED;
        }
        resp_add_array_header(b, argc - 2);
        for (int i = 2; i < argc; i++) {
            const command_t *cmd = command_find(argv[i], argl[i]);
            if (cmd)
                add_command_info(b, cmd);
            else
                resp_add_array_header(b, -1); /* *-1: no such command */
        }
    } else if (arg_is(argv[1], argl[1], "GETKEYS") || arg_is(argv[1], argl[1], "GETKEYSANDFLAGS")) {
        command_getkeys(b, argc, argv, argl, arg_is(argv[1], argl[1], "GETKEYSANDFLAGS"));
    } else if (arg_is(argv[1], argl[1], "DOCS")) {
        /* redis-cli builds its hints from COMMAND DOCS and copes with none. A map, as Redis
         * answers (an array of pairs in RESP2). */
        resp_add_map_header(b, 0);
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
    table_commands,      cmd_server_commands, cmd_connection_commands, cmd_keyspace_commands,
    cmd_string_commands, cmd_large_commands,  cmd_config_commands,     cmd_diag_commands,
    cmd_tx_commands,
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
