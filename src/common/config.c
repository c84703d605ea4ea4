/* config.c -- option table handling: defaults, config file, flags, help. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const conf_option_t *find(const conf_option_t *t, const char *name, size_t len)
{
    for (; t->name; t++)
        if (strlen(t->name) == len && strncmp(t->name, name, len) == 0) return t;
    return NULL;
}

const conf_option_t *conf_find(const conf_option_t *table, const char *name, size_t len)
{
    return find(table, name, len);
}

size_t conf_format_value(const conf_option_t *o, const void *cfg, char *out, size_t cap)
{
    const char *field = (const char *)cfg + o->offset;
    int n;
    switch (o->type) {
    case CONF_STRING: {
        const char *v = *(char *const *)field;
        n = snprintf(out, cap, "%s", v ? v : "");
        break;
    }
    case CONF_BOOL:
        n = snprintf(out, cap, "%s", *(const int *)field ? "yes" : "no");
        break;
    default:
        n = snprintf(out, cap, "%lld", (long long)*(const int64_t *)field);
        break;
    }
    if (n < 0) return 0;
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

static int parse_suffixed(const char *s, int64_t *out, const char *const *sfx, const int64_t *mul)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s) return -1;
    int64_t m = 1;
    if (*end) {
        int found = 0;
        for (int i = 0; sfx[i]; i++) {
            if (strcasecmp(end, sfx[i]) == 0) {
                m = mul[i];
                found = 1;
                break;
            }
        }
        if (!found) return -1;
    }
    if (v != 0 && (v > INT64_MAX / m || v < INT64_MIN / m)) return -1;
    *out = (int64_t)v * m;
    return 0;
}

int conf_parse_bytes(const char *s, int64_t *out)
{
    static const char *const sfx[] = {"b",   "k", "kb", "kib", "m", "mb",
                                      "mib", "g", "gb", "gib", NULL};
    static const int64_t mul[] = {1,       1 << 10, 1 << 10, 1 << 10, 1 << 20,
                                  1 << 20, 1 << 20, 1 << 30, 1 << 30, 1 << 30};
    return parse_suffixed(s, out, sfx, mul);
}

int conf_parse_ms(const char *s, int64_t *out)
{
    static const char *const sfx[] = {"ms", "s", "m", "min", "h", NULL};
    static const int64_t mul[] = {1, 1000, 60000, 60000, 3600000};
    return parse_suffixed(s, out, sfx, mul);
}

static int set_one(const conf_option_t *o, void *cfg, const char *value, char *err, size_t errlen)
{
    char *field = (char *)cfg + o->offset;
    int64_t v = 0;
    switch (o->type) {
    case CONF_STRING: {
        char *copy = strdup(value);
        if (!copy) return -1;
        free(*(char **)field);
        *(char **)field = copy;
        return 0;
    }
    case CONF_BOOL:
        if (!strcasecmp(value, "yes") || !strcasecmp(value, "true") || !strcmp(value, "1"))
            *(int *)field = 1;
        else if (!strcasecmp(value, "no") || !strcasecmp(value, "false") || !strcmp(value, "0"))
            *(int *)field = 0;
        else {
            snprintf(err, errlen, "option %s: expected yes or no, got '%s'", o->name, value);
            return -1;
        }
        return 0;
    case CONF_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(value, &end, 10);
        if (errno || end == value || *end) goto bad;
        v = x;
        break;
    }
    case CONF_BYTES:
        if (conf_parse_bytes(value, &v) < 0) goto bad;
        break;
    case CONF_MS:
        if (conf_parse_ms(value, &v) < 0) goto bad;
        break;
    }
    if (v < o->min || v > o->max) {
        snprintf(err, errlen, "option %s: %s is out of range [%lld, %lld]", o->name, value,
                 (long long)o->min, (long long)o->max);
        return -1;
    }
    *(int64_t *)field = v;
    return 0;
bad:
    snprintf(err, errlen, "option %s: cannot parse '%s'", o->name, value);
    return -1;
}

int conf_defaults(const conf_option_t *t, void *cfg, char *err, size_t errlen)
{
    for (; t->name; t++)
        if (set_one(t, cfg, t->def, err, errlen) < 0) return -1;
    return 0;
}

int conf_set(const conf_option_t *t, void *cfg, const char *name, const char *value, char *err,
             size_t errlen)
{
    const conf_option_t *o = find(t, name, strlen(name));
    if (!o) {
        snprintf(err, errlen, "unknown option '%s' (see --help)", name);
        return -1;
    }
    return set_one(o, cfg, value, err, errlen);
}

int conf_load_file(const conf_option_t *t, void *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '#' || *p == 0) continue;
        char *name = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (*p) *p++ = 0;
        while (isspace((unsigned char)*p))
            p++;
        char *value = p;
        size_t n = strlen(value);
        while (n > 0 && isspace((unsigned char)value[n - 1]))
            value[--n] = 0;
        if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
            value[n - 1] = 0;
            value++;
        }
        char sub[512];
        if (conf_set(t, cfg, name, value, sub, sizeof sub) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, sub);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

int conf_parse_args(const conf_option_t *t, void *cfg, int argc, char **argv, const char *usage,
                    char *err, size_t errlen)
{
    if (conf_defaults(t, cfg, err, errlen) < 0) return -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            conf_print_help(t, stdout, usage);
            return 1;
        }
        if (!strcmp(argv[i], "--sample-config")) {
            conf_print_sample(t, stdout);
            return 1;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            path = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            path = argv[i] + 9;
        if (path && conf_load_file(t, cfg, path, err, errlen) < 0) return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (see --help)", a);
            return -1;
        }
        a += 2;
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        const char *value;
        if (nlen == 6 && !strncmp(a, "config", 6)) {
            if (!eq) i++;
            continue;
        }
        const conf_option_t *o = find(t, a, nlen);
        if (!o) {
            snprintf(err, errlen, "unknown option '--%.*s' (see --help)", (int)nlen, a);
            return -1;
        }
        if (eq)
            value = eq + 1;
        else if (o->type == CONF_BOOL && (i + 1 >= argc || !strncmp(argv[i + 1], "--", 2)))
            value = "yes";
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            snprintf(err, errlen, "option --%s needs a value", o->name);
            return -1;
        }
        if (set_one(o, cfg, value, err, errlen) < 0) return -1;
    }
    return 0;
}

static const char *type_hint(conf_type_t t)
{
    switch (t) {
    case CONF_INT:
        return "N";
    case CONF_BYTES:
        return "SIZE";
    case CONF_MS:
        return "TIME";
    case CONF_BOOL:
        return "yes|no";
    case CONF_STRING:
        return "TEXT";
    }
    return "";
}

void conf_print_help(const conf_option_t *t, FILE *out, const char *usage)
{
    fprintf(out,
            "%s\n\nOptions (flags override the config file; SIZE takes k/m/g, TIME ms/s/m/h):\n",
            usage);
    fprintf(out, "  %-28s %s\n", "--config FILE", "read options from FILE (lines: name value)");
    fprintf(out, "  %-28s %s\n", "--sample-config", "print a commented config with every default");
    fprintf(out, "  %-28s %s\n", "--help", "this help");
    for (; t->name; t++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s %s", t->name, type_hint(t->type));
        fprintf(out, "  %-28s %s (default: %s)\n", flag, t->help, t->def[0] ? t->def : "\"\"");
    }
}

void conf_print_sample(const conf_option_t *t, FILE *out)
{
    fprintf(out,
            "# Every option with its default. Lines are: name value. Flags override this file.\n");
    for (; t->name; t++) {
        fprintf(out, "\n# %s\n", t->help);
        if (t->type != CONF_STRING && t->type != CONF_BOOL)
            fprintf(out, "# range: %lld .. %lld\n", (long long)t->min, (long long)t->max);
        fprintf(out, "%s %s\n", t->name, t->def[0] ? t->def : "\"\"");
    }
}

void conf_print_values(const conf_option_t *t, const void *cfg, FILE *out)
{
    for (; t->name; t++) {
        const char *field = (const char *)cfg + t->offset;
        switch (t->type) {
        case CONF_STRING:
            fprintf(out, "%s %s\n", t->name, *(char *const *)field ? *(char *const *)field : "");
            break;
        case CONF_BOOL:
            fprintf(out, "%s %s\n", t->name, *(const int *)field ? "yes" : "no");
            break;
        default:
            fprintf(out, "%s %lld\n", t->name, (long long)*(const int64_t *)field);
            break;
        }
    }
}

int conf_token_check(const char *text, size_t min, size_t max, char *out, size_t cap)
{
    const char *start = text, *end = text + strlen(text);
    while (*start == ' ' || *start == '\t' || *start == '\r' || *start == '\n')
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
        end--;
    size_t len = (size_t)(end - start);
    if (len < min || len > max || len >= cap) return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if (start[i] <= ' ' || start[i] > '~') return -EINVAL;
    memcpy(out, start, len);
    out[len] = 0;
    return 0;
}

int conf_token_read_file(const char *path, size_t min, size_t max, char *out, size_t cap)
{
    /* One byte more than the longest line that trims to a valid token could hold, so that a
     * longer first line is refused instead of cut. */
    char line[1024];
    if (max + 8 > sizeof line) return -EINVAL;
    FILE *f = fopen(path, "r");
    if (!f) return -errno;
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    fclose(f);
    int rc = conf_token_check(line, min, max, out, cap);
    /* Not memset: a store to a dying buffer may be optimised away. */
    volatile char *v = line;
    for (size_t i = 0; i < sizeof line; i++)
        v[i] = 0;
    return rc;
}

int conf_parse_decimal(const char *text, double lo, double hi, double *out)
{
    if (!text) return -EINVAL;
    size_t len = strlen(text);
    if (len == 0 || len > CONF_DECIMAL_TEXT_MAX || strspn(text, "0123456789.eE+-") != len)
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end) return -EINVAL;
    if (errno == ERANGE || !isfinite(v)) return -ERANGE;
    if (!(v >= lo && v <= hi)) return -ERANGE;
    *out = v;
    return 0;
}
