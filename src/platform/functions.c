/* functions.c -- Lambda control-plane shapes: request validation, FunctionConfiguration JSON,
 * zip checks and unpacking (libzip), the state file of one function. No HTTP, no processes. */
#include "functions.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

static int set_err(fn_error_t *err, int status, const char *type, const char *fmt, const char *arg)
{
    err->status = status;
    err->type = type;
    snprintf(err->message, sizeof err->message, fmt, arg ? arg : "");
    return -1;
}

void fn_def_init(fn_def_t *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->runtime, sizeof d->runtime, "provided.al2023");
    snprintf(d->arch, sizeof d->arch, "x86_64");
    snprintf(d->handler, sizeof d->handler, "bootstrap");
    d->memory_mb = 128;
    d->timeout_s = 3;
    d->env = cJSON_CreateObject();
    d->tags = cJSON_CreateObject();
    d->reserved_concurrency = -1;
    d->max_retry_attempts = -1;
    d->max_event_age_s = -1;
}

void fn_def_clear(fn_def_t *d)
{
    cJSON_Delete(d->env);
    cJSON_Delete(d->tags);
    d->env = d->tags = NULL;
}

int fn_def_copy(fn_def_t *dst, const fn_def_t *src)
{
    *dst = *src;
    dst->env = cJSON_Duplicate(src->env, 1);
    dst->tags = cJSON_Duplicate(src->tags, 1);
    if (!dst->env || !dst->tags) {
        fn_def_clear(dst);
        return -ENOMEM;
    }
    return 0;
}

int fn_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > FN_NAME_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* ---- base64 ------------------------------------------------------------------------------ */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int fn_base64_decode(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
    if (len % 4) return -EINVAL;
    unsigned char *o = malloc(len / 4 * 3 + 1);
    if (!o) return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)in[i + k];
            if (c == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64_value(c)) < 0) {
                free(o);
                return -EINVAL;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        o[n++] = (unsigned char)(w >> 16);
        if (pad < 2) o[n++] = (unsigned char)(w >> 8);
        if (pad < 1) o[n++] = (unsigned char)w;
    }
    *out = o;
    *out_len = n;
    return 0;
}

void fn_code_sha256(const unsigned char *zip, size_t len, char *out, size_t cap)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(zip, len, md);
    unsigned char b64[64];
    EVP_EncodeBlock(b64, md, sizeof md);
    snprintf(out, cap, "%s", (const char *)b64);
}

/* ---- request bodies ------------------------------------------------------------------------ */

static int validation(fn_error_t *err, const char *field, const char *value, const char *rule)
{
    err->status = 400;
    err->type = "ValidationException";
    snprintf(err->message, sizeof err->message,
             "1 validation error detected: Value '%.64s' at '%s' failed to satisfy constraint: %s",
             value, field, rule);
    return -1;
}

static int check_memory(cJSON *m, fn_error_t *err)
{
    if (!cJSON_IsNumber(m)) return set_err(err, 400, "InvalidParameterValueException", "MemorySize must be a number", NULL);
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)m->valuedouble);
    if (m->valuedouble < FN_MEMORY_MIN)
        return validation(err, "memorySize", v, "Member must have value greater than or equal to 128");
    if (m->valuedouble > FN_MEMORY_MAX)
        return validation(err, "memorySize", v, "Member must have value less than or equal to 10240");
    return 0;
}

static int check_timeout(cJSON *t, fn_error_t *err)
{
    char v[32];
    if (!cJSON_IsNumber(t)) return set_err(err, 400, "InvalidParameterValueException", "Timeout must be a number", NULL);
    snprintf(v, sizeof v, "%lld", (long long)t->valuedouble);
    if (t->valuedouble < 1) return validation(err, "timeout", v, "Member must have value greater than or equal to 1");
    if (t->valuedouble > FN_TIMEOUT_MAX)
        return validation(err, "timeout", v, "Member must have value less than or equal to 900");
    return 0;
}

/* The runtimes this platform runs: the OS-only ones (a bootstrap in the zip). A name outside
 * Lambda's enum is a ValidationException as on Lambda; a Lambda runtime that needs a language
 * image (python3.12, ...) is refused with InvalidParameterValueException. */
