/* cmd_tx.c -- transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH with Redis 7's replies and
 * errors; the queue of a client in MULTI, and the EXEC that holds every key its commands name
 * (the held-key table of op_rmw.c) while it runs them (see docs/ARCHITECTURE.md,
 * "Transactions"). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "command.h"
#include "meta.h"
#include "op.h"
#include "server.h"
#include "tx.h"
#include "watch.h"

/* Hard limits of one client's queue, as Redis bounds what a client may make it hold: commands,
 * and bytes of arguments and big values together. */
#define TX_QUEUE_MAX_CMDS 100000
#define TX_QUEUE_MAX_BYTES ((size_t)1 << 30)

/* One queued command: its arguments copied behind the struct (argv, argl, bytes), and a big
 * argument (a SET's large value) that was read into its op before it was queued. */
struct tx_cmd {
    tx_cmd_t *next;
    const command_t *row;
    int argc;
    const char **argv;
    size_t *argl;
    size_t bytes;
    /* the big value moved out of its op (op_write.c set_prepare_value's fields) */
    int has_value;
    op_kind_t value_kind;
    char *value_key;
    size_t value_keylen;
    objbuf_t *value_obj;
    int d, p, n;
    uint64_t size;
    size_t chunk_size;
    op_t *op; /* the op made for the value at EXEC, reused while the command waits */
};

/* An EXEC under way: its commands (the queue moved out of the client's), the next one to
 * dispatch, and the keys it holds (u32 length, bytes; each key once). */
struct tx_run {
    tx_run_t *next;
    tx_cmd_t *head, *next_cmd;
    char *held;
    size_t held_len, held_cap, nheld;
};

static cmd_status_t proc_multi(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl);
static cmd_status_t proc_exec(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl);
static cmd_status_t proc_discard(client_t *c, op_t *op, int argc, const char **argv,
                                 const size_t *argl);
static cmd_status_t proc_watch(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl);

/* ---- the queue ---- */

static client_tx_t *tx_of(client_t *c)
{
    if (!c->tx) c->tx = calloc(1, sizeof *c->tx);
    return c->tx;
}

static void cmd_free(tx_cmd_t *q)
{
    free(q->value_key);
    objbuf_unref(q->value_obj);
    free(q);
}

static void queue_free(tx_cmd_t *q)
{
    while (q) {
        tx_cmd_t *next = q->next;
        cmd_free(q);
        q = next;
    }
}

/* Leaves MULTI: the queue is dropped. */
static void discard_queue(client_tx_t *t)
{
    queue_free(t->head);
    t->head = t->tail = NULL;
    t->count = 0;
    t->bytes = 0;
    t->multi = 0;
    t->dirty = 0;
    t->slot = -1;
    t->crossslot = 0;
}

int tx_queuing(const client_t *c, const command_t *row)
{
    if (!c->tx || !c->tx->multi) return 0;
    if (!row) return 1;
    if (row->proc == proc_exec || row->proc == proc_discard || row->proc == proc_multi ||
        row->proc == proc_watch)
        return 0;
    return strcmp(row->name, "quit") != 0 && strcmp(row->name, "reset") != 0;
}

/* The library's large-object commands stream their bodies between the client and the nodes
 * while they are read (ICSET, ICREPAIR) or write their reply while it streams (ICGET,
 * ICGETCHUNKS): neither can wait in a queue. */
int tx_refused(const command_t *row)
{
    return (row->flags & CMD_NO_MULTI) != 0;
}

void tx_flag(client_t *c)
{
    if (c->tx && c->tx->multi) c->tx->dirty = 1;
}

