/* awscreds_parse.c -- parsers for where AWS credentials come from: the shared INI files,
 * credential_process and IMDS/container JSON, ISO 8601 expiry times. Pure; bounded. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "awscreds_parse.h"

/* Trims blanks at both ends of [*start, *end). */
static void trim(const char **start, const char **end)
{
    while (*start < *end && isspace((unsigned char)**start))
        (*start)++;
    while (*end > *start && isspace((unsigned char)(*end)[-1]))
        (*end)--;
}

static int span_equals(const char *s, const char *e, const char *want, int nocase)
{
    size_t n = strlen(want);
    if ((size_t)(e - s) != n) return 0;
    return nocase ? strncasecmp(s, want, n) == 0 : memcmp(s, want, n) == 0;
}

/* Walks the lines of text, calling back for the value of KEY in [SECTION] (1 found) or noting
 * the section (found_section). One walk serves both lookups so they agree on the syntax. */
static int ini_walk(const char *text, size_t len, const char *section, const char *key,
                    const char **vs, const char **ve, int *found_section)
{
    const char *p = text, *end = text + len;
    int in_section = 0;
    *found_section = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        const char *s = p, *e = line_end;
        int indented = s < e && (*s == ' ' || *s == '\t');
        p = nl ? nl + 1 : end;
        trim(&s, &e);
        if (s == e || *s == '#' || *s == ';') continue;
        if (*s == '[') {
            const char *close = memchr(s, ']', (size_t)(e - s));
            if (!close) {
                in_section = 0;
                continue;
            }
            const char *ns = s + 1, *ne = close;
            trim(&ns, &ne);
            /* `[profile  name]` is `[profile name]`: collapse the blanks after "profile". */
            if (ne - ns > 8 && !memcmp(ns, "profile", 7) && isspace((unsigned char)ns[7])) {
                const char *name = ns + 8;
                while (name < ne && isspace((unsigned char)*name))
                    name++;
                in_section =
                    !strncmp(section, "profile ", 8) && span_equals(name, ne, section + 8, 0);
            } else {
                in_section = span_equals(ns, ne, section, 0);
            }
            if (in_section) *found_section = 1;
            continue;
        }
        if (!in_section || indented || !key) continue;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (!eq) continue;
        const char *ks = s, *ke = eq, *v0 = eq + 1, *v1 = e;
        trim(&ks, &ke);
        trim(&v0, &v1);
        if (span_equals(ks, ke, key, 1)) {
            *vs = v0;
            *ve = v1;
            return 1;
        }
    }
    return 0;
}

int awscreds_ini_lookup(const char *text, size_t len, const char *section, const char *key,
                        char *out, size_t cap)
{
    if (len > AWSCREDS_FILE_MAX) return -EINVAL;
    const char *vs = NULL, *ve = NULL;
    int found_section;
    if (!ini_walk(text, len, section, key, &vs, &ve, &found_section)) return 0;
    size_t n = (size_t)(ve - vs);
    if (n + 1 > cap) return -E2BIG;
    memcpy(out, vs, n);
    out[n] = 0;
    return 1;
}

int awscreds_ini_has_section(const char *text, size_t len, const char *section)
{
    if (len > AWSCREDS_FILE_MAX) return 0;
    const char *vs, *ve;
    int found_section;
    ini_walk(text, len, section, NULL, &vs, &ve, &found_section);
    return found_section;
}

static int take_string(const cJSON *doc, const char *name, int required, char *out, size_t cap,
                       char *err, size_t errlen)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, name);
    if (!item) {
        out[0] = 0;
        if (!required) return 0;
        snprintf(err, errlen, "%s is missing", name);
        return -EINVAL;
    }
    if (!cJSON_IsString(item) || !item->valuestring) {
        snprintf(err, errlen, "%s is not a string", name);
        return -EINVAL;
    }
    size_t n = strlen(item->valuestring);
    if ((required && n == 0) || n + 1 > cap) {
        snprintf(err, errlen, "%s is %s", name, n ? "too long" : "empty");
        return -EINVAL;
    }
    memcpy(out, item->valuestring, n + 1);
    return 0;
}

