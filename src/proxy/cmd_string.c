/* cmd_string.c -- the string commands, with Redis 7's semantics and error texts: GET, SET (every
 * option), SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX, MGET, MSET, MSETNX, APPEND, STRLEN,
 * GETRANGE, SETRANGE, INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT. Those that read before they write
 * run as compound ops (op_rmw.c). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backing.h"
#include "clock.h"
#include "client.h"
#include "command.h"
#include "layout.h"
#include "meta.h"
#include "op.h"
#include "server.h"
#include "strnum.h"
#include "transport.h"

#define ERR_NOT_INT "ERR value is not an integer or out of range"
#define ERR_NOT_FLOAT "ERR value is not a valid float"
#define ERR_TOO_BIG "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
/* Redis's proto-max-bulk-len default: no string grows past it (APPEND, SETRANGE). */
#define PROTO_MAX_BULK_LEN ((int64_t)512 << 20)

/* The largest string APPEND and SETRANGE may make: Redis's 512 MB, or max-object-size if lower. */
static int64_t string_max(const server_t *srv)
{
    return srv->cfg.max_object_size < PROTO_MAX_BULK_LEN ? srv->cfg.max_object_size
                                                         : PROTO_MAX_BULK_LEN;
}

/* ---- SET's and GETEX's options, as Redis's parseExtendedStringArgumentsOrReply reads them ---- */

/* The expiry options, in the order of time_names. */
enum { TIME_NONE, TIME_EX, TIME_PX, TIME_EXAT, TIME_PXAT };
static const char *const time_names[] = {NULL, "EX", "PX", "EXAT", "PXAT"};

typedef struct {
    int nx, xx, get, keepttl, persist;
    int time;           /* TIME_*: which expiry option came */
    const char *expire; /* its argument, validated after the options */
    size_t expire_len;
    int64_t expire_ms; /* absolute, once validated */
} str_opts_t;

static int time_option(const char *a, size_t l)
{
    for (int k = TIME_EX; k <= TIME_PXAT; k++)
        if (arg_is(a, l, time_names[k])) return k;
    return TIME_NONE;
}

/* Options from argv[first..]; set_cmd: SET's options, else GETEX's. 0, or -1 with the syntax
 * error in op->reply (the time itself is validated apart, as Redis does it later). Redis's
 * rules: NX and XX exclude each other; one kind of expiry option (named again, the last wins),
 * excluding KEEPTTL (SET) and PERSIST (GETEX); GET anywhere; an expiry option needs its
 * argument. */
static int parse_str_options(op_t *op, int first, int argc, const char **argv, const size_t *argl,
                             int set_cmd, str_opts_t *o)
{
    memset(o, 0, sizeof *o);
    for (int j = first; j < argc; j++) {
        const char *a = argv[j];
        size_t l = argl[j];
        int t = time_option(a, l);
        if (set_cmd && arg_is(a, l, "NX") && !o->xx) {
            o->nx = 1;
        } else if (set_cmd && arg_is(a, l, "XX") && !o->nx) {
            o->xx = 1;
        } else if (set_cmd && arg_is(a, l, "GET")) {
            o->get = 1;
        } else if (set_cmd && arg_is(a, l, "KEEPTTL") && !o->time) {
            o->keepttl = 1;
        } else if (!set_cmd && arg_is(a, l, "PERSIST") && !o->time) {
            o->persist = 1;
        } else if (t && !o->keepttl && !o->persist && (!o->time || o->time == t) && j + 1 < argc) {
            o->time = t;
            o->expire = argv[++j], o->expire_len = argl[j];
        } else {
            resp_add_error(&op->reply, "ERR syntax error");
            return -1;
        }
    }
    return 0;
}

/* Redis's getExpireMillisecondsOrReply: o's time is an integer, positive, and still positive
 * once made absolute (into o->expire_ms). 0, or -1 with the error in op->reply. */
static int validate_expire(op_t *op, str_opts_t *o, const char *name)
{
    if (!o->expire) return 0;
    int64_t v;
    if (strnum_parse_i64(o->expire, o->expire_len, &v) < 0) {
        resp_add_error(&op->reply, ERR_NOT_INT);
        return -1;
    }
    int seconds = o->time == TIME_EX || o->time == TIME_EXAT;
    if (v <= 0 || (seconds && v > INT64_MAX / 1000)) goto invalid;
    if (seconds) v *= 1000;
    if ((o->time == TIME_EX || o->time == TIME_PX) &&
        __builtin_add_overflow(v, (int64_t)clock_wall_ms(), &v))
        goto invalid;
    if (v <= 0) goto invalid;
    o->expire_ms = v;
    return 0;
invalid:
    resp_add_error(&op->reply, "ERR invalid expire time in '%s' command", name);
    return -1;
}