void tx_rejected(client_t *c, op_t *op, const command_t *row)
{
    if (!row || row->proc != proc_exec) {
        tx_flag(c);
        return;
    }
    char err[200];
    const char *e = buf_head(&op->reply) + 1; /* "-ERR ...\r\n" */
    size_t n = buf_len(&op->reply) > 3 ? buf_len(&op->reply) - 3 : 0;
    if (n >= 4 && memcmp(e, "ERR ", 4) == 0) e += 4, n -= 4;
    snprintf(err, sizeof err, "%.*s", (int)n, e);
    buf_clear(&op->reply);
    resp_add_error(&op->reply, "EXECABORT Transaction discarded because of: %s", err);
    if (c->tx) {
        discard_queue(c->tx);
        watch_forget_all(c->srv, &c->tx->watch);
    }
}

void tx_queue(client_t *c, op_t *op, const command_t *row, int argc, const char **argv,
              const size_t *argl)
{
    client_tx_t *t = c->tx;
    int big = op->kind != OP_SIMPLE && op->obj;
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += argl[i];
    size_t total = bytes + (big ? (size_t)op->size : 0);
    if (t->count >= TX_QUEUE_MAX_CMDS || total > TX_QUEUE_MAX_BYTES - t->bytes) {
        resp_add_error(&op->reply, "ERR the transaction's queue is full (%d commands or %zu bytes)",
                       TX_QUEUE_MAX_CMDS, TX_QUEUE_MAX_BYTES);
        t->dirty = 1;
        return;
    }
    size_t head = sizeof(tx_cmd_t) + (size_t)argc * (sizeof(char *) + sizeof(size_t));
    tx_cmd_t *q = calloc(1, head + bytes + 1);
    if (!q) {
        resp_add_error(&op->reply, "ERR out of memory");
        t->dirty = 1;
        return;
    }
    q->row = row;
    q->argc = argc;
    q->argv = (const char **)(q + 1);
    q->argl = (size_t *)(q->argv + argc);
    char *p = (char *)(q->argl + argc);
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i], argl[i]);
        q->argv[i] = p;
        q->argl[i] = argl[i];
        p += argl[i];
    }
    q->bytes = total;
    if (big) {
        /* The value stays where it was read: its buffer moves to the queue, no copy. */
        q->has_value = 1;
        q->value_kind = op->kind;
        q->value_key = op->key, q->value_keylen = op->keylen;
        q->value_obj = op->obj;
        q->d = op->d, q->p = op->p, q->n = op->n;
        q->size = op->size, q->chunk_size = op->chunk_size;
        op->key = NULL, op->keylen = 0, op->obj = NULL;
        op->kind = OP_SIMPLE;
    }
    if (t->tail)
        t->tail->next = q;
    else
        t->head = q;
    t->tail = q;
    t->count++;
    t->bytes += total;
    resp_add_simple(&op->reply, "QUEUED");
}

/* ---- keys ---- */

/* Calls fn for each key the command names, by its row's key positions. 1 as soon as fn does. */
static int each_key(const command_t *row, int argc, const char **argv, const size_t *argl,
                    int (*fn)(void *arg, const char *key, size_t keylen), void *arg)
{
    if (!row->first_key) return 0;
    int last = row->last_key < 0 ? argc + row->last_key : row->last_key;
    int step = row->key_step > 0 ? row->key_step : 1;
    for (int i = row->first_key; i <= last && i < argc; i += step)
        if (fn(arg, argv[i], argl[i])) return 1;
    return 0;
}

/* A key an EXEC must not start on: held (a compound command, an MSET, another EXEC), or with a
 * store in flight that would commit in the middle of the transaction. */
static int key_busy(void *arg, const char *key, size_t keylen)
{
    server_t *srv = arg;
    return rmw_key_held(srv, key, keylen) || opindex_find_key(&srv->storing, key, keylen) ||
           opindex_find_key(&srv->staged, key, keylen);
}

typedef struct {
    server_t *srv;
    int busy;
} watch_busy_t;

static void watched_busy(void *arg, const char *key, size_t keylen, uint64_t version)
{
    watch_busy_t *w = arg;
    (void)version;
    if (!w->busy) w->busy = key_busy(w->srv, key, keylen);
}

