/* test_mailbox.c -- unit tests of the cross-thread mailbox (src/common/mailbox.h): order per
 * producer, nothing lost under concurrent posts, delivery on the loop's thread, close. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ev.h"
#include "mailbox.h"

#define PRODUCERS 4
#define PER_PRODUCER 20000

typedef struct {
    mail_t mail; /* first: the message is the struct */
    int producer;
    int seq;
} msg_t;

typedef struct {
    ev_loop_t *loop;
    pthread_t loop_thread;
    int next_seq[PRODUCERS]; /* the sequence number each producer's next message must carry */
    long received;
    int out_of_order;
    int wrong_thread;
} sink_t;

static void receive(mail_t *m, void *arg)
{
    sink_t *s = arg;
    msg_t *msg = (msg_t *)m;
    if (!pthread_equal(pthread_self(), s->loop_thread)) s->wrong_thread++;
    if (msg->seq != s->next_seq[msg->producer]) s->out_of_order++;
    s->next_seq[msg->producer] = msg->seq + 1;
    free(msg);
    if (++s->received == (long)PRODUCERS * PER_PRODUCER) ev_stop(s->loop);
}

typedef struct {
    mailbox_t *mb;
    int producer;
} producer_arg_t;

static void *produce(void *arg)
{
    producer_arg_t *p = arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        msg_t *m = malloc(sizeof *m);
        m->producer = p->producer;
        m->seq = i;
        mailbox_post(p->mb, &m->mail, receive);
    }
    return NULL;
}

static void give_up(ev_loop_t *l, void *arg)
{
    (void)arg;
    ev_stop(l); /* the watchdog: a lost wake-up must fail the test, not hang it */
}

static void test_concurrent_posts_arrive_in_order_on_the_loop(void **state)
{
    (void)state;
    sink_t s = {0};
    s.loop = ev_create(64);
    s.loop_thread = pthread_self();
    mailbox_t mb;
    assert_int_equal(mailbox_init(&mb, s.loop, &s), 0);
    ev_timer_add(s.loop, 20000, give_up, NULL);
    pthread_t t[PRODUCERS];
    producer_arg_t args[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        args[i] = (producer_arg_t){&mb, i};
        assert_int_equal(pthread_create(&t[i], NULL, produce, &args[i]), 0);
    }
    assert_int_equal(ev_run(s.loop), 0);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(s.received, (long)PRODUCERS * PER_PRODUCER);
    assert_int_equal(s.out_of_order, 0);
    assert_int_equal(s.wrong_thread, 0);
    assert_int_equal(mailbox_drain(&mb), 0); /* nothing left behind */
    mailbox_close(&mb, NULL);
    ev_destroy(s.loop);
}

static int discarded;
static void discard(mail_t *m)
{
    discarded++;
    free(m);
}

static void test_drain_and_close(void **state)
{
    (void)state;
    sink_t s = {0};
    s.loop = ev_create(64);
    s.loop_thread = pthread_self();
    mailbox_t mb;
    assert_int_equal(mailbox_init(&mb, s.loop, &s), 0);
    for (int i = 0; i < 3; i++) {
        msg_t *m = calloc(1, sizeof *m);
        m->seq = i;
        mailbox_post(&mb, &m->mail, receive);
    }
    assert_int_equal(mailbox_drain(&mb), 3);
    assert_int_equal(s.received, 3);
    assert_int_equal(s.out_of_order, 0);
    /* Posted after the last drain: close hands them to discard, in no loop callback. */
    for (int i = 0; i < 2; i++)
        mailbox_post(&mb, &((msg_t *)calloc(1, sizeof(msg_t)))->mail, receive);
    discarded = 0;
    mailbox_close(&mb, discard);
    assert_int_equal(discarded, 2);
    assert_int_equal(s.received, 3);
    ev_destroy(s.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_posts_arrive_in_order_on_the_loop),
        cmocka_unit_test(test_drain_and_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