/* ---- values read into memory when they are large ---- */

/* A big value argument at position pos of its command (SET, SETNX, GETSET, APPEND: 2; SETEX,
 * PSETEX, SETRANGE: 3) is read straight into a buffer shaped for storing (set_prepare_value):
 * SET-like commands store it as is, the others read it from there. Anything else big is
 * refused. */
static big_status_t big_value_at(client_t *c, op_t *op, size_t len, int pos)
{
    resp_cmd_t *cmd = &c->cmd;
    if (op->kind != OP_SIMPLE) return BIG_DRAIN; /* a second big argument */
    if (cmd->nsmall != pos || cmd->argi != pos) return BIG_REFUSE_NOW;
    op->kind = OP_SET;
    if (op_copy_key(op, cmd->argv[1], cmd->argl[1]) < 0 || set_prepare_value(op, NULL, len) < 0) {
        /* set_prepare_value put its error in the reply: it goes out now, through op->err */
        snprintf(op->err, sizeof op->err, "%.*s",
                 (int)(buf_len(&op->reply) > 3 ? buf_len(&op->reply) - 3 : 0),
                 buf_len(&op->reply) ? buf_head(&op->reply) + 1 : "");
        if (!op->err[0]) snprintf(op->err, sizeof op->err, "ERR out of memory");
        buf_clear(&op->reply);
        return BIG_REFUSE_NOW;
    }
    op_ref(op);
    relay_start(c->conn, RELAY_TO_MEMORY, NULL, op->obj->data, len, command_big_moved, op);
    return BIG_TAKEN;
}

static big_status_t big_at_2(client_t *c, op_t *op, size_t len)
{
    return big_value_at(c, op, len, 2);
}

static big_status_t big_at_3(client_t *c, op_t *op, size_t len)
{
    return big_value_at(c, op, len, 3);
}

/* The arguments as the command sent them, with a big one (read into op->obj) put back at pos:
 * handlers then see one argument list either way. */
typedef struct {
    const char *v[RESP_CMD_MAX_SMALL_ARGS + 1];
    size_t l[RESP_CMD_MAX_SMALL_ARGS + 1];
    int n;
} args_t;

static void full_args(const op_t *op, int argc, const char **argv, const size_t *argl, int pos,
                      args_t *a)
{
    int big = op->kind != OP_SIMPLE && op->obj;
    a->n = 0;
    for (int i = 0; i < argc && a->n < RESP_CMD_MAX_SMALL_ARGS; i++) {
        if (big && i == pos) a->v[a->n] = op->obj->data, a->l[a->n++] = op->size;
        a->v[a->n] = argv[i], a->l[a->n++] = argl[i];
    }
    if (big && argc == pos) a->v[a->n] = op->obj->data, a->l[a->n++] = op->size;
}

/* A command whose big value was read apart skipped the dispatcher's arity check (its argv lacks
 * the value): checked here, as if the value were in place. 1 (answered) when it is wrong. */
static int big_arity_bad(op_t *op, int argc, int arity, const char *name)
{
    if (!op->obj || argc + 1 == arity) return 0;
    resp_add_error(&op->reply, "ERR wrong number of arguments for '%s' command", name);
    return 1;
}

/* Keeps a small argument for a compound op's compute step (a big one stays in op->obj). */
static int keep_arg(op_t *op, const char *v, size_t l)
{
    if (op->obj) return 0;
    op->rmw_arg = malloc(l ? l : 1);
    if (!op->rmw_arg) return -1;
    memcpy(op->rmw_arg, v, l);
    op->rmw_arglen = l;
    return 0;
}

static const char *arg_data(const op_t *op, size_t *len)
{
    if (op->obj) {
        *len = op->size;
        return op->obj->data;
    }
    *len = op->rmw_arglen;
    return op->rmw_arg;
}

/* The new value of w: the command's own big value buffer when it is one (no copy), else a copy
 * of data. RMW_WRITE, or RMW_REPLIED with the error in op->reply. */
