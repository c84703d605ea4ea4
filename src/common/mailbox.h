/* mailbox.h -- handing work to an event loop from other threads: a multi-producer FIFO of
 * messages that the loop's own thread drains when an eventfd wakes it. */
#ifndef IC_MAILBOX_H
#define IC_MAILBOX_H

#include <pthread.h>
#include <stddef.h>

#include "ev.h"

typedef struct mail mail_t;

/* Runs on the mailbox's loop thread with the message, which it now owns (frees or reuses). */
typedef void mail_fn(mail_t *m, void *arg);

/* A message: embed it in the caller's struct and recover that with container_of-style
 * arithmetic, or allocate it bare. `fn` is what the loop does with it. */
struct mail {
    mail_t *next;
    mail_fn *fn;
};

typedef struct {
    pthread_mutex_t mu;
    mail_t *head, *tail; /* posted, not yet delivered (under mu) */
    int efd;             /* eventfd: readable while mail waits */
    ev_loop_t *loop;
    void *arg; /* given to every mail's fn */
} mailbox_t;

/* Watches the mailbox from loop (call on the loop's thread, before other threads post).
 * 0 or -errno. */
int mailbox_init(mailbox_t *mb, ev_loop_t *loop, void *arg);

/* From any thread: queues m with fn for the loop's thread, in order after every message posted
 * earlier by the same thread. Wakes the loop only when the queue was empty, so a burst costs one
 * write(2). Never blocks beyond the queue's mutex. */
void mailbox_post(mailbox_t *mb, mail_t *m, mail_fn *fn);

/* On the loop's thread: delivers everything posted so far (what the eventfd callback does; for
 * shutdown and tests). Returns how many messages ran. */
size_t mailbox_drain(mailbox_t *mb);

/* On the loop's thread, once no other thread posts any more: stops watching; messages still
 * queued are handed to `discard` (may be NULL: they are then dropped without being freed). */
void mailbox_close(mailbox_t *mb, void (*discard)(mail_t *m));

#endif