static int check_runtime(cJSON *r, fn_error_t *err)
{
    static const char *const lambda_runtimes[] = {
        "nodejs18.x", "nodejs20.x", "nodejs22.x", "python3.9", "python3.10", "python3.11",
        "python3.12", "python3.13", "java11", "java17", "java21", "dotnet8", "ruby3.2",
        "ruby3.3", "provided", NULL};
    if (!cJSON_IsString(r)) return set_err(err, 400, "InvalidParameterValueException", "Runtime must be a string", NULL);
    const char *v = r->valuestring;
    if (!strcmp(v, "provided.al2023") || !strcmp(v, "provided.al2")) return 0;
    for (int i = 0; lambda_runtimes[i]; i++)
        if (!strcmp(v, lambda_runtimes[i]))
            return set_err(err, 400, "InvalidParameterValueException",
                           "The runtime parameter of %.40s is not supported by this platform; use "
                           "provided.al2023 or provided.al2",
                           v);
    return validation(err, "runtime", v,
                      "Member must satisfy enum value set: [provided.al2023, provided.al2, "
                      "nodejs20.x, python3.12, java21, dotnet8, ruby3.3]");
}

static int check_arch(cJSON *a, char out[8], fn_error_t *err)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 1 || !cJSON_IsString(a->child)) {
        err->status = 400;
        err->type = "InvalidParameterValueException";
        snprintf(err->message, sizeof err->message,
                 "Architectures must hold exactly one of x86_64, arm64");
        return -1;
    }
    const char *v = a->child->valuestring;
    if (strcmp(v, "x86_64") && strcmp(v, "arm64")) {
        char list[80];
        snprintf(list, sizeof list, "[%.64s]", v);
        return validation(err, "architectures", list,
                          "Member must satisfy constraint: [Member must satisfy enum value set: "
                          "[x86_64, arm64]]");
    }
    snprintf(out, 8, "%s", v);
    return 0;
}

/* {"Variables":{"K":"V"}} -> a copy of the Variables object; keys as Lambda allows them. */
static int parse_env(cJSON *e, cJSON **out, fn_error_t *err)
{
    cJSON *vars = cJSON_GetObjectItemCaseSensitive(e, "Variables");
    if (!vars) vars = cJSON_CreateObject();
    else vars = cJSON_Duplicate(vars, 1);
    if (!cJSON_IsObject(vars)) {
        cJSON_Delete(vars);
        return set_err(err, 400, "InvalidParameterValueException", "Environment.Variables must be an object", NULL);
    }
    size_t total = 0;
    for (cJSON *v = vars->child; v; v = v->next) {
        size_t kl = strlen(v->string);
        int ok = cJSON_IsString(v) && kl > 0 &&
                 ((v->string[0] >= 'A' && v->string[0] <= 'Z') || (v->string[0] >= 'a' && v->string[0] <= 'z'));
        for (size_t i = 0; ok && i < kl; i++) {
            char c = v->string[i];
            ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        }
        if (!ok) {
            /* The message quotes the key: written before the copy holding it is freed. */
            set_err(err, 400, "InvalidParameterValueException",
                    "Environment variable keys must start with a letter and hold only letters, "
                    "digits and '_': %.64s", v->string);
            cJSON_Delete(vars);
            return -1;
        }
        total += kl + strlen(v->valuestring);
    }
    if (total > FN_MAX_ENV_BYTES) {
        cJSON_Delete(vars);
        return set_err(err, 400, "InvalidParameterValueException",
                       "Lambda was unable to configure your environment variables because the "
                       "environment variables you have provided exceeded the 4KB limit.%s", NULL);
    }
    *out = vars;
    return 0;
}

static int parse_tags(cJSON *t, cJSON *into, fn_error_t *err)
{
    if (!cJSON_IsObject(t)) return set_err(err, 400, "InvalidParameterValueException", "Tags must be an object", NULL);
    for (cJSON *v = t->child; v; v = v->next) {
        if (!cJSON_IsString(v) || strlen(v->string) > 128 || strlen(v->valuestring) > 256)
            return set_err(err, 400, "InvalidParameterValueException", "invalid tag %.64s", v->string);
        cJSON_DeleteItemFromObjectCaseSensitive(into, v->string);
        cJSON_AddStringToObject(into, v->string, v->valuestring);
    }
    if (cJSON_GetArraySize(into) > FN_MAX_TAGS)
        return set_err(err, 400, "InvalidParameterValueException", "a function has at most 50 tags%s", NULL);
    return 0;
}

