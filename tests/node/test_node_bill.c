/* test_node_bill.c -- the node's billing records: measured and rounded, queued while there is no
 * connection, bounded (the oldest dropped and counted), kept until a connection surely took them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bill.h"
#include "billing.h"

/* Decodes the BILL messages in out into recs; returns how many. */
static int decode_all(buf_t *out, nodeproto_bill_t *recs, int max)
{
    int n = 0;
    while (buf_len(out) > 0 && n < max) {
        nodeproto_msg_t m;
        ssize_t used = nodeproto_parse_message(buf_head(out), buf_len(out), &m);
        assert_true(used > 0);
        assert_int_equal(nodeproto_bill_decode(&m, &recs[n++]), 0);
        buf_consume(out, (size_t)used);
    }
    return n;
}

static void test_record_fields(void **state)
{
    (void)state;
    static node_bill_t b;
    node_bill_init(&b, 1536, 1);
    node_bill_begin(&b, 1, 1000000);
    node_bill_kind(&b, BILLING_KIND_WARMUP);
    node_bill_end(&b, 1000000 + 2500, 4096);
    node_bill_end(&b, 1000000 + 9000, 4096); /* a second end of the same invocation: ignored */
    buf_t out;
    buf_init(&out);
    assert_int_equal(node_bill_put(&b, &out), 1);
    nodeproto_bill_t r[4];
    assert_int_equal(decode_all(&out, r, 4), 1);
    assert_int_equal(r[0].seq, 1);
    assert_int_equal(r[0].kind, BILLING_KIND_WARMUP);
    assert_int_equal(r[0].duration_us, 2500);
    assert_int_equal(r[0].billed_ms, 3); /* rounded up to the millisecond */
    assert_int_equal(r[0].memory_mb, 1536);
    assert_int_equal(r[0].max_rss_kb, 4096);

    /* An end before the start (no post in this invocation) bills the one-unit minimum; 100 ms
     * units round as the platform does. */
    node_bill_init(&b, 128, 100);
    node_bill_begin(&b, 2, 5000);
    node_bill_end(&b, 4000, 1);
    node_bill_begin(&b, 3, 5000);
    node_bill_kind(&b, 99); /* not a kind: "other" */
    node_bill_end(&b, 5000 + 100001, 1);
    assert_int_equal(node_bill_put(&b, &out), 2);
    assert_int_equal(decode_all(&out, r, 4), 2);
    assert_int_equal(r[0].duration_us, 0);
    assert_int_equal(r[0].billed_ms, 100);
    assert_int_equal(r[0].kind, BILLING_KIND_OTHER);
    assert_int_equal(r[1].billed_ms, 200);
    assert_int_equal(r[1].kind, BILLING_KIND_OTHER);
    buf_free(&out);
}

/* Records wait until node_bill_sent: a failed connection leaves them for the next. Past the
 * bound the oldest go, counted in `dropped`. */
static void test_queue_bounded(void **state)
{
    (void)state;
    static node_bill_t b;
    node_bill_init(&b, 128, 1);
    buf_t out;
    buf_init(&out);
    for (int i = 1; i <= NODE_BILL_PENDING + 5; i++) {
        node_bill_begin(&b, i, 0);
        node_bill_end(&b, 1000, 0);
    }
    static nodeproto_bill_t r[NODE_BILL_PENDING + 8];
    assert_int_equal(node_bill_put(&b, &out), NODE_BILL_PENDING);
    assert_int_equal(decode_all(&out, r, NODE_BILL_PENDING + 8), NODE_BILL_PENDING);
    assert_int_equal(r[0].seq, 6); /* 1..5 dropped */
    assert_int_equal(r[NODE_BILL_PENDING - 1].seq, NODE_BILL_PENDING + 5);
    assert_int_equal(r[0].dropped, 5);
    /* Not sent (the connection failed): all still there; then the first 10 sent. */
    assert_int_equal(node_bill_put(&b, &out), NODE_BILL_PENDING);
    buf_clear(&out);
    node_bill_sent(&b, 10);
    assert_int_equal(node_bill_put(&b, &out), NODE_BILL_PENDING - 10);
    assert_int_equal(decode_all(&out, r, NODE_BILL_PENDING + 8), NODE_BILL_PENDING - 10);
    assert_int_equal(r[0].seq, 16);
    node_bill_sent(&b, 1000); /* more than there are: all gone */
    assert_int_equal(node_bill_put(&b, &out), 0);
    assert_int_equal(buf_len(&out), 0);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_fields),
        cmocka_unit_test(test_queue_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
