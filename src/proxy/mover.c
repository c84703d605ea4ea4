/* mover.c -- byte movers: worker threads that run the transport's bulk copies (see mover.h).
 *
 * Each worker keeps a list of jobs under way, steps the ready ones a bounded amount each turn
 * (so one 1 GiB body does not hold up the chunk reads behind it) and sleeps in poll(2) on what
 * they wait for and on an eventfd that announces new jobs and cancellations. poll rather than a
 * private epoll set: a worker has tens of jobs at a time, the set changes with every job, and
 * two jobs may wait on the same socket (a node's reply body and the requests written to it). */
#include "mover.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ec.h"

#define STEP_MAX (1u << 20)         /* bytes one job moves per turn before others get theirs */
#define SCRATCH_SIZE (256u * 1024u) /* where discarded bodies go */

typedef struct worker {
    pthread_t th;
    pthread_mutex_t mu;
    mover_job_t *inbox; /* submitted, not yet taken (under mu), newest first */
    int efd;
    atomic_int stop;
    mover_job_t *active; /* the worker's own */
    char *scratch;
    struct pollfd *pfd;
    mover_job_t **pjob;
    size_t pcap;
    mover_t *m;
} worker_t;

struct mover {
    mailbox_t mb; /* completions, on the loop thread */
    int n;
    worker_t *w;
    mover_stats_t stats; /* loop thread only */
};

enum { STEP_DONE, STEP_MORE, STEP_WAIT_IN, STEP_WAIT_OUT };

static void on_done(mail_t *mail, void *arg);

/* The job ended (done, failed or cancelled): the worker lets go and the loop is told. */
static void finish(worker_t *w, mover_job_t *j)
{
    atomic_store_explicit(&j->finished, 1, memory_order_release);
    /* From here the loop thread may take the results (mover_cancel); the mail still belongs to
     * the worker until posted, and the loop frees the job only when the mail arrives. */
    mailbox_post(&w->m->mb, &j->mail, on_done);
}

/* The job's outcome, published by finish once the worker is done with the job. */
static int end(mover_job_t *j, int failed, int err)
{
    j->failed = failed;
    j->err = err;
    return STEP_DONE;
}