static rmw_next_t write_value(op_t *op, op_t *w, const char *data, size_t len)
{
    if (op->obj && data == op->obj->data && len == op->size) {
        w->obj = objbuf_ref(op->obj);
        w->d = op->d, w->p = op->p, w->n = op->n;
        w->size = op->size, w->chunk_size = op->chunk_size;
        return RMW_WRITE;
    }
    if (set_prepare_value(w, data, len) < 0) {
        buf_clear(&op->reply);
        buf_append(&op->reply, buf_head(&w->reply), buf_len(&w->reply));
        return RMW_REPLIED;
    }
    return RMW_WRITE;
}

static void reply_old(op_t *op, const rmw_old_t *old)
{
    if (old->exists)
        rmw_reply_value(op, old->obj, old->data, old->len);
    else
        resp_add_null(&op->reply);
}

/* Moves a compound op's state out of the union's write members before it becomes OP_RMW. */
static void to_rmw(op_t *op)
{
    op->kind = OP_RMW;
}

/* ---- GET, SET and its variants ---- */

static cmd_status_t proc_get(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    (void)argc;
    op->kind = OP_GET;
    cmd_get_key(c, op, argv[1], argl[1]);
    return CMD_PENDING;
}

/* SET key value GET ...: the old value, then the write unless NX/XX says no. */
static rmw_next_t compute_set_get(op_t *op, const rmw_old_t *old, op_t *w)
{
    size_t len;
    const char *v = arg_data(op, &len);
    reply_old(op, old);
    if ((op->rmw_nx && old->exists) || (op->rmw_xx && !old->exists)) return RMW_REPLIED;
    w->keepttl = op->rmw_keepttl;
    w->expire_ms = op->rmw_expire_ms;
    rmw_next_t next = write_value(op, w, v, len);
    return next;
}
static const struct rmw_kind rmw_set_get = {1, compute_set_get, 0, NULL, 1};

/* The SET family once its value is known: v (NULL: already in op->obj, read in big). */
static cmd_status_t run_set(client_t *c, op_t *op, const char *key, size_t keylen, const char *v,
                            size_t vlen, const str_opts_t *o, int reply_int)
{
    if (o->get) {
        to_rmw(op);
        op->rmw_nx = o->nx, op->rmw_xx = o->xx, op->rmw_keepttl = o->keepttl;
        op->rmw_expire_ms = o->expire_ms;
        if (v && keep_arg(op, v, vlen) < 0) {
            resp_add_error(&op->reply, "ERR out of memory");
            return CMD_REPLIED;
        }
        rmw_start(c, op, key, keylen, &rmw_set_get);
        return CMD_PENDING;
    }
    if (op->kind != OP_SET) {
        op->kind = OP_SET;
        if (op_copy_key(op, key, keylen) < 0) {
            resp_add_error(&op->reply, "ERR out of memory");
            return CMD_REPLIED;
        }
        if (set_prepare_value(op, v, vlen) < 0) return CMD_REPLIED;
    }
    op->nx = o->nx, op->xx = o->xx, op->keepttl = o->keepttl;
    op->expire_ms = o->expire_ms;
    op->reply_int = reply_int;
    cmd_set(c, op);
    return CMD_PENDING;
}

/* SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL]. A big value is in op->obj. */
static cmd_status_t proc_set(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    args_t *a = malloc(sizeof *a);
    str_opts_t o;
    cmd_status_t st = CMD_REPLIED;
    if (!a) {
        resp_add_error(&op->reply, "ERR out of memory");
        return CMD_REPLIED;
    }
    full_args(op, argc, argv, argl, 2, a);
    if (parse_str_options(op, 3, a->n, a->v, a->l, 1, &o) == 0 &&
        validate_expire(op, &o, "set") == 0)
        st = run_set(c, op, a->v[1], a->l[1], op->obj ? NULL : a->v[2], a->l[2], &o, 0);
    free(a);
    return st;
}

static cmd_status_t proc_setnx(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl)
{
    if (big_arity_bad(op, argc, 3, "setnx")) return CMD_REPLIED;
    str_opts_t o = {.nx = 1};
    return run_set(c, op, argv[1], argl[1], op->obj ? NULL : argv[2], op->obj ? 0 : argl[2], &o, 1);
}

