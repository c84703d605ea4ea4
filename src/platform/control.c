/* control.c -- the Lambda control plane: CreateFunction .. GetAccountSettings over the registry
 * of created functions, their code unpacked per version under the state directory.
 *
 * Layout of the state directory: functions/NAME/function.json (the definition, written to a
 * temporary file and renamed, so a crash leaves the old one or the new one) and
 * functions/NAME/code-V/ (version V of the code, unpacked; the bootstrap runs there). An update
 * unpacks a new version beside the running one: instances of the old code finish what they run
 * while new invocations start the new one. Versions older than the previous one are removed.
 *
 * Threading: one mutex guards the registry; platform_* calls take the platform's own lock
 * inside it (never the other way round). Unpacking runs on the calling HTTP thread. */
#include "control.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "functions.h"
#include "log.h"

#define REGION "us-east-1"
#define ACCOUNT "000000000000"
#define LIST_MAX_ITEMS 50

struct control {
    platform_t *platform;
    const platform_config_t *cfg;
    pthread_mutex_t lock;
    char dir[4096]; /* the state directory */
    int temporary;  /* made by us: removed at the end */
    fn_def_t *defs; /* created functions, sorted by nothing; few hundred */
    size_t ndefs, capdefs;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void fn_dir(const control_t *c, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/functions/%s", c->dir, name);
}

static void code_dir(const control_t *c, const char *name, uint64_t v, char *out, size_t cap)
{
    snprintf(out, cap, "%s/functions/%s/code-%llu", c->dir, name, (unsigned long long)v);
}

static fn_def_t *find_def(control_t *c, const char *name)
{
    for (size_t i = 0; i < c->ndefs; i++)
        if (!strcmp(c->defs[i].name, name)) return &c->defs[i];
    return NULL;
}

static int save_def(const control_t *c, const fn_def_t *d)
{
    char dir[4200], tmp[4300], path[4300];
    fn_dir(c, d->name, dir, sizeof dir);
    snprintf(tmp, sizeof tmp, "%s/function.json.tmp", dir);
    snprintf(path, sizeof path, "%s/function.json", dir);
    char *s = fn_def_save_json(d);
    if (!s) return -ENOMEM;
    int rc = 0;
    FILE *f = fopen(tmp, "we");
    if (!f || fputs(s, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) < 0) rc = -errno ? -errno : -EIO;
    if (f && fclose(f) != 0 && !rc) rc = -EIO;
    free(s);
    if (!rc && rename(tmp, path) < 0) rc = -errno;
    return rc;
}

/* Hands d's runtime settings to the platform. */
static int push_def(control_t *c, const fn_def_t *d)
{
    char root[4300], exec[4400];
    code_dir(c, d->name, d->code_version, root, sizeof root);
    snprintf(exec, sizeof exec, "%s/bootstrap", root);
    size_t n = (size_t)cJSON_GetArraySize(d->env);
    char **env = calloc(n + 1, sizeof *env);
    if (!env) return -ENOMEM;
    size_t k = 0;
    for (cJSON *v = d->env->child; v && k < n; v = v->next)
        if (asprintf(&env[k], "%s=%s", v->string, v->valuestring) > 0) k++;
    platform_fn_settings_t s = {
        .memory_mb = d->memory_mb,
        .timeout_ms = d->timeout_s * 1000,
        .exec = exec,
        .task_root = root,
        .env = (const char *const *)env,
        .code_version = d->generation,
        .reserved_concurrency = d->reserved_concurrency,
        .max_retry_attempts = d->max_retry_attempts,
        .max_event_age_s = d->max_event_age_s,
        .ready_at_ms = d->ready_at_ms,
    };
    int rc = platform_function_put(c->platform, d->name, &s);
    for (size_t i = 0; i < k; i++)
        free(env[i]);
    free(env);
    return rc;
}

/* Loads functions/<name>/function.json for every function in the state directory. */
static void load_all(control_t *c)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/functions", c->dir);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char file[4600];
        snprintf(file, sizeof file, "%s/%s/function.json", path, e->d_name);
        FILE *f = fopen(file, "re");
        if (!f) continue;
        char *buf = malloc(1 << 20);
        size_t len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
        fclose(f);
        fn_def_t def;
        if (buf && fn_def_load_json(buf, len, &def) == 0 && !strcmp(def.name, e->d_name)) {
            if (c->ndefs == c->capdefs) {
                size_t cap = c->capdefs ? c->capdefs * 2 : 16;
                fn_def_t *n = realloc(c->defs, cap * sizeof *n);
                if (!n) {
                    fn_def_clear(&def);
                    free(buf);
                    break;
                }
                c->defs = n;
                c->capdefs = cap;
            }
            def.ready_at_ms = 0;
            def.generation = 1;
            c->defs[c->ndefs++] = def;
            if (push_def(c, &def) < 0) log_warn("state function=%s error=push", def.name);
            else log_info("state loaded function=%s code_version=%llu", def.name,
                          (unsigned long long)def.code_version);
        } else {
            log_warn("state file=%s error=unreadable", file);
        }
        free(buf);
    }
    closedir(d);
}

