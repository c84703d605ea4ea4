/* prices.c -- loads and checks a JSON price file: every price with its value, unit, date, source
 * and how it was checked; unknown keys, wrong units and values out of range are errors. */
#include "prices.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PRICES_FORMAT "infinicache-prices 1"
#define PATH_KEY_MAX 160

static const char *const checked_names[PRICE_CHECKED_COUNT] = {"stored-page", "stored-third-party",
                                                               "knowledge", "derived", "paper"};
static const char *const arch_names[PRICE_ARCHS] = {"x86_64", "arm64"};
static const char *const engine_names[PRICE_ENGINES] = {"redis", "valkey"};
static const char *const engine_titles[PRICE_ENGINES] = {"Redis OSS", "Valkey"};

const char *price_checked_name(price_checked_t c)
{
    return c < PRICE_CHECKED_COUNT ? checked_names[c] : "?";
}

const char *price_arch_name(int arch)
{
    return arch >= 0 && arch < PRICE_ARCHS ? arch_names[arch] : "?";
}

const char *price_engine_name(int engine)
{
    return engine >= 0 && engine < PRICE_ENGINES ? engine_names[engine] : "?";
}

const char *price_engine_title(int engine)
{
    return engine >= 0 && engine < PRICE_ENGINES ? engine_titles[engine] : "?";
}

static int lookup(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

int price_arch_parse(const char *s)
{
    return lookup(s, arch_names, PRICE_ARCHS);
}

/* The parse state: where messages go and which file they name. */
typedef struct {
    const char *origin;
    char *err;
    size_t errlen;
} ctx_t;

__attribute__((format(printf, 3, 4))) static int fail(ctx_t *c, const char *path, const char *fmt,
                                                      ...)
{
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->errlen, "%s: %s%s%s", c->origin, path, path[0] ? ": " : "", why);
    return -1;
}

/* Rejects a non-object, unknown keys and repeated keys (cJSON keeps both; a repeated price would
 * silently shadow the other). */
static int check_object(ctx_t *c, const cJSON *o, const char *path, const char *const *allowed)
{
    if (!cJSON_IsObject(o)) return fail(c, path, "not an object");
    for (const cJSON *k = o->child; k; k = k->next) {
        int known = 0;
        for (const char *const *a = allowed; *a && !known; a++)
            known = !strcmp(k->string, *a);
        if (!known) return fail(c, path, "unknown key \"%.60s\"", k->string);
        for (const cJSON *j = o->child; j != k; j = j->next)
            if (!strcmp(j->string, k->string))
                return fail(c, path, "key \"%.60s\" appears twice", k->string);
    }
    return 0;
}

static void join(char *out, const char *path, const char *key)
{
    snprintf(out, PATH_KEY_MAX, "%s%s%s", path, path[0] ? "." : "", key);
}

static const cJSON *member(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* A string member of at most max-1 bytes, printable ASCII; optional if !required (NULL). */
static int get_string(ctx_t *c, const cJSON *o, const char *path, const char *key, size_t max,
                      int required, const char **out)
{
    char p[PATH_KEY_MAX];
    join(p, path, key);
    const cJSON *v = member(o, key);
    *out = NULL;
    if (!v) return required ? fail(c, p, "missing") : 0;
    if (!cJSON_IsString(v) || !v->valuestring) return fail(c, p, "not a string");
    size_t n = strlen(v->valuestring);
    if (n == 0 || n >= max) return fail(c, p, "%zu bytes; 1 to %zu expected", n, max - 1);
    for (const unsigned char *s = (const unsigned char *)v->valuestring; *s; s++)
        if (*s < 0x20 || *s == 0x7f) return fail(c, p, "control character in the text");
    *out = v->valuestring;
    return 0;
}

static int copy_name(ctx_t *c, const cJSON *o, const char *path, const char *key, char *dst)
{
    const char *s;
    if (get_string(c, o, path, key, PRICES_NAME_MAX, 1, &s) < 0) return -1;
    for (const char *q = s; *q; q++)
        if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '.' || *q == '-' ||
              *q == '_')) {
            char p[PATH_KEY_MAX];
            join(p, path, key);
            return fail(c, p, "\"%s\": only a-z, 0-9, '.', '-' and '_'", s);
        }
    snprintf(dst, PRICES_NAME_MAX, "%s", s);
    return 0;
}

/* YYYY-MM-DD with a plausible year, month and day. */
static int valid_date(const char *s)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-') return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return 0;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    return y >= 2006 && y <= 2100 && m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

