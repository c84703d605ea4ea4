/* cmd_migrate.c -- MIGRATE: moves keys to another proxy (or any Redis server) for slot migration.
 * Each key's value is read whole by the proxy's own read path, with the key held, and written to
 * the target with a plain SET (PEXPIREAT for a TTL); then it is deleted here (not with COPY).
 * As Redis's MIGRATE, the transfer blocks this proxy's loop, each step bounded by the timeout:
 * it is an operator's command, for a slot being moved. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "client.h"
#include "cluster.h"
#include "command.h"
#include "log.h"
#include "meta.h"
#include "net.h"
#include "op.h"
#include "server.h"

/* One MIGRATE's state, one block: the options, the keys (pointers into the block's tail). */
typedef struct {
    char host[256];
    int port;
    int timeout_ms;
    int copy, replace;
    char *user, *pass; /* AUTH / AUTH2; NULL none */
    int fd;            /* the connection to the target, opened at the first key that exists */
    int nkeys, next;   /* keys, and the index of the one to read next */
    int moved;         /* keys sent */
    char **keys;
    size_t *keyl;
} migrate_t;

static void migrate_close(migrate_t *mg)
{
    if (mg->fd >= 0) close(mg->fd);
    mg->fd = -1;
}

/* Reads one reply header from the target (a simple string, an error, an integer or a null
 * bulk: the replies SET, PEXPIREAT, AUTH and ASKING give). 0, or -1 with err set. */
static int read_reply(migrate_t *mg, char *line, size_t cap, char *err, size_t errlen)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(mg->fd, line + n, 1);
        if (r == 1 && line[n] == '\n' && n && line[n - 1] == '\r') {
            line[n - 1] = 0;
            return 0;
        }
        if (r == 1) {
            n++;
            continue;
        }
        if (r < 0 && errno == EINTR) continue;
        snprintf(err, errlen, "IOERR error or timeout reading to target instance");
        return -1;
    }
    snprintf(err, errlen, "ERR Target instance replied with a line too long");
    return -1;
}

/* Sends one command and checks its reply: 0 for +..., :..., or $-1 (SET NX refused: *nil set);
 * -1 with err for an error reply or an I/O failure. */
static int call(migrate_t *mg, int argc, const char **argv, const size_t *argl, int *nil, char *err,
                size_t errlen)
{
    buf_t out;
    buf_init(&out);
    if (resp_add_command(&out, argc, argv, argl) < 0) {
        snprintf(err, errlen, "ERR out of memory");
        return -1;
    }
    int rc = net_write_all(mg->fd, buf_head(&out), buf_len(&out));
    buf_free(&out);
    if (rc < 0) {
        snprintf(err, errlen, "IOERR error or timeout writing to target instance");
        return -1;
    }
    char line[512];
    if (read_reply(mg, line, sizeof line, err, errlen) < 0) return -1;
    if (nil) *nil = !strcmp(line, "$-1");
    if (line[0] == '-') {
        snprintf(err, errlen, "ERR Target instance replied with error: %.300s", line + 1);
        return -1;
    }
    if (line[0] != '+' && line[0] != ':' && strcmp(line, "$-1") != 0) {
        snprintf(err, errlen, "ERR Target instance replied with an unexpected reply");
        return -1;
    }
    return 0;
}

static int migrate_connect(migrate_t *mg, int in_cluster, char *err, size_t errlen)
{
    if (mg->fd >= 0) return 0;
    int fd = net_connect(mg->host, mg->port, mg->timeout_ms);
    if (fd < 0) {
        snprintf(err, errlen, "IOERR error or timeout connecting to the client");
        return -1;
    }
    net_set_nonblock(fd, 0);
    net_set_io_timeout(fd, mg->timeout_ms);
    mg->fd = fd;
    (void)in_cluster;
    if (mg->pass) {
        const char *argv[3] = {"AUTH", mg->user ? mg->user : mg->pass, mg->pass};
        size_t argl[3] = {4, strlen(argv[1]), strlen(mg->pass)};
        if (call(mg, mg->user ? 3 : 2, argv, argl, NULL, err, errlen) < 0) {
            migrate_close(mg);
            return -1;
        }
    }
    return 0;
}

/* The target may be importing the slot: each write is preceded by ASKING, as Redis's
 * RESTORE-ASKING does. */