int control_create(platform_t *p, const platform_config_t *cfg, control_t **out)
{
    control_t *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->platform = p;
    c->cfg = cfg;
    pthread_mutex_init(&c->lock, NULL);
    if (cfg->state_dir && cfg->state_dir[0]) {
        snprintf(c->dir, sizeof c->dir, "%s", cfg->state_dir);
        if (mkdir(c->dir, 0700) < 0 && errno != EEXIST) goto fail;
        if (cfg->state_reset) {
            char fns[4200];
            snprintf(fns, sizeof fns, "%s/functions", c->dir);
            rm_tree(fns);
        }
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(c->dir, sizeof c->dir, "%s/icplatform-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
        if (!mkdtemp(c->dir)) goto fail;
        c->temporary = 1;
    }
    char fns[4200];
    snprintf(fns, sizeof fns, "%s/functions", c->dir);
    if (mkdir(fns, 0700) < 0 && errno != EEXIST) goto fail;
    load_all(c);
    log_info("state dir=%s functions=%zu temporary=%d", c->dir, c->ndefs, c->temporary);
    *out = c;
    return 0;
fail:;
    int rc = -errno;
    pthread_mutex_destroy(&c->lock);
    free(c);
    return rc ? rc : -EIO;
}

void control_destroy(control_t *c)
{
    if (!c) return;
    if (c->temporary) rm_tree(c->dir);
    for (size_t i = 0; i < c->ndefs; i++)
        fn_def_clear(&c->defs[i]);
    free(c->defs);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* ---- answers ---------------------------------------------------------------------------------- */

static void reply_json(control_reply_t *out, int status, cJSON *o)
{
    out->status = status;
    out->error_type = NULL;
    out->body = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!out->body) {
        out->status = 500;
        out->error_type = "ServiceException";
    }
}

/* Lambda's error document: {"Type":"User","message":...} (Reason for a 429 is added by the
 * caller); the type also goes into X-Amzn-ErrorType. */
static void reply_error(control_reply_t *out, int status, const char *type, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "Type", status >= 500 ? "Service" : "User");
        cJSON_AddStringToObject(o, "message", msg);
    }
    reply_json(out, status, o);
    if (out->status == status) out->error_type = type;
}

static void reply_fn_error(control_reply_t *out, const fn_error_t *e)
{
    reply_error(out, e->status, e->type, e->message);
}

static void not_found(control_reply_t *out, const char *name)
{
    char msg[256];
    snprintf(msg, sizeof msg, "Function not found: arn:aws:lambda:%s:%s:function:%s", REGION,
             ACCOUNT, name);
    reply_error(out, 404, "ResourceNotFoundException", msg);
}

static void busy(control_reply_t *out, const fn_def_t *d)
{
    char msg[300];
    if (d->updating)
        snprintf(msg, sizeof msg,
                 "The operation cannot be performed at this time. An update is in progress for "
                 "resource: arn:aws:lambda:%s:%s:function:%s",
                 REGION, ACCOUNT, d->name);
    else
        snprintf(msg, sizeof msg,
                 "The operation cannot be performed at this time. The function is currently in "
                 "the following state: Pending");
    reply_error(out, 409, "ResourceConflictException", msg);
}

