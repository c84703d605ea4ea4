/* cmd_config.c -- CONFIG GET/SET/RESETSTAT/REWRITE over icproxy's one option table (config.c),
 * with Redis 7's reply shapes and error texts. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "client.h"
#include "cmdstats.h"
#include "command.h"
#include "config.h"
#include "log.h"
#include "op.h"
#include "server.h"

#define CONFIG_PAIRS_MAX 64        /* most name/value pairs in one CONFIG SET */
#define CONFIG_VALUE_MAX 4096      /* longest value CONFIG GET formats */
#define REWRITE_LINE_MAX 4096      /* longest config file line kept by CONFIG REWRITE */
#define REWRITE_LINES_MAX 100000   /* most lines in a config file CONFIG REWRITE reads */

static const conf_option_t *options(void)
{
    return proxy_option_table;
}

/* The argument as a NUL-terminated string in out (arguments may hold NULs; those cut it). */
static const char *arg_text(const char *a, size_t l, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s", (int)(l < cap ? l : cap - 1), a);
    return out;
}

/* CONFIG GET pattern [pattern ...]: every option whose name matches a glob pattern (any case, as
 * Redis's stringmatch), each once, as a map of name to value. */
/* Redis parameters that are facts of the proxy rather than options: it persists nothing and has
 * one database. Tools ask for them (redis-benchmark reads save and appendonly before it starts);
 * CONFIG GET answers them after the options, CONFIG SET refuses them as unknown. */
static const struct {
    const char *name, *value;
} fixed_params[] = {{"appendonly", "no"}, {"databases", "1"}, {"save", ""}};
#define NFIXED (sizeof fixed_params / sizeof *fixed_params)

static void config_get(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    const conf_option_t *t = options();
    size_t n = 0;
    while (t[n].name) n++;
    unsigned char *hit = calloc(n ? n : 1, 1);
    if (!hit) {
        resp_add_error(&op->reply, "ERR out of memory");
        return;
    }
    /* Redis 7.0 answers a pattern without glob characters with the name as it was asked. */
    int *asked = calloc(n ? n : 1, sizeof *asked);
    if (!asked) {
        free(hit);
        resp_add_error(&op->reply, "ERR out of memory");
        return;
    }
    int64_t matched = 0;
    int fixed_asked[NFIXED] = {0}; /* 0: not matched; -1: by a glob; else the argument naming it */
    for (int i = 2; i < argc; i++) {
        char pattern[256];
        arg_text(argv[i], argl[i], pattern, sizeof pattern);
        int glob = strpbrk(pattern, "*?[\\") != NULL;
        for (size_t k = 0; k < n; k++) {
            if (hit[k] || fnmatch(pattern, t[k].name, FNM_CASEFOLD) != 0) continue;
            hit[k] = 1, matched++;
            if (!glob) asked[k] = i;
        }
        for (size_t k = 0; k < NFIXED; k++) {
            if (fixed_asked[k] || fnmatch(pattern, fixed_params[k].name, FNM_CASEFOLD) != 0)
                continue;
            fixed_asked[k] = glob ? -1 : i, matched++;
        }
    }
    resp_add_map_header(&op->reply, matched);
    char value[CONFIG_VALUE_MAX];
    for (size_t k = 0; k < n; k++) {
        if (!hit[k]) continue;
        size_t vl = conf_format_value(&t[k], &c->srv->cfg, value, sizeof value);
        if (asked[k])
            resp_add_bulk(&op->reply, argv[asked[k]], argl[asked[k]]);
        else
            resp_add_cstr(&op->reply, t[k].name);
        resp_add_bulk(&op->reply, value, vl);
    }
    for (size_t k = 0; k < NFIXED; k++) {
        if (!fixed_asked[k]) continue;
        if (fixed_asked[k] > 0)
            resp_add_bulk(&op->reply, argv[fixed_asked[k]], argl[fixed_asked[k]]);
        else
            resp_add_cstr(&op->reply, fixed_params[k].name);
        resp_add_cstr(&op->reply, fixed_params[k].value);
    }
    free(asked);
    free(hit);
}