/* SETEX / PSETEX key time value: SET with EX / PX, and their own error texts. */
static cmd_status_t setex_generic(client_t *c, op_t *op, const char **argv, const size_t *argl,
                                  int ms, const char *name)
{
    str_opts_t o = {.time = ms ? TIME_PX : TIME_EX, .expire = argv[2], .expire_len = argl[2]};
    if (validate_expire(op, &o, name) < 0) return CMD_REPLIED;
    return run_set(c, op, argv[1], argl[1], op->obj ? NULL : argv[3], op->obj ? 0 : argl[3], &o, 0);
}

static cmd_status_t proc_setex(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl)
{
    if (big_arity_bad(op, argc, 4, "setex")) return CMD_REPLIED;
    return setex_generic(c, op, argv, argl, 0, "setex");
}

static cmd_status_t proc_psetex(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    if (big_arity_bad(op, argc, 4, "psetex")) return CMD_REPLIED;
    return setex_generic(c, op, argv, argl, 1, "psetex");
}

/* GETSET key value: SET ... GET that also drops the TTL. */
static cmd_status_t proc_getset(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    if (big_arity_bad(op, argc, 3, "getset")) return CMD_REPLIED;
    str_opts_t o = {.get = 1};
    return run_set(c, op, argv[1], argl[1], op->obj ? NULL : argv[2], op->obj ? 0 : argl[2], &o, 0);
}

static rmw_next_t compute_getdel(op_t *op, const rmw_old_t *old, op_t *w)
{
    (void)w;
    reply_old(op, old);
    return old->exists ? RMW_DELETE : RMW_REPLIED;
}
static const struct rmw_kind rmw_getdel = {1, compute_getdel, 0, NULL, 1};

static cmd_status_t proc_getdel(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    (void)argc;
    rmw_start(c, op, argv[1], argl[1], &rmw_getdel);
    return CMD_PENDING;
}

/* GETEX validates its time only once it has found the key (Redis answers nil without it). */
static rmw_next_t compute_getex(op_t *op, const rmw_old_t *old, op_t *w)
{
    (void)w;
    if (!old->exists) {
        resp_add_null(&op->reply);
        return RMW_REPLIED;
    }
    if (!op->rmw_persist) {
        str_opts_t o = {0};
        o.time = (int)op->rmw_int;
        o.expire = op->rmw_arg, o.expire_len = op->rmw_arglen;
        if (validate_expire(op, &o, "getex") < 0) return RMW_REPLIED;
        op->rmw_expire_ms = o.expire_ms;
    }
    reply_old(op, old);
    return RMW_TTL;
}
static const struct rmw_kind rmw_getex = {1, compute_getex, 0, NULL, 1};

/* GETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST]: a GET, then the TTL changed (metadata only). */
static cmd_status_t proc_getex(client_t *c, op_t *op, int argc, const char **argv,
                               const size_t *argl)
{
    str_opts_t o;
    if (parse_str_options(op, 2, argc, argv, argl, 0, &o) < 0) return CMD_REPLIED;
    if (!o.expire && !o.persist) {
        op->kind = OP_GET;
        cmd_get_key(c, op, argv[1], argl[1]);
        return CMD_PENDING;
    }
    to_rmw(op);
    op->rmw_persist = o.persist;
    op->rmw_int = o.time;
    if (o.expire && keep_arg(op, o.expire, o.expire_len) < 0) {
        resp_add_error(&op->reply, "ERR out of memory");
        return CMD_REPLIED;
    }
    rmw_start(c, op, argv[1], argl[1], &rmw_getex);
    return CMD_PENDING;
}

/* ---- MGET, MSET, MSETNX ---- */

/* MGET key...: one GET per key, each an op of its own behind this one (which answers the array
 * header), all started at once; their replies go out in order. */
static cmd_status_t proc_mget(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    resp_add_array_header(&op->reply, argc - 1);
    for (int i = 1; i < argc; i++) {
        op_t *g = client_queue_op(c, OP_GET);
        if (!g) {
            /* A reply short of elements would desync the client: it goes. */
            client_conn_failed(c->conn, "out of memory");
            return CMD_PENDING;
        }
        cmd_get_key(c, g, argv[i], argl[i]);
    }
    return CMD_REPLIED;
}

static cmd_status_t proc_mset(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    cmd_mset(c, op, argc, argv, argl, 0);
    return CMD_PENDING;
}

static cmd_status_t proc_msetnx(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    cmd_mset(c, op, argc, argv, argl, 1);
    return CMD_PENDING;
}