/* A pre-configured function (--function-count) as a definition, for Get and List. */
static int preconfigured_def(const control_t *c, const char *name, fn_def_t *d)
{
    const platform_config_t *cfg = c->cfg;
    size_t plen = strlen(cfg->function_prefix);
    if (strncmp(name, cfg->function_prefix, plen) != 0) return 0;
    const char *digits = name + plen;
    if (!digits[0] || strspn(digits, "0123456789") != strlen(digits) ||
        (digits[0] == '0' && digits[1]) || strlen(digits) > 9 ||
        atol(digits) >= cfg->function_count)
        return 0;
    fn_def_init(d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->memory_mb = cfg->memory_mb;
    d->timeout_s = (cfg->timeout_ms + 999) / 1000;
    d->preconfigured = 1;
    snprintf(d->last_modified, sizeof d->last_modified, "1970-01-01T00:00:00.000+0000");
    snprintf(d->description, sizeof d->description, "pre-configured by icplatform --function-count");
    return 1;
}

static int64_t code_storage_used(const control_t *c)
{
    int64_t n = 0;
    for (size_t i = 0; i < c->ndefs; i++)
        n += c->defs[i].code_size;
    return n;
}

/* Checks and unpacks zip as version v of d's code. 0, or -1 with the answer in out. */
static int store_code(control_t *c, const fn_def_t *d, uint64_t v, const unsigned char *zip,
                      size_t len, int64_t replaced_size, control_reply_t *out)
{
    fn_error_t e;
    if (fn_zip_check(zip, len, &e) < 0) {
        reply_fn_error(out, &e);
        return -1;
    }
    if (code_storage_used(c) - replaced_size + (int64_t)len > c->cfg->code_storage_bytes) {
        reply_error(out, 400, "CodeStorageExceededException", "Code storage limit exceeded.");
        return -1;
    }
    char dir[4400];
    fn_dir(c, d->name, dir, sizeof dir);
    mkdir(dir, 0700);
    code_dir(c, d->name, v, dir, sizeof dir);
    rm_tree(dir); /* a leftover of a crash between unpacking and saving */
    int rc = fn_zip_unpack(zip, len, dir);
    if (rc < 0) {
        rm_tree(dir);
        char msg[160];
        snprintf(msg, sizeof msg, "cannot unpack the code: %s", strerror(-rc));
        reply_error(out, rc == -EINVAL ? 400 : 500,
                    rc == -EINVAL ? "InvalidParameterValueException" : "ServiceException", msg);
        return -1;
    }
    return 0;
}

static void create_function(control_t *c, const control_request_t *rq, control_reply_t *out)
{
    fn_def_t d;
    fn_def_init(&d);
    unsigned char *zip = NULL;
    size_t zlen = 0;
    fn_error_t e;
    int64_t now = (int64_t)clock_wall_ms();
    if (fn_parse_create(rq->body, rq->len, &d, &zip, &zlen, &e) < 0) {
        reply_fn_error(out, &e);
        goto out;
    }
    fn_def_t pre;
    if (find_def(c, d.name) || (preconfigured_def(c, d.name, &pre) && (fn_def_clear(&pre), 1))) {
        char msg[128];
        snprintf(msg, sizeof msg, "Function already exist: %s", d.name);
        reply_error(out, 409, "ResourceConflictException", msg);
        goto out;
    }
    d.code_version = d.generation = 1;
    if (store_code(c, &d, 1, zip, zlen, 0, out) < 0) goto out;
    fn_code_sha256(zip, zlen, d.code_sha256, sizeof d.code_sha256);
    d.code_size = (int64_t)zlen;
    fn_def_touch(&d, now, c->cfg->update_delay_ms, 0);
    if (c->ndefs == c->capdefs) {
        size_t cap = c->capdefs ? c->capdefs * 2 : 16;
        fn_def_t *n = realloc(c->defs, cap * sizeof *n);
        if (!n) {
            reply_error(out, 500, "ServiceException", "out of memory");
            goto out;
        }
        c->defs = n;
        c->capdefs = cap;
    }
    int rc = save_def(c, &d);
    if (rc == 0) rc = push_def(c, &d);
    if (rc < 0) {
        char dir[4200];
        fn_dir(c, d.name, dir, sizeof dir);
        rm_tree(dir);
        reply_error(out, 500, "ServiceException", strerror(-rc));
        goto out;
    }
    log_info("create function=%s code_size=%zu sha256=%s arch=%s memory_mb=%lld", d.name, zlen,
             d.code_sha256, d.arch, (long long)d.memory_mb);
    c->defs[c->ndefs++] = d;
    reply_json(out, 201, fn_config_json(&d, REGION, ACCOUNT, now));
    free(zip);
    return;
out:
    fn_def_clear(&d);
    free(zip);
}

static cJSON *get_function_doc(const fn_def_t *d, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddItemToObject(o, "Configuration", fn_config_json(d, REGION, ACCOUNT, now));
    cJSON *code = cJSON_AddObjectToObject(o, "Code");
    if (code) {
        cJSON_AddStringToObject(code, "RepositoryType", "S3");
        char loc[160];
        snprintf(loc, sizeof loc, "file:///icplatform/functions/%s/code-%llu", d->name,
                 (unsigned long long)d->code_version);
        cJSON_AddStringToObject(code, "Location", loc);
    }
    cJSON_AddItemToObject(o, "Tags", cJSON_Duplicate(d->tags, 1));
    if (d->reserved_concurrency >= 0) {
        cJSON *cc = cJSON_AddObjectToObject(o, "Concurrency");
        if (cc)
            cJSON_AddNumberToObject(cc, "ReservedConcurrentExecutions",
                                    (double)d->reserved_concurrency);
    }
    return o;
}

/* Finds the definition of rq->name, created or pre-configured (*pre set, *tmp filled: the
 * caller clears it). NULL after answering 404. */
static fn_def_t *lookup(control_t *c, const char *name, fn_def_t *tmp, int *pre,
                        control_reply_t *out)
{
    *pre = 0;
    fn_def_t *d = find_def(c, name);
    if (d) return d;
    if (preconfigured_def(c, name, tmp)) {
        *pre = 1;
        return tmp;
    }
    not_found(out, name);
    return NULL;
}

static int refuse_preconfigured(int pre, control_reply_t *out)
{
    if (!pre) return 0;
    reply_error(out, 400, "InvalidParameterValueException",
                "this function is pre-configured by icplatform's options (--function-count) and "
                "cannot be changed through the API");
    return 1;
}

static int commit(control_t *c, fn_def_t *d, control_reply_t *out)
{
    int rc = save_def(c, d);
    if (rc == 0) rc = push_def(c, d);
    if (rc < 0) reply_error(out, 500, "ServiceException", strerror(-rc));
    return rc;
}

static void update_code(control_t *c, fn_def_t *d, const control_request_t *rq, int64_t now,
                        control_reply_t *out)
{
    unsigned char *zip = NULL;
    size_t zlen = 0;
    fn_error_t e;
    char arch[8];
    snprintf(arch, sizeof arch, "%s", d->arch);
    if (fn_parse_update_code(rq->body, rq->len, &zip, &zlen, arch, &e) < 0) {
        if (e.status == 413)
            snprintf(e.message, sizeof e.message,
                     "Request must be smaller than %d bytes for the UpdateFunctionCode operation",
                     FN_MAX_REQUEST);
        reply_fn_error(out, &e);
        return;
    }
    uint64_t v = d->code_version + 1;
    if (store_code(c, d, v, zip, zlen, d->code_size, out) < 0) {
        free(zip);
        return;
    }
    uint64_t old = d->code_version;
    d->code_version = v;
    d->generation++;
    snprintf(d->arch, sizeof d->arch, "%s", arch);
    fn_code_sha256(zip, zlen, d->code_sha256, sizeof d->code_sha256);
    d->code_size = (int64_t)zlen;
    free(zip);
    fn_def_touch(d, now, c->cfg->update_delay_ms, 1);
    if (commit(c, d, out) < 0) return;
    /* Keep the previous version for the instances still running it; older ones go. */
    if (old >= 2) {
        char dir[4400];
        code_dir(c, d->name, old - 1, dir, sizeof dir);
        rm_tree(dir);
    }
    log_info("update-code function=%s code_version=%llu sha256=%s", d->name,
             (unsigned long long)v, d->code_sha256);
    reply_json(out, 200, fn_config_json(d, REGION, ACCOUNT, now));
}

static void update_config(control_t *c, fn_def_t *d, const control_request_t *rq, int64_t now,
                          control_reply_t *out)
{
    fn_error_t e;
    if (fn_parse_update_config(rq->body, rq->len, d, &e) < 0) {
        reply_fn_error(out, &e);
        return;
    }
    /* New configuration, new execution environments (same code directory). */
    d->generation++;
    fn_def_touch(d, now, c->cfg->update_delay_ms, 1);
    if (commit(c, d, out) < 0) return;
    log_info("update-config function=%s memory_mb=%lld timeout_s=%lld arch=%s", d->name,
             (long long)d->memory_mb, (long long)d->timeout_s, d->arch);
    reply_json(out, 200, fn_config_json(d, REGION, ACCOUNT, now));
}

static void delete_function(control_t *c, fn_def_t *d, control_reply_t *out)
{
    platform_function_remove(c->platform, d->name);
    char dir[4200];
    fn_dir(c, d->name, dir, sizeof dir);
    rm_tree(dir);
    log_info("delete function=%s", d->name);
    fn_def_clear(d);
    size_t i = (size_t)(d - c->defs);
    memmove(&c->defs[i], &c->defs[i + 1], (c->ndefs - i - 1) * sizeof *c->defs);
    c->ndefs--;
    out->status = 204;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(((const fn_def_t *)a)->name, ((const fn_def_t *)b)->name);
}

/* ListFunctions: every function (created and pre-configured) by name; Marker is the last name
 * of the previous page. */
static void list_functions(control_t *c, const control_request_t *rq, int64_t now,
                           control_reply_t *out)
{
    long max = LIST_MAX_ITEMS;
    if (rq->max_items) {
        char *end;
        max = strtol(rq->max_items, &end, 10);
        if (*end || max < 1 || max > 10000) {
            reply_error(out, 400, "InvalidParameterValueException", "MaxItems must be 1 to 10000");
            return;
        }
        if (max > LIST_MAX_ITEMS) max = LIST_MAX_ITEMS;
    }
    size_t npre = (size_t)c->cfg->function_count;
    size_t total = c->ndefs + npre;
    fn_def_t *all = calloc(total ? total : 1, sizeof *all);
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = o ? cJSON_AddArrayToObject(o, "Functions") : NULL;
    if (!all || !arr) {
        free(all);
        cJSON_Delete(o);
        reply_error(out, 500, "ServiceException", "out of memory");
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < c->ndefs; i++)
        all[n++] = c->defs[i]; /* shallow: only read */
    for (size_t i = 0; i < npre; i++) {
        char name[80];
        snprintf(name, sizeof name, "%s%zu", c->cfg->function_prefix, i);
        if (preconfigured_def(c, name, &all[n])) n++;
    }
    qsort(all, n, sizeof *all, cmp_names);
    long shown = 0;
    size_t i = 0;
    if (rq->marker && rq->marker[0])
        while (i < n && strcmp(all[i].name, rq->marker) <= 0)
            i++;
    for (; i < n && shown < max; i++, shown++)
        cJSON_AddItemToArray(arr, fn_config_json(&all[i], REGION, ACCOUNT, now));
    if (i < n && shown > 0) cJSON_AddStringToObject(o, "NextMarker", all[i - 1].name);
    for (size_t k = 0; k < n; k++)
        if (all[k].preconfigured) fn_def_clear(&all[k]);
    free(all);
    reply_json(out, 200, o);
}

static void put_concurrency(control_t *c, fn_def_t *d, const control_request_t *rq,
                            control_reply_t *out)
{
    cJSON *o = cJSON_ParseWithLength(rq->body, rq->len);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "ReservedConcurrentExecutions");
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e9) {
        cJSON_Delete(o);
        reply_error(out, 400, "InvalidParameterValueException",
                    "ReservedConcurrentExecutions must be a number from 0");
        return;
    }
    int64_t want = (int64_t)v->valuedouble;
    cJSON_Delete(o);
    int64_t reserved, account;
    platform_function_concurrency(c->platform, &reserved, &account);
    if (d->reserved_concurrency > 0) reserved -= d->reserved_concurrency;
    /* Lambda keeps 100 of the default 1000 unreserved; a smaller account keeps a tenth. */
    int64_t min_unreserved = account >= 1000 ? 100 : account / 10;
    if (account - reserved - want < min_unreserved) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "Specified ReservedConcurrentExecutions for function decreases account's "
                 "UnreservedConcurrentExecution below its minimum value of [%lld].",
                 (long long)min_unreserved);
        reply_error(out, 400, "InvalidParameterValueException", msg);
        return;
    }
    d->reserved_concurrency = want;
    if (commit(c, d, out) < 0) return;
    cJSON *r = cJSON_CreateObject();
    if (r) cJSON_AddNumberToObject(r, "ReservedConcurrentExecutions", (double)want);
    reply_json(out, 200, r);
}