/* Checks a value for an option as Redis words its complaints. 0, or -1 with why. */
static int check_value(const conf_option_t *o, const char *v, const char **why)
{
    int64_t x = 0;
    char *end;
    switch (o->type) {
    case CONF_BOOL:
        if (strcasecmp(v, "yes") && strcasecmp(v, "no")) {
            *why = "argument must be 'yes' or 'no'";
            return -1;
        }
        return 0;
    case CONF_STRING:
        if (!strcmp(o->name, "log-level")) {
            log_level_t level;
            if (log_level_parse(v, &level) < 0) {
                *why = "argument(s) must be one of the following: debug, info, warn, error";
                return -1;
            }
        }
        return 0;
    case CONF_INT:
        errno = 0;
        x = strtoll(v, &end, 10);
        if (errno || end == v || *end) {
            *why = "argument couldn't be parsed into an integer";
            return -1;
        }
        break;
    case CONF_BYTES:
        if (conf_parse_bytes(v, &x) < 0) {
            *why = "argument must be a memory value";
            return -1;
        }
        break;
    case CONF_MS:
        if (conf_parse_ms(v, &x) < 0) {
            *why = "argument couldn't be parsed into an integer";
            return -1;
        }
        break;
    }
    if (x < o->min || x > o->max) {
        static char range[96];
        snprintf(range, sizeof range, "argument must be between %lld and %lld inclusive",
                 (long long)o->min, (long long)o->max);
        *why = range;
        return -1;
    }
    return 0;
}

/* What a changed option needs beyond its field: the ones read where they are used need
 * nothing. */
static void apply_side_effects(server_t *srv, const conf_option_t *o)
{
    if (!strcmp(o->name, "requirepass")) {
        auth_set_default_password(&srv->auth, srv->cfg.requirepass);
    } else if (!strcmp(o->name, "log-level")) {
        log_level_t level;
        if (log_level_parse(srv->cfg.log_level, &level) == 0) log_set_level(level);
    }
}

/* CONFIG SET name value [name value ...]: every pair is checked before any is applied, so the
 * command changes all of them or none (Redis 7). */
static void config_set(client_t *c, op_t *op, int argc, const char **argv, const size_t *argl)
{
    server_t *srv = c->srv;
    if (argc < 4 || argc % 2) {
        resp_add_error(&op->reply, "ERR wrong number of arguments for 'config|set' command");
        return;
    }
    const conf_option_t *rows[CONFIG_PAIRS_MAX];
    int npairs = (argc - 2) / 2;
    if (npairs > CONFIG_PAIRS_MAX) {
        resp_add_error(&op->reply, "ERR CONFIG SET takes at most %d parameters", CONFIG_PAIRS_MAX);
        return;
    }
    char name[128], value[CONFIG_VALUE_MAX];
    for (int i = 0; i < npairs; i++) {
        const char *a = argv[2 + 2 * i];
        size_t al = argl[2 + 2 * i];
        arg_text(a, al, name, sizeof name);
        for (char *p = name; *p; p++) *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        const conf_option_t *o = conf_find(options(), name, strlen(name));
        if (!o) {
            resp_add_error(&op->reply,
                           "ERR Unknown option or number of arguments for CONFIG SET - '%s'", name);
            return;
        }
        const char *why = NULL;
        for (int k = 0; k < i && !why; k++)
            if (rows[k] == o) why = "duplicate parameter";
        if (!why && !(o->flags & CONF_F_RUNTIME)) why = "can't set immutable config";
        if (!why && argl[3 + 2 * i] >= sizeof value) why = "argument is too long";
        if (!why) check_value(o, arg_text(argv[3 + 2 * i], argl[3 + 2 * i], value, sizeof value),
                              &why);
        if (!why && !strcmp(o->name, "requirepass") && srv->cfg.aclfile[0])
            why = "requirepass cannot be set while users come from an aclfile";
        if (why) {
            resp_add_error(&op->reply,
                           "ERR CONFIG SET failed (possibly related to argument '%s') - %s", name,
                           why);
            return;
        }
        rows[i] = o;
    }
    for (int i = 0; i < npairs; i++) {
        char err[256];
        arg_text(argv[3 + 2 * i], argl[3 + 2 * i], value, sizeof value);
        /* Checked above: conf_set can only fail for want of memory here. */
        if (conf_set(options(), &srv->cfg, rows[i]->name, value, err, sizeof err) < 0) {
            resp_add_error(&op->reply, "ERR CONFIG SET failed - %s", err);
            return;
        }
        apply_side_effects(srv, rows[i]);
        /* The password is never logged, nor any value: only which option changed. */
        log_info("event=config_set option=%s client=%llu", rows[i]->name,
                 (unsigned long long)c->id);
    }
    resp_add_simple(&op->reply, "OK");
}