int tx_exec_must_wait(client_t *c, const command_t *row)
{
    client_tx_t *t = c->tx;
    if (!row || row->proc != proc_exec || !t || !t->multi || t->dirty) return 0;
    for (tx_cmd_t *q = t->head; q; q = q->next)
        if (each_key(q->row, q->argc, q->argv, q->argl, key_busy, c->srv)) return 1;
    /* A watched key's pending change must land before the check, as it would on Redis, where
     * the command that changes it has run by the time EXEC is read. */
    watch_busy_t w = {c->srv, 0};
    watch_each(&t->watch, watched_busy, &w);
    return w.busy;
}

int tx_own_holds(const client_t *c)
{
    return c->tx && c->tx->executing ? 1 : 0;
}

size_t tx_own_holds_total(const client_t *c)
{
    return c->tx && c->tx->executing ? c->tx->runs_tail->nheld : 0;
}

typedef struct {
    server_t *srv;
    tx_run_t *run;
    int failed;
} take_t;

/* Takes one hold of each key not held yet (the EXEC waited until none was held by anyone, so a
 * key held now is one this EXEC took for an earlier command). */
static int take_key(void *arg, const char *key, size_t keylen)
{
    take_t *tk = arg;
    tx_run_t *run = tk->run;
    if (rmw_key_held(tk->srv, key, keylen)) return 0;
    size_t need = run->held_len + sizeof(uint32_t) + keylen;
    if (need > run->held_cap) {
        size_t cap = run->held_cap ? run->held_cap * 2 : 256;
        while (cap < need)
            cap *= 2;
        char *h = realloc(run->held, cap);
        if (!h) {
            tk->failed = 1;
            return 1;
        }
        run->held = h;
        run->held_cap = cap;
    }
    if (rmw_hold_take(tk->srv, key, keylen) < 0) {
        tk->failed = 1;
        return 1;
    }
    uint32_t l = (uint32_t)keylen;
    memcpy(run->held + run->held_len, &l, sizeof l);
    memcpy(run->held + run->held_len + sizeof l, key, keylen);
    run->held_len = need;
    run->nheld++;
    return 0;
}

static void run_release(server_t *srv, tx_run_t *run)
{
    const char *p = run->held, *end = run->held + run->held_len;
    while (p < end) {
        uint32_t l;
        memcpy(&l, p, sizeof l);
        rmw_hold_release(srv, p + sizeof l, l);
        p += sizeof l + l;
    }
    queue_free(run->head);
    free(run->held);
    free(run);
}

/* ---- WATCH check ---- */

typedef struct {
    server_t *srv;
    int changed;
} watch_check_t;

/* Each watched key is looked up (an expired one is dropped now, which touches it, as Redis 7's
 * EXEC treats a watched key that expired) and its version compared with the one watched. */
static void watched_changed(void *arg, const char *key, size_t keylen, uint64_t version)
{
    watch_check_t *w = arg;
    meta_t *m = meta_lookup(w->srv, key, keylen);
    if ((m ? m->version : 0) != version) w->changed = 1;
}

static void unwatch(client_t *c)
{
    if (c->tx) watch_forget_all(c->srv, &c->tx->watch);
}

/* ---- running an EXEC ---- */

/* True while an op of the client is not answered yet: a command that names no key waits for
 * the transaction's commands before it, and those after it wait for it. */
static int client_has_pending(const client_t *c)
{
    for (const op_t *op = c->ops.head; op; op = op->next)
        if (!op->done) return 1;
    return 0;
}

