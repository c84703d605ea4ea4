/* test_config.c -- option tables: defaults, config file, flags over file, bad values, suffixes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

typedef struct {
    int64_t port;
    int64_t mem;
    int64_t timeout;
    int verbose;
    char *name;
} cfg_t;

static const conf_option_t table[] = {
    {"port", CONF_INT, offsetof(cfg_t, port), 1, 65535, "6378", "port to listen on", 0},
    {"mem", CONF_BYTES, offsetof(cfg_t, mem), 0, (int64_t)4 << 30, "64k", "memory", 0},
    {"timeout", CONF_MS, offsetof(cfg_t, timeout), 0, 3600000, "2s", "timeout", 0},
    {"verbose", CONF_BOOL, offsetof(cfg_t, verbose), 0, 1, "no", "chatty", 0},
    {"name", CONF_STRING, offsetof(cfg_t, name), 0, 0, "", "a name", 0},
    CONF_END,
};

static char err[256];

static void test_defaults(void **state)
{
    (void)state;
    cfg_t c = {0};
    assert_int_equal(conf_defaults(table, &c, err, sizeof err), 0);
    assert_int_equal(c.port, 6378);
    assert_int_equal(c.mem, 65536);
    assert_int_equal(c.timeout, 2000);
    assert_int_equal(c.verbose, 0);
    assert_string_equal(c.name, "");
    free(c.name);
}

static void test_suffixes(void **state)
{
    (void)state;
    int64_t v;
    assert_int_equal(conf_parse_bytes("10", &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(conf_parse_bytes("3k", &v), 0);
    assert_int_equal(v, 3072);
    assert_int_equal(conf_parse_bytes("2MB", &v), 0);
    assert_int_equal(v, 2 << 20);
    assert_int_equal(conf_parse_bytes("1GiB", &v), 0);
    assert_int_equal(v, 1 << 30);
    assert_int_equal(conf_parse_bytes("1x", &v), -1);
    assert_int_equal(conf_parse_bytes("", &v), -1);
    assert_int_equal(conf_parse_bytes("k", &v), -1);
    assert_int_equal(conf_parse_bytes("99999999999999g", &v), -1);
    assert_int_equal(conf_parse_ms("250", &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(conf_parse_ms("250ms", &v), 0);
    assert_int_equal(v, 250);
    assert_int_equal(conf_parse_ms("3s", &v), 0);
    assert_int_equal(v, 3000);
    assert_int_equal(conf_parse_ms("2m", &v), 0);
    assert_int_equal(v, 120000);
    assert_int_equal(conf_parse_ms("1h", &v), 0);
    assert_int_equal(v, 3600000);
    assert_int_equal(conf_parse_ms("1d", &v), -1);
}

static void test_bad_values_and_ranges(void **state)
{
    (void)state;
    cfg_t c = {0};
    conf_defaults(table, &c, err, sizeof err);
    assert_int_equal(conf_set(table, &c, "port", "0", err, sizeof err), -1);
    assert_non_null(strstr(err, "out of range"));
    assert_int_equal(conf_set(table, &c, "port", "65536", err, sizeof err), -1);
    assert_int_equal(conf_set(table, &c, "port", "12x", err, sizeof err), -1);
    assert_int_equal(conf_set(table, &c, "port", "", err, sizeof err), -1);
    assert_int_equal(c.port, 6378); /* a rejected value leaves the old one */
    assert_int_equal(conf_set(table, &c, "port", "65535", err, sizeof err), 0);
    assert_int_equal(c.port, 65535);
    assert_int_equal(conf_set(table, &c, "mem", "5g", err, sizeof err), -1);
    assert_int_equal(conf_set(table, &c, "mem", "4g", err, sizeof err), 0);
    assert_int_equal(c.mem, (int64_t)4 << 30);
    assert_int_equal(conf_set(table, &c, "verbose", "maybe", err, sizeof err), -1);
    assert_int_equal(conf_set(table, &c, "verbose", "YES", err, sizeof err), 0);
    assert_int_equal(c.verbose, 1);
    assert_int_equal(conf_set(table, &c, "nosuch", "1", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown option"));
    free(c.name);
}

static char *write_temp(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/ic_test_config_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_file_and_flags(void **state)
{
    (void)state;
    char *path =
        write_temp("# comment\n\n  port 7000\nmem 1m  \nname \"hello world\"\ntimeout 5s\n");
    char cfgflag[80];
    snprintf(cfgflag, sizeof cfgflag, "--config=%s", path);
    char *argv[] = {"prog", "--port", "7001", cfgflag, "--verbose", "--timeout=100", NULL};
    cfg_t c = {0};
    assert_int_equal(conf_parse_args(table, &c, 6, argv, "usage", err, sizeof err), 0);
    assert_int_equal(c.port, 7001); /* the flag wins over the file, whatever the order */
    assert_int_equal(c.mem, 1 << 20);
    assert_int_equal(c.timeout, 100);
    assert_int_equal(c.verbose, 1);
    assert_string_equal(c.name, "hello world");
    free(c.name);

    /* A bad line names the file and the line. */
    char *bad = write_temp("port 7000\nport nope\n");
    cfg_t d = {0};
    conf_defaults(table, &d, err, sizeof err);
    assert_int_equal(conf_load_file(table, &d, bad, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2:"));
    free(d.name);
    unlink(bad);
    unlink(path);

    cfg_t e = {0};
    char *argv2[] = {"prog", "--config", "/nonexistent/ic.conf", NULL};
    assert_int_equal(conf_parse_args(table, &e, 3, argv2, "usage", err, sizeof err), -1);
    free(e.name);
    cfg_t f = {0};
    char *argv3[] = {"prog", "stray", NULL};
    assert_int_equal(conf_parse_args(table, &f, 2, argv3, "usage", err, sizeof err), -1);
    free(f.name);
    cfg_t g = {0};
    char *argv4[] = {"prog", "--port", NULL};
    assert_int_equal(conf_parse_args(table, &g, 2, argv4, "usage", err, sizeof err), -1);
    assert_non_null(strstr(err, "needs a value"));
    free(g.name);
}

static void test_help_and_sample(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    conf_print_help(table, f, "usage: prog");
    conf_print_sample(table, f);
    cfg_t c = {0};
    conf_defaults(table, &c, err, sizeof err);
    conf_print_values(table, &c, f);
    fclose(f);
    assert_non_null(strstr(buf, "--port N"));
    assert_non_null(strstr(buf, "timeout 2s"));
    assert_non_null(strstr(buf, "timeout 2000"));
    free(buf);
    free(c.name);
}

static void test_tokens(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(conf_token_check(" \t0123456789abcdef\r\n", 16, 32, out, sizeof out), 0);
    assert_string_equal(out, "0123456789abcdef");
    assert_int_equal(conf_token_check("0123456789abcde", 16, 32, out, sizeof out), -EINVAL);
    assert_int_equal(conf_token_check("", 16, 32, out, sizeof out), -EINVAL);
    assert_int_equal(conf_token_check("0123456789 abcdef", 16, 32, out, sizeof out), -EINVAL);
    assert_int_equal(conf_token_check("0123456789\x01"
                                      "abcdef",
                                      16, 32, out, sizeof out),
                     -EINVAL);
    assert_int_equal(conf_token_check("0123456789\xc3\xa9"
                                      "abcdef",
                                      16, 32, out, sizeof out),
                     -EINVAL);
    assert_int_equal(conf_token_check("0123456789abcdef0123456789abcdef!", 16, 32, out, sizeof out),
                     -EINVAL);
    /* A buffer too small for the token is refused, never overrun. */
    assert_int_equal(conf_token_check("0123456789abcdef", 16, 32, out, 16), -EINVAL);

    char path[] = "/tmp/test_config_token_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char text[] = "  tok-0123456789ABCDEF~  \nsecond line is ignored\n";
    assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    assert_int_equal(conf_token_read_file(path, 16, 32, out, sizeof out), 0);
    assert_string_equal(out, "tok-0123456789ABCDEF~");
    unlink(path);
    assert_int_equal(conf_token_read_file(path, 16, 32, out, sizeof out), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_suffixes),
        cmocka_unit_test(test_bad_values_and_ranges),
        cmocka_unit_test(test_file_and_flags),
        cmocka_unit_test(test_help_and_sample),
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
