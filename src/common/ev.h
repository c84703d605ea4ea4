/* ev.h -- a small single-threaded epoll event loop with timers (other threads hand it work through
 * mailbox.h). */
#ifndef IC_EV_H
#define IC_EV_H

#include <stdint.h>

#define EV_READ 1
#define EV_WRITE 2

typedef struct ev_loop ev_loop_t;
typedef void ev_io_cb(ev_loop_t *loop, int fd, int events, void *arg);
typedef void ev_timer_cb(ev_loop_t *loop, void *arg);

/* Creates a loop able to watch fds in [0, max_fds). NULL on failure. */
ev_loop_t *ev_create(int max_fds);
void ev_destroy(ev_loop_t *loop);

/* Sets the events watched on fd (EV_READ|EV_WRITE, 0 to pause) and its callback.
 * Returns 0 or -errno. ev_del() forgets fd; call it before close(fd). */
int ev_set(ev_loop_t *loop, int fd, int events, ev_io_cb *cb, void *arg);
int ev_del(ev_loop_t *loop, int fd);
int ev_get(ev_loop_t *loop, int fd);

/* One-shot timers. Returns an id > 0; ev_timer_cancel() of a fired or unknown id is harmless. */
uint64_t ev_timer_add(ev_loop_t *loop, uint64_t after_ms, ev_timer_cb *cb, void *arg);
void ev_timer_cancel(ev_loop_t *loop, uint64_t id);

/* Called once per loop iteration, after its I/O and timer callbacks: used to flush batched
 * output, whichever callback queued it. */
void ev_set_after_io(ev_loop_t *loop, void (*cb)(ev_loop_t *loop, void *arg), void *arg);

/* Runs until ev_stop(). Returns 0, or -errno if epoll fails. */
int ev_run(ev_loop_t *loop);
void ev_stop(ev_loop_t *loop);

/* Time the loop has spent waiting for events (its thread idle) since it was created; the rest
 * of the wall time it was busy. */
uint64_t ev_idle_us(const ev_loop_t *loop);

/* Monotonic clock in milliseconds and microseconds. */
uint64_t ev_now_ms(void);
uint64_t ev_now_us(void);

#endif
