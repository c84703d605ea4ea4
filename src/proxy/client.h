/* client.h -- client connections: the command reader, the in-order reply queue and the client's
 * state (client.c; commands in command.h). */
#ifndef IC_PROXY_CLIENT_H
#define IC_PROXY_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "queue.h"
#include "resp.h"
#include "transport.h"

typedef struct server server_t;
typedef struct client client_t;
typedef struct op op_t;

struct client {
    conn_t *conn;
    server_t *srv;
    uint64_t id;
    char name[64];
    resp_cmd_t cmd;
    QUEUE(op_t) ops; /* in arrival order; replies go out in this order */
    int nops;
    int ncommit_waiting; /* ops in the queue with commit_waiting: none, no scan when one ends */
    op_t *reading;   /* an op that is consuming a big argument from the input */
    op_t *streaming; /* an op that owns the output (ICGET) */
    int quit_after_reply;
    int processing;   /* inside client_process: completions must not re-enter it */
    int waiting_body; /* an ICSET chunk body waits for its node; do not parse past it */
    int skip_rest;    /* the command being read is answered already: drain its arguments */
    int hold_wait;    /* its next command names a key a compound command holds (op_rmw.c) */
    client_t *next, *prev;
    uint64_t created_ms;
    uint64_t cmds;
    uint64_t last_active_ms; /* the reply queue last became empty (idle timeout) */
    const auth_user_t *user; /* authenticated as; NULL: only AUTH, HELLO and QUIT are allowed */
    int resp;                /* the RESP version its replies use: 2, or 3 after HELLO 3 */
    int no_evict;            /* CLIENT NO-EVICT: reported only, the proxy evicts no client */
    char lib_name[64], lib_ver[64]; /* CLIENT SETINFO */
    char last_cmd[48];              /* for CLIENT LIST: "get", "client|list" */
    int monitor;                    /* MONITOR: every command is streamed to it */
    struct client_tx *tx;           /* MULTI and WATCH state (tx.h); NULL until used */
    int big_wait; /* a big argument's header waits for a held key before its body is read */
    int asking;   /* ASKING: its next command may use a slot this proxy is importing */
    int readonly; /* READONLY (kept for CLIENT-visible state; there are no replicas to read) */
};

void client_accept(server_t *srv, int fd, struct tls_ctx *tls);
void client_on_op_done(op_t *op);
/* A new op (kind: an op_kind_t) at the tail of the client's queue (MGET adds one per key), or
 * NULL when out of memory. */
op_t *client_queue_op(client_t *c, int kind);
int client_key_busy(client_t *c, op_t *before, const char *key, size_t keylen);
void client_resume_input(client_t *c);
/* Runs one command line through the command table, as if the client had just sent it (an
 * EXEC's queued commands, cmd_tx.c). op: the op a big argument was read into, or NULL; from_tx:
 * the caller is the client's EXEC (its own holds do not make the command wait). 0, or 1 if the
 * command must wait (the caller tries again when the client is resumed). */
int client_dispatch(client_t *c, int argc, const char **argv, const size_t *argl, op_t *op,
                    int from_tx);
/* Sends the replies of finished ops at the head of the client's queue. */
void client_flush(client_t *c);
/* The client's connection failed (or it quit, or idled out): its ops let go of it, it closes. */
void client_conn_failed(conn_t *c, const char *why);
void client_close_all(server_t *srv);
/* "ip:port" of the client's peer, as Redis shows it (CLIENT LIST, SLOWLOG, MONITOR). */
void client_peer_addr(const client_t *c, char *out, size_t cap);
/* Closes clients idle longer than the timeout option (when it is set), once a second. */
void client_start_timeout_sweep(server_t *srv);

#endif