static int call_asking(migrate_t *mg, int in_cluster, int argc, const char **argv,
                       const size_t *argl, int *nil, char *err, size_t errlen)
{
    if (in_cluster) {
        const char *a[1] = {"ASKING"};
        size_t l[1] = {6};
        if (call(mg, 1, a, l, NULL, err, errlen) < 0) return -1;
    }
    return call(mg, argc, argv, argl, nil, err, errlen);
}

/* Sends one key's value (and expiry) to the target. 0, or -1 with err. */
static int send_key(server_t *srv, migrate_t *mg, op_t *op, const rmw_old_t *old, char *err,
                    size_t errlen)
{
    int in_cluster = srv->cluster != NULL;
    if (migrate_connect(mg, in_cluster, err, errlen) < 0) return -1;
    meta_t *m = meta_lookup(srv, op->key, op->keylen);
    uint64_t expire_ms = m ? m->expire_ms : 0;
    /* Without REPLACE a key the target has already is not overwritten (Redis: BUSYKEY). A
     * second try of the same key (a store committed between the read and the delete) replaces
     * what the first sent. */
    int replace = mg->replace || op->rmw_tries > 0;
    const char *argv[4] = {"SET", op->key, old->data ? old->data : "", "NX"};
    size_t argl[4] = {3, op->keylen, old->len, 2};
    int nil = 0;
    if (call_asking(mg, in_cluster, replace ? 3 : 4, argv, argl, &nil, err, errlen) < 0) {
        migrate_close(mg);
        return -1;
    }
    if (nil) {
        snprintf(err, errlen,
                 "ERR Target instance replied with error: BUSYKEY Target key name already exists.");
        return -1;
    }
    if (expire_ms) {
        char ms[24];
        snprintf(ms, sizeof ms, "%" PRIu64, expire_ms);
        const char *xargv[3] = {"PEXPIREAT", op->key, ms};
        size_t xargl[3] = {9, op->keylen, strlen(ms)};
        if (call_asking(mg, in_cluster, 3, xargv, xargl, NULL, err, errlen) < 0) {
            migrate_close(mg);
            return -1;
        }
    }
    return 0;
}

static rmw_next_t compute_migrate(op_t *op, const rmw_old_t *old, op_t *w)
{
    (void)w;
    migrate_t *mg = op->rmw_ctx;
    if (!old->exists) return RMW_REPLIED; /* nothing to move: the next key */
    char err[512];
    if (send_key(op->srv, mg, op, old, err, sizeof err) < 0) {
        log_info("event=migrate_failed key_len=%zu target=%s:%d why=\"%s\"", op->keylen, mg->host,
                 mg->port, err);
        resp_add_error(&op->reply, "%s", err);
        return RMW_REPLIED;
    }
    mg->moved++;
    return mg->copy ? RMW_REPLIED : RMW_DELETE;
}

static int next_migrate_key(op_t *op)
{
    migrate_t *mg = op->rmw_ctx;
    int failed = buf_len(&op->reply) && buf_head(&op->reply)[0] == '-';
    if (!failed && mg->next < mg->nkeys) {
        int i = mg->next++;
        free(op->key); /* op_copy_key keeps a key already set */
        op->key = NULL;
        if (op_copy_key(op, mg->keys[i], mg->keyl[i]) == 0 &&
            rmw_hold_take(op->srv, mg->keys[i], mg->keyl[i]) == 0)
            return 1;
        resp_add_error(&op->reply, "ERR out of memory");
        failed = 1;
    }
    migrate_close(mg);
    if (!failed) resp_add_simple(&op->reply, mg->moved ? "OK" : "NOKEY");
    return 0;
}

static const struct rmw_kind rmw_migrate = {1, compute_migrate, 0, next_migrate_key, 0};

/* MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password]
 * [AUTH2 username password] [KEYS key [key ...]], with Redis 7's checks and errors. */
