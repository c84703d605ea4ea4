/* globmatch.c -- Redis's stringmatchlen() semantics with every read bounded by the lengths. */
#include "globmatch.h"

/* Redis reads one byte past the pattern in a few places (its strings end with a NUL); here each
 * such read is a length check, which gives the same answers since a NUL is never '*' or ']'.
 * *skip_longer is Redis's fix for exponential backtracking: once the rest of a pattern after a
 * '*' matches no suffix of the string, an earlier '*' trying longer runs cannot help either. */
static int match(const char *p, size_t plen, const char *s, size_t slen, int *skip_longer,
                 int nesting)
{
    if (nesting > GLOBMATCH_MAX_NESTING) return 0;
    while (plen && slen) {
        switch (p[0]) {
        case '*':
            while (plen > 1 && p[1] == '*') {
                p++;
                plen--;
            }
            if (plen == 1) return 1;
            while (slen) {
                if (match(p + 1, plen - 1, s, slen, skip_longer, nesting + 1)) return 1;
                if (*skip_longer) return 0;
                s++;
                slen--;
            }
            *skip_longer = 1;
            return 0;
        case '?':
            s++;
            slen--;
            break;
        case '[': {
            int negate, matched = 0;
            p++;
            plen--;
            negate = plen > 0 && p[0] == '^';
            if (negate) {
                p++;
                plen--;
            }
            for (;;) {
                if (plen >= 2 && p[0] == '\\') {
                    p++;
                    plen--;
                    if (p[0] == s[0]) matched = 1;
                } else if (plen >= 1 && p[0] == ']') {
                    break;
                } else if (plen == 0) {
                    /* An unclosed class: step back so the loop below consumes the last byte. */
                    p--;
                    plen++;
                    break;
                } else if (plen >= 3 && p[1] == '-') {
                    int lo = (signed char)p[0], hi = (signed char)p[2], c = (signed char)s[0];
                    if (lo > hi) {
                        int t = lo;
                        lo = hi;
                        hi = t;
                    }
                    p += 2;
                    plen -= 2;
                    if (c >= lo && c <= hi) matched = 1;
                } else if (p[0] == s[0]) {
                    matched = 1;
                }
                p++;
                plen--;
            }
            if (negate) matched = !matched;
            if (!matched) return 0;
            s++;
            slen--;
            break;
        }
        case '\\':
            if (plen >= 2) {
                p++;
                plen--;
            }
            /* fall through */
        default:
            if (p[0] != s[0]) return 0;
            s++;
            slen--;
            break;
        }
        p++;
        plen--;
        if (slen == 0) {
            while (plen && *p == '*') {
                p++;
                plen--;
            }
            break;
        }
    }
    return plen == 0 && slen == 0;
}

int globmatch(const char *pattern, size_t plen, const char *s, size_t slen)
{
    int skip_longer = 0;
    return match(pattern, plen, s, slen, &skip_longer, 0);
}