/* ---- APPEND, STRLEN, GETRANGE, SETRANGE ---- */

static rmw_next_t compute_append(op_t *op, const rmw_old_t *old, op_t *w)
{
    size_t alen;
    const char *a = arg_data(op, &alen);
    if ((int64_t)(old->len + alen) > string_max(op->srv)) {
        resp_add_error(&op->reply, ERR_TOO_BIG);
        return RMW_REPLIED;
    }
    if (!old->exists) { /* a new key: the argument is the value (a big one without a copy) */
        resp_add_int(&op->reply, (int64_t)alen);
        return write_value(op, w, a, alen);
    }
    if (set_prepare_value(w, NULL, old->len + alen) < 0) {
        buf_append(&op->reply, buf_head(&w->reply), buf_len(&w->reply));
        return RMW_REPLIED;
    }
    memcpy(w->obj->data, old->data, old->len);
    memcpy(w->obj->data + old->len, a, alen);
    w->keepttl = 1;
    resp_add_int(&op->reply, (int64_t)(old->len + alen));
    return RMW_WRITE;
}
static const struct rmw_kind rmw_append = {1, compute_append, 0, NULL, 1};

static cmd_status_t proc_append(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    if (big_arity_bad(op, argc, 3, "append")) return CMD_REPLIED;
    if (!op->obj && keep_arg(op, argv[2], argl[2]) < 0) {
        resp_add_error(&op->reply, "ERR out of memory");
        return CMD_REPLIED;
    }
    to_rmw(op);
    rmw_start(c, op, argv[1], argl[1], &rmw_append);
    return CMD_PENDING;
}

static cmd_status_t proc_strlen(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    (void)argc;
    meta_t *m = meta_lookup(c->srv, argv[1], argl[1]);
    resp_add_int(&op->reply, m ? (int64_t)m->size : 0);
    return CMD_REPLIED;
}

/* Redis's getrangeCommand on a string of len bytes: the first byte and the count (0: empty). */
static size_t range_of(int64_t start, int64_t end, uint64_t len, uint64_t *first)
{
    return (size_t)layout_range_clamp(start, end, len, first);
}

static rmw_next_t compute_getrange(op_t *op, const rmw_old_t *old, op_t *w)
{
    (void)w;
    uint64_t first;
    size_t n = range_of(op->rmw_int, op->rmw_int2, old->len, &first);
    if (n == 0)
        resp_add_bulk(&op->reply, "", 0);
    else
        rmw_reply_value(op, old->obj, old->data + first, n);
    return RMW_REPLIED;
}
/* A read of a replicated object: nothing to hold; the (small) object is read whole. */
static const struct rmw_kind rmw_getrange = {0, compute_getrange, 0, NULL, 0};

static cmd_status_t proc_getrange(client_t *c, op_t *op, int argc, const char **argv,
                                  const size_t *argl)
{
    (void)argc;
    int64_t start, end;
    uint64_t first;
    if (strnum_parse_i64(argv[2], argl[2], &start) < 0 ||
        strnum_parse_i64(argv[3], argl[3], &end) < 0) {
        resp_add_error(&op->reply, ERR_NOT_INT);
        return CMD_REPLIED;
    }
    meta_t *m = meta_lookup(c->srv, argv[1], argl[1]);
    size_t count;
    if (!m && backing_getrange_miss(op, argv[1], argl[1], start, end)) return CMD_PENDING;
    if (!m || (count = range_of(start, end, m->size, &first)) == 0) { /* nothing to read */
        resp_add_bulk(&op->reply, "", 0);
        return CMD_REPLIED;
    }
    /* A coded object: only the pieces of the data chunks that hold the range are read. */
    if (cmd_getrange_coded(c, op, argv[1], argl[1], first, count) == 0) return CMD_PENDING;
    /* A replicated one (at most small-object-max) is read whole, from one replica. */
    c->srv->stats.getrange_requests++;
    c->srv->stats.getrange_chunk_bytes += m->chunk_size;
    to_rmw(op);
    op->rmw_int = start, op->rmw_int2 = end;
    rmw_start(c, op, argv[1], argl[1], &rmw_getrange);
    return CMD_PENDING;
}