static int get_date(ctx_t *c, const cJSON *o, const char *path, const char *key, char dst[11])
{
    const char *s;
    if (get_string(c, o, path, key, 11, 1, &s) < 0) return -1;
    if (!valid_date(s)) {
        char p[PATH_KEY_MAX];
        join(p, path, key);
        return fail(c, p, "\"%s\" is not a date YYYY-MM-DD", s);
    }
    memcpy(dst, s, 11);
    return 0;
}

static int get_number(ctx_t *c, const cJSON *o, const char *path, const char *key, double lo,
                      double hi, double *out)
{
    char p[PATH_KEY_MAX];
    join(p, path, key);
    const cJSON *v = member(o, key);
    if (!v) return fail(c, p, "missing");
    if (!cJSON_IsNumber(v)) return fail(c, p, "not a number");
    double x = v->valuedouble;
    if (!isfinite(x) || x < lo || x > hi) return fail(c, p, "%g is outside %g..%g", x, lo, hi);
    *out = x;
    return 0;
}

/* One price object: {"value", "unit", "recorded", "source", "checked"[, "notes"]}. The unit must
 * be the one the key is priced in, so a file in other units is refused rather than misread. */
static int get_price(ctx_t *c, const cJSON *o, const char *path, const char *key, const char *unit,
                     double lo, double hi, price_t *out)
{
    static const char *const keys[] = {"value",   "unit",  "recorded", "source",
                                       "checked", "notes", NULL};
    char p[PATH_KEY_MAX];
    join(p, path, key);
    const cJSON *v = member(o, key);
    if (!v) return fail(c, p, "missing (a price in %s)", unit);
    if (check_object(c, v, p, keys) < 0) return -1;
    const char *u, *src, *chk, *notes;
    if (get_string(c, v, p, "unit", 64, 1, &u) < 0) return -1;
    if (strcmp(u, unit)) return fail(c, p, "unit \"%s\"; this price is in \"%s\"", u, unit);
    if (get_number(c, v, p, "value", lo, hi, &out->value) < 0 ||
        get_date(c, v, p, "recorded", out->recorded) < 0 ||
        get_string(c, v, p, "source", PRICES_SOURCE_MAX, 1, &src) < 0 ||
        get_string(c, v, p, "checked", 32, 1, &chk) < 0 ||
        get_string(c, v, p, "notes", PRICES_NOTES_MAX, 0, &notes) < 0)
        return -1;
    if (strncmp(src, "https://", 8) || strlen(src) < 12)
        return fail(c, p, "source \"%.80s\" is not an https:// address", src);
    int k = lookup(chk, checked_names, PRICE_CHECKED_COUNT);
    if (k < 0)
        return fail(c, p,
                    "checked \"%.40s\": stored-page, stored-third-party, knowledge, derived or "
                    "paper",
                    chk);
    out->checked = (price_checked_t)k;
    return 0;
}

/* Sane ranges: wide enough for any region and decade, narrow enough to catch a price in the
 * wrong unit (per GB-hour written as per GB-month, per request as per million). */
static int parse_lambda(ctx_t *c, const cJSON *o, price_set_t *s)
{
    static const char *const keys[] = {"billing_ms", "x86_64", "arm64", NULL};
    static const char *const arch_keys[] = {"gb_second", "requests", NULL};
    if (check_object(c, o, "lambda", keys) < 0) return -1;
    if (get_price(c, o, "lambda", "billing_ms", "ms", 1, 1000, &s->lambda_billing_ms) < 0)
        return -1;
    for (int a = 0; a < PRICE_ARCHS; a++) {
        char p[PATH_KEY_MAX];
        join(p, "lambda", arch_names[a]);
        const cJSON *v = member(o, arch_names[a]);
        if (!v) {
            if (a == PRICE_ARCH_X86_64) return fail(c, p, "missing");
            continue;
        }
        price_lambda_t *l = &s->lambda[a];
        if (check_object(c, v, p, arch_keys) < 0 ||
            get_price(c, v, p, "gb_second", "USD per GB-second", 1e-7, 1e-3,
                      &l->usd_per_gb_second) < 0 ||
            get_price(c, v, p, "requests", "USD per million requests", 0.001, 100,
                      &l->usd_per_million_requests) < 0)
            return -1;
        l->present = 1;
    }
    return 0;
}

