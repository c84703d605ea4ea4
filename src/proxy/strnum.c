/* strnum.c -- numbers in string values with Redis's exact syntax and formatting (strnum.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"
#include "strnum.h"

/* Redis's LONG_STR_SIZE (21) and MAX_LONG_DOUBLE_CHARS (5 KiB) bound what it parses. */
#define LONG_STR_SIZE 21
#define MAX_LONG_DOUBLE_CHARS (5 * 1024)

int strnum_parse_i64(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || len >= LONG_STR_SIZE) return -1;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 0;
    }
    /* The first digit is 1-9: "007", "-0" and "+1" are not integers to Redis. The rest (digits
     * after an optional '-', within int64) is RESP's integer syntax. */
    size_t i = s[0] == '-';
    if (i >= len || s[i] < '1' || s[i] > '9') return -1;
    return resp_parse_i64(s, len, out);
}

int strnum_parse_ld(const char *s, size_t len, long double *out)
{
    char buf[MAX_LONG_DOUBLE_CHARS];
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || *end != '\0' ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        isnan(v))
        return -1;
    *out = v;
    return 0;
}

int strnum_format_ld(char *buf, size_t cap, long double v)
{
    if (isinf(v)) { /* Redis writes these as "inf" and "-inf" */
        int l = snprintf(buf, cap, "%s", v > 0 ? "inf" : "-inf");
        return l < 0 || (size_t)l >= cap ? -1 : l;
    }
    int n = snprintf(buf, cap, "%.17Lf", v);
    if (n < 0 || (size_t)n + 1 > cap) return -1;
    size_t l = (size_t)n;
    if (strchr(buf, '.')) {
        while (buf[l - 1] == '0')
            l--;
        if (buf[l - 1] == '.') l--;
    }
    if (l == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        l = 1;
    }
    buf[l] = 0;
    return (int)l;
}

int strnum_format_i64(char *buf, int64_t v)
{
    return snprintf(buf, 21, "%lld", (long long)v);
}