int tx_exec_step(client_t *c)
{
    client_tx_t *t = c->tx;
    if (!t || !t->executing) return -1;
    tx_run_t *run = t->runs_tail;
    tx_cmd_t *q = run->next_cmd;
    if (!q) {
        /* Every command is dispatched: the marker lets go of the keys once all are answered. */
        t->executing = 0;
        op_t *end = client_queue_op(c, OP_TX_END);
        if (!end) {
            client_conn_failed(c->conn, "out of memory"); /* releases the holds */
            return 1;
        }
        client_flush(c);
        return 0;
    }
    if (!q->row->first_key && client_has_pending(c)) return 1;
    if (strcmp(q->row->name, "monitor") == 0) {
        /* MONITOR would turn the connection into a stream in the middle of the array; Redis
         * answers the same error for it inside EXEC. */
        op_t *op = client_queue_op(c, OP_SIMPLE);
        if (!op) {
            client_conn_failed(c->conn, "out of memory");
            return 1;
        }
        resp_add_error(&op->reply, "ERR MONITOR isn't allowed for DENY BLOCKING client");
        run->next_cmd = q->next;
        client_on_op_done(op);
        return 0;
    }
    op_t *op = q->op;
    if (q->has_value && !op) {
        op = q->op = client_queue_op(c, OP_SIMPLE);
        if (!op) {
            client_conn_failed(c->conn, "out of memory");
            return 1;
        }
        op->cmd = q->row;
        op->kind = q->value_kind;
        op->key = q->value_key, op->keylen = q->value_keylen;
        op->obj = q->value_obj;
        op->d = q->d, op->p = q->p, op->n = q->n;
        op->size = q->size, op->chunk_size = q->chunk_size;
        q->value_key = NULL;
        q->value_obj = NULL;
    }
    if (client_dispatch(c, q->argc, q->argv, q->argl, op, 1)) return 1;
    if (c->conn->closing) return 1; /* the client's state is gone */
    run->next_cmd = q->next;
    return 0;
}

void tx_exec_end(client_t *c)
{
    client_tx_t *t = c->tx;
    if (!t || !t->runs) return;
    tx_run_t *run = t->runs;
    t->runs = run->next;
    if (!t->runs) t->runs_tail = NULL;
    run_release(c->srv, run);
}

void tx_reset(client_t *c)
{
    client_tx_t *t = c->tx;
    if (!t) return;
    discard_queue(t);
    unwatch(c);
}

void tx_client_gone(client_t *c)
{
    client_tx_t *t = c->tx;
    if (!t) return;
    /* Commands already dispatched finish on their own; the keys are free for others now. */
    while (t->runs) {
        tx_run_t *run = t->runs;
        t->runs = run->next;
        run_release(c->srv, run);
    }
    discard_queue(t);
    unwatch(c);
    free(t);
    c->tx = NULL;
}

void tx_describe(const client_t *c, int *multi, int *flag_x, int *flag_d, size_t *mem)
{
    const client_tx_t *t = c->tx;
    *multi = -1;
    *flag_x = *flag_d = 0;
    *mem = 0;
    if (!t) return;
    if (t->multi) {
        *multi = t->count;
        *flag_x = 1;
        *mem = t->bytes;
    } else if (t->executing) { /* Redis shows the transaction during its EXEC too */
        int n = 0;
        for (const tx_cmd_t *q = t->runs_tail->head; q; q = q->next) {
            n++;
            *mem += q->bytes;
        }
        *multi = n;
        *flag_x = 1;
    }
    *flag_d = t->watch.touched;
}

/* ---- the commands ---- */

static cmd_status_t proc_multi(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    client_tx_t *t = tx_of(c);
    if (!t) {
        resp_add_error(&op->reply, "ERR out of memory");
        return CMD_REPLIED;
    }
    if (t->multi) {
        resp_add_error(&op->reply, "ERR MULTI calls can not be nested");
        return CMD_REPLIED;
    }
    t->multi = 1;
    t->slot = -1;
    resp_add_simple(&op->reply, "OK");
    return CMD_REPLIED;
}

static cmd_status_t proc_discard(client_t *c, op_t *op, int argc, const char **argv,
                                 const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    if (!c->tx || !c->tx->multi) {
        resp_add_error(&op->reply, "ERR DISCARD without MULTI");
        return CMD_REPLIED;
    }
    discard_queue(c->tx);
    unwatch(c);
    resp_add_simple(&op->reply, "OK");
    return CMD_REPLIED;
}

