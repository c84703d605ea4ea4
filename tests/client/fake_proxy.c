/* fake_proxy.c -- a thread-per-connection fake icproxy: stores ICSET chunks in memory and answers
 * ICGET with replies shaped by the test (order, late/lost/corrupt chunks, errors, silence). */
#include "fake_proxy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "net.h"
#include "resp.h"
#include "slot.h"

typedef struct {
    fake_proxy_t *f;
    int fd;
} conn_arg_t;

/* Arguments of one command: small ones point into the reader's store, big ones are malloc'd. */
typedef struct {
    int argc;
    const char *argv[5 + 3 * EC_MAX_CHUNKS];
    size_t argl[5 + 3 * EC_MAX_CHUNKS];
    char *big[5 + 3 * EC_MAX_CHUNKS];
} args_t;

static int write_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush(int fd, buf_t *out)
{
    int rc = write_all(fd, buf_head(out), buf_len(out));
    buf_clear(out);
    return rc;
}

static uint64_t num(const args_t *a, int i)
{
    uint64_t v = 0;
    if (resp_parse_u64(a->argv[i], a->argl[i], &v) < 0) return UINT64_MAX;
    return v;
}

fake_object_t *fake_proxy_find(fake_proxy_t *f, const char *key, size_t keylen)
{
    for (int i = 0; i < f->nobjects; i++)
        if (f->objects[i].keylen == keylen && memcmp(f->objects[i].key, key, keylen) == 0)
            return &f->objects[i];
    return NULL;
}

static void object_free(fake_object_t *o)
{
    free(o->key);
    for (int i = 0; i < o->d + o->p; i++) free(o->chunk[i]);
    memset(o, 0, sizeof *o);
}

static void do_icset(fake_proxy_t *f, const args_t *a, buf_t *out)
{
    if (a->argc < 5) {
        resp_add_error(out, "ERR ICSET: too few arguments");
        return;
    }
    uint64_t d = num(a, 2), p = num(a, 3), size = num(a, 4);
    if (!ec_params_valid((int)d, (int)p) || a->argc != 5 + 2 * (int)(d + p)) {
        resp_add_error(out, "ERR ICSET: bad d/p or argument count");
        return;
    }
    int n = (int)(d + p);
    size_t cs = ec_chunk_size(size, (int)d);
    fake_object_t o = {0};
    for (int i = 0; i < n; i++) {
        size_t ci = (size_t)(5 + n + i);
        if (a->argl[ci] != cs) {
            resp_add_error(out, "ERR ICSET: chunk %d has %zu bytes, want %zu", i, a->argl[ci], cs);
            return;
        }
        o.crc[i] = (uint32_t)num(a, 5 + i);
        if (ec_crc(a->argv[ci], cs) != o.crc[i]) {
            resp_add_error(out, "ERR ICSET: chunk %d fails its crc", i);
            return;
        }
    }
    o.key = malloc(a->argl[1] + 1);
    memcpy(o.key, a->argv[1], a->argl[1]);
    o.keylen = a->argl[1];
    o.size = size;
    o.d = (int)d;
    o.p = (int)p;
    o.cs = cs;
    for (int i = 0; i < n; i++) {
        o.chunk[i] = malloc(cs + 1);
        memcpy(o.chunk[i], a->argv[5 + n + i], cs);
    }
    pthread_mutex_lock(&f->lock);
    o.version = ++f->next_version;
    fake_object_t *old = fake_proxy_find(f, o.key, o.keylen);
    if (old) object_free(old);
    else if (f->nobjects < FAKE_MAX_OBJECTS) old = &f->objects[f->nobjects++];
    if (old) *old = o;
    else object_free(&o);
    f->icsets++;
    pthread_mutex_unlock(&f->lock);
    resp_add_simple(out, "OK");
}

/* Writes the reply shape of ICGET for o: of the chunks in `listed`, the first `limit` that are
 * neither late nor lost in the current fault settings are sent; the other entries say not sent or
 * lost. A late chunk is late for the first reply only: a spare request (spare set) gets it. Call
 * with f->lock held. */