static int copy_string(cJSON *o, const char *key, char *dst, size_t cap, fn_error_t *err)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap)
        return set_err(err, 400, "InvalidParameterValueException", "invalid %s", key);
    snprintf(dst, cap, "%s", v->valuestring);
    return 0;
}

static int parse_zip_field(cJSON *zf, unsigned char **zip, size_t *zip_len, fn_error_t *err)
{
    if (!cJSON_IsString(zf))
        return set_err(err, 400, "InvalidParameterValueException", "ZipFile must be base64 text%s", NULL);
    int rc = fn_base64_decode(zf->valuestring, strlen(zf->valuestring), zip, zip_len);
    if (rc == -ENOMEM) return set_err(err, 500, "ServiceException", "out of memory%s", NULL);
    if (rc < 0)
        return set_err(err, 400, "InvalidParameterValueException",
                       "Could not unzip uploaded file. Please check your file, then try to upload again.%s", NULL);
    if (*zip_len > FN_MAX_ZIP) {
        free(*zip);
        *zip = NULL;
        return set_err(err, 413, "RequestEntityTooLargeException",
                       "Request must be smaller than 69905067 bytes for the CreateFunction operation%s", NULL);
    }
    return 0;
}

/* Applies the configuration fields of o (those CreateFunction and UpdateFunctionConfiguration
 * share) to d. */
static int apply_config(cJSON *o, fn_def_t *d, fn_error_t *err)
{
    cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "Runtime"))) {
        if (check_runtime(v, err) < 0) return -1;
        snprintf(d->runtime, sizeof d->runtime, "%s", v->valuestring);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "MemorySize"))) {
        if (check_memory(v, err) < 0) return -1;
        d->memory_mb = (int64_t)v->valuedouble;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "Timeout"))) {
        if (check_timeout(v, err) < 0) return -1;
        d->timeout_s = (int64_t)v->valuedouble;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "Architectures")) && check_arch(v, d->arch, err) < 0)
        return -1;
    if ((v = cJSON_GetObjectItemCaseSensitive(o, "Environment"))) {
        cJSON *env;
        if (parse_env(v, &env, err) < 0) return -1;
        cJSON_Delete(d->env);
        d->env = env;
    }
    if (copy_string(o, "Handler", d->handler, sizeof d->handler, err) < 0 ||
        copy_string(o, "Role", d->role, sizeof d->role, err) < 0 ||
        copy_string(o, "Description", d->description, sizeof d->description, err) < 0)
        return -1;
    return 0;
}

int fn_parse_create(const char *body, size_t len, fn_def_t *d, unsigned char **zip,
                    size_t *zip_len, fn_error_t *err)
{
    *zip = NULL;
    *zip_len = 0;
    cJSON *o = cJSON_ParseWithLength(body, len);
    int rc = -1;
    if (!cJSON_IsObject(o)) {
        set_err(err, 400, "InvalidRequestContentException", "Could not parse request body into json%s", NULL);
        goto out;
    }
    cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "FunctionName");
    if (!cJSON_IsString(name) || !fn_name_ok(name->valuestring, strlen(name->valuestring))) {
        validation(err, "functionName", cJSON_IsString(name) ? name->valuestring : "",
                   "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]{1,64}");
        goto out;
    }
    snprintf(d->name, sizeof d->name, "%s", name->valuestring);
    if (!cJSON_GetObjectItemCaseSensitive(o, "Role")) {
        set_err(err, 400, "ValidationException", "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null%s", NULL);
        goto out;
    }
    if (!cJSON_GetObjectItemCaseSensitive(o, "Runtime")) {
        set_err(err, 400, "InvalidParameterValueException", "Runtime and Handler are mandatory parameters for functions created with deployment packages.%s", NULL);
        goto out;
    }
    cJSON *pt = cJSON_GetObjectItemCaseSensitive(o, "PackageType");
    if (pt && !(cJSON_IsString(pt) && !strcmp(pt->valuestring, "Zip"))) {
        set_err(err, 400, "InvalidParameterValueException", "this platform takes PackageType Zip only%s", NULL);
        goto out;
    }
    if (apply_config(o, d, err) < 0) goto out;
    cJSON *tags = cJSON_GetObjectItemCaseSensitive(o, "Tags");
    if (tags && parse_tags(tags, d->tags, err) < 0) goto out;
    cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "Code");
    cJSON *zf = cJSON_GetObjectItemCaseSensitive(code, "ZipFile");
    if (!zf) {
        set_err(err, 400, "InvalidParameterValueException", "Please provide a source for function code: this platform takes Code.ZipFile%s", NULL);
        goto out;
    }
    if (parse_zip_field(zf, zip, zip_len, err) < 0) goto out;
    rc = 0;
