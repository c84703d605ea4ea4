/* test_auth.c -- the client port's users: ACL line parsing (accepted rules, every refusal), loading
 * requirepass and ACL files, password checks, and the protected-mode decision. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "auth.h"

static int parse(const char *line, auth_user_t *u, char *err)
{
    return auth_parse_line(line, strlen(line), u, err, 256);
}

static void test_parse_accepted(void **state)
{
    auth_user_t u;
    char err[256];
    assert_int_equal(parse("", &u, err), 0);
    assert_int_equal(parse("   \t\r\n", &u, err), 0);
    assert_int_equal(parse("# a comment >secret", &u, err), 0);
    assert_int_equal(parse("user alice on >a1 >a2 ~* +@all\n", &u, err), 1);
    assert_string_equal(u.name, "alice");
    assert_true(u.enabled);
    assert_false(u.nopass);
    assert_int_equal(u.npass, 2);
    assert_int_equal(parse("user bob off >b ~* +@all", &u, err), 1);
    assert_false(u.enabled);
    assert_int_equal(parse("user bob off", &u, err), 1); /* a disabled user needs no grants */
    assert_int_equal(parse("USER carol ON nopass allkeys allcommands", &u, err), 1);
    assert_true(u.nopass);
    assert_int_equal(u.npass, 0);
    /* Rules apply in order: a password after nopass clears it, resetpass clears both. */
    assert_int_equal(parse("user d on nopass >x ~* +@all", &u, err), 1);
    assert_false(u.nopass);
    assert_int_equal(u.npass, 1);
    assert_int_equal(parse("user d on >x resetpass ~* +@all", &u, err), 1);
    assert_false(u.nopass);
    assert_int_equal(u.npass, 0);
    assert_int_equal(
        parse("user e on #5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
              " ~* +@all",
              &u, err),
        1);
    assert_int_equal(u.npass, 1);
}

static void expect_refused(const char *line, const char *needle)
{
    auth_user_t u;
    char err[256] = "";
    assert_int_equal(auth_parse_line(line, strlen(line), &u, err, sizeof err), -EINVAL);
    if (!strstr(err, needle)) fail_msg("error for '%s' is '%s', expected '%s'", line, err, needle);
}

static void test_parse_refused(void **state)
{
    expect_refused("users alice on", "expected 'user NAME");
    expect_refused("user", "user name");
    expect_refused("user \x01x on", "user name");
    char longname[100];
    memset(longname, 'n', sizeof longname);
    snprintf(longname, sizeof longname, "user %070d on", 0);
    expect_refused(longname, "user name");
    /* A grant this server cannot honour, a rule it does not know (not echoed: may be a mistyped
     * password), a bad digest, too many passwords, a user on without full grants. */
    expect_refused("user a on >p ~cache:* +@all", "unsupported rule #3");
    expect_refused("user a on >p ~* +@all -flushall", "unsupported rule #5");
    expect_refused("user a on secretpass ~* +@all", "unsupported rule #2");
    auth_user_t u;
    char err[256];
    assert_int_equal(parse("user a on secretpass ~* +@all", &u, err), -EINVAL);
    assert_null(strstr(err, "secretpass"));
    expect_refused("user a on #abc ~* +@all", "64 hex digits");
    expect_refused(
        "user a on #zz884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8 ~* +@all",
        "64 hex digits");
    char many[512] = "user a on ~* +@all";
    for (int i = 0; i <= AUTH_PASSWORDS_MAX; i++)
        strcat(many, " >p");
    expect_refused(many, "more than 16 passwords");
    expect_refused("user a on >p", "not granted ~* and +@all");
    expect_refused("user a on >p ~*", "not granted ~* and +@all");
    expect_refused("user a on >p ~* +@all reset on >q", "not granted");
    char *huge = malloc(AUTH_LINE_MAX + 2);
    memset(huge, ' ', AUTH_LINE_MAX + 1);
    huge[AUTH_LINE_MAX + 1] = 0;
    expect_refused(huge, "longer than");
    free(huge);
}