static rmw_next_t compute_setrange(op_t *op, const rmw_old_t *old, op_t *w)
{
    size_t alen;
    const char *a = arg_data(op, &alen);
    size_t off = (size_t)op->rmw_int, end = off + alen;
    size_t len = old->len > end ? old->len : end;
    if (set_prepare_value(w, NULL, len) < 0) {
        buf_append(&op->reply, buf_head(&w->reply), buf_len(&w->reply));
        return RMW_REPLIED;
    }
    memcpy(w->obj->data, old->data ? old->data : "", old->len);
    if (off > old->len) memset(w->obj->data + old->len, 0, off - old->len); /* zero padding */
    memcpy(w->obj->data + off, a, alen);
    w->keepttl = 1;
    resp_add_int(&op->reply, (int64_t)len);
    return RMW_WRITE;
}
static const struct rmw_kind rmw_setrange = {1, compute_setrange, 0, NULL, 1};

/* SETRANGE key offset value: the checks Redis makes before it looks at the value come first. */
static cmd_status_t proc_setrange(client_t *c, op_t *op, int argc, const char **argv,
                                  const size_t *argl)
{
    if (big_arity_bad(op, argc, 4, "setrange")) return CMD_REPLIED;
    args_t *a = malloc(sizeof *a);
    int64_t off;
    if (!a) {
        resp_add_error(&op->reply, "ERR out of memory");
        return CMD_REPLIED;
    }
    full_args(op, argc, argv, argl, 3, a);
    size_t vlen = a->l[3];
    free(a);
    if (strnum_parse_i64(argv[2], argl[2], &off) < 0) {
        resp_add_error(&op->reply, ERR_NOT_INT);
        return CMD_REPLIED;
    }
    if (off < 0) {
        resp_add_error(&op->reply, "ERR offset is out of range");
        return CMD_REPLIED;
    }
    if (vlen == 0) { /* nothing written: the length as it is */
        meta_t *m = meta_lookup(c->srv, argv[1], argl[1]);
        resp_add_int(&op->reply, m ? (int64_t)m->size : 0);
        return CMD_REPLIED;
    }
    if (off > string_max(c->srv) - (int64_t)vlen) {
        resp_add_error(&op->reply, ERR_TOO_BIG);
        return CMD_REPLIED;
    }
    if (!op->obj && keep_arg(op, argv[3], argl[3]) < 0) {
        resp_add_error(&op->reply, "ERR out of memory");
        return CMD_REPLIED;
    }
    to_rmw(op);
    op->rmw_int = off;
    rmw_start(c, op, argv[1], argl[1], &rmw_setrange);
    return CMD_PENDING;
}

/* ---- INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT ---- */

static rmw_next_t compute_incr(op_t *op, const rmw_old_t *old, op_t *w)
{
    int64_t v = 0, incr = op->rmw_int;
    char text[24];
    if (old->exists && strnum_parse_i64(old->data, old->len, &v) < 0) {
        resp_add_error(&op->reply, ERR_NOT_INT);
        return RMW_REPLIED;
    }
    if (__builtin_add_overflow(v, incr, &v)) {
        resp_add_error(&op->reply, "ERR increment or decrement would overflow");
        return RMW_REPLIED;
    }
    int n = strnum_format_i64(text, v);
    w->keepttl = 1; /* as Redis: the value changes in place, its TTL stays */
    resp_add_int(&op->reply, v);
    return write_value(op, w, text, (size_t)n);
}
static const struct rmw_kind rmw_incr = {1, compute_incr, 0, NULL, 1};

static cmd_status_t incr_generic(client_t *c, op_t *op, const char *key, size_t keylen,
                                 int64_t incr)
{
    to_rmw(op);
    op->rmw_int = incr;
    rmw_start(c, op, key, keylen, &rmw_incr);
    return CMD_PENDING;
}

static cmd_status_t proc_incr(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    (void)argc;
    return incr_generic(c, op, argv[1], argl[1], 1);
}

static cmd_status_t proc_decr(client_t *c, op_t *op, int argc, const char **argv,
                              const size_t *argl)
{
    (void)argc;
    return incr_generic(c, op, argv[1], argl[1], -1);
}

static cmd_status_t proc_incrby(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    (void)argc;
    int64_t incr;
    if (strnum_parse_i64(argv[2], argl[2], &incr) < 0) {
        resp_add_error(&op->reply, ERR_NOT_INT);
        return CMD_REPLIED;
    }
    return incr_generic(c, op, argv[1], argl[1], incr);
}