/* The option a config file line sets (its first word), or NULL for comments, blanks and words
 * that name no option. */
static const conf_option_t *line_option(const char *line)
{
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '#' || *p == '\n' || *p == 0) return NULL;
    size_t n = strcspn(p, " \t\r\n");
    return conf_find(options(), p, n);
}

/* Writes "name value" with the value quoted when it is empty or holds blanks, as the loader
 * reads it back. */
static void write_option(FILE *f, const conf_option_t *o, const void *cfg)
{
    char value[CONFIG_VALUE_MAX];
    conf_format_value(o, cfg, value, sizeof value);
    if (!value[0] || strpbrk(value, " \t#"))
        fprintf(f, "%s \"%s\"\n", o->name, value);
    else
        fprintf(f, "%s %s\n", o->name, value);
}

/* A password given at start is kept only as a digest (main.c wipes the text): its option then
 * reads "" while the default user still has a password, and a rewrite must not write that "". */
static int password_wiped(const server_t *srv, const conf_option_t *o)
{
    return !strcmp(o->name, "requirepass") && !srv->cfg.requirepass[0] &&
           !auth_default_nopass(&srv->auth);
}

/* CONFIG REWRITE: the config file the proxy started with, rewritten with the current values as
 * Redis does: each option's first line takes its current value and later repeats are dropped;
 * comments, blank lines and lines this version does not know stay; options changed from their
 * default that the file lacks are appended. Written to a temporary file and renamed over, so a
 * crash leaves the old file or the new one. 0, or -1 with err. */