/* EXEC: answered EXECABORT after a queuing error, a null array when a watched key changed, else
 * the array header now and each command's reply behind it as the command completes (the replies
 * of a client leave in order, so the bytes are Redis's array). The keys are held from here until
 * the last reply is out; client.c waited (tx_exec_must_wait) until none was held or being stored.
 */
static cmd_status_t proc_exec(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    server_t *srv = c->srv;
    client_tx_t *t = c->tx;
    if (!t || !t->multi) {
        resp_add_error(&op->reply, "ERR EXEC without MULTI");
        return CMD_REPLIED;
    }
    if (t->dirty) {
        discard_queue(t);
        unwatch(c);
        resp_add_error(&op->reply, "EXECABORT Transaction discarded because of previous errors.");
        return CMD_REPLIED;
    }
    watch_check_t w = {srv, 0};
    watch_each(&t->watch, watched_changed, &w);
    int changed = w.changed || t->watch.touched;
    unwatch(c);
    if (changed) {
        discard_queue(t);
        resp_add_array_header(&op->reply, -1); /* *-1, or RESP3's null */
        return CMD_REPLIED;
    }
    if (!t->count) {
        discard_queue(t);
        resp_add_array_header(&op->reply, 0);
        return CMD_REPLIED;
    }
    tx_run_t *run = calloc(1, sizeof *run);
    take_t tk = {srv, run, !run};
    for (tx_cmd_t *q = t->head; q && !tk.failed; q = q->next)
        each_key(q->row, q->argc, q->argv, q->argl, take_key, &tk);
    if (tk.failed) {
        if (run) run_release(srv, run);
        discard_queue(t);
        resp_add_error(&op->reply, "ERR out of memory");
        return CMD_REPLIED;
    }
    resp_add_array_header(&op->reply, t->count);
    run->head = run->next_cmd = t->head;
    t->head = t->tail = NULL;
    t->count = 0;
    t->bytes = 0;
    t->multi = 0;
    if (t->runs_tail)
        t->runs_tail->next = run;
    else
        t->runs = run;
    t->runs_tail = run;
    t->executing = 1; /* client.c's reader runs the commands next (tx_exec_step) */
    return CMD_REPLIED;
}

static cmd_status_t proc_watch(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl)
{
    client_tx_t *t = tx_of(c);
    if (!t) {
        resp_add_error(&op->reply, "ERR out of memory");
        return CMD_REPLIED;
    }
    if (t->multi) {
        resp_add_error(&op->reply, "ERR WATCH inside MULTI is not allowed");
        return CMD_REPLIED;
    }
    for (int i = 1; i < argc; i++) {
        /* An expired key is dropped by the lookup before it is watched: it is watched absent,
         * so only a new value of it counts as a change (Redis 7 ignores the expiry of a key
         * already expired when watched). */
        meta_t *m = meta_lookup(c->srv, argv[i], argl[i]);
        if (watch_key(c->srv, &t->watch, argv[i], argl[i], m ? m->version : 0) < 0) {
            resp_add_error(&op->reply, "ERR out of memory");
            return CMD_REPLIED;
        }
    }
    resp_add_simple(&op->reply, "OK");
    return CMD_REPLIED;
}

static cmd_status_t proc_unwatch(client_t *c, op_t *op, int argc, const char **argv,
                                 const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    unwatch(c);
    resp_add_simple(&op->reply, "OK");
    return CMD_REPLIED;
}

/* Rows as Redis 7 describes them. */
/* clang-format off */
const command_t cmd_tx_commands[] = {
    {"discard", 1, 0, CMD_FAST, 0, 0, 0, proc_discard, NULL},
    {"exec",    1, 0, 0,        0, 0, 0, proc_exec,    NULL},
    {"multi",   1, 0, CMD_FAST, 0, 0, 0, proc_multi,   NULL},
    {"unwatch", 1, 0, CMD_FAST, 0, 0, 0, proc_unwatch, NULL},
    {"watch",  -2, 0, CMD_FAST, 1, -1, 1, proc_watch,  NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
