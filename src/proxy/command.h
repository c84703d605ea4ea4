/* command.h -- the Redis command table: one row per command (name, arity, flags, keys, handler),
 * declared next to its handler in the cmd_*.c file of its group and looked up by commands.c. */
#ifndef IC_PROXY_COMMAND_H
#define IC_PROXY_COMMAND_H

#include <stddef.h>
#include <strings.h>

#include "transport.h"

typedef struct client client_t;
typedef struct op op_t;
typedef struct server server_t;

/* What a handler did with the op it was given. */
typedef enum {
    CMD_REPLIED, /* the reply is complete in op->reply: the dispatcher finishes the op */
    CMD_PENDING, /* the op finishes later, on its own (node requests, relays) */
} cmd_status_t;

/* What a handler of big arguments did with a bulk too large for the small-argument buffer. */
typedef enum {
    BIG_TAKEN,      /* it started moving the body (a relay into memory or to nodes) */
    BIG_REFUSE_NOW, /* refused on its header: the error (op->err, or a generic one) is answered at
                     * once and the rest of the command is drained unread */
    BIG_DRAIN,      /* the body is drained unread; the command is answered with op->err once it
                     * has been read to its end */
} big_status_t;

/* Runs a fully read command. argv[0] is the command's name; argc counts it. When the command had
 * a big argument, the op already holds it (its kind is no longer OP_SIMPLE) and argv lacks it. */
typedef cmd_status_t (*command_proc_t)(client_t *c, op_t *op, int argc, const char **argv,
                                       const size_t *argl);
/* Called for each bulk of the command too big for the small-argument buffer (c->cmd says where it
 * is: argi, nsmall, big_len), with the op the command runs in. */
typedef big_status_t (*command_big_t)(client_t *c, op_t *op, size_t len);

enum {
    CMD_WRITE = 1 << 0,     /* changes the keyspace */
    CMD_READONLY = 1 << 1,  /* reads keys, changes nothing */
    CMD_ADMIN = 1 << 2,     /* about the server, not the data */
    CMD_NO_AUTH = 1 << 3,   /* allowed before the client has authenticated */
    CMD_STORE = 1 << 4,     /* stores of one key start at once and commit in order */
    CMD_STREAMS = 1 << 5,   /* writes its reply while it streams: starts when replies before
                             * it are out */
    CMD_FAST = 1 << 6,      /* answered from the proxy's memory, no node involved */
    CMD_LARGE_ARG = 1 << 7, /* takes an argument larger than the small-argument buffer */
    CMD_ALL_KEYS = 1 << 8,  /* changes every key (FLUSHALL): waits until no key is held */
    CMD_NO_MULTI = 1 << 9,  /* refused inside MULTI (Redis's no-multi): cannot wait in a queue */
};

typedef struct command {
    const char *name; /* lower case, as Redis names commands in replies and errors */
    int arity;        /* Redis's convention: N = exactly N arguments (with the name), -N = >= N */
    int max_args;     /* an upper bound an arity of -N cannot say; 0: none */
    unsigned flags;
    /* Keys, as COMMAND reports them: arguments first_key..last_key, step key_step (0 = no keys;
     * last_key -1 = to the end). A command waits for earlier unfinished writes of its keys,
     * except stores (CMD_STORE), which start at once and commit in order. */
    int first_key, last_key, key_step;
    command_proc_t proc;
    command_big_t big; /* NULL: a big argument is refused on its header */
} command_t;

/* The rows of each group, each ending with a row whose name is NULL (cmd_*.c). */
extern const command_t cmd_server_commands[];
extern const command_t cmd_connection_commands[];
extern const command_t cmd_config_commands[];
extern const command_t cmd_diag_commands[];
extern const command_t cmd_keyspace_commands[];
extern const command_t cmd_string_commands[];
extern const command_t cmd_large_commands[];
extern const command_t cmd_tx_commands[];
extern const command_t cmd_cluster_commands[];
extern const command_t cmd_migrate_commands[];

/* The command called name (any case), or NULL. */
const command_t *command_find(const char *name, size_t len);
/* Every command, in one array of *n pointers sorted by name. */
const command_t *const *command_all(size_t *n);
/* True if argc arguments (the name included) suit the command's arity and upper bound. */
int command_arity_ok(const command_t *cmd, int argc);
/* The relay callback of a big argument read into an op's memory (arg: the op, one reference
 * taken for the relay): the command reader goes on (client.c). */
void command_big_moved(relay_t *r, relay_status_t st, void *arg);

/* A HELP subcommand's reply: the lines as simple strings, as Redis answers HELP. */
void command_add_help(buf_t *b, const char *const *lines, size_t n);

/* True if the argument a (of length l) is the word s, in any case. */
static inline int arg_is(const char *a, size_t l, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n == l && strncasecmp(a, s, l) == 0;
}

/* The process's resident memory in bytes, from /proc/self/statm (INFO and the metrics). */
long info_rss_bytes(void);
/* SLOWLOG and MONITOR see each command once its handler has run (exec_us: the handler's time in
 * the event loop); LATENCY sees each command's whole time once it is answered (cmd_diag.c). */
void diag_command_ran(client_t *c, const command_t *row, int argc, const char **argv,
                      const size_t *argl, uint64_t exec_us);
void diag_op_done(server_t *srv, uint64_t total_us);

/* The Redis version the proxy reports (HELLO, INFO redis_version): the one whose commands and
 * replies it follows. Clients pick features by it. */
#define IC_REDIS_VERSION "7.0.0"

/* INFO [section ...]: which sections to print. No name: the default ones; "all", "everything":
 * every one; "default": the default ones; others by name, any case. */
#define INFO_SECTIONS_MAX 16
typedef struct {
    int all, deflt, n;
    char names[INFO_SECTIONS_MAX][32];
} info_select_t;
void info_select_parse(info_select_t *sel, int argc, const char **argv, const size_t *argl);
/* INFO: the server's state in Redis's INFO format (info.c). */
void cmd_info(client_t *c, op_t *op, const info_select_t *section);

#endif