static cmd_status_t proc_migrate(client_t *c, op_t *op, int argc, const char **argv,
                                 const size_t *argl)
{
    int copy = 0, replace = 0, first_key = 3, nkeys = 1;
    const char *user = NULL, *pass = NULL;
    size_t userl = 0, passl = 0;
    for (int j = 6; j < argc; j++) {
        int more = argc - j - 1;
        if (arg_is(argv[j], argl[j], "COPY")) {
            copy = 1;
        } else if (arg_is(argv[j], argl[j], "REPLACE")) {
            replace = 1;
        } else if (arg_is(argv[j], argl[j], "AUTH") && more >= 1) {
            pass = argv[++j];
            passl = argl[j];
        } else if (arg_is(argv[j], argl[j], "AUTH2") && more >= 2) {
            user = argv[++j];
            userl = argl[j];
            pass = argv[++j];
            passl = argl[j];
        } else if (arg_is(argv[j], argl[j], "KEYS")) {
            if (argl[3] != 0) {
                resp_add_error(&op->reply,
                               "ERR When using MIGRATE KEYS option, the key argument must be set "
                               "to the empty string");
                return CMD_REPLIED;
            }
            first_key = j + 1;
            nkeys = argc - j - 1;
            break;
        } else {
            resp_add_error(&op->reply, "ERR syntax error");
            return CMD_REPLIED;
        }
    }
    int64_t port, db, timeout;
    if (resp_parse_i64(argv[2], argl[2], &port) < 0 || resp_parse_i64(argv[4], argl[4], &db) < 0 ||
        resp_parse_i64(argv[5], argl[5], &timeout) < 0) {
        resp_add_error(&op->reply, "ERR value is not an integer or out of range");
        return CMD_REPLIED;
    }
    if (port <= 0 || port > 65535 || argl[1] == 0 || argl[1] > 255) {
        resp_add_error(&op->reply, "ERR Invalid target address or port");
        return CMD_REPLIED;
    }
    if (db != 0) {
        resp_add_error(&op->reply, "ERR DB index is out of range");
        return CMD_REPLIED;
    }
    if (nkeys <= 0) {
        resp_add_simple(&op->reply, "NOKEY");
        return CMD_REPLIED;
    }
    /* In a cluster, every key must be one this proxy serves (its slot's owner, migrating or not);
     * -MOVED otherwise, as for any command. */
    cluster_map_t *map = c->srv->cluster;
    for (int i = 0; map && i < nkeys; i++) {
        unsigned slot = slot_of_key(argv[first_key + i], argl[first_key + i]);
        if (map->owner[slot] != map->self) {
            const cluster_proxy_t *p = &map->proxies[map->owner[slot]];
            resp_add_error(&op->reply, "MOVED %u %s:%d", slot, p->host, p->port);
            return CMD_REPLIED;
        }
    }
    /* One block: the state, the key table, then the keys and credentials' bytes. */
    size_t bytes =
        sizeof(migrate_t) + (size_t)nkeys * (sizeof(char *) + sizeof(size_t)) + userl + passl + 2;
    for (int i = 0; i < nkeys; i++)
        bytes += argl[first_key + i] + 1;
    migrate_t *mg = calloc(1, bytes);
    if (!mg) {
        resp_add_error(&op->reply, "ERR out of memory");
        return CMD_REPLIED;
    }
    mg->keys = (char **)(mg + 1);
    mg->keyl = (size_t *)(mg->keys + nkeys);
    char *p = (char *)(mg->keyl + nkeys);
    for (int i = 0; i < nkeys; i++) {
        mg->keys[i] = p;
        mg->keyl[i] = argl[first_key + i];
        memcpy(p, argv[first_key + i], mg->keyl[i]);
        p += mg->keyl[i] + 1;
    }
    if (pass) {
        mg->pass = p;
        memcpy(p, pass, passl);
        p += passl + 1;
    }
    if (user) {
        mg->user = p;
        memcpy(p, user, userl);
    }
    snprintf(mg->host, sizeof mg->host, "%.*s", (int)argl[1], argv[1]);
    mg->port = (int)port;
    mg->timeout_ms = timeout <= 0 ? 1000 : timeout > 3600000 ? 3600000 : (int)timeout;
    mg->copy = copy;
    mg->replace = replace;
    mg->fd = -1;
    mg->nkeys = nkeys;
    mg->next = 1;
    op->kind = OP_RMW; /* the state is the op's from here: freed with it */
    op->rmw_ctx = mg;
    rmw_start(c, op, mg->keys[0], mg->keyl[0], &rmw_migrate);
    return CMD_PENDING;
}

/* clang-format off */
const command_t cmd_migrate_commands[] = {
    {"migrate", -6, 0, CMD_WRITE, 3, 3, 1, proc_migrate, NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