/* The function's event-invoke config as Lambda shows it: a field never set has its default. */
static cJSON *event_config_doc(const fn_def_t *d, int64_t modified_ms)
{
    cJSON *doc = cJSON_CreateObject();
    if (!doc) return NULL;
    cJSON_AddNumberToObject(doc, "LastModified", (double)modified_ms / 1000.0);
    char arn[200];
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s:$LATEST", REGION, ACCOUNT, d->name);
    cJSON_AddStringToObject(doc, "FunctionArn", arn);
    cJSON_AddNumberToObject(doc, "MaximumRetryAttempts",
                            (double)(d->max_retry_attempts >= 0 ? d->max_retry_attempts : 2));
    cJSON_AddNumberToObject(doc, "MaximumEventAgeInSeconds",
                            (double)(d->max_event_age_s >= 0 ? d->max_event_age_s : 21600));
    cJSON *dc = cJSON_AddObjectToObject(doc, "DestinationConfig");
    if (dc) {
        cJSON_AddObjectToObject(dc, "OnSuccess");
        cJSON_AddObjectToObject(dc, "OnFailure");
    }
    return doc;
}

static void put_event_config(control_t *c, fn_def_t *d, const control_request_t *rq,
                             int64_t now, control_reply_t *out)
{
    cJSON *o = cJSON_ParseWithLength(rq->body, rq->len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        reply_error(out, 400, "InvalidRequestContentException", "Could not parse request body into json");
        return;
    }
    cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "MaximumRetryAttempts");
    cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "MaximumEventAgeInSeconds");
    char msg[256];
    msg[0] = 0;
    if (r && (!cJSON_IsNumber(r) || r->valuedouble < 0 || r->valuedouble > 2))
        snprintf(msg, sizeof msg,
                 "1 validation error detected: Value '%g' at 'maximumRetryAttempts' failed to "
                 "satisfy constraint: Member must have value %s",
                 cJSON_IsNumber(r) ? r->valuedouble : -1.0,
                 cJSON_IsNumber(r) && r->valuedouble > 2 ? "less than or equal to 2"
                                                         : "greater than or equal to 0");
    else if (a && (!cJSON_IsNumber(a) || a->valuedouble < 60 || a->valuedouble > 21600))
        snprintf(msg, sizeof msg,
                 "1 validation error detected: Value '%g' at 'maximumEventAgeInSeconds' failed "
                 "to satisfy constraint: Member must have value %s",
                 cJSON_IsNumber(a) ? a->valuedouble : -1.0,
                 cJSON_IsNumber(a) && a->valuedouble > 21600 ? "less than or equal to 21600"
                                                             : "greater than or equal to 60");
    if (msg[0]) {
        cJSON_Delete(o);
        reply_error(out, 400, "ValidationException", msg);
        return;
    }
    /* Put replaces the whole config: what is absent goes back to the default. */
    d->max_retry_attempts = r ? (int64_t)r->valuedouble : -1;
    d->max_event_age_s = a ? (int64_t)a->valuedouble : -1;
    cJSON_Delete(o);
    if (commit(c, d, out) < 0) return;
    reply_json(out, 200, event_config_doc(d, now));
}

