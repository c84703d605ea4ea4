/* tx.h -- transactions: a client's MULTI queue, its WATCHed keys, and the EXEC that runs the
 * queued commands with every key they name held (cmd_tx.c). client.c's dispatch calls these
 * hooks, as Redis's processCommand calls queueMultiCommand. */
#ifndef IC_PROXY_TX_H
#define IC_PROXY_TX_H

#include <stddef.h>
#include <stdint.h>

#include "watch.h"

typedef struct client client_t;
typedef struct op op_t;
typedef struct command command_t;
typedef struct tx_cmd tx_cmd_t;
typedef struct tx_run tx_run_t;

/* A client's transaction state, allocated at its first MULTI or WATCH. */
typedef struct client_tx {
    int multi;             /* between MULTI and EXEC/DISCARD: commands are queued */
    int dirty;             /* a command was refused while queuing: EXEC answers EXECABORT */
    tx_cmd_t *head, *tail; /* the queue */
    int count;
    int slot;      /* the cluster slot of the queued commands' keys; -1 none yet */
    int crossslot; /* queued commands name keys of different slots: EXEC answers CROSSSLOT */
    size_t bytes; /* arguments and big values queued (bounded by TX_QUEUE_MAX_BYTES) */
    watcher_t watch;
    /* EXECs whose holds are not released yet, oldest first; the last one may still be
     * dispatching its commands (executing). */
    tx_run_t *runs, *runs_tail;
    int executing;
} client_tx_t;

/* True while c is in MULTI and the command (row; NULL: unknown) would be queued rather than run
 * (EXEC, DISCARD, MULTI, WATCH, QUIT and RESET run at once, as in Redis). */
int tx_queuing(const client_t *c, const command_t *row);
/* Commands refused inside MULTI (CMD_NO_MULTI): their error ("Command not allowed inside a
 * transaction") aborts the transaction. */
int tx_refused(const command_t *row);
/* A command could not be queued (unknown, arity, refused, a big argument refused): EXEC will
 * answer EXECABORT. */
void tx_flag(client_t *c);
/* The command was refused before it ran (arity, NOAUTH), its error in op->reply: the
 * transaction is flagged; a refused EXEC discards it and answers "EXECABORT Transaction discarded
 * because of: <error>", as Redis does. */
void tx_rejected(client_t *c, op_t *op, const command_t *row);
/* Queues the command (op answers +QUEUED, or an error that flags the transaction). A big
 * argument already read into op (SET with a large value) moves into the queue with it. */
void tx_queue(client_t *c, op_t *op, const command_t *row, int argc, const char **argv,
              const size_t *argl);
/* EXEC must wait: a key of its commands or a watched key is held or has a store in flight. */
int tx_exec_must_wait(client_t *c, const command_t *row);
/* Holds of a key that a command of c's executing transaction may ignore: the transaction's
 * own (1 while an EXEC of c is dispatching its commands, else 0). */
int tx_own_holds(const client_t *c);
/* The same for a command that touches every key (FLUSHALL): every key the EXEC holds. */
size_t tx_own_holds_total(const client_t *c);
/* While an EXEC dispatches: runs its next command through client_dispatch. 0: dispatched one
 * (or none was left), 1: it must wait (resumed like any waiting command), -1: not executing. */
int tx_exec_step(client_t *c);
/* The marker behind an EXEC's commands reached the head of the reply queue: every command has
 * been answered, the keys are released. */
void tx_exec_end(client_t *c);
/* RESET; and a client going away (its holds are released, its queue and watches dropped). */
void tx_reset(client_t *c);
void tx_client_gone(client_t *c);
/* CLIENT LIST: multi= (queued commands, -1 outside MULTI), flags x (MULTI) and d (a watched key
 * changed), multi-mem= */
void tx_describe(const client_t *c, int *multi, int *flag_x, int *flag_d, size_t *mem);

#endif