static int parse_s3_standard(ctx_t *c, const cJSON *o, price_s3_standard_t *s)
{
    static const char *const keys[] = {"storage", "put_requests", "get_requests", NULL};
    const char *p = "s3_standard";
    if (check_object(c, o, p, keys) < 0 ||
        get_price(c, o, p, "storage", "USD per GB-month", 1e-4, 10, &s->storage_usd_per_gb_month) <
            0 ||
        get_price(c, o, p, "put_requests", "USD per 1,000 requests", 1e-6, 10,
                  &s->put_usd_per_thousand) < 0 ||
        get_price(c, o, p, "get_requests", "USD per 1,000 requests", 1e-7, 10,
                  &s->get_usd_per_thousand) < 0)
        return -1;
    s->present = 1;
    return 0;
}

static int parse_s3_express(ctx_t *c, const cJSON *o, price_s3_express_t *s)
{
    static const char *const keys[] = {"storage", "put_requests", "get_requests",
                                       "upload",  "retrieval",    NULL};
    const char *p = "s3_express_one_zone";
    if (check_object(c, o, p, keys) < 0 ||
        get_price(c, o, p, "storage", "USD per GB-month", 1e-4, 10, &s->storage_usd_per_gb_month) <
            0 ||
        get_price(c, o, p, "put_requests", "USD per 1,000 requests", 1e-6, 10,
                  &s->put_usd_per_thousand) < 0 ||
        get_price(c, o, p, "get_requests", "USD per 1,000 requests", 1e-7, 10,
                  &s->get_usd_per_thousand) < 0 ||
        get_price(c, o, p, "upload", "USD per GB", 0, 10, &s->upload_usd_per_gb) < 0 ||
        get_price(c, o, p, "retrieval", "USD per GB", 0, 10, &s->retrieval_usd_per_gb) < 0)
        return -1;
    s->present = 1;
    return 0;
}

static int parse_serverless(ctx_t *c, const cJSON *o, price_set_t *s)
{
    static const char *const keys[] = {"redis", "valkey", NULL};
    static const char *const engine_keys[] = {"data_stored", "ecpu", "minimum_data", "maximum_data",
                                              NULL};
    if (check_object(c, o, "elasticache_serverless", keys) < 0) return -1;
    for (int e = 0; e < PRICE_ENGINES; e++) {
        const cJSON *v = member(o, engine_names[e]);
        if (!v) continue;
        char p[PATH_KEY_MAX];
        join(p, "elasticache_serverless", engine_names[e]);
        price_serverless_t *sv = &s->serverless[e];
        if (check_object(c, v, p, engine_keys) < 0 ||
            get_price(c, v, p, "data_stored", "USD per GB-hour", 1e-4, 100,
                      &sv->data_usd_per_gb_hour) < 0 ||
            get_price(c, v, p, "ecpu", "USD per million ECPUs", 1e-5, 10,
                      &sv->usd_per_million_ecpu) < 0 ||
            get_price(c, v, p, "minimum_data", "GB", 0, 100, &sv->minimum_gb) < 0 ||
            get_price(c, v, p, "maximum_data", "GB", 1, 1e7, &sv->maximum_gb) < 0)
            return -1;
        if (sv->minimum_gb.value > sv->maximum_gb.value)
            return fail(c, p, "minimum_data is above maximum_data");
        sv->present = 1;
    }
    return 0;
}

/* The node and instance tables: arrays of objects, each type named once. */
static int parse_nodes(ctx_t *c, const cJSON *o, price_set_t *s)
{
    static const char *const keys[] = {"type", "engine", "memory_gib", "price", NULL};
    const char *path = "elasticache_nodes";
    if (!cJSON_IsArray(o)) return fail(c, path, "not an array");
    int i = 0;
    for (const cJSON *n = o->child; n; n = n->next, i++) {
        char p[PATH_KEY_MAX];
        snprintf(p, sizeof p, "%s[%d]", path, i);
        if (s->nnodes == PRICES_NODES_MAX)
            return fail(c, path, "more than %d node types", PRICES_NODES_MAX);
        price_node_t *t = &s->nodes[s->nnodes];
        const char *engine;
        if (check_object(c, n, p, keys) < 0 || copy_name(c, n, p, "type", t->type) < 0 ||
            get_string(c, n, p, "engine", 16, 1, &engine) < 0)
            return -1;
        snprintf(p, sizeof p, "%s[%d] (%s)", path, i, t->type);
        t->engine = lookup(engine, engine_names, PRICE_ENGINES);
        if (t->engine < 0) return fail(c, p, "engine \"%s\": redis or valkey", engine);
        if (get_number(c, n, p, "memory_gib", 0.1, 10000, &t->memory_gib) < 0 ||
            get_price(c, n, p, "price", "USD per node-hour", 1e-3, 1000, &t->usd_per_hour) < 0)
            return -1;
        for (size_t j = 0; j < s->nnodes; j++)
            if (!strcmp(s->nodes[j].type, t->type) && s->nodes[j].engine == t->engine)
                return fail(c, p, "listed twice for engine %s", engine);
        s->nnodes++;
    }
    if (s->nnodes == 0) return fail(c, path, "no node types");
    return 0;
}

