/* invoker.c -- invokes functions through the Lambda Invoke API with libcurl, on a thread of its
 * own so the event loop never waits on HTTP. Results come back through the loop's mailbox. The same
 * code talks to the local platform and to AWS (SigV4 signing by libcurl when configured, with
 * the keys the credential provider holds at the moment each request starts: awscreds.c).
 * A call answered 429 (throttled) or 5xx is tried again, up to --invoke-attempts in all, after
 * a capped and jittered exponential delay (backoff.c): Lambda throttles a burst of invocations
 * (a warm-up of the whole pool, a backup) and tells the caller to come back later. */
#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "awscreds.h"
#include "backoff.h"
#include "log.h"
#include "mailbox.h"
#include "queue.h"
#include "invoker.h"
#include "nodepool.h"
#include "server.h"

typedef struct job {
    struct job *next;
    mail_t done; /* posted to the loop when the invocation ended */
    int node_id;
    char function[96];
    char *payload;
    /* result */
    int ok;
    char err[200];
    CURL *easy;
    struct curl_slist *headers;
    struct job *prev_active, *next_active; /* in the invoker's list of running transfers */
    char body[512];
    size_t body_len;
    int attempt;     /* tries made so far */
    uint64_t due_ms; /* a retry waits in the invoker's delayed list until then */
} job_t;

struct invoker {
    server_t *srv;
    char endpoint[256];
    char sigv4[128];
    char admin_header[600]; /* "Authorization: Bearer <platform admin token>"; "": no stats */
    int64_t timeout_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    QUEUE(job_t) todo;
    mailbox_t results; /* thread -> loop: finished jobs */
    int wake_fd;       /* loop -> thread */
    int stop;
    char stats[8192];
    CURLM *multi;
    job_t *active;  /* transfers in the multi handle (invoker thread only) */
    job_t *delayed; /* retries waiting for their time (invoker thread only) */
    int64_t attempts, backoff_ms, backoff_max_ms;
    atomic_uint_fast64_t throttled, retries;
};

static void free_job(job_t *j)
{
    free(j->payload);
    free(j);
}

/* Keeps what fits of a response body (NUL-terminated); the rest is read and dropped. */
static size_t append_capped(char *dst, size_t cap, size_t *used, const char *p, size_t len)
{
    size_t room = cap - 1 - *used;
    size_t take = len < room ? len : room;
    memcpy(dst + *used, p, take);
    *used += take;
    dst[*used] = 0;
    return len;
}

static size_t collect_body(char *p, size_t size, size_t n, void *arg)
{
    job_t *j = arg;
    return append_capped(j->body, sizeof j->body, &j->body_len, p, size * n);
}

/* Each request is signed with the keys current when it starts, so keys the provider replaced
 * (temporary credentials near their expiry) are used from the next request on. */
static void sign_job(invoker_t *inv, job_t *j)
{
    static char userpwd[AWSCREDS_KEY_ID_MAX + AWSCREDS_SECRET_MAX + 2];
    static char token_header[AWSCREDS_TOKEN_MAX + 32]; /* this thread's only */
    awscreds_current(inv->srv->aws, userpwd, sizeof userpwd, token_header, sizeof token_header);
    if (token_header[0]) j->headers = curl_slist_append(j->headers, token_header);
    curl_easy_setopt(j->easy, CURLOPT_AWS_SIGV4, inv->sigv4);
    curl_easy_setopt(j->easy, CURLOPT_USERPWD, userpwd); /* libcurl keeps a copy */
    explicit_bzero(userpwd, sizeof userpwd);
    explicit_bzero(token_header, sizeof token_header);
}

static void start_job(invoker_t *inv, job_t *j)
{
    char url[512];
    snprintf(url, sizeof url, "%s/2015-03-31/functions/%s/invocations", inv->endpoint, j->function);
    j->easy = curl_easy_init();
    if (!j->easy) {
        snprintf(j->err, sizeof j->err, "curl_easy_init failed");
        return;
    }
    j->headers = curl_slist_append(NULL, "X-Amz-Invocation-Type: Event");
    j->headers = curl_slist_append(j->headers, "Content-Type: application/json");
    if (inv->sigv4[0] && inv->srv->aws) sign_job(inv, j);
    curl_easy_setopt(j->easy, CURLOPT_URL, url);
    curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->headers);
    curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->payload);
    curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
    curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, (long)inv->timeout_ms);
    curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(j->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_multi_add_handle(inv->multi, j->easy);
    j->next_active = inv->active;
    if (inv->active) inv->active->prev_active = j;
    inv->active = j;
}

