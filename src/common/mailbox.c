/* mailbox.c -- handing work to an event loop from other threads (see mailbox.h). */
#include "mailbox.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void on_wake(ev_loop_t *loop, int fd, int events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    mailbox_drain(arg);
}

int mailbox_init(mailbox_t *mb, ev_loop_t *loop, void *arg)
{
    mb->head = mb->tail = NULL;
    mb->loop = loop;
    mb->arg = arg;
    mb->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (mb->efd < 0) return -errno;
    int rc = pthread_mutex_init(&mb->mu, NULL);
    if (rc != 0) {
        close(mb->efd);
        mb->efd = -1;
        return -rc;
    }
    rc = ev_set(loop, mb->efd, EV_READ, on_wake, mb);
    if (rc < 0) {
        pthread_mutex_destroy(&mb->mu);
        close(mb->efd);
        mb->efd = -1;
    }
    return rc;
}

void mailbox_post(mailbox_t *mb, mail_t *m, mail_fn *fn)
{
    m->fn = fn;
    m->next = NULL;
    pthread_mutex_lock(&mb->mu);
    int was_empty = mb->head == NULL;
    if (mb->tail)
        mb->tail->next = m;
    else
        mb->head = m;
    mb->tail = m;
    pthread_mutex_unlock(&mb->mu);
    /* Only the post that makes the queue non-empty needs to wake the loop: the drain takes the
     * whole list under the mutex, so a later post either joins that list or finds it empty. */
    if (was_empty) {
        uint64_t one = 1;
        ssize_t w = write(mb->efd, &one, sizeof one);
        (void)w; /* EAGAIN only when the counter is near 2^64: the loop is awake anyway */
    }
}

size_t mailbox_drain(mailbox_t *mb)
{
    uint64_t v;
    ssize_t r = read(mb->efd, &v, sizeof v);
    (void)r;
    pthread_mutex_lock(&mb->mu);
    mail_t *m = mb->head;
    mb->head = mb->tail = NULL;
    pthread_mutex_unlock(&mb->mu);
    size_t n = 0;
    while (m) {
        mail_t *next = m->next;
        m->fn(m, mb->arg);
        m = next;
        n++;
    }
    return n;
}

void mailbox_close(mailbox_t *mb, void (*discard)(mail_t *m))
{
    if (mb->efd < 0) return;
    ev_del(mb->loop, mb->efd);
    close(mb->efd);
    mb->efd = -1;
    mail_t *m = mb->head;
    mb->head = mb->tail = NULL;
    while (m) {
        mail_t *next = m->next;
        if (discard) discard(m);
        m = next;
    }
    pthread_mutex_destroy(&mb->mu);
}
