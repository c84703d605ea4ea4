/* test_trace.c -- the trace parser: JSON array, JSON lines, pretty-printed JSON, CSV, malformed
 * records with line numbers, limits, filters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "trace.h"

/* What the callback saw. */
typedef struct {
    trace_record_t rec[64];
    int nrec;
    long err_line[64];
    char err[64][160];
    int nerr;
    int stop_after_error;
} seen_t;

static int collect(void *arg, const trace_record_t *rec, long line, const char *error)
{
    seen_t *s = arg;
    if (error) {
        if (s->nerr < 64) {
            s->err_line[s->nerr] = line;
            snprintf(s->err[s->nerr], sizeof s->err[0], "%s", error);
        }
        s->nerr++;
        return s->stop_after_error;
    }
    if (s->nrec < 64) s->rec[s->nrec] = *rec;
    s->nrec++;
    return 0;
}

/* Parses text fed in pieces of `step` bytes (0: all at once). */
static int parse(const char *text, trace_format_t fmt, size_t step, seen_t *s)
{
    memset(s, 0, sizeof *s);
    trace_parser_t *p = trace_parser_new(fmt);
    assert_non_null(p);
    size_t len = strlen(text), off = 0;
    int rc = TRACE_OK;
    while (rc == TRACE_OK && off < len) {
        size_t n = step && step < len - off ? step : len - off;
        rc = trace_parser_feed(p, text + off, n, collect, s);
        off += n;
    }
    if (rc == TRACE_OK) rc = trace_parser_finish(p, collect, s);
    trace_parser_free(p);
    return rc;
}

#define REC(m, u, w, t)                                                                            \
    "{\"http.request.method\": \"" m "\", \"http.request.uri\": \"" u                              \
    "\", \"http.response.written\": " w ", \"timestamp\": " t "}"

static void test_json_array_and_lines(void **state)
{
    const char *array = "[" REC("GET", "v2/a", "100", "\"2017-06-20T02:00:00.000Z\"") ",\n" REC(
        "PUT", "v2/b", "2000", "1497924001.5") ",\n" REC("HEAD", "v2/a", "0", "1497924002") "]\n";
    for (size_t step = 0; step < 8; step++) {
        seen_t s;
        assert_int_equal(parse(array, TRACE_FORMAT_AUTO, step, &s), TRACE_OK);
        assert_int_equal(s.nerr, 0);
        assert_int_equal(s.nrec, 2);
        assert_int_equal(s.rec[0].op, TRACE_OP_GET);
        assert_true(s.rec[0].key == trace_key_hash("v2/a", 4));
        assert_int_equal(s.rec[0].size, 100);
        assert_true(s.rec[0].time == 1497924000.0);
        assert_int_equal(s.rec[1].op, TRACE_OP_SET);
        assert_int_equal(s.rec[1].size, 2000);
        assert_true(s.rec[1].time == 1497924001.5);
    }
    const char *lines = REC("GET", "x", "1", "1") "\n" REC("GET", "y", "2", "2") "\n";
    seen_t s;
    assert_int_equal(parse(lines, TRACE_FORMAT_JSON, 0, &s), TRACE_OK);
    assert_int_equal(s.nrec, 2);
    assert_int_equal(s.nerr, 0);

    /* Pretty-printed: a record over several lines keeps the line where it starts. */
    const char *pretty = "[\n  {\n    \"http.request.method\": \"GET\",\n    \"http.request.uri\": "
                         "\"u\",\n    \"http.response.written\": 7,\n    \"timestamp\": 3\n  },\n"
                         "  {\n    \"http.request.method\": \"GET\"\n  }\n]\n";
    assert_int_equal(parse(pretty, TRACE_FORMAT_AUTO, 3, &s), TRACE_OK);
    assert_int_equal(s.nrec, 1);
    assert_int_equal(s.rec[0].size, 7);
    assert_int_equal(s.nerr, 1);
    assert_int_equal(s.err_line[0], 8);
}