static int parse_instances(ctx_t *c, const cJSON *o, price_set_t *s)
{
    static const char *const keys[] = {
        "type", "arch", "baseline_gbps", "burst_gbps", "bandwidth_source", "price", NULL};
    const char *path = "ec2_instances";
    if (!cJSON_IsArray(o)) return fail(c, path, "not an array");
    int i = 0;
    for (const cJSON *n = o->child; n; n = n->next, i++) {
        char p[PATH_KEY_MAX];
        snprintf(p, sizeof p, "%s[%d]", path, i);
        if (s->ninstances == PRICES_INSTANCES_MAX)
            return fail(c, path, "more than %d instance types", PRICES_INSTANCES_MAX);
        price_instance_t *t = &s->instances[s->ninstances];
        const char *arch, *bw_source;
        if (check_object(c, n, p, keys) < 0 || copy_name(c, n, p, "type", t->type) < 0 ||
            get_string(c, n, p, "arch", 16, 1, &arch) < 0)
            return -1;
        snprintf(p, sizeof p, "%s[%d] (%s)", path, i, t->type);
        t->arch = lookup(arch, arch_names, PRICE_ARCHS);
        if (t->arch < 0) return fail(c, p, "arch \"%s\": x86_64 or arm64", arch);
        if (get_number(c, n, p, "baseline_gbps", 0.01, 10000, &t->baseline_gbps) < 0 ||
            get_number(c, n, p, "burst_gbps", 0.01, 10000, &t->burst_gbps) < 0 ||
            get_string(c, n, p, "bandwidth_source", PRICES_SOURCE_MAX, 0, &bw_source) < 0 ||
            get_price(c, n, p, "price", "USD per instance-hour", 1e-3, 1000, &t->usd_per_hour) < 0)
            return -1;
        if (t->burst_gbps < t->baseline_gbps)
            return fail(c, p, "burst_gbps %g is below baseline_gbps %g", t->burst_gbps,
                        t->baseline_gbps);
        for (size_t j = 0; j < s->ninstances; j++)
            if (!strcmp(s->instances[j].type, t->type)) return fail(c, p, "listed twice");
        s->ninstances++;
    }
    if (s->ninstances == 0) return fail(c, path, "no instance types");
    return 0;
}

static int parse_root(ctx_t *c, const cJSON *root, price_set_t *s)
{
    static const char *const keys[] = {"format",
                                       "name",
                                       "region",
                                       "currency",
                                       "recorded",
                                       "notes",
                                       "lambda",
                                       "s3_standard",
                                       "s3_express_one_zone",
                                       "elasticache_serverless",
                                       "elasticache_nodes",
                                       "ec2_instances",
                                       NULL};
    if (check_object(c, root, "", keys) < 0) return -1;
    const char *format, *currency, *notes;
    if (get_string(c, root, "", "format", 64, 1, &format) < 0) return -1;
    if (strcmp(format, PRICES_FORMAT))
        return fail(c, "format", "\"%s\"; this program reads \"%s\"", format, PRICES_FORMAT);
    if (copy_name(c, root, "", "name", s->name) < 0 ||
        copy_name(c, root, "", "region", s->region) < 0 ||
        get_string(c, root, "", "currency", 8, 1, &currency) < 0 ||
        get_date(c, root, "", "recorded", s->recorded) < 0 ||
        get_string(c, root, "", "notes", PRICES_NOTES_MAX, 0, &notes) < 0)
        return -1;
    if (strcmp(currency, "USD")) return fail(c, "currency", "\"%s\": only USD", currency);
    const cJSON *v;
    if (!(v = member(root, "lambda"))) return fail(c, "lambda", "missing");
    if (parse_lambda(c, v, s) < 0) return -1;
    if ((v = member(root, "s3_standard")) && parse_s3_standard(c, v, &s->s3_standard) < 0)
        return -1;
    if ((v = member(root, "s3_express_one_zone")) && parse_s3_express(c, v, &s->s3_express) < 0)
        return -1;
    if ((v = member(root, "elasticache_serverless")) && parse_serverless(c, v, s) < 0) return -1;
    if (!(v = member(root, "elasticache_nodes"))) return fail(c, "elasticache_nodes", "missing");
    if (parse_nodes(c, v, s) < 0) return -1;
    if (!(v = member(root, "ec2_instances"))) return fail(c, "ec2_instances", "missing");
    return parse_instances(c, v, s);
}