out:
    cJSON_Delete(o);
    return rc;
}

int fn_parse_update_config(const char *body, size_t len, fn_def_t *d, fn_error_t *err)
{
    cJSON *o = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return set_err(err, 400, "InvalidRequestContentException", "Could not parse request body into json%s", NULL);
    }
    fn_def_t tmp;
    int rc = fn_def_copy(&tmp, d);
    if (rc < 0) {
        cJSON_Delete(o);
        return set_err(err, 500, "ServiceException", "out of memory%s", NULL);
    }
    rc = apply_config(o, &tmp, err);
    cJSON_Delete(o);
    if (rc < 0) {
        fn_def_clear(&tmp);
        return -1;
    }
    fn_def_clear(d);
    *d = tmp;
    return 0;
}

int fn_parse_update_code(const char *body, size_t len, unsigned char **zip, size_t *zip_len,
                         char arch[8], fn_error_t *err)
{
    *zip = NULL;
    *zip_len = 0;
    cJSON *o = cJSON_ParseWithLength(body, len);
    int rc = -1;
    if (!cJSON_IsObject(o)) {
        set_err(err, 400, "InvalidRequestContentException", "Could not parse request body into json%s", NULL);
        goto out;
    }
    cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "Architectures");
    if (a && check_arch(a, arch, err) < 0) goto out;
    cJSON *zf = cJSON_GetObjectItemCaseSensitive(o, "ZipFile");
    if (!zf) {
        set_err(err, 400, "InvalidParameterValueException", "Please provide a source for function code: this platform takes ZipFile%s", NULL);
        goto out;
    }
    rc = parse_zip_field(zf, zip, zip_len, err);
out:
    cJSON_Delete(o);
    return rc;
}

/* ---- zip ------------------------------------------------------------------------------------ */

static zip_t *zip_from_buffer(const unsigned char *zip, size_t len)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(zip, len, 0, &ze);
    zip_t *z = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
    if (src && !z) zip_source_free(src);
    zip_error_fini(&ze);
    return z;
}

/* A name that would land outside the task root, or is not plain. */
static int entry_name_bad(const char *n)
{
    if (!n[0] || n[0] == '/' || strchr(n, '\\')) return 1;
    for (const char *p = n; *p;) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        if (l == 2 && !strncmp(p, "..", 2)) return 1;
        p += l + (slash ? 1 : 0);
    }
    return 0;
}

int fn_zip_check(const unsigned char *zip, size_t len, fn_error_t *err)
{
    static const char unzip_msg[] =
        "Could not unzip uploaded file. Please check your file, then try to upload again.%s";
    zip_t *z = zip_from_buffer(zip, len);
    if (!z) return set_err(err, 400, "InvalidParameterValueException", unzip_msg, NULL);
    int rc = -1;
    zip_int64_t n = zip_get_num_entries(z, 0);
    if (n < 0 || n > FN_MAX_ZIP_ENTRIES) {
        set_err(err, 400, "InvalidParameterValueException", unzip_msg, NULL);
        goto out;
    }
    uint64_t total = 0;
    int found = 0, exec = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) < 0 || !(st.valid & ZIP_STAT_NAME) ||
            entry_name_bad(st.name)) {
            set_err(err, 400, "InvalidParameterValueException", unzip_msg, NULL);
            goto out;
        }
        total += st.size;
        if (total > FN_MAX_UNZIPPED) {
            set_err(err, 400, "InvalidParameterValueException",
                    "Unzipped size must be smaller than 262144000 bytes%s", NULL);
            goto out;
        }
        if (!strcmp(st.name, "bootstrap")) {
            zip_uint8_t os;
            zip_uint32_t attr;
            found = 1;
            if (zip_file_get_external_attributes(z, (zip_uint64_t)i, 0, &os, &attr) == 0 &&
                os == ZIP_OPSYS_UNIX)
                exec = ((attr >> 16) & 0111) != 0 && ((attr >> 16) & S_IFMT) != S_IFDIR;
        }
    }
    if (!found) {
        set_err(err, 400, "InvalidParameterValueException",
                "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]%s", NULL);
        goto out;
    }
    if (!exec) {
        set_err(err, 400, "InvalidParameterValueException",
                "fork/exec /var/task/bootstrap: permission denied (bootstrap is not executable "
                "in the zip: give it mode 755)%s", NULL);
        goto out;
    }
    rc = 0;