static int config_rewrite(server_t *srv, char *err, size_t errlen)
{
    const char *path = srv->cfg.config_file;
    const conf_option_t *t = options();
    size_t n = 0;
    while (t[n].name) n++;
    char *tmp = NULL;
    FILE *in = NULL, *out = NULL;
    unsigned char *written = calloc(n ? n : 1, 1);
    if (!written) goto nomem;
    in = fopen(path, "r");
    if (!in && errno != ENOENT) {
        snprintf(err, errlen, "Rewriting config file: %s", strerror(errno));
        goto fail;
    }
    size_t tmplen = strlen(path) + 32;
    tmp = malloc(tmplen);
    if (!tmp) goto nomem;
    snprintf(tmp, tmplen, "%s.rewrite-%d", path, (int)getpid());
    out = fopen(tmp, "w");
    if (!out) {
        snprintf(err, errlen, "Rewriting config file: %s", strerror(errno));
        goto fail;
    }
    char line[REWRITE_LINE_MAX];
    for (int lines = 0; in && lines < REWRITE_LINES_MAX && fgets(line, sizeof line, in); lines++) {
        const conf_option_t *o = line_option(line);
        if (!o) {
            fputs(line, out);
            if (!strchr(line, '\n')) fputc('\n', out);
            continue;
        }
        size_t k = (size_t)(o - t);
        if (written[k]) continue; /* a repeat: the first line holds the value now */
        written[k] = 1;
        if (password_wiped(srv, o)) {
            fputs(line, out); /* the proxy no longer knows the password: the file keeps it */
            continue;
        }
        write_option(out, o, &srv->cfg);
    }
    int header = 0;
    for (size_t k = 0; k < n; k++) {
        char now[CONFIG_VALUE_MAX];
        if (written[k] || password_wiped(srv, &t[k])) continue;
        conf_format_value(&t[k], &srv->cfg, now, sizeof now);
        /* The default as the option stores it, formatted the same way. */
        int differs = 1;
        if (t[k].type == CONF_STRING) {
            differs = strcmp(now, t[k].def) != 0;
        } else {
            char scratch[64] = {0}, def[CONFIG_VALUE_MAX], e[128];
            conf_option_t one[2] = {t[k], CONF_END};
            one[0].offset = 0;
            if (conf_set(one, scratch, t[k].name, t[k].def, e, sizeof e) == 0) {
                conf_format_value(&one[0], scratch, def, sizeof def);
                differs = strcmp(now, def) != 0;
            }
        }
        if (!differs) continue;
        if (!header++) fprintf(out, "# Generated by CONFIG REWRITE\n");
        write_option(out, &t[k], &srv->cfg);
    }
    if (fflush(out) != 0 || fsync(fileno(out)) != 0 || ferror(out)) {
        snprintf(err, errlen, "Rewriting config file: %s", strerror(errno));
        goto fail;
    }
    fclose(out);
    out = NULL;
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "Rewriting config file: %s", strerror(errno));
        goto fail;
    }
    if (in) fclose(in);
    free(tmp);
    free(written);
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    if (out) fclose(out);
    if (tmp) unlink(tmp);
    if (in) fclose(in);
    free(tmp);
    free(written);
    return -1;
}

static cmd_status_t proc_config(client_t *c, op_t *op, int argc, const char **argv,
                                const size_t *argl)
{
    buf_t *b = &op->reply;
    if (arg_is(argv[1], argl[1], "GET")) {
        if (argc < 3)
            resp_add_error(b, "ERR wrong number of arguments for 'config|get' command");
        else
            config_get(c, op, argc, argv, argl);
    } else if (arg_is(argv[1], argl[1], "SET")) {
        config_set(c, op, argc, argv, argl);
    } else if (arg_is(argv[1], argl[1], "RESETSTAT")) {
        if (argc != 2) {
            resp_add_error(b, "ERR wrong number of arguments for 'config|resetstat' command");
        } else {
            memset(&c->srv->stats, 0, sizeof c->srv->stats);
            cmdstats_reset();
            resp_add_simple(b, "OK");
        }
    } else if (arg_is(argv[1], argl[1], "REWRITE")) {
        char err[512];
        if (argc != 2) {
            resp_add_error(b, "ERR wrong number of arguments for 'config|rewrite' command");
        } else if (!c->srv->cfg.config_file) {
            resp_add_error(b, "ERR The server is running without a config file");
        } else if (config_rewrite(c->srv, err, sizeof err) < 0) {
            log_warn("event=config_rewrite_failed reason=\"%s\"", err);
            resp_add_error(b, "ERR %s", err);
        } else {
            log_info("event=config_rewrite path=%s", c->srv->cfg.config_file);
            resp_add_simple(b, "OK");
        }
    } else if (arg_is(argv[1], argl[1], "HELP") && argc == 2) {
        static const char *const help[] = {
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
            "HELP",
            "    Print this help."};
        command_add_help(b, help, sizeof help / sizeof *help);
    } else {
        resp_add_error(b, "ERR unknown subcommand '%.*s'. Try CONFIG HELP.",
                       (int)(argl[1] < 64 ? argl[1] : 64), argv[1]);
    }
    return CMD_REPLIED;
}

/* clang-format off */
const command_t cmd_config_commands[] = {
    {"config", -2, 0, CMD_ADMIN, 0, 0, 0, proc_config, NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
