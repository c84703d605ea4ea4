/* strnum.h -- numbers in string values as Redis reads and writes them (INCR, INCRBYFLOAT,
 * offsets): its strict integer syntax, its long-double syntax and its human float format. */
#ifndef IC_PROXY_STRNUM_H
#define IC_PROXY_STRNUM_H

#include <stddef.h>
#include <stdint.h>

/* Redis's string2ll: an optional '-', then digits with no leading zero (only "0" itself), at
 * most 20 characters, within int64. 0, or -1 when s is not such an integer. */
int strnum_parse_i64(const char *s, size_t len, int64_t *out);
/* Redis's string2ld: what strtold takes in full, with no leading space, not NaN, and no
 * overflow or underflow to zero. 0 or -1. */
int strnum_parse_ld(const char *s, size_t len, long double *out);
/* Redis's ld2string in human mode ("%.17Lf" with trailing zeros and a trailing '.' trimmed;
 * "-0" is "0"): the length written into buf (NUL-terminated), or -1 if it does not fit. */
int strnum_format_ld(char *buf, size_t cap, long double v);
/* The decimal text of v into buf (at least 21 bytes): its length. */
int strnum_format_i64(char *buf, int64_t v);

#endif