static void write_chunks(fake_proxy_t *f, const fake_object_t *o, uint64_t listed, int limit,
                         int spare, buf_t *out)
{
    int n = o->d + o->p;
    resp_add_array_header(out, 1 + n);
    resp_add_array_header(out, 5 + n);
    resp_add_int(out, (int64_t)o->version);
    resp_add_int(out, (int64_t)o->size);
    resp_add_int(out, o->d);
    resp_add_int(out, o->p);
    resp_add_int(out, (int64_t)o->cs);
    for (int i = 0; i < n; i++) resp_add_int(out, o->crc[i]);
    int order[EC_MAX_CHUNKS], sent = 0;
    for (int i = 0; i < n; i++) order[i] = f->norder == n ? f->order[i] : i;
    for (int k = 0; k < n; k++) {
        int i = order[k], st = f->state[i];
        resp_add_array_header(out, 3);
        resp_add_int(out, i);
        if (st == FK_LOST || (st == FK_LATE && !spare) || sent >= limit || !(listed >> i & 1)) {
            resp_add_int(out, st == FK_LOST ? 2 : 1);
            resp_add_null(out);
            continue;
        }
        resp_add_int(out, 0);
        resp_add_bulk_header(out, o->cs);
        size_t at = buf_len(out);
        buf_append(out, o->chunk[i], o->cs);
        if (st == FK_CORRUPT && o->cs) out->data[out->start + at + o->cs / 2] ^= 0x5a;
        resp_add_crlf(out);
        sent++;
    }
}

/* A new SET of key, as another client would make between two reads: the key takes the value of
 * the object stored under f->replace_with (which goes) and a new version. Lock held. */
static void replace_object(fake_proxy_t *f, const char *key, size_t keylen)
{
    fake_object_t *src = fake_proxy_find(f, f->replace_with, strlen(f->replace_with));
    f->replace_with[0] = 0;
    if (!src) return;
    fake_object_t moved = *src;
    free(moved.key);
    moved.key = NULL;
    *src = f->objects[--f->nobjects];
    memset(&f->objects[f->nobjects], 0, sizeof *src);
    fake_object_t *o = fake_proxy_find(f, key, keylen);
    if (!o) {
        object_free(&moved);
        return;
    }
    moved.key = o->key;
    moved.keylen = o->keylen;
    o->key = NULL;
    object_free(o);
    *o = moved;
    o->version = ++f->next_version;
}

/* Writes the ICGET reply the current fault settings ask for. Returns -1 to close the connection. */
static int do_icget(fake_proxy_t *f, int fd, const args_t *a, buf_t *out)
{
    pthread_mutex_lock(&f->lock);
    f->icgets++;
    int mode = f->mode;
    fake_object_t *o = a->argc >= 2 ? fake_proxy_find(f, a->argv[1], a->argl[1]) : NULL;
    int all = f->send_all || a->argc == 3; /* ICGET key ALL */
    if (mode == FM_ERR) resp_add_error(out, "ERR fake failure for testing");
    else if (mode == FM_MALFORMED) buf_printf(out, "*2\r\n*6\r\n:1\r\n:zz\r\n");
    else if (mode == FM_SILENT) {
        pthread_mutex_unlock(&f->lock);
        return 0;
    } else if (mode == FM_CLOSE) {
        pthread_mutex_unlock(&f->lock);
        return -1;
    } else if (!o) resp_add_null(out);
    else {
        write_chunks(f, o, ~0ull, all ? o->d + o->p : o->d, 0, out);
        if (f->replace_with[0]) replace_object(f, a->argv[1], a->argl[1]);
    }
    pthread_mutex_unlock(&f->lock);
    if (mode == FM_TRUNCATE && buf_len(out) > 8) {
        write_all(fd, buf_head(out), buf_len(out) / 2);
        return -1;
    }
    return 0;
}

/* ICGETCHUNKS key version need index...: the listed chunks of that version, first `need` sent. */
static void do_icgetchunks(fake_proxy_t *f, const args_t *a, buf_t *out)
{
    pthread_mutex_lock(&f->lock);
    f->spare_gets++;
    fake_object_t *o = a->argc >= 5 ? fake_proxy_find(f, a->argv[1], a->argl[1]) : NULL;
    uint64_t listed = 0;
    for (int i = 4; i < a->argc; i++)
        if (num(a, i) < EC_MAX_CHUNKS) listed |= 1ull << num(a, i);
    f->spare_listed = listed;
    f->spare_need = (int)num(a, 3);
    if (f->spare_refuse) resp_add_error(out, "ERR unknown command 'ICGETCHUNKS'");
    else if (!o) resp_add_null(out);
    else if (o->version != num(a, 2) || f->spare_stale)
        resp_add_error(out, "STALE version is not current");
    else write_chunks(f, o, listed, f->spare_need, 1, out);
    pthread_mutex_unlock(&f->lock);
}