static void release_transfer(invoker_t *inv, job_t *j)
{
    if (j->prev_active)
        j->prev_active->next_active = j->next_active;
    else if (inv->active == j)
        inv->active = j->next_active;
    if (j->next_active) j->next_active->prev_active = j->prev_active;
    j->prev_active = j->next_active = NULL;
    curl_multi_remove_handle(inv->multi, j->easy);
    curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
    j->easy = NULL;
    j->headers = NULL;
}

/* Loop side: a finished job goes to the node layer. */
static void on_done(mail_t *m, void *arg)
{
    invoker_t *inv = arg;
    job_t *j = (job_t *)((char *)m - offsetof(job_t, done));
    node_invoke_result(inv->srv, j->node_id, j->ok, j->err);
    free_job(j);
}

static void free_job_mail(mail_t *m)
{
    free_job((job_t *)((char *)m - offsetof(job_t, done)));
}

static void finish_job(invoker_t *inv, job_t *j, CURLcode rc)
{
    long status = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    j->attempt++;
    if (status == 429) atomic_fetch_add(&inv->throttled, 1);
    if (rc == CURLE_OK && backoff_retryable(status) && j->attempt < inv->attempts) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) r = ev_now_ms();
        int64_t delay = backoff_delay_ms(j->attempt - 1, inv->backoff_ms, inv->backoff_max_ms, r);
        log_info("event=invoke_backoff node=%d function=%s status=%ld attempt=%d delay_ms=%lld",
                 j->node_id, j->function, status, j->attempt, (long long)delay);
        atomic_fetch_add(&inv->retries, 1);
        release_transfer(inv, j);
        j->body_len = 0;
        j->body[0] = 0;
        j->due_ms = ev_now_ms() + (uint64_t)delay;
        j->next = inv->delayed;
        inv->delayed = j;
        return;
    }
    if (rc != CURLE_OK) {
        snprintf(j->err, sizeof j->err, "%s", curl_easy_strerror(rc));
    } else if (status != 202 && status != 200) {
        snprintf(j->err, sizeof j->err, "HTTP %ld: %.150s", status, j->body);
    } else {
        j->ok = 1;
    }
    release_transfer(inv, j);
    mailbox_post(&inv->results, &j->done, on_done);
}

typedef struct {
    char body[sizeof(((invoker_t *)0)->stats)];
    size_t body_len;
} stats_body_t;

static size_t collect_stats(char *p, size_t size, size_t n, void *arg)
{
    stats_body_t *j = arg;
    return append_capped(j->body, sizeof j->body, &j->body_len, p, size * n);
}

/* Platform stats are fetched once a second, for INFO. Only the local platform has them, behind
 * its admin token. */
static void fetch_stats(invoker_t *inv)
{
    static stats_body_t j; /* this thread's only; too big for a small stack frame */
    memset(&j, 0, sizeof j);
    char url[512];
    snprintf(url, sizeof url, "%s/admin/stats", inv->endpoint);
    CURL *e = curl_easy_init();
    if (!e) return;
    struct curl_slist *headers = curl_slist_append(NULL, inv->admin_header);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect_stats);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &j);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 500L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform(e) == CURLE_OK) curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    curl_slist_free_all(headers);
    pthread_mutex_lock(&inv->mu);
    snprintf(inv->stats, sizeof inv->stats, "%s", status == 200 ? j.body : "");
    pthread_mutex_unlock(&inv->mu);
}