static int step_read(worker_t *w, mover_job_t *j)
{
    size_t moved = 0;
    while (j->moved_in < j->len) {
        if (moved >= STEP_MAX) return STEP_MORE;
        size_t want = j->len - j->moved_in;
        char *dst;
        if (j->kind == MOVE_READ) {
            dst = j->mem + j->moved_in;
        } else {
            dst = w->scratch;
            if (want > SCRATCH_SIZE) want = SCRATCH_SIZE;
        }
        if (want > STEP_MAX) want = STEP_MAX;
        ssize_t n = read(j->src_fd, dst, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return STEP_WAIT_IN;
        if (n <= 0) {
            return end(j, MOVE_SRC_FAILED, n == 0 ? 0 : errno);
        }
        j->moved_in += (size_t)n;
        moved += (size_t)n;
    }
    if (j->want_crc) j->crc = ec_crc(j->crc_base, j->crc_len);
    return end(j, MOVE_OK, 0);
}

static int step_writev(worker_t *w, mover_job_t *j)
{
    size_t moved = 0;
    while (j->iovcnt > 0) {
        if (moved >= STEP_MAX) return STEP_MORE;
        int cnt = j->iovcnt < IOV_MAX ? j->iovcnt : IOV_MAX;
        ssize_t n = writev(j->dst_fd, j->iov + (j->iov_done), cnt);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return STEP_WAIT_OUT;
        if (n < 0) {
            return end(j, MOVE_DST_FAILED, errno);
        }
        j->moved_out += (size_t)n;
        moved += (size_t)n;
        /* iov_done counts whole entries taken; the first left is trimmed in place. */
        size_t left = (size_t)n;
        while (left > 0 && j->iovcnt > 0) {
            struct iovec *v = &j->iov[j->iov_done];
            if (left < v->iov_len) {
                v->iov_base = (char *)v->iov_base + left;
                v->iov_len -= left;
                left = 0;
            } else {
                left -= v->iov_len;
                j->iov_done++;
                j->iovcnt--;
            }
        }
        while (j->iovcnt > 0 && j->iov[j->iov_done].iov_len == 0) {
            j->iov_done++;
            j->iovcnt--;
        }
    }
    return end(j, MOVE_OK, 0);
}

static int step(worker_t *w, mover_job_t *j)
{
    switch (j->kind) {
    case MOVE_READ:
    case MOVE_DISCARD:
        return step_read(w, j);
    case MOVE_WRITEV:
        return step_writev(w, j);
    }
    return STEP_DONE;
}

static int grow_poll(worker_t *w, size_t need)
{
    if (need <= w->pcap) return 0;
    size_t cap = w->pcap ? w->pcap * 2 : 64;
    while (cap < need) cap *= 2;
    struct pollfd *p = realloc(w->pfd, cap * sizeof *p);
    if (!p) return -1;
    w->pfd = p;
    mover_job_t **q = realloc(w->pjob, cap * sizeof *q);
    if (!q) return -1;
    w->pjob = q;
    w->pcap = cap;
    return 0;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    /* Jobs ready to step: new ones, and those whose descriptor poll reported. A job waiting on
     * its socket is stepped again only when poll says so. */
    for (;;) {
        pthread_mutex_lock(&w->mu);
        mover_job_t *in = w->inbox;
        w->inbox = NULL;
        pthread_mutex_unlock(&w->mu);
        /* The inbox is newest first: reverse it so jobs start in the order submitted. */
        mover_job_t *rev = NULL;
        while (in) {
            mover_job_t *next = in->next_active;
            in->next_active = rev;
            rev = in;
            in = next;
        }
        mover_job_t **tail = &w->active;
        while (*tail) tail = &(*tail)->next_active;
        *tail = rev;
        for (mover_job_t *j = rev; j; j = j->next_active) j->wait = -1; /* -1: ready */

        if (atomic_load_explicit(&w->stop, memory_order_acquire)) {
            /* Nothing should be under way at shutdown; whatever is, is given back. */
            while (w->active) {
                mover_job_t *j = w->active;
                w->active = j->next_active;
                end(j, MOVE_CANCELLED, ECANCELED);
                finish(w, j);
            }
            break;
        }

        int more = 0;
        size_t np = 1;
        for (mover_job_t **pp = &w->active; *pp;) {
            mover_job_t *j = *pp;
            int rc;
            if (atomic_load_explicit(&j->cancelled, memory_order_acquire)) {
                *pp = j->next_active;
                end(j, MOVE_CANCELLED, ECANCELED);
                finish(w, j);
                continue;
            }
            if (j->wait == -1) {
                uint64_t t0 = clock_mono_us();
                rc = step(w, j);
                j->busy_us += clock_mono_us() - t0;
            } else {
                rc = j->wait; /* still waiting for what it waited for */
            }
            if (rc == STEP_DONE) {
                *pp = j->next_active; /* the job is the loop's once finished: nothing after */
                finish(w, j);
                continue;
            }
            if (rc == STEP_MORE) {
                more = 1;
                j->wait = -1;
            } else {
                j->wait = rc;
                if (grow_poll(w, np + 1) == 0) {
                    w->pfd[np].fd = rc == STEP_WAIT_IN ? j->src_fd : j->dst_fd;
                    w->pfd[np].events = rc == STEP_WAIT_IN ? POLLIN : POLLOUT;
                    w->pfd[np].revents = 0;
                    w->pjob[np] = j;
                    np++;
                } else {
                    more = 1; /* no room to wait: spin on it */
                    j->wait = -1;
                }
            }
            pp = &j->next_active;
        }
        if (grow_poll(w, 1) < 0) continue;
        w->pfd[0].fd = w->efd;
        w->pfd[0].events = POLLIN;
        w->pfd[0].revents = 0;
        int n = poll(w->pfd, (nfds_t)np, more ? 0 : -1);
        if (n <= 0) continue;
        if (w->pfd[0].revents) {
            uint64_t v;
            ssize_t r = read(w->efd, &v, sizeof v);
            (void)r;
        }
        for (size_t i = 1; i < np; i++)
            if (w->pfd[i].revents) w->pjob[i]->wait = -1;
    }
    return NULL;
}

static void wake(worker_t *w)
{
    uint64_t one = 1;
    ssize_t r = write(w->efd, &one, sizeof one);
    (void)r;
}

/* The job's bytes and time join the counters (loop thread), whether it ended or was taken back. */
static void count_job(mover_t *m, const mover_job_t *j)
{
    m->stats.bytes += j->kind == MOVE_WRITEV ? j->moved_out : j->moved_in;
    m->stats.busy_us += j->busy_us;
}

static void on_done(mail_t *mail, void *arg)
{
    mover_t *m = arg;
    mover_job_t *j = (mover_job_t *)mail;
    if (!j->reaped) {
        count_job(m, j);
        if (j->done) j->done(j, j->arg);
    }
    free(j->iov);
    free(j);
}

int mover_wanted(int carrying, double loop_busy, double movers_busy)
{
    double load = loop_busy + movers_busy;
    return carrying ? load >= MOVER_OFF_LOAD : load >= MOVER_ON_LOAD;
}

mover_t *mover_start(ev_loop_t *loop, int threads)
{
    if (threads <= 0) return NULL;
    mover_t *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->w = calloc((size_t)threads, sizeof *m->w);
    if (!m->w || mailbox_init(&m->mb, loop, m) < 0) {
        free(m->w);
        free(m);
        return NULL;
    }
    /* Workers take no signals: SIGTERM and SIGINT belong to the loop's signalfd, which only
     * sees them when every thread blocks them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; i < threads; i++) {
        worker_t *w = &m->w[i];
        w->m = m;
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        w->scratch = malloc(SCRATCH_SIZE);
        pthread_mutex_init(&w->mu, NULL);
        if (w->efd < 0 || !w->scratch || pthread_create(&w->th, NULL, worker_main, w) != 0) {
            if (w->efd >= 0) close(w->efd);
            free(w->scratch);
            pthread_mutex_destroy(&w->mu);
            m->n = i;
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            mover_stop(m);
            return NULL;
        }
        m->n = i + 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return m;
}

void mover_stop(mover_t *m)
{
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        atomic_store_explicit(&m->w[i].stop, 1, memory_order_release);
        wake(&m->w[i]);
    }
    for (int i = 0; i < m->n; i++) {
        worker_t *w = &m->w[i];
        pthread_join(w->th, NULL);
        close(w->efd);
        free(w->scratch);
        free(w->pfd);
        free(w->pjob);
        pthread_mutex_destroy(&w->mu);
    }
    mailbox_drain(&m->mb);
    mailbox_close(&m->mb, NULL);
    free(m->w);
    free(m);
}

int mover_threads(const mover_t *m)
{
    return m ? m->n : 0;
}

mover_job_t *mover_job_new(move_kind_t kind, mover_done_fn *done, void *arg)
{
    mover_job_t *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->kind = kind;
    j->src_fd = j->dst_fd = -1;
    j->done = done;
    j->arg = arg;
    atomic_init(&j->finished, 0);
    atomic_init(&j->cancelled, 0);
    return j;
}

/* A job's worker, by the descriptor it uses: jobs on one socket keep one worker's order. */
static worker_t *worker_of(mover_t *m, const mover_job_t *j)
{
    int fd = j->kind == MOVE_WRITEV ? j->dst_fd : j->src_fd;
    return &m->w[(unsigned)fd % (unsigned)m->n];
}

void mover_submit(mover_t *m, mover_job_t *j)
{
    worker_t *w = worker_of(m, j);
    m->stats.jobs++;
    pthread_mutex_lock(&w->mu);
    int was_empty = w->inbox == NULL;
    j->next_active = w->inbox;
    w->inbox = j;
    pthread_mutex_unlock(&w->mu);
    if (was_empty) wake(w);
}

void mover_cancel(mover_t *m, mover_job_t *j)
{
    worker_t *w = worker_of(m, j);
    atomic_store_explicit(&j->cancelled, 1, memory_order_release);
    wake(w);
    /* The worker checks cancellations every turn and never blocks in a system call (its
     * descriptors are non-blocking), so this wait is a few microseconds. */
    for (unsigned spins = 0; !atomic_load_explicit(&j->finished, memory_order_acquire); spins++) {
        if (spins < 64) {
            sched_yield();
        } else {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
    j->reaped = 1;
    m->stats.cancelled++;
    count_job(m, j);
}

void mover_stats(const mover_t *m, mover_stats_t *out)
{
    if (!m) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = m->stats;
}