int prices_parse(const char *text, size_t len, const char *origin, price_set_t *out, char *err,
                 size_t errlen)
{
    ctx_t c = {origin ? origin : "prices", err, errlen};
    memset(out, 0, sizeof *out);
    if (len > PRICES_FILE_MAX) return fail(&c, "", "%zu bytes; at most %d", len, PRICES_FILE_MAX);
    /* cJSON stops at a 0 byte and would take the text before it for the whole file. */
    if (memchr(text, 0, len)) return fail(&c, "", "a 0 byte in the text");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        int line = 1;
        for (size_t i = 0; i < at && i < len; i++)
            line += text[i] == '\n';
        return fail(&c, "", "not valid JSON (line %d, byte %zu)", line, at);
    }
    int rc = parse_root(&c, root, out);
    cJSON_Delete(root);
    if (rc < 0) memset(out, 0, sizeof *out);
    return rc;
}

int prices_load_file(const char *path, price_set_t *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* One byte more than the limit tells a file at the limit from a larger one. */
    char *buf = malloc(PRICES_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    size_t n = fread(buf, 1, PRICES_FILE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    int rc;
    if (bad) {
        snprintf(err, errlen, "%s: read error", path);
        rc = -1;
    } else if (n > PRICES_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %d bytes", path, PRICES_FILE_MAX);
        rc = -1;
    } else {
        rc = prices_parse(buf, n, path, out, err, errlen);
    }
    free(buf);
    return rc;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int prices_resolve(const char *spec, char *path, size_t pathlen, char *err, size_t errlen)
{
    size_t n = spec ? strlen(spec) : 0;
    if (n == 0) {
        snprintf(err, errlen, "prices: empty; a set name (current, 2020) or a file");
        return -1;
    }
    if (strchr(spec, '/') || (n > 5 && !strcmp(spec + n - 5, ".json"))) {
        if ((size_t)snprintf(path, pathlen, "%s", spec) >= pathlen) {
            snprintf(err, errlen, "prices: path too long");
            return -1;
        }
        return 0;
    }
    if (n >= PRICES_NAME_MAX || strspn(spec, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n) {
        snprintf(err, errlen, "prices: '%.80s' is neither a set name ([a-z0-9_-]) nor a file",
                 spec);
        return -1;
    }
    char dirs[3][PATH_MAX];
    int ndirs = 0;
    const char *env = getenv("IC_PRICES_DIR");
    if (env && env[0]) snprintf(dirs[ndirs++], PATH_MAX, "%s", env);
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = 0;
        snprintf(dirs[ndirs++], PATH_MAX, "%s/../share/infinicache/prices", dirname(exe));
    }
#ifdef IC_SOURCE_PRICES_DIR
    snprintf(dirs[ndirs++], PATH_MAX, "%s", IC_SOURCE_PRICES_DIR);
#endif
    char tried[600] = "";
    for (int i = 0; i < ndirs; i++) {
        char candidate[PATH_MAX + PRICES_NAME_MAX + 8];
        int fits = (size_t)snprintf(candidate, sizeof candidate, "%s/%s.json", dirs[i], spec) <
                   sizeof candidate;
        if (fits && is_file(candidate)) {
            if ((size_t)snprintf(path, pathlen, "%s", candidate) >= pathlen) {
                snprintf(err, errlen, "prices: path too long");
                return -1;
            }
            return 0;
        }
        size_t t = strlen(tried);
        snprintf(tried + t, sizeof tried - t, "%s%.180s", i ? ", " : "", dirs[i]);
    }
    snprintf(err, errlen, "prices: no set '%s' (%s.json not in %s)", spec, spec,
             ndirs ? tried : "any directory");
    return -1;
}

int prices_load(const char *spec, price_set_t *out, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (prices_resolve(spec, path, sizeof path, err, errlen) < 0) return -1;
    return prices_load_file(path, out, err, errlen);
}