/* GetFunctionEventInvokeConfig. A function whose config was never put (or was put with neither
 * field: the platform does not tell the two apart) has none, as Lambda answers for one never
 * configured. LastModified is the time of the answer: the platform does not keep the time of
 * the put. */
static void get_event_config(const fn_def_t *d, int64_t now, control_reply_t *out)
{
    if (d->max_retry_attempts < 0 && d->max_event_age_s < 0) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "The function arn:aws:lambda:%s:%s:function:%s:$LATEST doesn't have an "
                 "EventInvokeConfig",
                 REGION, ACCOUNT, d->name);
        reply_error(out, 404, "ResourceNotFoundException", msg);
        return;
    }
    reply_json(out, 200, event_config_doc(d, now));
}

static void account_settings(control_t *c, control_reply_t *out)
{
    int64_t reserved, account;
    platform_function_concurrency(c->platform, &reserved, &account);
    cJSON *o = cJSON_CreateObject();
    cJSON *lim = o ? cJSON_AddObjectToObject(o, "AccountLimit") : NULL;
    cJSON *use = o ? cJSON_AddObjectToObject(o, "AccountUsage") : NULL;
    if (lim && use) {
        cJSON_AddNumberToObject(lim, "TotalCodeSize", (double)c->cfg->code_storage_bytes);
        cJSON_AddNumberToObject(lim, "CodeSizeUnzipped", FN_MAX_UNZIPPED);
        cJSON_AddNumberToObject(lim, "CodeSizeZipped", FN_MAX_ZIP);
        cJSON_AddNumberToObject(lim, "ConcurrentExecutions", (double)account);
        cJSON_AddNumberToObject(lim, "UnreservedConcurrentExecutions", (double)(account - reserved));
        cJSON_AddNumberToObject(use, "TotalCodeSize", (double)code_storage_used(c));
        cJSON_AddNumberToObject(use, "FunctionCount",
                                (double)(c->ndefs + (size_t)c->cfg->function_count));
    }
    reply_json(out, 200, o);
}