int awscreds_parse_json(const char *text, size_t len, awscreds_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > AWSCREDS_BODY_MAX) {
        snprintf(err, errlen, "document of %zu bytes is over the %d-byte limit", len,
                 AWSCREDS_BODY_MAX);
        return -EINVAL;
    }
    cJSON *doc = cJSON_ParseWithLength(text, len);
    int rc = -EINVAL;
    char when[64];
    if (!doc || !cJSON_IsObject(doc)) {
        snprintf(err, errlen, "not a JSON object");
        goto fail;
    }
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(doc, "Version");
    if (version && !(cJSON_IsNumber(version) && version->valuedouble == 1)) {
        snprintf(err, errlen, "Version is not 1");
        goto fail;
    }
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(doc, "Code");
    if (code && !(cJSON_IsString(code) && !strcmp(code->valuestring, "Success"))) {
        snprintf(err, errlen, "Code is not Success");
        goto fail;
    }
    if (take_string(doc, "AccessKeyId", 1, out->access_key_id, sizeof out->access_key_id, err,
                    errlen) < 0 ||
        take_string(doc, "SecretAccessKey", 1, out->secret_access_key,
                    sizeof out->secret_access_key, err, errlen) < 0)
        goto fail;
    /* credential_process says SessionToken, IMDS and the container agents say Token. */
    const char *token_name =
        cJSON_GetObjectItemCaseSensitive(doc, "SessionToken") ? "SessionToken" : "Token";
    if (take_string(doc, token_name, 0, out->session_token, sizeof out->session_token, err,
                    errlen) < 0 ||
        take_string(doc, "Expiration", 0, when, sizeof when, err, errlen) < 0)
        goto fail;
    if (when[0] && awscreds_parse_time(when, &out->expires_ms) < 0) {
        snprintf(err, errlen, "Expiration is not an ISO 8601 time");
        goto fail;
    }
    if (awscreds_keys_check(out, err, errlen) < 0) goto fail;
    rc = 0;
fail:
    cJSON_Delete(doc);
    if (rc < 0) explicit_bzero(out, sizeof *out);
    return rc;
}

int awscreds_keys_check(const awscreds_t *keys, char *err, size_t errlen)
{
    /* Keys go into an HTTP header and "id:secret": no ':' in the id, nothing unprintable. */
    if (!keys->access_key_id[0] || !keys->secret_access_key[0]) {
        snprintf(err, errlen, "the access key id or the secret key is empty");
        return -EINVAL;
    }
    for (const char *s = keys->access_key_id; *s; s++)
        if (!isalnum((unsigned char)*s)) {
            snprintf(err, errlen, "AccessKeyId has a character other than letters and digits");
            return -EINVAL;
        }
    for (const char *s = keys->secret_access_key; *s; s++)
        if (!isgraph((unsigned char)*s)) {
            snprintf(err, errlen, "SecretAccessKey has an unprintable character");
            return -EINVAL;
        }
    for (const char *s = keys->session_token; *s; s++)
        if (!isgraph((unsigned char)*s)) {
            snprintf(err, errlen, "the session token has an unprintable character");
            return -EINVAL;
        }
    return 0;
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int awscreds_parse_time(const char *s, int64_t *ms)
{
    int year, mon, day, hour, min, sec, frac_ms = 0;
    const char *p = s;
    if (digits(&p, 4, &year) < 0 || *p++ != '-' || digits(&p, 2, &mon) < 0 || *p++ != '-' ||
        digits(&p, 2, &day) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
        return -EINVAL;
    p++;
    if (digits(&p, 2, &hour) < 0 || *p++ != ':' || digits(&p, 2, &min) < 0 || *p++ != ':' ||
        digits(&p, 2, &sec) < 0)
        return -EINVAL;
    if (*p == '.') {
        p++;
        int n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n < 3) frac_ms = frac_ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0 || n > 9) return -EINVAL;
        for (; n < 3; n++)
            frac_ms *= 10;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (digits(&p, 2, &oh) < 0) return -EINVAL;
        if (*p == ':') p++;
        if (digits(&p, 2, &om) < 0 || oh > 23 || om > 59) return -EINVAL;
        offset_min = sign * (oh * 60 + om);
    } else {
        return -EINVAL;
    }
    if (*p || year < 1970 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 ||
        sec > 60)
        return -EINVAL;
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = mon - 1,
                    .tm_mday = day,
                    .tm_hour = hour,
                    .tm_min = min,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -EINVAL;
    *ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + frac_ms;
    return 0;
}

int awscreds_is_ipv4(const char *s)
{
    int parts = 0;
    while (parts < 4) {
        int v = 0, n = 0;
        while (isdigit((unsigned char)*s) && n < 4) {
            v = v * 10 + (*s++ - '0');
            n++;
        }
        if (n == 0 || n > 3 || v > 255) return 0;
        parts++;
        if (parts < 4 && *s++ != '.') return 0;
    }
    return *s == 0;
}

int awscreds_full_uri_allowed(const char *uri)
{
    if (!strncasecmp(uri, "https://", 8)) return uri[8] != 0;
    if (strncasecmp(uri, "http://", 7)) return 0;
    const char *host = uri + 7, *end = host;
    char h[64];
    if (*host == '[') {
        end = strchr(host, ']');
        if (!end) return 0;
        end++;
    } else {
        while (*end && *end != ':' && *end != '/' && *end != '?')
            end++;
    }
    size_t n = (size_t)(end - host);
    if (n == 0 || n >= sizeof h) return 0;
    memcpy(h, host, n);
    h[n] = 0;
    if (*end && *end != ':' && *end != '/' && *end != '?') return 0;
    if (!strcasecmp(h, "localhost") || !strcmp(h, "[::1]") || !strcmp(h, "169.254.170.2") ||
        !strcmp(h, "169.254.170.23"))
        return 1;
    return awscreds_is_ipv4(h) && !strncmp(h, "127.", 4);
}

int awscreds_region_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 63) return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '-')) return 0;
    return 1;
}