out:
    zip_discard(z);
    return rc;
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc < 0 && errno != EEXIST) return -errno;
    }
    return 0;
}

int fn_zip_unpack(const unsigned char *zip, size_t len, const char *dir)
{
    if (mkdir(dir, 0755) < 0) return -errno;
    zip_t *z = zip_from_buffer(zip, len);
    if (!z) return -EINVAL;
    int rc = 0;
    char *buf = malloc(1 << 16);
    if (!buf) rc = -ENOMEM;
    zip_int64_t n = zip_get_num_entries(z, 0);
    for (zip_int64_t i = 0; rc == 0 && i < n; i++) {
        zip_stat_t st;
        if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) < 0 || entry_name_bad(st.name)) {
            rc = -EINVAL;
            break;
        }
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, st.name) >= sizeof path) {
            rc = -ENAMETOOLONG;
            break;
        }
        if ((rc = mkdirs(path)) < 0) break;
        size_t nl = strlen(st.name);
        if (st.name[nl - 1] == '/') continue; /* a directory entry: made by mkdirs */
        zip_uint8_t os;
        zip_uint32_t attr;
        mode_t mode = 0644;
        if (zip_file_get_external_attributes(z, (zip_uint64_t)i, 0, &os, &attr) == 0 &&
            os == ZIP_OPSYS_UNIX && ((attr >> 16) & 0111))
            mode = 0755;
        zip_file_t *zf = zip_fopen_index(z, (zip_uint64_t)i, 0);
        int fd = zf ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) : -1;
        if (fd < 0) {
            rc = zf ? -errno : -EINVAL;
            if (zf) zip_fclose(zf);
            break;
        }
        zip_int64_t r;
        while ((r = zip_fread(zf, buf, 1 << 16)) > 0) {
            if (write(fd, buf, (size_t)r) != r) {
                rc = -EIO;
                break;
            }
        }
        if (r < 0) rc = -EINVAL;
        close(fd);
        zip_fclose(zf);
    }
    free(buf);
    zip_discard(z);
    return rc;
}

/* ---- documents ----------------------------------------------------------------------------- */

