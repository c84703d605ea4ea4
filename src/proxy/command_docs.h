/* command_docs.h -- what COMMAND DOCS says of each command and subcommand: summary, version,
 * group, complexity and the argument tree, one row per name ("set", "config|get") in
 * command_docs.c, apart from the command table so that adding a command touches its group's
 * file and this one. tests/proxy/test_command_docs.c fails when a command has no row. */
#ifndef IC_PROXY_COMMAND_DOCS_H
#define IC_PROXY_COMMAND_DOCS_H

#include <stddef.h>

#include "buf.h"

/* Argument types, as Redis 7 names them in COMMAND DOCS. */
typedef enum {
    DOC_STRING,
    DOC_INTEGER,
    DOC_DOUBLE,
    DOC_KEY,
    DOC_PATTERN,
    DOC_UNIX_TIME,
    DOC_PURE_TOKEN,
    DOC_ONEOF, /* one of its arguments */
    DOC_BLOCK, /* all of its arguments, in order */
} doc_arg_type_t;

enum {
    DOC_OPTIONAL = 1 << 0,
    DOC_MULTIPLE = 1 << 1,
    DOC_MULTIPLE_TOKEN = 1 << 2, /* the token repeats before each value */
};

typedef struct doc_arg {
    const char *name;
    doc_arg_type_t type;
    const char *token;            /* NULL: none */
    const char *since;            /* NULL: as old as the command */
    const char *deprecated_since; /* NULL: not deprecated */
    unsigned flags;
    const struct doc_arg *args; /* DOC_ONEOF, DOC_BLOCK: ends with a row whose name is NULL */
    int key_spec;               /* DOC_KEY: which of the command's key specs it is (RENAME's
                                 * newkey: 1) */
} doc_arg_t;

typedef struct command_doc {
    const char *name; /* "get", or "container|subcommand" for a subcommand */
    const char *summary;
    const char *since; /* the Redis version that added it (the proxy's own: the project's) */
    const char *group; /* Redis's groups: string, generic, server, connection, transactions */
    const char *complexity;
    const doc_arg_t *args;        /* NULL: none; else ends with a row whose name is NULL */
    const char *deprecated_since; /* NULL, or the version that deprecated it */
    const char *replaced_by;      /* with deprecated_since: what to use instead */
    /* Subcommands only, as COMMAND INFO reports them (the container's row has the rest): arity
     * counting the container's name, and the first key's position (0: none). */
    int arity, first_key;
    unsigned flags; /* subcommands only: CMD_* as the container's rows have them */
} command_doc_t;

/* The row named name (lower case, NUL-terminated: "set", "config|get"), or NULL. */
const command_doc_t *command_doc_find(const char *name);
/* Every row, in name order (a container's subcommands right after it). */
const command_doc_t *command_docs_all(size_t *n);
/* The subcommands of the container called name: *n rows from the returned one. */
const command_doc_t *command_doc_subcommands(const char *name, size_t *n);

/* Appends the reply COMMAND DOCS gives of one command (a map: summary, since, group,
 * complexity, doc_flags, deprecated_since, replaced_by, arguments, subcommands), RESP2 or RESP3
 * as b says. A key argument names key specification 0: every command here has at most one. */
void command_doc_add(buf_t *b, const command_doc_t *doc);

#endif
