/* cmd_diag.c -- what the proxy tells about the commands it runs: SLOWLOG, LATENCY and MONITOR,
 * as Redis 7 words and shapes them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "client.h"
#include "command.h"
#include "op.h"
#include "server.h"

/* Redis's limits on what one slow log entry keeps of a command. */
#define SLOWLOG_ARGS_MAX 32
#define SLOWLOG_STRING_MAX 128
#define LATENCY_SAMPLES 160 /* Redis's LATENCY_TS_LEN */

/* One slow command. Arguments are copies cut to Redis's limits. */
typedef struct slow_entry {
    struct slow_entry *next; /* older */
    uint64_t id;
    int64_t time_s, duration_us;
    int argc;
    char **argv;
    size_t *argl;
    char peer[64];
    char name[64];
} slow_entry_t;

/* Process-wide: one proxy per process, and these live as long as it (as Redis's). */
static slow_entry_t *slowlog; /* newest first */
static size_t slowlog_len;
static uint64_t slowlog_next_id;

typedef struct {
    int64_t time_s;
    uint32_t ms;
} latency_sample_t;
static struct {
    latency_sample_t samples[LATENCY_SAMPLES];
    int idx, n;
    uint32_t max_ms;
} latency_command;

static void slow_entry_free(slow_entry_t *e)
{
    for (int i = 0; i < e->argc; i++) free(e->argv[i]);
    free(e->argv);
    free(e->argl);
    free(e);
}

static void slowlog_trim(size_t max)
{
    slow_entry_t **p = &slowlog;
    size_t n = 0;
    while (*p && n < max) p = &(*p)->next, n++;
    while (*p) {
        slow_entry_t *e = *p;
        *p = e->next;
        slow_entry_free(e);
        slowlog_len--;
    }
}

/* True if argument i of this command line is a secret that logs and MONITOR must not show:
 * AUTH's arguments, HELLO's AUTH user and password (as Redis redacts them). */
static int redacted(const command_t *row, int argc, const char **argv, const size_t *argl, int i)
{
    if (!strcmp(row->name, "auth")) return i > 0;
    if (!strcmp(row->name, "hello"))
        for (int k = 2; k + 2 < argc && k < i; k++)
            if (arg_is(argv[k], argl[k], "AUTH") && (i == k + 1 || i == k + 2)) return 1;
    (void)argl;
    return 0;
}

static char *copy_text(const char *p, size_t n, size_t *outl)
{
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, p, n);
    s[n] = 0;
    *outl = n;
    return s;
}

/* A copy of one argument as the slow log keeps it: at most SLOWLOG_STRING_MAX bytes, then
 * "... (N more bytes)". */
static char *slow_arg(const char *p, size_t n, size_t *outl)
{
    if (n <= SLOWLOG_STRING_MAX) return copy_text(p, n, outl);
    char tail[64];
    int t = snprintf(tail, sizeof tail, "... (%zu more bytes)", n - SLOWLOG_STRING_MAX);
    char *s = malloc(SLOWLOG_STRING_MAX + (size_t)t + 1);
    if (!s) return NULL;
    memcpy(s, p, SLOWLOG_STRING_MAX);
    memcpy(s + SLOWLOG_STRING_MAX, tail, (size_t)t + 1);
    *outl = SLOWLOG_STRING_MAX + (size_t)t;
    return s;
}

static void peer_of(const client_t *c, char *out, size_t cap)
{
    client_peer_addr(c, out, cap);
}

static void slowlog_add(client_t *c, const command_t *row, int argc, const char **argv,
                        const size_t *argl, uint64_t us)
{
    slow_entry_t *e = calloc(1, sizeof *e);
    int keep = argc > SLOWLOG_ARGS_MAX ? SLOWLOG_ARGS_MAX : argc;
    if (!e || !(e->argv = calloc((size_t)keep, sizeof *e->argv)) ||
        !(e->argl = calloc((size_t)keep, sizeof *e->argl))) {
        if (e) free(e->argv);
        free(e);
        return;
    }
    for (int i = 0; i < keep; i++) {
        char more[64];
        if (i == SLOWLOG_ARGS_MAX - 1 && argc > SLOWLOG_ARGS_MAX) {
            int m = snprintf(more, sizeof more, "... (%d more arguments)", argc - keep + 1);
            e->argv[i] = copy_text(more, (size_t)m, &e->argl[i]);
        } else if (redacted(row, argc, argv, argl, i)) {
            e->argv[i] = copy_text("(redacted)", 10, &e->argl[i]);
        } else {
            e->argv[i] = slow_arg(argv[i], argl[i], &e->argl[i]);
        }
        if (!e->argv[i]) break;
        e->argc = i + 1;
    }
    e->id = slowlog_next_id++;
    e->time_s = (int64_t)time(NULL);
    e->duration_us = (int64_t)us;
    peer_of(c, e->peer, sizeof e->peer);
    snprintf(e->name, sizeof e->name, "%s", c->name);
    e->next = slowlog;
    slowlog = e;
    slowlog_len++;
    slowlog_trim((size_t)c->srv->cfg.slowlog_max_len);
}