static void do_icrepair(fake_proxy_t *f, const args_t *a, buf_t *out)
{
    if (a->argc != 6) {
        resp_add_error(out, "ERR ICREPAIR: wrong number of arguments");
        return;
    }
    pthread_mutex_lock(&f->lock);
    if (f->nrepairs < FAKE_MAX_REPAIRS) {
        fake_repair_t *r = &f->repairs[f->nrepairs++];
        r->key = malloc(a->argl[1] + 1);
        memcpy(r->key, a->argv[1], a->argl[1]);
        r->keylen = a->argl[1];
        r->version = num(a, 2);
        r->index = num(a, 3);
        r->crc = num(a, 4);
        r->len = a->argl[5];
        r->chunk = malloc(r->len + 1);
        memcpy(r->chunk, a->argv[5], r->len);
    }
    fake_object_t *o = fake_proxy_find(f, a->argv[1], a->argl[1]);
    if (!o || o->version != num(a, 2)) resp_add_error(out, "ERR version is no longer current");
    else resp_add_simple(out, "OK");
    pthread_mutex_unlock(&f->lock);
}

/* FAKE RESET | FAKE MODE m | FAKE ORDER i... | FAKE STATE i s | FAKE SENDALL 0|1 | FAKE REPAIRS |
 * FAKE REPAIR i (-> key version index crc chunk). For black-box tests driving the fake by RESP. */
static void do_fake(fake_proxy_t *f, const args_t *a, buf_t *out)
{
    const char *sub = a->argc > 1 ? a->argv[1] : "";
    pthread_mutex_lock(&f->lock);
    if (!strcasecmp(sub, "RESET")) {
        pthread_mutex_unlock(&f->lock);
        fake_proxy_reset_faults(f);
        pthread_mutex_lock(&f->lock);
        resp_add_simple(out, "OK");
    } else if (!strcasecmp(sub, "MODE") && a->argc == 3) {
        const char *names[] = {"normal", "err", "malformed", "silent", "close", "truncate"};
        for (int i = 0; i < 6; i++)
            if (!strcasecmp(a->argv[2], names[i])) f->mode = i;
        resp_add_simple(out, "OK");
    } else if (!strcasecmp(sub, "ORDER") && a->argc - 2 <= EC_MAX_CHUNKS) {
        f->norder = a->argc - 2;
        for (int i = 0; i < f->norder; i++) f->order[i] = (int)num(a, 2 + i);
        resp_add_simple(out, "OK");
    } else if (!strcasecmp(sub, "STATE") && a->argc == 4 && num(a, 2) < EC_MAX_CHUNKS) {
        f->state[num(a, 2)] = (int)num(a, 3);
        resp_add_simple(out, "OK");
    } else if (!strcasecmp(sub, "SENDALL") && a->argc == 3) {
        f->send_all = (int)num(a, 2);
        resp_add_simple(out, "OK");
    } else if (!strcasecmp(sub, "REPAIRS")) {
        resp_add_int(out, f->nrepairs);
    } else if (!strcasecmp(sub, "COUNTS")) {
        resp_add_array_header(out, 2);
        resp_add_int(out, f->icsets);
        resp_add_int(out, f->icgets);
    } else if (!strcasecmp(sub, "REPAIR") && a->argc == 3 && num(a, 2) < (uint64_t)f->nrepairs) {
        fake_repair_t *r = &f->repairs[num(a, 2)];
        resp_add_array_header(out, 5);
        resp_add_bulk(out, r->key, r->keylen);
        resp_add_int(out, (int64_t)r->version);
        resp_add_int(out, (int64_t)r->index);
        resp_add_int(out, (int64_t)r->crc);
        resp_add_bulk(out, r->chunk, r->len);
    } else {
        resp_add_error(out, "ERR bad FAKE command");
    }
    pthread_mutex_unlock(&f->lock);
}

/* AUTH as the real proxy answers it (the fake's users: default and app, one password). */
static void do_auth(fake_proxy_t *f, const args_t *a, int *authed, buf_t *out)
{
    pthread_mutex_lock(&f->lock);
    f->auths++;
    const char *user = a->argc == 3 ? a->argv[1] : "default";
    const char *pass = a->argv[a->argc - 1];
    int ok = (a->argc == 2 || a->argc == 3) && f->password[0] &&
             (!strcmp(user, "default") || !strcmp(user, "app")) && !strcmp(pass, f->password);
    pthread_mutex_unlock(&f->lock);
    if (ok) {
        *authed = 1;
        resp_add_simple(out, "OK");
    } else {
        resp_add_error(out, "WRONGPASS invalid username-password pair or user is disabled.");
    }
}

