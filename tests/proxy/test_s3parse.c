/* test_s3parse.c -- the backing store's reading of S3 responses (s3parse.c): error documents as
 * S3 and S3-compatible stores write them, ETags, Content-Range values, and malformed input of
 * each, which must be refused without reading past it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "s3parse.h"

static void test_error_document(void **state)
{
    (void)state;
    const char *doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code>"
                      "<Message>The specified bucket does not exist &amp; never did &lt;x&gt;"
                      "</Message><BucketName>b</BucketName></Error>";
    char code[64], msg[128];
    assert_int_equal(s3_error_parse(doc, strlen(doc), code, sizeof code, msg, sizeof msg), 0);
    assert_string_equal(code, "NoSuchBucket");
    assert_string_equal(msg, "The specified bucket does not exist & never did <x>");
    /* Truncated to the buffers. */
    char c4[4], m8[8];
    assert_int_equal(s3_error_parse(doc, strlen(doc), c4, sizeof c4, m8, sizeof m8), 0);
    assert_string_equal(c4, "NoS");
    assert_string_equal(m8, "The spe");
    /* A Code without a Message still names the error. */
    const char *bare = "<Error><Code>SlowDown</Code></Error>";
    assert_int_equal(s3_error_parse(bare, strlen(bare), code, sizeof code, msg, sizeof msg), 0);
    assert_string_equal(code, "SlowDown");
    assert_string_equal(msg, "");
    /* Control bytes in the text become spaces (they end up in a RESP error line). */
    const char *ctl = "<Error><Code>A\r\nB</Code><Message>x\ny</Message></Error>";
    assert_int_equal(s3_error_parse(ctl, strlen(ctl), code, sizeof code, msg, sizeof msg), 0);
    assert_string_equal(code, "A  B");
    assert_string_equal(msg, "x y");
}

static void test_error_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "<html>503 Service Unavailable</html>",
        "<Error><Code>",                   /* unterminated */
        "<Error><Code>NoSuchKey",          /* unterminated text */
        "<Error><Code></Code></Error>",    /* empty code */
        "<Error><CodeX>a</CodeX></Error>", /* another element */
        "<Error><Code a=\"1\">a</Code>",   /* attributes are not S3's */
        "<",
        "<Code",
    };
    char code[32], msg[32];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(s3_error_parse(bad[i], strlen(bad[i]), code, sizeof code, msg, sizeof msg),
                         -1);
        assert_string_equal(code, "");
    }
    /* The length bounds the read: a Code past it is not seen. */
    const char *doc = "<Error><Code>NoSuchKey</Code></Error>";
    assert_int_equal(s3_error_parse(doc, 10, code, sizeof code, msg, sizeof msg), -1);
    assert_int_equal(s3_error_parse(NULL, 0, code, sizeof code, msg, sizeof msg), -1);
}

static void test_xml_text(void **state)
{
    (void)state;
    char out[64];
    const char *init = "<?xml version=\"1.0\"?><InitiateMultipartUploadResult><Bucket>b</Bucket>"
                       "<Key>k</Key><UploadId>VXBsb2FkIElE+/=</UploadId>"
                       "</InitiateMultipartUploadResult>";
    assert_int_equal(s3_xml_text(init, strlen(init), "UploadId", out, sizeof out), 0);
    assert_string_equal(out, "VXBsb2FkIElE+/=");
    const char *done = "<CompleteMultipartUploadResult><ETag>&quot;3858f62230ac3c915f300c664312c11f"
                       "-9&quot;</ETag></CompleteMultipartUploadResult>";
    assert_int_equal(s3_xml_text(done, strlen(done), "ETag", out, sizeof out), 0);
    assert_string_equal(out, "\"3858f62230ac3c915f300c664312c11f-9\"");
    static const char *const bad[] = {"", "<UploadId></UploadId>", "<UploadId>abc",
                                      "<UploadIdX>a</UploadIdX>", "<Upload"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(s3_xml_text(bad[i], strlen(bad[i]), "UploadId", out, sizeof out), -1);
    assert_int_equal(s3_xml_text(init, 40, "UploadId", out, sizeof out), -1); /* past len */
}

static void test_etag(void **state)
{
    (void)state;
    char out[S3_ETAG_MAX + 1];
    const char *v = " \"9b2cf535f27731c974343645a3985328\"\r\n";
    assert_int_equal(s3_etag_parse(v, strlen(v), out, sizeof out), 0);
    assert_string_equal(out, "\"9b2cf535f27731c974343645a3985328\"");
    const char *weak = "W/\"abc-12\"";
    assert_int_equal(s3_etag_parse(weak, strlen(weak), out, sizeof out), 0);
    assert_string_equal(out, "\"abc-12\"");
    static const char *const bad[] = {"",      "\"",      "abc",      "\"abc",
                                      "abc\"", "\"a b\"", "\"a\"b\"", "\"\x01\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(s3_etag_parse(bad[i], strlen(bad[i]), out, sizeof out), -1);
    char longv[S3_ETAG_MAX + 8];
    memset(longv, 'a', sizeof longv);
    longv[0] = longv[sizeof longv - 1] = '"';
    assert_int_equal(s3_etag_parse(longv, sizeof longv, out, sizeof out), -1);
    char small[4];
    assert_int_equal(s3_etag_parse("\"abcd\"", 6, small, sizeof small), -1);
}

static void test_content_range(void **state)
{
    (void)state;
    uint64_t f, l, t;
    const char *v = " bytes 0-8388607/20000000\r\n";
    assert_int_equal(s3_content_range_parse(v, strlen(v), &f, &l, &t), 0);
    assert_true(f == 0 && l == 8388607 && t == 20000000);
    static const char *const bad[] = {"bytes */100",
                                      "bytes 5-4/100",
                                      "bytes 0-100/100",
                                      "bytes 0-1",
                                      "bytes -1/2",
                                      "bits 0-1/2",
                                      "bytes 0-1/2x",
                                      "bytes 0-1/",
                                      "",
                                      "bytes 0-1/99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(s3_content_range_parse(bad[i], strlen(bad[i]), &f, &l, &t), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_document), cmocka_unit_test(test_error_malformed),
        cmocka_unit_test(test_xml_text),       cmocka_unit_test(test_etag),
        cmocka_unit_test(test_content_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
