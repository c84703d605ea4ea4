/* test_queue.c -- unit tests of the intrusive FIFO list (src/common/queue.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "queue.h"

typedef struct item {
    struct item *next;
    struct item *other_next; /* a second link: an element may sit in two queues */
    int v;
} item_t;

typedef QUEUE(item_t) item_queue_t;

/* The queue's values from head to tail, into out; returns how many. */
static int values(const item_queue_t *q, int *out)
{
    int n = 0;
    for (item_t *i = q->head; i; i = i->next)
        out[n++] = i->v;
    if (n) assert_int_equal(q->tail->v, out[n - 1]);
    assert_true(n > 0 || q->tail == NULL);
    return n;
}

static void test_zeroed_queue_is_empty(void **state)
{
    item_queue_t q;
    memset(&q, 0, sizeof q); /* as calloc and the op pool leave it */
    assert_true(QUEUE_EMPTY(&q));
    item_t a = {.v = 1};
    QUEUE_PUSH_TAIL(&q, &a, next);
    assert_false(QUEUE_EMPTY(&q));
    assert_ptr_equal(q.head, &a);
    assert_ptr_equal(q.tail, &a);
}

static void test_fifo_order_and_pop(void **state)
{
    item_queue_t q = {0};
    item_t it[4] = {{.v = 0}, {.v = 1}, {.v = 2}, {.v = 3}};
    for (int i = 0; i < 4; i++)
        QUEUE_PUSH_TAIL(&q, &it[i], next);
    int got[8];
    assert_int_equal(values(&q, got), 4);
    for (int i = 0; i < 4; i++) {
        item_t *e;
        QUEUE_POP_HEAD(&q, e, next);
        assert_int_equal(e->v, i);
        assert_null(e->next);
    }
    assert_true(QUEUE_EMPTY(&q));
    assert_null(q.tail);
}

static void test_push_head_and_prepend(void **state)
{
    item_queue_t q = {0}, front = {0};
    item_t a = {.v = 3}, b = {.v = 4}, c = {.v = 1}, d = {.v = 2}, e = {.v = 0};
    QUEUE_PREPEND(&q, &front, next); /* both empty: nothing happens */
    assert_true(QUEUE_EMPTY(&q));
    QUEUE_PUSH_TAIL(&q, &a, next);
    QUEUE_PUSH_TAIL(&q, &b, next);
    QUEUE_PUSH_TAIL(&front, &c, next);
    QUEUE_PUSH_TAIL(&front, &d, next);
    QUEUE_PREPEND(&q, &front, next);
    assert_true(QUEUE_EMPTY(&front));
    QUEUE_PUSH_HEAD(&q, &e, next);
    int got[8];
    assert_int_equal(values(&q, got), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(got[i], i);
    /* prepend onto an empty queue takes front's tail too */
    item_queue_t empty = {0}, f2 = {0};
    item_t x = {.v = 7};
    QUEUE_PUSH_TAIL(&f2, &x, next);
    QUEUE_PREPEND(&empty, &f2, next);
    assert_ptr_equal(empty.head, &x);
    assert_ptr_equal(empty.tail, &x);
}

static void test_remove_anywhere(void **state)
{
    item_queue_t q = {0};
    item_t it[4] = {{.v = 0}, {.v = 1}, {.v = 2}, {.v = 3}};
    for (int i = 0; i < 4; i++)
        QUEUE_PUSH_TAIL(&q, &it[i], next);
    item_t stranger = {.v = 9};
    QUEUE_REMOVE(&q, &stranger, item_t, next); /* not there: nothing changes */
    QUEUE_REMOVE(&q, &it[3], item_t, next);    /* the tail: the tail moves back */
    QUEUE_REMOVE(&q, &it[0], item_t, next);    /* the head */
    QUEUE_REMOVE(&q, &it[1], item_t, next);    /* the middle, then only one is left */
    int got[8];
    assert_int_equal(values(&q, got), 1);
    assert_int_equal(got[0], 2);
    QUEUE_REMOVE(&q, &it[2], item_t, next);
    assert_true(QUEUE_EMPTY(&q));
    assert_null(q.tail);
    /* appending after removals links from the right tail */
    QUEUE_PUSH_TAIL(&q, &it[1], next);
    QUEUE_PUSH_TAIL(&q, &it[0], next);
    assert_int_equal(values(&q, got), 2);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[1], 0);
}

static void test_two_links(void **state)
{
    item_queue_t a = {0}, b = {0};
    item_t x = {.v = 1}, y = {.v = 2};
    QUEUE_PUSH_TAIL(&a, &x, next);
    QUEUE_PUSH_TAIL(&a, &y, next);
    QUEUE_PUSH_TAIL(&b, &y, other_next);
    QUEUE_PUSH_TAIL(&b, &x, other_next);
    assert_ptr_equal(a.head->next, &y);
    assert_ptr_equal(b.head->other_next, &x);
    QUEUE_CLEAR(&a);
    assert_true(QUEUE_EMPTY(&a));
    assert_null(a.tail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeroed_queue_is_empty),
        cmocka_unit_test(test_fifo_order_and_pop),
        cmocka_unit_test(test_push_head_and_prepend),
        cmocka_unit_test(test_remove_anywhere),
        cmocka_unit_test(test_two_links),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