/* CLUSTER SLOTS as Redis 7 answers it, from the configured ranges. */
static void do_cluster(fake_proxy_t *f, const args_t *a, buf_t *out)
{
    pthread_mutex_lock(&f->lock);
    f->slots_asked++;
    if (a->argc != 2 || strcasecmp(a->argv[1], "SLOTS") || !f->nranges) {
        resp_add_error(out, "ERR This instance has cluster support disabled");
    } else {
        resp_add_array_header(out, f->nranges);
        for (int i = 0; i < f->nranges; i++) {
            resp_add_array_header(out, 3);
            resp_add_int(out, f->range_first[i]);
            resp_add_int(out, f->range_last[i]);
            resp_add_array_header(out, 4);
            resp_add_cstr(out, "127.0.0.1");
            resp_add_int(out, f->range_port[i]);
            resp_add_cstr(out, "0123456789012345678901234567890123456789");
            resp_add_array_header(out, 0);
        }
    }
    pthread_mutex_unlock(&f->lock);
}

/* A key command's redirection when one is configured: 1 with the error in out. */
static int redirected(fake_proxy_t *f, const args_t *a, buf_t *out)
{
    pthread_mutex_lock(&f->lock);
    int moved = f->moved_port, ask = f->ask_port;
    pthread_mutex_unlock(&f->lock);
    if ((!moved && !ask) || a->argc < 2) return 0;
    resp_add_error(out, "%s %u 127.0.0.1:%d", moved ? "MOVED" : "ASK",
                   slot_of_key(a->argv[1], a->argl[1]), moved ? moved : ask);
    return 1;
}

static int execute(fake_proxy_t *f, int fd, const args_t *a, int *authed, buf_t *out)
{
    const char *cmd = a->argc ? a->argv[0] : "";
    pthread_mutex_lock(&f->lock);
    int need_auth = f->password[0] && !*authed;
    pthread_mutex_unlock(&f->lock);
    if (!strcasecmp(cmd, "AUTH")) do_auth(f, a, authed, out);
    else if (need_auth && strcasecmp(cmd, "FAKE")) resp_add_error(out, "NOAUTH Authentication required.");
    else if (!strcasecmp(cmd, "CLUSTER")) do_cluster(f, a, out);
    else if (!strcasecmp(cmd, "ASKING")) {
        pthread_mutex_lock(&f->lock);
        f->askings++;
        pthread_mutex_unlock(&f->lock);
        resp_add_simple(out, "OK");
    } else if (strcasecmp(cmd, "FAKE") && strcasecmp(cmd, "INFO") && strcasecmp(cmd, "PING") &&
               redirected(f, a, out))
        ;
    else if (!strcasecmp(cmd, "ICSET")) do_icset(f, a, out);
    else if (!strcasecmp(cmd, "ICGET")) {
        if (do_icget(f, fd, a, out) < 0) return -1;
    } else if (!strcasecmp(cmd, "ICGETCHUNKS")) do_icgetchunks(f, a, out);
    else if (!strcasecmp(cmd, "ICREPAIR")) do_icrepair(f, a, out);
    else if (!strcasecmp(cmd, "DEL") || !strcasecmp(cmd, "EXISTS")) {
        pthread_mutex_lock(&f->lock);
        fake_object_t *o = a->argc == 2 ? fake_proxy_find(f, a->argv[1], a->argl[1]) : NULL;
        if (o && cmd[0] != 'E' && cmd[0] != 'e') {
            object_free(o);
            *o = f->objects[--f->nobjects];
            memset(&f->objects[f->nobjects], 0, sizeof *o);
            o = (fake_object_t *)1;
        }
        pthread_mutex_unlock(&f->lock);
        resp_add_int(out, o ? 1 : 0);
    } else if (!strcasecmp(cmd, "PING")) resp_add_simple(out, "PONG");
    else if (!strcasecmp(cmd, "INFO")) {
        char info[128];
        int n = snprintf(info, sizeof info, "# Fake\r\nfake_proxy:1\r\nobjects:%d\r\n", f->nobjects);
        resp_add_bulk(out, info, (size_t)n);
    } else if (!strcasecmp(cmd, "FAKE")) do_fake(f, a, out);
    else resp_add_error(out, "ERR unknown command '%s'", cmd);
    return flush(fd, out);
}