static cmd_status_t proc_decrby(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    (void)argc;
    int64_t decr;
    if (strnum_parse_i64(argv[2], argl[2], &decr) < 0) {
        resp_add_error(&op->reply, ERR_NOT_INT);
        return CMD_REPLIED;
    }
    if (decr == INT64_MIN) { /* its negation does not exist */
        resp_add_error(&op->reply, "ERR decrement would overflow");
        return CMD_REPLIED;
    }
    return incr_generic(c, op, argv[1], argl[1], -decr);
}

static rmw_next_t compute_incrbyfloat(op_t *op, const rmw_old_t *old, op_t *w)
{
    long double v = 0;
    char text[5 * 1024 + 8];
    if (old->exists && strnum_parse_ld(old->data, old->len, &v) < 0) {
        resp_add_error(&op->reply, ERR_NOT_FLOAT);
        return RMW_REPLIED;
    }
    v += op->rmw_float;
    if (isnan(v) || isinf(v)) {
        resp_add_error(&op->reply, "ERR increment would produce NaN or Infinity");
        return RMW_REPLIED;
    }
    int n = strnum_format_ld(text, sizeof text, v);
    if (n < 0) {
        resp_add_error(&op->reply, ERR_NOT_FLOAT);
        return RMW_REPLIED;
    }
    w->keepttl = 1;
    resp_add_bulk(&op->reply, text, (size_t)n);
    return write_value(op, w, text, (size_t)n);
}
static const struct rmw_kind rmw_incrbyfloat = {1, compute_incrbyfloat, 0, NULL, 1};

static cmd_status_t proc_incrbyfloat(client_t *c, op_t *op, int argc, const char **argv,
                                     const size_t *argl)
{
    (void)argc;
    long double incr;
    if (strnum_parse_ld(argv[2], argl[2], &incr) < 0) {
        resp_add_error(&op->reply, ERR_NOT_FLOAT);
        return CMD_REPLIED;
    }
    to_rmw(op);
    op->rmw_float = incr;
    rmw_start(c, op, argv[1], argl[1], &rmw_incrbyfloat);
    return CMD_PENDING;
}

/* Rows as Redis 7 describes them (arity, keys); those that store a value take it big. */
#define W CMD_WRITE
#define WL (CMD_WRITE | CMD_LARGE_ARG)
#define R CMD_READONLY
/* clang-format off */
const command_t cmd_string_commands[] = {
    {"append",      3, 0, WL,                1, 1,  1, proc_append,      big_at_2},
    {"decr",        2, 0, W,                 1, 1,  1, proc_decr,        NULL},
    {"decrby",      3, 0, W,                 1, 1,  1, proc_decrby,      NULL},
    {"get",         2, 0, R,                 1, 1,  1, proc_get,         NULL},
    {"getdel",      2, 0, W,                 1, 1,  1, proc_getdel,      NULL},
    {"getex",      -2, 0, W,                 1, 1,  1, proc_getex,       NULL},
    {"getrange",    4, 0, R,                 1, 1,  1, proc_getrange,    NULL},
    {"getset",      3, 0, WL,                1, 1,  1, proc_getset,      big_at_2},
    {"incr",        2, 0, W,                 1, 1,  1, proc_incr,        NULL},
    {"incrby",      3, 0, W,                 1, 1,  1, proc_incrby,      NULL},
    {"incrbyfloat", 3, 0, W,                 1, 1,  1, proc_incrbyfloat, NULL},
    {"mget",       -2, 0, R,                 1, -1, 1, proc_mget,        NULL},
    {"mset",       -3, 0, W,                 1, -1, 2, proc_mset,        NULL},
    {"msetnx",     -3, 0, W,                 1, -1, 2, proc_msetnx,      NULL},
    {"psetex",      4, 0, WL,                1, 1,  1, proc_psetex,      big_at_3},
    {"set",        -3, 0, WL | CMD_STORE,    1, 1,  1, proc_set,         big_at_2},
    {"setex",       4, 0, WL,                1, 1,  1, proc_setex,       big_at_3},
    {"setnx",       3, 0, WL,                1, 1,  1, proc_setnx,       big_at_2},
    {"setrange",    4, 0, WL,                1, 1,  1, proc_setrange,    big_at_3},
    {"strlen",      2, 0, R | CMD_FAST,      1, 1,  1, proc_strlen,      NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
