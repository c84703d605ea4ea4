/* test_wbjournal.c -- the write-behind journal (wbjournal.c): records format and parse back,
 * malformed and torn lines are refused, and a replay yields what was queued and not finished,
 * stopping at a torn tail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "wbjournal.h"

static void test_roundtrip(void **state)
{
    (void)state;
    char line[WBJ_LINE_MAX + 1], key[WBJ_KEY_MAX];
    const char bin[] = {'k', 0, '\n', (char)0xff};
    wbj_rec_t q = {WBJ_QUEUED, 42, (char *)bin, sizeof bin}, got;
    int n = wbj_format(&q, line, sizeof line);
    assert_true(n > 0 && line[n - 1] == '\n');
    assert_int_equal(wbj_parse(line, (size_t)n - 1, &got, key, sizeof key), 0);
    assert_int_equal(got.kind, WBJ_QUEUED);
    assert_true(got.seq == 42 && got.keylen == sizeof bin && !memcmp(got.key, bin, sizeof bin));
    wbj_rec_t u = {WBJ_DONE, 18446744073709551615ULL, NULL, 0};
    n = wbj_format(&u, line, sizeof line);
    assert_int_equal(wbj_parse(line, (size_t)n - 1, &got, key, sizeof key), 0);
    assert_int_equal(got.kind, WBJ_DONE);
    assert_true(got.seq == 18446744073709551615ULL);
    /* Too small a buffer refuses to format. */
    assert_int_equal(wbj_format(&q, line, 10), -1);
}

static void test_malformed(void **state)
{
    (void)state;
    char line[WBJ_LINE_MAX + 1], key[WBJ_KEY_MAX];
    wbj_rec_t q = {WBJ_QUEUED, 7, "abc", 3}, got;
    int n = wbj_format(&q, line, sizeof line) - 1;
    /* Every single-byte change is caught (most by the CRC). */
    for (int i = 0; i < n; i++) {
        char saved = line[i];
        line[i] = (char)(saved ^ 0x01);
        assert_int_equal(wbj_parse(line, (size_t)n, &got, key, sizeof key), -1);
        line[i] = saved;
    }
    /* Every truncation too (a torn write). */
    for (int l = 0; l < n; l++)
        assert_int_equal(wbj_parse(line, (size_t)l, &got, key, sizeof key), -1);
    /* A key larger than the caller's buffer is refused. */
    assert_int_equal(wbj_parse(line, (size_t)n, &got, key, 2), -1);
    static const char *const bad[] = {"", "Q", "X 1 00000000", "U  1 00000000",
                                      "garbage line here"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(wbj_parse(bad[i], strlen(bad[i]), &got, key, sizeof key), -1);
}

typedef struct {
    int n;
    uint64_t seqs[8];
    char keys[8][16];
} seen_t;

static void on_queued(uint64_t seq, const char *key, size_t keylen, void *arg)
{
    seen_t *s = arg;
    s->seqs[s->n] = seq;
    snprintf(s->keys[s->n], sizeof s->keys[0], "%.*s", (int)keylen, key);
    s->n++;
}

static void append(FILE *f, wbj_kind_t kind, uint64_t seq, const char *key)
{
    char line[256];
    wbj_rec_t r = {kind, seq, (char *)key, key ? strlen(key) : 0};
    int n = wbj_format(&r, line, sizeof line);
    fwrite(line, 1, (size_t)n, f);
}

static void test_replay(void **state)
{
    (void)state;
    char path[] = "/tmp/test_wbjournal_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    append(f, WBJ_QUEUED, 1, "a");
    append(f, WBJ_QUEUED, 2, "b");
    append(f, WBJ_DONE, 1, NULL);
    append(f, WBJ_QUEUED, 3, "c");
    append(f, WBJ_DONE, 9, NULL); /* finishes nothing known: ignored */
    fputs("Q 4 6", f);            /* torn: no CRC, no newline */
    fclose(f);
    seen_t s = {0};
    uint64_t bad = 0;
    assert_int_equal(wbj_replay(path, on_queued, &s, &bad), 9);
    assert_int_equal(bad, 1);
    assert_int_equal(s.n, 2);
    assert_true(s.seqs[0] == 2 && s.seqs[1] == 3);
    assert_string_equal(s.keys[0], "b");
    assert_string_equal(s.keys[1], "c");
    unlink(path);
    /* An absent journal is an empty queue. */
    memset(&s, 0, sizeof s);
    assert_int_equal(wbj_replay(path, on_queued, &s, &bad), 0);
    assert_int_equal(s.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
