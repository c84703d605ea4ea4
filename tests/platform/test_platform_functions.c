/* test_platform_functions.c -- the control plane's pure parts: request validation with Lambda's
 * error types, zip checks (bootstrap present and executable, paths, garbage), unpacking,
 * configuration JSON and the state file round trip. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <zip.h>

#include "functions.h"

/* Builds a zip in memory: names[i] with mode modes[i]. Returns malloc'd bytes. */
static unsigned char *build_zip(const char *const *names, const unsigned *modes, int n,
                                size_t *len)
{
    char path[] = "/tmp/icfn-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    int err;
    zip_t *z = zip_open(path, ZIP_TRUNCATE, &err);
    assert_non_null(z);
    for (int i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(z, "#!/bin/sh\necho hi\n", 18, 0);
        zip_int64_t idx = zip_file_add(z, names[i], s, ZIP_FL_ENC_UTF_8);
        assert_true(idx >= 0);
        zip_file_set_external_attributes(z, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX,
                                         (zip_uint32_t)(0100000 | modes[i]) << 16);
    }
    assert_int_equal(zip_close(z), 0);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    unsigned char *buf = malloc(*len);
    assert_int_equal(fread(buf, 1, *len, f), *len);
    fclose(f);
    unlink(path);
    return buf;
}

static void test_zip_checks(void **state)
{
    (void)state;
    fn_error_t e;
    size_t len;
    const char *good[] = {"bootstrap", "lib/libx.so"};
    unsigned modes[] = {0755, 0644};
    unsigned char *z = build_zip(good, modes, 2, &len);
    assert_int_equal(fn_zip_check(z, len, &e), 0);
    char dir[] = "/tmp/icfn-unpack-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char target[128];
    snprintf(target, sizeof target, "%s/code", dir);
    assert_int_equal(fn_zip_unpack(z, len, target), 0);
    char p[200];
    snprintf(p, sizeof p, "%s/bootstrap", target);
    assert_int_equal(access(p, X_OK), 0);
    snprintf(p, sizeof p, "%s/lib/libx.so", target);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0111, 0);
    unlink(p);
    snprintf(p, sizeof p, "%s/lib", target);
    rmdir(p);
    snprintf(p, sizeof p, "%s/bootstrap", target);
    unlink(p);
    rmdir(target);
    rmdir(dir);
    free(z);

    unsigned exec_mode[] = {0644};
    z = build_zip(good, exec_mode, 1, &len);
    assert_int_equal(fn_zip_check(z, len, &e), -1);
    assert_string_equal(e.type, "InvalidParameterValueException");
    assert_non_null(strstr(e.message, "permission denied"));
    free(z);

    const char *nob[] = {"main"};
    unsigned m[] = {0755};
    z = build_zip(nob, m, 1, &len);
    assert_int_equal(fn_zip_check(z, len, &e), -1);
    assert_non_null(strstr(e.message, "Couldn't find valid bootstrap"));
    free(z);

    const char *escape[] = {"bootstrap", "../evil"};
    unsigned m2[] = {0755, 0644};
    z = build_zip(escape, m2, 2, &len);
    assert_int_equal(fn_zip_check(z, len, &e), -1);
    assert_non_null(strstr(e.message, "Could not unzip"));
    free(z);

    assert_int_equal(fn_zip_check((const unsigned char *)"PK\3\4junk", 9, &e), -1);
    assert_int_equal(e.status, 400);
}

static char *create_body(const char *extra)
{
    size_t len;
    const char *names[] = {"bootstrap"};
    unsigned modes[] = {0755};
    unsigned char *z = build_zip(names, modes, 1, &len);
    char *b64 = malloc(len * 2 + 4);
    EVP_EncodeBlock((unsigned char *)b64, z, (int)len);
    free(z);
    char *body;
    assert_true(asprintf(&body,
                         "{\"FunctionName\":\"f1\",\"Runtime\":\"provided.al2023\",\"Role\":\"r\","
                         "\"Handler\":\"h\",\"Code\":{\"ZipFile\":\"%s\"}%s}",
                         b64, extra) > 0);
    free(b64);
    return body;
}

static void expect_create_error(const char *extra, int status, const char *type, const char *text)
{
    char *body = create_body(extra);
    fn_def_t d;
    fn_def_init(&d);
    unsigned char *zip;
    size_t zlen;
    fn_error_t e;
    assert_int_equal(fn_parse_create(body, strlen(body), &d, &zip, &zlen, &e), -1);
    assert_int_equal(e.status, status);
    assert_string_equal(e.type, type);
    if (!strstr(e.message, text)) fail_msg("message '%s' lacks '%s'", e.message, text);
    assert_null(zip);
    fn_def_clear(&d);
    free(body);
}