void fn_def_touch(fn_def_t *d, int64_t now_ms, int64_t delay_ms, int updating)
{
    unsigned char r[16];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
        for (size_t i = 0; i < sizeof r; i++) r[i] = (unsigned char)rand();
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(d->revision_id, sizeof d->revision_id,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
    time_t s = (time_t)(now_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    int year = tm.tm_year + 1900;
    if (year > 9999 || year < 0) year = 9999;
    snprintf(d->last_modified, sizeof d->last_modified, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000",
             year, (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, (int)(now_ms % 1000));
    d->ready_at_ms = now_ms + delay_ms;
    d->updating = updating;
}

int fn_def_busy(const fn_def_t *d, int64_t now_ms)
{
    return now_ms < d->ready_at_ms;
}

cJSON *fn_config_json(const fn_def_t *d, const char *region, const char *account, int64_t now_ms)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    char arn[256];
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s", region, account, d->name);
    int busy = fn_def_busy(d, now_ms);
    cJSON_AddStringToObject(o, "FunctionName", d->name);
    cJSON_AddStringToObject(o, "FunctionArn", arn);
    cJSON_AddStringToObject(o, "Runtime", d->runtime);
    cJSON_AddStringToObject(o, "Role", d->role);
    cJSON_AddStringToObject(o, "Handler", d->handler);
    cJSON_AddNumberToObject(o, "CodeSize", (double)d->code_size);
    cJSON_AddStringToObject(o, "Description", d->description);
    cJSON_AddNumberToObject(o, "Timeout", (double)d->timeout_s);
    cJSON_AddNumberToObject(o, "MemorySize", (double)d->memory_mb);
    cJSON_AddStringToObject(o, "LastModified", d->last_modified);
    cJSON_AddStringToObject(o, "CodeSha256", d->code_sha256);
    cJSON_AddStringToObject(o, "Version", "$LATEST");
    cJSON *env = cJSON_AddObjectToObject(o, "Environment");
    if (env) cJSON_AddItemToObject(env, "Variables", cJSON_Duplicate(d->env, 1));
    cJSON *tc = cJSON_AddObjectToObject(o, "TracingConfig");
    if (tc) cJSON_AddStringToObject(tc, "Mode", "PassThrough");
    cJSON_AddStringToObject(o, "RevisionId", d->revision_id);
    cJSON_AddStringToObject(o, "PackageType", "Zip");
    cJSON *arch = cJSON_AddArrayToObject(o, "Architectures");
    if (arch) cJSON_AddItemToArray(arch, cJSON_CreateString(d->arch));
    cJSON *es = cJSON_AddObjectToObject(o, "EphemeralStorage");
    if (es) cJSON_AddNumberToObject(es, "Size", 512);
    if (busy && !d->updating) {
        cJSON_AddStringToObject(o, "State", "Pending");
        cJSON_AddStringToObject(o, "StateReason", "The function is being created.");
        cJSON_AddStringToObject(o, "StateReasonCode", "Creating");
    } else {
        cJSON_AddStringToObject(o, "State", "Active");
    }
    if (d->updating) {
        cJSON_AddStringToObject(o, "LastUpdateStatus", busy ? "InProgress" : "Successful");
        if (busy) {
            cJSON_AddStringToObject(o, "LastUpdateStatusReason", "The function is being updated.");
            cJSON_AddStringToObject(o, "LastUpdateStatusReasonCode", "Updating");
        }
    } else {
        cJSON_AddStringToObject(o, "LastUpdateStatus", busy ? "InProgress" : "Successful");
    }
    return o;
}

char *fn_def_save_json(const fn_def_t *d)
{
    cJSON *o = fn_config_json(d, "us-east-1", "000000000000", d->ready_at_ms);
    if (!o) return NULL;
    cJSON_AddItemToObject(o, "Tags", cJSON_Duplicate(d->tags, 1));
    cJSON_AddNumberToObject(o, "CodeVersion", (double)d->code_version);
    cJSON_AddNumberToObject(o, "ReservedConcurrency", (double)d->reserved_concurrency);
    cJSON_AddNumberToObject(o, "MaximumRetryAttempts", (double)d->max_retry_attempts);
    cJSON_AddNumberToObject(o, "MaximumEventAgeInSeconds", (double)d->max_event_age_s);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}

static int64_t num(cJSON *o, const char *k, int64_t dflt)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

int fn_def_load_json(const char *text, size_t len, fn_def_t *d)
{
    cJSON *o = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return -EINVAL;
    }
    fn_def_init(d);
    fn_error_t err;
    int rc = -EINVAL;
    cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "FunctionName");
    if (!cJSON_IsString(name) || !fn_name_ok(name->valuestring, strlen(name->valuestring))) goto out;
    snprintf(d->name, sizeof d->name, "%s", name->valuestring);
    if (apply_config(o, d, &err) < 0) goto out;
    cJSON *tags = cJSON_GetObjectItemCaseSensitive(o, "Tags");
    if (tags && parse_tags(tags, d->tags, &err) < 0) goto out;
    if (copy_string(o, "CodeSha256", d->code_sha256, sizeof d->code_sha256, &err) < 0 ||
        copy_string(o, "RevisionId", d->revision_id, sizeof d->revision_id, &err) < 0 ||
        copy_string(o, "LastModified", d->last_modified, sizeof d->last_modified, &err) < 0)
        goto out;
    d->code_size = num(o, "CodeSize", 0);
    d->code_version = (uint64_t)num(o, "CodeVersion", 1);
    d->reserved_concurrency = num(o, "ReservedConcurrency", -1);
    d->max_retry_attempts = num(o, "MaximumRetryAttempts", -1);
    d->max_event_age_s = num(o, "MaximumEventAgeInSeconds", -1);
    rc = 0;
out:
    if (rc < 0) fn_def_clear(d);
    cJSON_Delete(o);
    return rc;
}