void control_handle(control_t *c, const control_request_t *rq, control_reply_t *out)
{
    memset(out, 0, sizeof *out);
    int64_t now = (int64_t)clock_wall_ms();
    pthread_mutex_lock(&c->lock);
    if (rq->kind == ROUTE_FN_CREATE) {
        create_function(c, rq, out);
        goto done;
    }
    if (rq->kind == ROUTE_FN_LIST) {
        list_functions(c, rq, now, out);
        goto done;
    }
    if (rq->kind == ROUTE_ACCOUNT_SETTINGS) {
        account_settings(c, out);
        goto done;
    }
    fn_def_t tmp;
    int pre;
    fn_def_t *d = lookup(c, rq->name, &tmp, &pre, out);
    if (!d) goto done;
    switch (rq->kind) {
    case ROUTE_FN_GET:
        reply_json(out, 200, get_function_doc(d, now));
        break;
    case ROUTE_FN_CONFIG_GET:
        reply_json(out, 200, fn_config_json(d, REGION, ACCOUNT, now));
        break;
    case ROUTE_FN_EVENT_CONFIG_GET:
        get_event_config(d, now, out);
        break;
    case ROUTE_FN_TAGS_GET: {
        cJSON *o = cJSON_CreateObject();
        if (o) cJSON_AddItemToObject(o, "Tags", cJSON_Duplicate(d->tags, 1));
        reply_json(out, 200, o);
        break;
    }
    default:
        if (refuse_preconfigured(pre, out)) break;
        if ((rq->kind == ROUTE_FN_CODE_PUT || rq->kind == ROUTE_FN_CONFIG_PUT) &&
            fn_def_busy(d, now)) {
            busy(out, d);
            break;
        }
        switch (rq->kind) {
        case ROUTE_FN_DELETE:
            delete_function(c, d, out);
            break;
        case ROUTE_FN_CODE_PUT:
            update_code(c, d, rq, now, out);
            break;
        case ROUTE_FN_CONFIG_PUT:
            update_config(c, d, rq, now, out);
            break;
        case ROUTE_FN_CONCURRENCY_PUT:
            put_concurrency(c, d, rq, out);
            break;
        case ROUTE_FN_CONCURRENCY_DELETE:
            d->reserved_concurrency = -1;
            if (commit(c, d, out) == 0) out->status = 204;
            break;
        case ROUTE_FN_EVENT_CONFIG_PUT:
            put_event_config(c, d, rq, now, out);
            break;

        case ROUTE_FN_TAGS_POST: {
            cJSON *o = cJSON_ParseWithLength(rq->body, rq->len);
            cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "Tags");
            fn_error_t e;
            if (!cJSON_IsObject(t)) {
                reply_error(out, 400, "InvalidParameterValueException", "Tags must be an object");
            } else {
                for (cJSON *v = t->child; v; v = v->next) {
                    if (!cJSON_IsString(v)) continue;
                    cJSON_DeleteItemFromObjectCaseSensitive(d->tags, v->string);
                    cJSON_AddStringToObject(d->tags, v->string, v->valuestring);
                }
                (void)e;
                if (commit(c, d, out) == 0) out->status = 204;
            }
            cJSON_Delete(o);
            break;
        }
        case ROUTE_FN_TAGS_DELETE:
            for (const char *const *k = rq->tag_keys; k && *k; k++)
                cJSON_DeleteItemFromObjectCaseSensitive(d->tags, *k);
            if (commit(c, d, out) == 0) out->status = 204;
            break;
        default:
            reply_error(out, 404, "UnknownOperationException", "unknown operation");
        }
    }
    if (pre) fn_def_clear(&tmp);
done:
    pthread_mutex_unlock(&c->lock);
}
