/* globmatch.h -- Redis's glob-style pattern matching (KEYS, SCAN MATCH), binary-safe. */
#ifndef IC_COMMON_GLOBMATCH_H
#define IC_COMMON_GLOBMATCH_H

#include <stddef.h>

/* Patterns nested deeper than this (one level per '*') match nothing, as in Redis 7.2+: it bounds
 * the recursion a client's pattern can cause. */
#define GLOBMATCH_MAX_NESTING 1000

/* 1 if the string s (slen bytes) matches the pattern (plen bytes), else 0. The syntax is Redis's
 * stringmatchlen(): '*' any run, '?' any byte, '[abc]' '[^abc]' '[a-z]' classes (a reversed range
 * is swapped; an unclosed class ends at the pattern's end), '\x' the byte x, inside classes too.
 * Bytes compare as Redis compares them on x86-64, where char is signed: in a range, bytes 0x80
 * and up sort below 0x00. Neither buffer needs a terminating NUL. */
int globmatch(const char *pattern, size_t plen, const char *s, size_t slen);

#endif