static const char *write_file(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_auth_%d.acl", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

#define CHECK(a, user, pass) auth_check(a, user, strlen(user), pass, strlen(pass))

static void test_requirepass(void **state)
{
    auth_t a;
    char err[256];
    assert_int_equal(auth_load(&a, "", "", err, sizeof err), 0);
    assert_non_null(auth_initial_user(&a)); /* no password: everyone starts authenticated */
    assert_true(auth_default_nopass(&a));
    assert_false(auth_has_password(&a));
    assert_non_null(CHECK(&a, "default", "anything"));
    assert_null(CHECK(&a, "nobody", "anything"));
    auth_free(&a);

    assert_int_equal(auth_load(&a, "s3cret", "", err, sizeof err), 0);
    assert_null(auth_initial_user(&a));
    assert_false(auth_default_nopass(&a));
    assert_true(auth_has_password(&a));
    assert_non_null(CHECK(&a, "default", "s3cret"));
    assert_null(CHECK(&a, "default", "s3cre"));
    assert_null(CHECK(&a, "default", "s3cret "));
    assert_null(CHECK(&a, "default", ""));
    assert_null(CHECK(&a, "Default", "s3cret"));
    auth_free(&a);

    const char *path = write_file("user alice on >a ~* +@all\n");
    assert_int_equal(auth_load(&a, "s3cret", path, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot be used together"));
    unlink(path);
}

static void test_aclfile(void **state)
{
    auth_t a;
    char err[256];
    const char *path = write_file("# users\n"
                                  "user alice on >a1 >a2 ~* +@all\n"
                                  "\n"
                                  "user bob off >b ~* +@all\n"
                                  "user carol on nopass ~* +@all\n");
    assert_int_equal(auth_load(&a, "", path, err, sizeof err), 0);
    assert_int_equal(a.nusers, 4);
    /* The file does not define default: it stays on nopass (as Redis). */
    assert_non_null(auth_initial_user(&a));
    assert_true(auth_has_password(&a));
    assert_non_null(CHECK(&a, "alice", "a1"));
    assert_non_null(CHECK(&a, "alice", "a2"));
    assert_null(CHECK(&a, "alice", "a3"));
    assert_null(CHECK(&a, "bob", "b")); /* disabled */
    assert_non_null(CHECK(&a, "carol", "whatever"));
    auth_free(&a);

    path = write_file("user default on >d ~* +@all\nuser alice on >a ~* +@all\n");
    assert_int_equal(auth_load(&a, "", path, err, sizeof err), 0);
    assert_int_equal(a.nusers, 2);
    assert_null(auth_initial_user(&a));
    assert_false(auth_default_nopass(&a));
    assert_non_null(CHECK(&a, "default", "d"));
    auth_free(&a);

    path = write_file("user default off\n");
    assert_int_equal(auth_load(&a, "", path, err, sizeof err), 0);
    assert_null(auth_initial_user(&a));
    assert_null(CHECK(&a, "default", ""));
    auth_free(&a);

    path = write_file("user alice on >a ~* +@all\nuser alice on >b ~* +@all\n");
    assert_int_equal(auth_load(&a, "", path, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 2: user 'alice' is defined twice"));
    path = write_file("user default on >a ~* +@all\nuser default on >b ~* +@all\n");
    assert_int_equal(auth_load(&a, "", path, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 2: user 'default' is defined twice"));
    path = write_file("user alice on >a ~* +@all\n\nuser bob on >b ~key* +@all\n");
    assert_int_equal(auth_load(&a, "", path, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 3: unsupported rule"));
    unlink(path);
    assert_int_equal(auth_load(&a, "", "/nonexistent/acl", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/acl"));
}

static struct sockaddr_storage addr(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(text, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
    } else if (text[0] == '/') {
        ss.ss_family = AF_UNIX;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
    }
    return ss;
}

static int refuses(int on, const auth_t *a, const char *bind, const char *peer)
{
    struct sockaddr_storage ss = addr(peer);
    return auth_protected_refuses(on, a, bind, (struct sockaddr *)&ss);
}

static void test_protected_mode(void **state)
{
    auth_t open, pass;
    char err[256];
    assert_int_equal(auth_load(&open, "", "", err, sizeof err), 0);
    assert_int_equal(auth_load(&pass, "pw", "", err, sizeof err), 0);
    assert_true(refuses(1, &open, "0.0.0.0", "192.168.1.5"));
    assert_true(refuses(1, &open, "::", "2001:db8::1"));
    assert_true(refuses(1, &open, "10.0.0.1", "10.0.0.2"));
    assert_false(refuses(1, &open, "0.0.0.0", "127.0.0.1"));
    assert_false(refuses(1, &open, "0.0.0.0", "127.3.4.5"));
    assert_false(refuses(1, &open, "::", "::1"));
    assert_false(refuses(1, &open, "::", "::ffff:127.0.0.1"));
    assert_true(refuses(1, &open, "::", "::ffff:10.1.1.1"));
    assert_false(refuses(1, &open, "0.0.0.0", "/unix"));
    assert_false(refuses(0, &open, "0.0.0.0", "192.168.1.5"));   /* protected-mode no */
    assert_false(refuses(1, &pass, "0.0.0.0", "192.168.1.5"));   /* a password is set */
    assert_false(refuses(1, &open, "127.0.0.1", "192.168.1.5")); /* loopback bind */
    assert_false(refuses(1, &open, "localhost", "192.168.1.5"));
    assert_false(refuses(1, &open, "::1", "192.168.1.5"));
    auth_free(&open);
    auth_free(&pass);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepted), cmocka_unit_test(test_parse_refused),
        cmocka_unit_test(test_requirepass),    cmocka_unit_test(test_aclfile),
        cmocka_unit_test(test_protected_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