/* Redis's sdscatrepr: a quoted string with \\, \", \n, \r, \t, \a, \b and \xHH escapes. */
static void add_repr(buf_t *b, const char *p, size_t n)
{
    buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        switch (ch) {
        case '\\': buf_append(b, "\\\\", 2); break;
        case '"': buf_append(b, "\\\"", 2); break;
        case '\n': buf_append(b, "\\n", 2); break;
        case '\r': buf_append(b, "\\r", 2); break;
        case '\t': buf_append(b, "\\t", 2); break;
        case '\a': buf_append(b, "\\a", 2); break;
        case '\b': buf_append(b, "\\b", 2); break;
        default:
            if (ch >= ' ' && ch <= '~')
                buf_append(b, &p[i], 1);
            else
                buf_printf(b, "\\x%02x", ch);
        }
    }
    buf_append(b, "\"", 1);
}

/* Streams the command to every MONITOR client, as Redis formats it:
 * +1700000000.123456 [0 127.0.0.1:5000] "set" "k" "v". */
static void feed_monitors(client_t *c, const command_t *row, int argc, const char **argv,
                          const size_t *argl)
{
    buf_t line;
    buf_init(&line);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    char peer[64];
    peer_of(c, peer, sizeof peer);
    buf_printf(&line, "+%ld.%06ld [0 %s]", (long)tv.tv_sec, (long)tv.tv_usec, peer);
    for (int i = 0; i < argc; i++) {
        buf_append(&line, " ", 1);
        if (redacted(row, argc, argv, argl, i))
            add_repr(&line, "(redacted)", 10);
        else
            add_repr(&line, argv[i], argl[i]);
    }
    buf_append(&line, "\r\n", 2);
    for (client_t *m = c->srv->clients; m; m = m->next)
        if (m->monitor && !m->conn->closing) conn_write(m->conn, buf_head(&line), buf_len(&line));
    buf_free(&line);
}

void diag_command_ran(client_t *c, const command_t *row, int argc, const char **argv,
                      const size_t *argl, uint64_t exec_us)
{
    server_t *srv = c->srv;
    /* Admin commands are not shown to monitors, as on Redis (CONFIG, CLIENT, INFO here). */
    if (!(row->flags & CMD_ADMIN) && strcmp(row->name, "monitor")) {
        int any = 0;
        for (client_t *m = srv->clients; m && !any; m = m->next) any = m->monitor;
        if (any) feed_monitors(c, row, argc, argv, argl);
    }
    int64_t slower = srv->cfg.slowlog_log_slower_than;
    if (slower >= 0 && (int64_t)exec_us >= slower && srv->cfg.slowlog_max_len > 0)
        slowlog_add(c, row, argc, argv, argl, exec_us);
}

void diag_op_done(server_t *srv, uint64_t total_us)
{
    int64_t threshold = srv->cfg.latency_monitor_threshold;
    uint64_t ms = total_us / 1000;
    if (threshold <= 0 || (int64_t)ms < threshold) return;
    int64_t now = (int64_t)time(NULL);
    int last = (latency_command.idx + LATENCY_SAMPLES - 1) % LATENCY_SAMPLES;
    /* One sample a second, the largest, as Redis's latencyAddSample. */
    if (latency_command.n && latency_command.samples[last].time_s == now) {
        if (ms > latency_command.samples[last].ms) latency_command.samples[last].ms = (uint32_t)ms;
    } else {
        latency_command.samples[latency_command.idx].time_s = now;
        latency_command.samples[latency_command.idx].ms = (uint32_t)ms;
        latency_command.idx = (latency_command.idx + 1) % LATENCY_SAMPLES;
        if (latency_command.n < LATENCY_SAMPLES) latency_command.n++;
    }
    if (ms > latency_command.max_ms) latency_command.max_ms = (uint32_t)ms;
}