static void *conn_main(void *arg)
{
    conn_arg_t *ca = arg;
    fake_proxy_t *f = ca->f;
    int fd = ca->fd;
    free(ca);
    net_set_nonblock(fd, 0);
    resp_cmd_t cmd;
    resp_cmd_init(&cmd);
    buf_t in, out;
    buf_init(&in);
    buf_init(&out);
    args_t a;
    memset(&a, 0, sizeof a);
    int authed = 0;
    for (;;) {
        int rc = resp_cmd_feed(&cmd, &in, &resp_default_limits, 4096);
        if (rc < 0) break;
        if (rc == RESP_CMD_BIG) {
            /* Big bodies are read into their own buffer, as the real proxy streams them. */
            if (cmd.argi >= 5 + 3 * EC_MAX_CHUNKS) break;
            size_t len = (size_t)cmd.big_len, got = buf_len(&in) < len ? buf_len(&in) : len;
            char *b = malloc(len + 1);
            memcpy(b, buf_head(&in), got);
            buf_consume(&in, got);
            while (got < len) {
                ssize_t r = read(fd, b + got, len - got);
                if (r <= 0) {
                    free(b);
                    goto done;
                }
                got += (size_t)r;
            }
            free(a.big[cmd.argi]);
            a.big[cmd.argi] = b;
            a.argl[cmd.argi] = len;
            resp_cmd_big_done(&cmd);
            continue;
        }
        if (rc == RESP_CMD_DONE) {
            a.argc = (int)(cmd.argc < 5 + 3 * EC_MAX_CHUNKS ? cmd.argc : 5 + 3 * EC_MAX_CHUNKS);
            for (int i = 0; i < a.argc; i++)
                if (a.big[i]) a.argv[i] = a.big[i];
            for (int i = 0; i < cmd.nsmall; i++)
                if (cmd.argpos[i] < a.argc) {
                    a.argv[cmd.argpos[i]] = cmd.argv[i];
                    a.argl[cmd.argpos[i]] = cmd.argl[i];
                }
            int bad = execute(f, fd, &a, &authed, &out) < 0;
            for (int i = 0; i < 5 + 3 * EC_MAX_CHUNKS; i++) free(a.big[i]);
            memset(&a, 0, sizeof a);
            resp_cmd_reset(&cmd);
            if (bad) break;
            continue;
        }
        if (buf_read_fd(&in, fd, 1 << 20) <= 0) break;
    }
done:
    for (int i = 0; i < 5 + 3 * EC_MAX_CHUNKS; i++) free(a.big[i]);
    resp_cmd_free(&cmd);
    buf_free(&in);
    buf_free(&out);
    close(fd);
    return NULL;
}

static void *accept_main(void *arg)
{
    fake_proxy_t *f = arg;
    net_set_nonblock(f->lfd, 0);
    for (;;) {
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return NULL;
        }
        conn_arg_t *ca = malloc(sizeof *ca);
        ca->f = f;
        ca->fd = fd;
        pthread_t t;
        if (pthread_create(&t, NULL, conn_main, ca) != 0) {
            close(fd);
            free(ca);
            continue;
        }
        pthread_detach(t);
    }
}

void fake_proxy_reset_faults(fake_proxy_t *f)
{
    pthread_mutex_lock(&f->lock);
    f->mode = FM_NORMAL;
    f->norder = 0;
    f->send_all = 0;
    f->spare_refuse = 0;
    f->spare_stale = 0;
    f->replace_with[0] = 0;
    f->spare_gets = 0;
    f->spare_listed = 0;
    f->spare_need = 0;
    f->nranges = f->moved_port = f->ask_port = 0;
    memset(f->state, 0, sizeof f->state);
    for (int i = 0; i < f->nrepairs; i++) {
        free(f->repairs[i].key);
        free(f->repairs[i].chunk);
    }
    f->nrepairs = 0;
    pthread_mutex_unlock(&f->lock);
}

fake_proxy_t *fake_proxy_start(int port)
{
    fake_proxy_t *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    pthread_mutex_init(&f->lock, NULL);
    f->lfd = net_listen("127.0.0.1", port, 64);
    if (f->lfd < 0) {
        free(f);
        return NULL;
    }
    f->port = net_local_port(f->lfd);
    pthread_t t;
    if (pthread_create(&t, NULL, accept_main, f) != 0) {
        close(f->lfd);
        free(f);
        return NULL;
    }
    pthread_detach(t);
    return f;
}