static void test_json_malformed_lines(void **state)
{
    const char *text = REC("GET", "a", "1", "1") "\n" /* 1 ok */
        REC("GET", "b", "\"lots\"",
            "1") "\n"                                                             /* 2 bad size */
                 "{\"http.request.method\": \"GET\", \"http.request.uri\": \"c\n" /* 3 unterminated
                                                                                   */
        REC("GET", "d", "-5",
            "1") "\n"             /* 4 negative */
                 "garbage here\n" /* 5 not an object */
                 "{\"http.request.method\": \"GET\", \"http.request.uri\": \"e\", \n" /* 6 not
                                                                                         closed */
        REC("GET", "f", "1", "1") "\n"                                                /* 7 ok */
        REC("get", "g", "1", "1") "\n"   /* 8 bad method */
        REC("GET", "h", "1.5", "1") "\n" /* 9 fractional size */
        REC("GET", "i", "1",
            "\"yesterday\"") "\n" /* 10 bad time */
                             "{\"http.request.uri\": \"j\", \"http.response.written\": 1, "
                             "\"timestamp\": 1}\n" /* 11 */
        REC("GET", "", "1",
            "1") "\n"                                                      /* 12 empty uri */
                 "{\"http.request.method\": \"GET\", \"x\": {\"y\": 1}}\n" /* 13 nested */
        REC("GET", "k", "2199023255553", "1") "\n"                         /* 14 > 1 TiB */
                                              "{\"a\": 1,}\n"              /* 15 invalid JSON */
        REC("GET", "l", "1", "1");                                         /* 16 ok, no newline */
    seen_t s;
    assert_int_equal(parse(text, TRACE_FORMAT_AUTO, 0, &s), TRACE_OK);
    assert_int_equal(s.nrec, 3);
    assert_true(s.rec[0].key == trace_key_hash("a", 1));
    assert_true(s.rec[1].key == trace_key_hash("f", 1));
    assert_true(s.rec[2].key == trace_key_hash("l", 1));
    long want[] = {2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    assert_int_equal(s.nerr, (int)(sizeof want / sizeof want[0]));
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(s.err_line[i], want[i]);
    assert_non_null(strstr(s.err[0], "written"));
    assert_non_null(strstr(s.err[1], "unterminated"));

    /* An unclosed record at the end is reported. */
    assert_int_equal(parse("{\"http.request.method\": \"GET\"", TRACE_FORMAT_AUTO, 0, &s),
                     TRACE_OK);
    assert_int_equal(s.nerr, 1);
    assert_int_equal(s.err_line[0], 1);

    /* The callback can stop at the first error (--strict). */
    memset(&s, 0, sizeof s);
    trace_parser_t *p = trace_parser_new(TRACE_FORMAT_AUTO);
    s.stop_after_error = 1;
    assert_int_equal(trace_parser_feed(p, text, strlen(text), collect, &s), TRACE_STOPPED);
    assert_int_equal(s.nerr, 1);
    assert_int_equal(s.err_line[0], 2);
    trace_parser_free(p);
}

static void test_limits(void **state)
{
    /* A record over TRACE_RECORD_MAX is one error; the next line still parses. */
    size_t big = TRACE_RECORD_MAX + 100;
    char *text = malloc(big + 400);
    assert_non_null(text);
    strcpy(text, "{\"http.request.method\": \"GET\", \"http.request.uri\": \"");
    size_t n = strlen(text);
    memset(text + n, 'a', big);
    strcpy(text + n + big,
           "\", \"http.response.written\": 1, \"timestamp\": 1}\n" REC("GET", "z", "1", "1"));
    seen_t s;
    assert_int_equal(parse(text, TRACE_FORMAT_AUTO, 4096, &s), TRACE_OK);
    assert_int_equal(s.nerr, 1);
    assert_int_equal(s.err_line[0], 1);
    assert_int_equal(s.nrec, 1);

    /* A URI over TRACE_URI_MAX fits in a record but is refused. */
    n = strlen("{\"http.request.method\": \"GET\", \"http.request.uri\": \"");
    memset(text + n, 'a', TRACE_URI_MAX + 1);
    strcpy(text + n + TRACE_URI_MAX + 1, "\", \"http.response.written\": 1, \"timestamp\": 1}\n");
    assert_int_equal(parse(text, TRACE_FORMAT_AUTO, 0, &s), TRACE_OK);
    assert_int_equal(s.nerr, 1);
    assert_non_null(strstr(s.err[0], "uri"));

    /* The same long line in CSV. */
    strcpy(text, "http.request.method,http.request.uri,http.response.written,timestamp\nGET,");
    n = strlen(text);
    memset(text + n, 'b', big);
    strcpy(text + n + big, ",1,1\nGET,ok,5,1\n");
    assert_int_equal(parse(text, TRACE_FORMAT_CSV, 1000, &s), TRACE_OK);
    assert_int_equal(s.nerr, 1);
    assert_int_equal(s.err_line[0], 2);
    assert_non_null(strstr(s.err[0], "longer"));
    assert_int_equal(s.nrec, 1);
    assert_int_equal(s.rec[0].size, 5);
    free(text);

    /* Sizes: 1 TiB is the largest accepted; digits only. */
    assert_int_equal(parse(REC("GET", "a", "1099511627776", "1"), TRACE_FORMAT_JSON, 0, &s),
                     TRACE_OK);
    assert_int_equal(s.nrec, 1);
    assert_int_equal(parse(REC("GET", "a", "1e300", "1"), TRACE_FORMAT_JSON, 0, &s), TRACE_OK);
    assert_int_equal(s.nerr, 1);
    assert_int_equal(parse(REC("GET", "a", "1", "1e300"), TRACE_FORMAT_JSON, 0, &s), TRACE_OK);
    assert_int_equal(s.nerr, 1);
}

static void test_csv(void **state)
{
    const char *text =
        "timestamp,http.request.method,http.request.uri,http.response.written,extra\r\n"
        "1497924000,GET,v2/a,100,x\r\n"
        "\r\n"
        "2017-06-20T02:00:01+01:00,PUT,\"v2/b,with \"\"comma\"\"\",200,y\n"
        "1497924002,GET,v2/c\n"
        "1497924003,GET,v2/d,12x,z\n"
        "1497924004,PATCH,v2/e,0,z\n"
        "1497924005,GET,\"unterminated,5,z\n"
        "nope,GET,v2/f,1,z\n"
        "1497924006,GET,v2/g,7,z";
    for (size_t step = 0; step < 6; step++) {
        seen_t s;
        assert_int_equal(parse(text, TRACE_FORMAT_AUTO, step, &s), TRACE_OK);
        assert_int_equal(s.nrec, 3);
        assert_int_equal(s.rec[0].size, 100);
        assert_int_equal(s.rec[1].op, TRACE_OP_SET);
        assert_true(s.rec[1].key == trace_key_hash("v2/b,with \"comma\"", 17));
        assert_true(s.rec[1].time == 1497924001.0 - 3600);
        assert_int_equal(s.rec[2].size, 7);
        assert_int_equal(s.nerr, 4);
        assert_int_equal(s.err_line[0], 5);
        assert_non_null(strstr(s.err[0], "columns"));
        assert_int_equal(s.err_line[1], 6);
        assert_int_equal(s.err_line[2], 8);
        assert_int_equal(s.err_line[3], 9);
    }
    /* A header without the columns is fatal; so is no header at all. */
    seen_t s;
    assert_int_equal(parse("a,b,c\n1,2,3\n", TRACE_FORMAT_CSV, 0, &s), TRACE_EFATAL);
    assert_int_equal(s.nerr, 1);
    assert_int_equal(s.err_line[0], 1);
    assert_non_null(strstr(s.err[0], "header"));
    assert_int_equal(parse("\n\n", TRACE_FORMAT_CSV, 0, &s), TRACE_EFATAL);
    assert_int_equal(s.nrec, 0);
}

static void test_time(void **state)
{
    double t;
    assert_int_equal(trace_parse_time("1970-01-01T00:00:00Z", 20, &t), 0);
    assert_true(t == 0);
    assert_int_equal(trace_parse_time("2017-06-20T02:38:04.544Z", 24, &t), 0);
    assert_true(t > 1497926284.543 && t < 1497926284.545);
    assert_int_equal(trace_parse_time("2017-06-20 02:38:04", 19, &t), 0);
    assert_int_equal(trace_parse_time("2017-13-20T02:38:04Z", 20, &t), -1);
    assert_int_equal(trace_parse_time("2017-06-20T02:38:04.Z", 21, &t), -1);
    assert_int_equal(trace_parse_time("2017-06-20T02:38:04Zjunk", 24, &t), -1);
    assert_int_equal(trace_parse_time("-1", 2, &t), -1);
    assert_int_equal(trace_parse_time("", 0, &t), -1);
    assert_int_equal(trace_parse_time("nan", 3, &t), -1);
}

static void test_load_and_filter(void **state)
{
    char path[] = "/tmp/test_trace_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = REC("GET", "a", "1000", "100") "\n" REC("GET", "b", "oops", "101") "\n" REC(
        "GET", "c", "5000", "3700") "\n" REC("PUT", "d", "20000", "7300") "\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    trace_t t;
    char err[256];
    FILE *diag = tmpfile();
    assert_int_equal(trace_load(path, TRACE_FORMAT_AUTO, 0, diag, &t, err, sizeof err), 0);
    assert_int_equal(t.count, 3);
    assert_int_equal(t.malformed, 1);
    assert_int_equal(t.lines, 4);
    char buf[512] = "";
    rewind(diag);
    assert_non_null(fgets(buf, sizeof buf, diag));
    assert_non_null(strstr(buf, ":2: "));
    fclose(diag);

    /* scale 2 -> 2000, 10000, 40000; min 2000 drops a; cap 30000; first hour only drops d. */
    trace_record_t copy[3];
    memcpy(copy, t.records, sizeof copy);
    assert_int_equal(trace_filter(copy, 3, 2.0, 2000, 30000, 0), 2);
    assert_int_equal(copy[0].size, 10000);
    assert_int_equal(copy[1].size, 30000);
    memcpy(copy, t.records, sizeof copy);
    assert_int_equal(trace_filter(copy, 3, 1.0, 0, 0, 1.0), 1);
    memcpy(copy, t.records, sizeof copy);
    assert_int_equal(trace_filter(copy, 3, 1.0, 0, 0, 2.0), 2);
    free(t.records);

    /* Strict stops at the malformed line and says where. */
    assert_int_equal(trace_load(path, TRACE_FORMAT_AUTO, 1, NULL, &t, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2: "));
    assert_null(t.records);
    unlink(path);
    assert_int_equal(trace_load(path, TRACE_FORMAT_AUTO, 0, NULL, &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_array_and_lines),
        cmocka_unit_test(test_json_malformed_lines),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_load_and_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