static void test_create_validation(void **state)
{
    (void)state;
    char *body = create_body(",\"MemorySize\":1536,\"Architectures\":[\"arm64\"],"
                             "\"Environment\":{\"Variables\":{\"A\":\"b\"}},\"Tags\":{\"t\":\"1\"}");
    fn_def_t d;
    fn_def_init(&d);
    unsigned char *zip;
    size_t zlen;
    fn_error_t e;
    assert_int_equal(fn_parse_create(body, strlen(body), &d, &zip, &zlen, &e), 0);
    assert_string_equal(d.name, "f1");
    assert_int_equal(d.memory_mb, 1536);
    assert_string_equal(d.arch, "arm64");
    assert_int_equal(fn_zip_check(zip, zlen, &e), 0);
    free(zip);
    free(body);

    /* The configuration document, and the state file round trip. */
    fn_def_touch(&d, 1700000000123, 0, 0);
    assert_string_equal(d.last_modified, "2023-11-14T22:13:20.123+0000");
    cJSON *doc = fn_config_json(&d, "us-east-1", "000000000000", 1700000000123);
    assert_string_equal(cJSON_GetObjectItem(doc, "FunctionArn")->valuestring,
                        "arn:aws:lambda:us-east-1:000000000000:function:f1");
    assert_string_equal(cJSON_GetObjectItem(doc, "State")->valuestring, "Active");
    cJSON_Delete(doc);
    fn_def_touch(&d, 1700000000123, 500, 1);
    doc = fn_config_json(&d, "us-east-1", "000000000000", 1700000000200);
    assert_string_equal(cJSON_GetObjectItem(doc, "LastUpdateStatus")->valuestring, "InProgress");
    cJSON_Delete(doc);
    d.reserved_concurrency = 7;
    char *saved = fn_def_save_json(&d);
    fn_def_t back;
    assert_int_equal(fn_def_load_json(saved, strlen(saved), &back), 0);
    assert_int_equal(back.reserved_concurrency, 7);
    assert_int_equal(back.memory_mb, 1536);
    assert_string_equal(cJSON_GetObjectItem(back.env, "A")->valuestring, "b");
    assert_string_equal(cJSON_GetObjectItem(back.tags, "t")->valuestring, "1");
    free(saved);
    fn_def_clear(&back);
    fn_def_clear(&d);

    expect_create_error(",\"MemorySize\":64", 400, "ValidationException",
                        "greater than or equal to 128");
    expect_create_error(",\"MemorySize\":10241", 400, "ValidationException",
                        "less than or equal to 10240");
    expect_create_error(",\"Timeout\":901", 400, "ValidationException", "timeout");
    expect_create_error(",\"Architectures\":[\"sparc\"]", 400, "ValidationException",
                        "architectures");
    expect_create_error(",\"Architectures\":[]", 400, "InvalidParameterValueException",
                        "exactly one");
    expect_create_error(",\"Environment\":{\"Variables\":{\"1A\":\"x\"}}", 400,
                        "InvalidParameterValueException", "start with a letter");
    expect_create_error(",\"PackageType\":\"Image\"", 400, "InvalidParameterValueException",
                        "Zip");
    /* Runtime is parsed before these: a duplicate key is read as the first by cJSON, so the
     * unsupported runtime goes through UpdateFunctionConfiguration's path instead. */
    fn_def_init(&d);
    const char *upd = "{\"Runtime\":\"python3.12\"}";
    assert_int_equal(fn_parse_update_config(upd, strlen(upd), &d, &e), -1);
    assert_string_equal(e.type, "InvalidParameterValueException");
    upd = "{\"Runtime\":\"cobol\"}";
    assert_int_equal(fn_parse_update_config(upd, strlen(upd), &d, &e), -1);
    assert_string_equal(e.type, "ValidationException");
    upd = "{\"MemorySize\":512,\"Timeout\":30}";
    assert_int_equal(fn_parse_update_config(upd, strlen(upd), &d, &e), 0);
    assert_int_equal(d.memory_mb, 512);
    assert_int_equal(d.timeout_s, 30);
    fn_def_clear(&d);
    const char *bad = "{\"FunctionName\":\"a b\"}";
    fn_def_init(&d);
    assert_int_equal(fn_parse_create(bad, strlen(bad), &d, &zip, &zlen, &e), -1);
    assert_string_equal(e.type, "ValidationException");
    fn_def_clear(&d);
}

static void test_base64(void **state)
{
    (void)state;
    unsigned char *out;
    size_t n;
    assert_int_equal(fn_base64_decode("aGVsbG8=", 8, &out, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "hello", 5);
    free(out);
    assert_int_equal(fn_base64_decode("aGVsbG8", 7, &out, &n), -EINVAL);
    assert_int_equal(fn_base64_decode("aG=sbG8=", 8, &out, &n), -EINVAL);
    assert_int_equal(fn_base64_decode("", 0, &out, &n), 0);
    assert_int_equal(n, 0);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zip_checks),
        cmocka_unit_test(test_create_validation),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