static cmd_status_t proc_slowlog(client_t *c, op_t *op, int argc, const char **argv,
                                 const size_t *argl)
{
    buf_t *b = &op->reply;
    if (arg_is(argv[1], argl[1], "GET") && argc <= 3) {
        int64_t count = 10;
        if ((argc == 3 && resp_parse_i64(argv[2], argl[2], &count) < 0) || count < -1) {
            resp_add_error(b, "ERR count should be greater than or equal to -1");
            return CMD_REPLIED;
        }
        if (count == -1 || (uint64_t)count > slowlog_len) count = (int64_t)slowlog_len;
        resp_add_array_header(b, count);
        slow_entry_t *e = slowlog;
        for (int64_t i = 0; i < count && e; i++, e = e->next) {
            resp_add_array_header(b, 6);
            resp_add_int(b, (int64_t)e->id);
            resp_add_int(b, e->time_s);
            resp_add_int(b, e->duration_us);
            resp_add_array_header(b, e->argc);
            for (int k = 0; k < e->argc; k++) resp_add_bulk(b, e->argv[k], e->argl[k]);
            resp_add_cstr(b, e->peer);
            resp_add_cstr(b, e->name);
        }
    } else if (arg_is(argv[1], argl[1], "LEN") && argc == 2) {
        resp_add_int(b, (int64_t)slowlog_len);
    } else if (arg_is(argv[1], argl[1], "RESET") && argc == 2) {
        slowlog_trim(0);
        resp_add_simple(b, "OK");
    } else if (arg_is(argv[1], argl[1], "HELP") && argc == 2) {
        static const char *const help[] = {
            "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Print this help."};
        command_add_help(b, help, sizeof help / sizeof *help);
    } else if (arg_is(argv[1], argl[1], "GET") || arg_is(argv[1], argl[1], "LEN") ||
               arg_is(argv[1], argl[1], "RESET") || arg_is(argv[1], argl[1], "HELP")) {
        char sub[16];
        snprintf(sub, sizeof sub, "%.*s", (int)argl[1], argv[1]);
        for (char *p = sub; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        resp_add_error(b, "ERR wrong number of arguments for 'slowlog|%s' command", sub);
    } else {
        resp_add_error(b, "ERR unknown subcommand '%.*s'. Try SLOWLOG HELP.",
                       (int)(argl[1] < 64 ? argl[1] : 64), argv[1]);
    }
    (void)c;
    return CMD_REPLIED;
}

/* LATENCY LATEST | HISTORY event | RESET [event ...]: one event, "command", every command whose
 * whole time reached latency-monitor-threshold. */
static cmd_status_t proc_latency(client_t *c, op_t *op, int argc, const char **argv,
                                 const size_t *argl)
{
    buf_t *b = &op->reply;
    (void)c;
    if (arg_is(argv[1], argl[1], "LATEST") && argc == 2) {
        if (!latency_command.n) {
            resp_add_array_header(b, 0);
            return CMD_REPLIED;
        }
        const latency_sample_t *last =
            &latency_command.samples[(latency_command.idx + LATENCY_SAMPLES - 1) % LATENCY_SAMPLES];
        resp_add_array_header(b, 1);
        resp_add_array_header(b, 4);
        resp_add_cstr(b, "command");
        resp_add_int(b, last->time_s);
        resp_add_int(b, last->ms);
        resp_add_int(b, latency_command.max_ms);
    } else if (arg_is(argv[1], argl[1], "HISTORY") && argc == 3) {
        int n = arg_is(argv[2], argl[2], "command") ? latency_command.n : 0;
        resp_add_array_header(b, n);
        int start = (latency_command.idx + LATENCY_SAMPLES - n) % LATENCY_SAMPLES;
        for (int i = 0; i < n; i++) {
            const latency_sample_t *s = &latency_command.samples[(start + i) % LATENCY_SAMPLES];
            resp_add_array_header(b, 2);
            resp_add_int(b, s->time_s);
            resp_add_int(b, s->ms);
        }
    } else if (arg_is(argv[1], argl[1], "RESET")) {
        int reset = 0;
        int all = argc == 2;
        for (int i = 2; i < argc; i++) all |= arg_is(argv[i], argl[i], "command");
        if (all && latency_command.n) reset = 1;
        if (all) memset(&latency_command, 0, sizeof latency_command);
        resp_add_int(b, reset);
    } else if (arg_is(argv[1], argl[1], "HELP") && argc == 2) {
        static const char *const help[] = {
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "HISTORY <event>",
            "    Return latency samples for the specified event.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HELP",
            "    Print this help."};
        command_add_help(b, help, sizeof help / sizeof *help);
    } else {
        resp_add_error(b, "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try "
                          "LATENCY HELP.",
                       (int)(argl[1] < 64 ? argl[1] : 64), argv[1]);
    }
    return CMD_REPLIED;
}

/* MONITOR: +OK, then every command any client runs, until the connection closes. */
static cmd_status_t proc_monitor(client_t *c, op_t *op, int argc, const char **argv,
                                 const size_t *argl)
{
    (void)argc, (void)argv, (void)argl;
    c->monitor = 1;
    resp_add_simple(&op->reply, "OK");
    return CMD_REPLIED;
}

/* clang-format off */
const command_t cmd_diag_commands[] = {
    {"slowlog", -2, 0, CMD_ADMIN, 0, 0, 0, proc_slowlog, NULL},
    {"latency", -2, 0, CMD_ADMIN, 0, 0, 0, proc_latency, NULL},
    {"monitor",  1, 0, CMD_ADMIN, 0, 0, 0, proc_monitor, NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
