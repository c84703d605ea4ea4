/* mover.h -- byte movers: worker threads that carry out the transport's bulk copies (a chunk body
 * read into memory or discarded, a large output queue written out) while the event-loop thread,
 * which alone makes every decision, goes on with other work.
 *
 * A job names file descriptors and memory the loop thread lends for the transfer and does not
 * touch until the job comes back: its completion is delivered on the loop's thread through a
 * mailbox, or taken back at once by mover_cancel. Workers never call into the proxy. */
#ifndef IC_PROXY_MOVER_H
#define IC_PROXY_MOVER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ev.h"
#include "mailbox.h"

typedef struct mover mover_t;
typedef struct mover_job mover_job_t;

typedef enum {
    MOVE_READ,    /* len bytes from src into mem */
    MOVE_DISCARD, /* len bytes from src into nowhere */
    MOVE_WRITEV,  /* iov to dst */
} move_kind_t;

/* Which end failed (mover_job_t.failed). */
enum { MOVE_OK = 0, MOVE_SRC_FAILED = 1, MOVE_DST_FAILED = 2, MOVE_CANCELLED = 3 };

/* Runs on the loop's thread once the job is done (not after mover_cancel took it back). */
typedef void mover_done_fn(mover_job_t *j, void *arg);

struct mover_job {
    mail_t mail; /* the completion, posted to the loop (first: the mail is the job) */
    move_kind_t kind;
    int src_fd, dst_fd;
    char *mem;            /* MOVE_READ */
    size_t len;           /* bytes to take from src (READ, DISCARD) */
    /* MOVE_READ: once every byte is in, the CRC-32C of crc_len bytes at crc_base (the whole
     * chunk the body belongs to, part of which the loop thread may have filled before) */
    int want_crc;
    const char *crc_base;
    size_t crc_len;
    uint32_t crc;
    struct iovec *iov;    /* MOVE_WRITEV: owned by the job, freed with it */
    int iovcnt;
    /* results, valid on the loop thread once the job is back */
    size_t moved_in;  /* bytes taken from src */
    size_t moved_out; /* bytes put into dst */
    int failed;       /* MOVE_OK or which end failed */
    int err;          /* errno of the failure; 0 at the source's end of stream */
    /* bookkeeping */
    mover_done_fn *done;
    void *arg;
    atomic_int finished;  /* set by the worker once it let go of everything the job names */
    atomic_int cancelled; /* set by the loop thread: stop at once */
    int reaped;           /* loop thread: taken back by mover_cancel, only free it */
    int wait;             /* worker: what the job waits for, or -1 when it is ready to step */
    uint64_t busy_us;     /* worker: time spent moving its bytes */
    mover_job_t *next_active; /* the worker's list of jobs under way */
    size_t iov_done;          /* MOVE_WRITEV: iov entries already written whole */
};

typedef struct {
    uint64_t jobs;        /* submitted */
    uint64_t bytes;       /* moved by workers (in or out, whichever the job counts) */
    uint64_t cancelled;   /* taken back before they finished */
    uint64_t busy_us;     /* workers' time spent moving bytes */
} mover_stats_t;

/* Whether the loop should hand transfers to movers now (--mover-when busy). A hand-off costs
 * the loop a few system calls and its transfer a wake-up each way, which pays only while the
 * bytes would keep the loop near saturation: a single client's 10 MiB SET was 5-18% slower with
 * every transfer handed over, eight clients' Redis-protocol GETs 29% faster with the loop at a
 * third of its load (docs/BENCHMARKS.md, "Threads").
 * loop_busy: the loop's busy share of the last sample (1 - idle); movers_busy: the movers' moving
 * time over the same wall time; both in cores. On from MOVER_ON_LOAD, off below MOVER_OFF_LOAD
 * (apart, so that the loop freed by the movers does not switch them off at once). */
#define MOVER_ON_LOAD 0.6
#define MOVER_OFF_LOAD 0.4
int mover_wanted(int carrying, double loop_busy, double movers_busy);

/* Starts `threads` workers whose completions the loop thread receives (0 threads: NULL, and
 * the transport moves every byte itself). NULL on failure too. */
mover_t *mover_start(ev_loop_t *loop, int threads);
/* Stops and joins the workers; no job may be under way. */
void mover_stop(mover_t *m);
int mover_threads(const mover_t *m);
/* A zeroed job with its kind and completion. NULL when out of memory. */
mover_job_t *mover_job_new(move_kind_t kind, mover_done_fn *done, void *arg);
/* Hands the job to a worker (chosen by the descriptor it uses, so jobs on one socket stay in one
 * worker's order). From now until done runs, the loop thread does not use the job's descriptor
 * for that direction nor its memory. */
void mover_submit(mover_t *m, mover_job_t *j);
/* Takes a job back before it is done: the worker stops at its next step (a shut-down socket
 * makes that immediate) and this returns once it has let go; the results say how far it got.
 * done never runs for it; the job's memory is freed later by the mailbox. */
void mover_cancel(mover_t *m, mover_job_t *j);
/* The counters, summed over workers (loop thread). */
void mover_stats(const mover_t *m, mover_stats_t *out);

#endif
