/* queue.h -- the one intrusive FIFO list: a head and a tail over elements that carry their own
 * `next` pointer, with O(1) append, prepend, pop and splice.
 *
 * glibc's <sys/queue.h> STAILQ does the same, but its head is valid only after STAILQ_INIT (the
 * tail is a pointer to the last `next`, or to the head itself when empty). Every queue here lives
 * in a struct that is calloc'ed or memset to zero (ops are recycled through a pool by memset), so
 * a zeroed head must be an empty queue: this one is {NULL, NULL}. The element type keeps its own
 * name for the link (`next`, `stage_next`, ...), so walking a queue stays a plain loop:
 *     for (nreq_t *q = n->inflight.head; q; q = q->next)
 */
#ifndef IC_QUEUE_H
#define IC_QUEUE_H

#include <stddef.h>

/* A queue of `type` elements: declare a member as `QUEUE(nreq_t) pending;`. */
#define QUEUE(type)                                                                                \
    struct {                                                                                       \
        type *head, *tail;                                                                         \
    }

#define QUEUE_EMPTY(q) ((q)->head == NULL)

/* Appends e (its link field named `link`). */
#define QUEUE_PUSH_TAIL(q, e, link)                                                                \
    do {                                                                                           \
        (e)->link = NULL;                                                                          \
        if ((q)->tail)                                                                             \
            (q)->tail->link = (e);                                                                 \
        else                                                                                       \
            (q)->head = (e);                                                                       \
        (q)->tail = (e);                                                                           \
    } while (0)

/* Puts e in front. */
#define QUEUE_PUSH_HEAD(q, e, link)                                                                \
    do {                                                                                           \
        (e)->link = (q)->head;                                                                     \
        (q)->head = (e);                                                                           \
        if (!(q)->tail) (q)->tail = (e);                                                           \
    } while (0)

/* Removes the first element (the queue must not be empty); it is left in `out`. */
#define QUEUE_POP_HEAD(q, out, link)                                                               \
    do {                                                                                           \
        (out) = (q)->head;                                                                         \
        (q)->head = (out)->link;                                                                   \
        if (!(q)->head) (q)->tail = NULL;                                                          \
        (out)->link = NULL;                                                                        \
    } while (0)

/* Moves every element of `front` in front of q's (front ends empty). */
#define QUEUE_PREPEND(q, front, link)                                                              \
    do {                                                                                           \
        if ((front)->head) {                                                                       \
            (front)->tail->link = (q)->head;                                                       \
            if (!(q)->head) (q)->tail = (front)->tail;                                             \
            (q)->head = (front)->head;                                                             \
            (front)->head = (front)->tail = NULL;                                                  \
        }                                                                                          \
    } while (0)

/* Unlinks e wherever it is (a walk: for the rare removal from the middle). */
#define QUEUE_REMOVE(q, e, type, link)                                                             \
    do {                                                                                           \
        type *prev_ = NULL;                                                                        \
        for (type *it_ = (q)->head; it_; prev_ = it_, it_ = it_->link) {                           \
            if (it_ != (e)) continue;                                                              \
            if (prev_)                                                                             \
                prev_->link = it_->link;                                                           \
            else                                                                                   \
                (q)->head = it_->link;                                                             \
            if ((q)->tail == it_) (q)->tail = prev_;                                               \
            it_->link = NULL;                                                                      \
            break;                                                                                 \
        }                                                                                          \
    } while (0)

/* Empties the queue without touching its elements (the caller has taken them). */
#define QUEUE_CLEAR(q) ((q)->head = (q)->tail = NULL)

#endif