static void *invoker_main(void *arg)
{
    invoker_t *inv = arg;
    uint64_t last_stats = 0;
    int local = inv->admin_header[0] != 0; /* a platform whose admin token we hold */
    for (;;) {
        pthread_mutex_lock(&inv->mu);
        int stop = inv->stop;
        job_t *todo = inv->todo.head;
        QUEUE_CLEAR(&inv->todo);
        pthread_mutex_unlock(&inv->mu);
        if (stop) {
            /* Transfers still running at shutdown are abandoned, their memory released. */
            while (inv->active) {
                job_t *j = inv->active;
                release_transfer(inv, j);
                free_job(j);
            }
            while (inv->delayed) {
                job_t *j = inv->delayed;
                inv->delayed = j->next;
                free_job(j);
            }
            inv->todo.head = todo; /* freed by invoker_stop */
            break;
        }
        while (todo) {
            job_t *next = todo->next;
            start_job(inv, todo);
            if (!todo->easy) finish_job(inv, todo, CURLE_FAILED_INIT);
            todo = next;
        }
        /* Retries whose time has come. */
        uint64_t now = ev_now_ms(), next_due = UINT64_MAX;
        for (job_t **pp = &inv->delayed; *pp;) {
            job_t *j = *pp;
            if (j->due_ms > now) {
                if (j->due_ms < next_due) next_due = j->due_ms;
                pp = &j->next;
                continue;
            }
            *pp = j->next;
            j->next = NULL;
            start_job(inv, j);
            if (!j->easy) finish_job(inv, j, CURLE_FAILED_INIT);
        }
        int running = 0;
        curl_multi_perform(inv->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(inv->multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            job_t *j;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            finish_job(inv, j, msg->data.result);
        }
        if (local && ev_now_ms() - last_stats >= 1000) {
            last_stats = ev_now_ms();
            fetch_stats(inv);
        }
        struct curl_waitfd wfd = {inv->wake_fd, CURL_WAIT_POLLIN, 0};
        int numfds;
        int wait_ms = 200;
        if (next_due != UINT64_MAX && next_due - now < (uint64_t)wait_ms)
            wait_ms = (int)(next_due - now);
        curl_multi_poll(inv->multi, &wfd, 1, wait_ms, &numfds);
        if (wfd.revents) {
            uint64_t v;
            ssize_t r = read(inv->wake_fd, &v, sizeof v);
            (void)r;
        }
    }
    return NULL;
}

invoker_t *invoker_start(server_t *srv, const char *endpoint, const char *sigv4, int64_t timeout_ms,
                         const char *admin_token)
{
    static int curl_ready;
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = 1;
    }
    invoker_t *inv = calloc(1, sizeof *inv);
    if (!inv) return NULL;
    inv->srv = srv;
    snprintf(inv->endpoint, sizeof inv->endpoint, "%s", endpoint);
    size_t el = strlen(inv->endpoint);
    if (el && inv->endpoint[el - 1] == '/') inv->endpoint[el - 1] = 0;
    snprintf(inv->sigv4, sizeof inv->sigv4, "%s", sigv4 ? sigv4 : "");
    if (admin_token && admin_token[0])
        snprintf(inv->admin_header, sizeof inv->admin_header, "Authorization: Bearer %s",
                 admin_token);
    inv->timeout_ms = timeout_ms;
    inv->attempts = srv->cfg.invoke_attempts > 0 ? srv->cfg.invoke_attempts : 1;
    inv->backoff_ms = srv->cfg.invoke_backoff_ms;
    inv->backoff_max_ms = srv->cfg.invoke_backoff_max_ms;
    pthread_mutex_init(&inv->mu, NULL);
    inv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    inv->multi = curl_multi_init();
    if (inv->wake_fd < 0 || !inv->multi || mailbox_init(&inv->results, srv->loop, inv) < 0 ||
        pthread_create(&inv->thread, NULL, invoker_main, inv) != 0) {
        log_error("event=invoker_start_failed");
        return NULL;
    }
    return inv;
}

void invoker_invoke(invoker_t *inv, int node_id, const char *function, const char *payload)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j || !(j->payload = strdup(payload))) {
        free(j);
        node_invoke_result(inv->srv, node_id, 0, "out of memory");
        return;
    }
    j->node_id = node_id;
    snprintf(j->function, sizeof j->function, "%s", function);
    pthread_mutex_lock(&inv->mu);
    QUEUE_PUSH_TAIL(&inv->todo, j, next);
    pthread_mutex_unlock(&inv->mu);
    uint64_t one = 1;
    ssize_t w = write(inv->wake_fd, &one, sizeof one);
    (void)w;
}

void invoker_platform_stats(invoker_t *inv, char *out, size_t cap)
{
    pthread_mutex_lock(&inv->mu);
    snprintf(out, cap, "%s", inv->stats);
    pthread_mutex_unlock(&inv->mu);
}

void invoker_stop(invoker_t *inv)
{
    if (!inv) return;
    pthread_mutex_lock(&inv->mu);
    inv->stop = 1;
    pthread_mutex_unlock(&inv->mu);
    uint64_t one = 1;
    ssize_t w = write(inv->wake_fd, &one, sizeof one);
    (void)w;
    pthread_join(inv->thread, NULL);
    curl_multi_cleanup(inv->multi);
    close(inv->wake_fd);
    mailbox_close(&inv->results, free_job_mail);
    for (job_t *j = inv->todo.head; j;) {
        job_t *next = j->next;
        free_job(j);
        j = next;
    }
    explicit_bzero(inv->admin_header, sizeof inv->admin_header);
    free(inv);
}

void invoker_counters(invoker_t *inv, uint64_t *throttled, uint64_t *retries)
{
    *throttled = atomic_load(&inv->throttled);
    *retries = atomic_load(&inv->retries);
}
