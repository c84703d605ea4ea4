/* platform.c -- instance lifecycle of the local function platform: dispatch, freeze, timeouts,
 * reaping.
 *
 * Threading: one mutex (p->lock) guards all state. HTTP threads (one per connection) call the
 * platform_* entry points and may block on condition variables: a synchronous invoker waits on
 * p->done_cond until its invocation is done, a runtime's GET /next waits on its instance's cond
 * until an invocation is assigned. The manager thread forks instances, reaps exited ones
 * (waitpid), and enforces timeouts, idle reclaim and random reclaim on a short tick.
 *
 * Ownership: an invocation is referenced by the platform until it is finished (queue, instance)
 * and by a synchronous invoker while it waits; an instance is referenced by its function's list
 * until it is reaped and by every HTTP thread inside platform_runtime_next. The last reference
 * frees. */
#include "platform.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "queue.h"
#include "placement.h"
#include "reclaim.h"
#include "route.h"

extern char **environ;

#define MANAGER_TICK_MS 10
#define LOG_TAIL 4096 /* Lambda returns the last 4 KB of an invocation's log */
#define MAX_INSTANCES_PER_FUNCTION 1024

typedef enum { INST_STARTING, INST_IDLE, INST_BUSY, INST_DEAD } inst_state_t;
typedef enum { INV_QUEUED, INV_ASSIGNED, INV_RUNNING, INV_DONE } inv_state_t;

typedef struct invocation invocation_t;
typedef struct instance instance_t;

struct invocation {
    int refs;
    char request_id[40];
    size_t fn;
    char *payload;
    size_t len;
    billing_kind_t kind;
    int sync;
    int want_tail;      /* --log-type Tail: keep the instance's output of this invocation */
    uint64_t out_start; /* the instance's output counter when the invocation started */
    char *log_tail;     /* set when done, for want_tail */
    inv_state_t state;
    instance_t *inst; /* while assigned or running */
    int started;
    int64_t start_mono_us, start_wall_ms, deadline_mono_us, deadline_wall_ms;
    int function_error;
    int attempt; /* 0 for the first; failed Event invocations are retried */
    int64_t created_mono_us; /* of the first attempt: MaximumEventAgeInSeconds counts from it */
    char trace_id[96];       /* X-Amzn-Trace-Id of the Invoke, handed on as Lambda-Runtime-Trace-Id */
    int64_t not_before_us; /* a retry waits until then */
    char *result; /* set when done */
    size_t result_len;
    invocation_t *next; /* function queue link */
};

struct instance {
    uint64_t id;
    size_t fn;
    pid_t pid; /* 0 until the manager has forked it */
    inst_state_t state;
    int spawn_pending;
    int idle_stopped; /* SIGSTOPped by the platform while waiting in /next */
    int admin_frozen; /* SIGSTOPped through /admin/freeze */
    invocation_t *inv;
    uint64_t invocations;
    int64_t started_wall_ms, started_mono_us, last_used_wall_ms, last_used_mono_us;
    /* Random reclaim: this instance's own stream of draws (seed, instance id), and the deadline
     * drawn for its current idle period, which began at random_reclaim_from_us (the
     * last_used_mono_us it was drawn for; a new idle period draws anew). */
    reclaim_rng_t rng;
    int random_reclaim_armed;
    int64_t random_reclaim_from_us, random_reclaim_at_us;
    int refs;
    int linked;
    uint64_t code_version; /* of its function when forked: an older one is retired when idle */
    /* Its stdout and stderr come through a pipe the platform drains (copying everything to its
     * own stderr) so that the last LOG_TAIL bytes are at hand for --log-type Tail. */
    int out_fd;
    uint64_t out_total;
    char out_ring[LOG_TAIL];
    pthread_cond_t cond;
    instance_t *next;
};

typedef struct {
    char name[ROUTE_MAX_NAME + 1];
    instance_t *instances;
    QUEUE(invocation_t) queue;
    size_t queue_len;
    invocation_t *retries; /* Event retries waiting for their delay (not_before_us) */
    /* Runtime settings (platform_function_put); the pre-configured functions take the
     * options'. exec and task_root are owned. */
    int64_t memory_mb, timeout_ms;
    char *exec;
    char *task_root;  /* NULL: a pre-configured function (no code of its own) */
    char **env;       /* the function's own "K=V" variables, NULL-terminated, owned */
    uint64_t code_version;
    int64_t reserved; /* reserved concurrency, -1: none */
    int64_t max_retries, max_event_age_s;
    int64_t ready_at_ms; /* wall clock: Pending until then (invocations get 409) */
    int deleted;         /* DeleteFunction: the slot stays (indexes are kept), never found */
} function_t;

struct platform {
    const platform_config_t *cfg;
    pthread_mutex_t lock;
    pthread_cond_t mgr_cond;
    pthread_cond_t done_cond; /* broadcast whenever an invocation finishes */
    pthread_t mgr;
    int mgr_started;
    int stopping;
    int shut_down;
    int port;
    function_t **fns; /* never shrinks: invocations and instances refer to functions by index */
    size_t nfns, capfns;
    size_t preconfigured; /* fns[0 .. preconfigured-1] are PREFIX0 .. PREFIX(N-1) */
    uint64_t next_instance_id;
    billing_totals_t totals;
    uint64_t cold_starts, throttles, live_instances;
    uint64_t throttles_reserved, throttles_account, retries;
    uint64_t reclaims_idle, reclaims_random, reclaims_admin;
    int64_t idle_reclaim_us;    /* --idle-reclaim scaled by --time-compression */
    double reclaim_rate_per_us; /* --reclaim-rate scaled by --time-compression, per real us */
    int64_t event_retry_delay_us; /* --event-retry-delay scaled by --time-compression */
    FILE *billing_log;
    char **base_env; /* environ minus the variables set per instance; strings borrowed */
    size_t base_env_len;
};


static void random_bytes(unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            for (; got < n; got++)
                buf[got] = (unsigned char)rand();
            return;
        }
        got += (size_t)r;
    }
}

static void make_uuid(char out[40])
{
    unsigned char b[16];
    random_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static void iso_time(int64_t wall_ms, char *out, size_t len)
{
    time_t s = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

const char *platform_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case -ENOENT:
        return "unknown or dead instance";
    case -EINVAL:
        return "request id does not match the running invocation";
    case -ESHUTDOWN:
        return "platform is shutting down";
    case -ENOMEM:
        return "out of memory";
    default:
        return strerror(-err);
    }
}

/* ---- lookup ---------------------------------------------------------------------------- */

/* Function names are PREFIX0..PREFIX(N-1); returns the index or -1. */
static long find_function(platform_t *p, const char *name, size_t len)
{
    const char *prefix = p->cfg->function_prefix;
    size_t plen = strlen(prefix);
    if (len > plen && memcmp(name, prefix, plen) == 0) {
        const char *d = name + plen;
        size_t dlen = len - plen;
        long v = 0;
        int digits = dlen <= 9 && !(dlen > 1 && d[0] == '0');
        for (size_t i = 0; digits && i < dlen; i++) {
            if (d[i] < '0' || d[i] > '9') digits = 0;
            v = v * 10 + (d[i] - '0');
        }
        if (digits && (size_t)v < p->preconfigured) return v;
    }
    /* Created functions: few (hundreds), so a scan. */
    for (size_t i = p->preconfigured; i < p->nfns; i++)
        if (!p->fns[i]->deleted && strlen(p->fns[i]->name) == len &&
            !memcmp(p->fns[i]->name, name, len))
            return (long)i;
    return -1;
}

static instance_t *find_instance(platform_t *p, uint64_t id)
{
    for (size_t f = 0; f < p->nfns; f++)
        for (instance_t *i = p->fns[f]->instances; i; i = i->next)
            if (i->id == id) return i;
    return NULL;
}

/* ---- reference counting ------------------------------------------------------------------ */

static void inv_release(invocation_t *inv)
{
    if (--inv->refs > 0) return;
    free(inv->payload);
    free(inv->result);
    free(inv->log_tail);
    free(inv);
}

static void inst_release(instance_t *inst)
{
    if (--inst->refs > 0) return;
    if (inst->out_fd >= 0) close(inst->out_fd);
    pthread_cond_destroy(&inst->cond);
    free(inst);
}

static void inst_unlink(platform_t *p, instance_t *inst)
{
    if (!inst->linked) return;
    function_t *f = p->fns[inst->fn];
    for (instance_t **pp = &f->instances; *pp; pp = &(*pp)->next) {
        if (*pp == inst) {
            *pp = inst->next;
            break;
        }
    }
    inst->linked = 0;
    inst_release(inst);
}

/* ---- instance output ----------------------------------------------------------------------- */

/* Moves what an instance wrote to the platform's stderr and into its ring of the last LOG_TAIL
 * bytes. Non-blocking; called on every manager tick, before an invocation's tail is taken, and
 * before a reaped instance's pipe is closed. */
static void drain_output(instance_t *inst)
{
    char buf[16384];
    for (int rounds = 0; inst->out_fd >= 0 && rounds < 64; rounds++) {
        ssize_t n = read(inst->out_fd, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            return;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(STDERR_FILENO, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            off += w;
        }
        for (ssize_t i = 0; i < n; i++)
            inst->out_ring[(inst->out_total + (uint64_t)i) % LOG_TAIL] = buf[i];
        inst->out_total += (uint64_t)n;
    }
}

/* Lambda's tail of one invocation's log: START, what the instance wrote meanwhile, END and
 * REPORT; the last LOG_TAIL bytes of that. malloc'd. */
static char *log_tail(const instance_t *inst, const invocation_t *inv, const billing_record_t *rec)
{
    char head[160], foot[400];
    int hn = snprintf(head, sizeof head, "START RequestId: %s Version: $LATEST\n",
                      inv->request_id);
    int fn = snprintf(foot, sizeof foot,
                      "END RequestId: %s\nREPORT RequestId: %s\tDuration: %.2f ms\tBilled "
                      "Duration: %lld ms\tMemory Size: %lld MB\t\n",
                      inv->request_id, inv->request_id, (double)rec->duration_us / 1000.0,
                      (long long)rec->billed_ms, (long long)rec->memory_mb);
    uint64_t from = inv->out_start, to = inst ? inst->out_total : from;
    if (to - from > LOG_TAIL) from = to - LOG_TAIL;
    size_t body = (size_t)(to - from);
    char *out = malloc((size_t)hn + body + (size_t)fn + 1);
    if (!out) return NULL;
    memcpy(out, head, (size_t)hn);
    for (size_t i = 0; i < body; i++)
        out[(size_t)hn + i] = inst->out_ring[(from + i) % LOG_TAIL];
    memcpy(out + hn + body, foot, (size_t)fn + 1);
    size_t total = (size_t)hn + body + (size_t)fn;
    if (total > LOG_TAIL) {
        memmove(out, out + total - LOG_TAIL, LOG_TAIL + 1);
    }
    return out;
}

/* ---- finishing invocations -------------------------------------------------------------- */

/* Finishes an invocation: bills it, logs it, stores the result (copied) for a synchronous
 * caller, detaches it from its instance and drops the platform's reference. */
static void finish(platform_t *p, invocation_t *inv, billing_outcome_t outcome, const char *body,
                   size_t len, int function_error)
{
    if (inv->state == INV_DONE) return;
    const platform_config_t *cfg = p->cfg;
    int64_t end_mono = (int64_t)clock_mono_us(), end_wall = (int64_t)clock_wall_ms();
    billing_record_t rec = {
        .function = p->fns[inv->fn]->name,
        .instance = inv->inst ? inv->inst->id : 0,
        .request_id = inv->request_id,
        .kind = inv->kind,
        .start_ms = inv->started ? inv->start_wall_ms : end_wall,
        .end_ms = end_wall,
        .memory_mb = p->fns[inv->fn]->memory_mb,
        .outcome = outcome,
    };
    if (inv->started) {
        rec.duration_us =
            outcome == BILLING_TIMEOUT ? p->fns[inv->fn]->timeout_ms * 1000 : end_mono - inv->start_mono_us;
        rec.billed_ms = billing_round_ms(rec.duration_us, cfg->billing_ms);
    }
    billing_totals_add(&p->totals, &rec);
    if (p->billing_log) {
        char line[512];
        int n = billing_record_format(&rec, line, sizeof line);
        if (n > 0) {
            fwrite(line, 1, (size_t)n, p->billing_log);
            fflush(p->billing_log);
        }
    }
    log_info("finish function=%s request=%s instance=%llu kind=%s outcome=%s duration_ms=%.3f "
             "billed_ms=%lld",
             rec.function, rec.request_id, (unsigned long long)rec.instance,
             billing_kind_name(rec.kind), billing_outcome_name(outcome),
             (double)rec.duration_us / 1000.0, (long long)rec.billed_ms);

    if (inv->sync && inv->want_tail) {
        if (inv->inst) drain_output(inv->inst);
        inv->log_tail = log_tail(inv->inst, inv, &rec);
    }
    if (inv->sync) {
        inv->result = malloc(len ? len : 1);
        if (inv->result) {
            memcpy(inv->result, body, len);
            inv->result_len = len;
        }
        inv->function_error = function_error;
    }
    inv->state = INV_DONE;
    instance_t *inst = inv->inst;
    if (inst) {
        if (inst->inv == inv) inst->inv = NULL;
        if (inv->started) inst->invocations++;
        inst->last_used_mono_us = end_mono;
        inst->last_used_wall_ms = end_wall;
        if (inst->state == INST_BUSY) inst->state = INST_IDLE;
        inv->inst = NULL;
    }
    pthread_cond_broadcast(&p->done_cond);
    inv_release(inv);
}

/* Fails an invocation with {"errorType":type,"errorMessage":"RequestId: ID Error: msg"}. */
static void fail(platform_t *p, invocation_t *inv, billing_outcome_t outcome, const char *type,
                 const char *msg)
{
    char body[512];
    int n;
    if (outcome == BILLING_TIMEOUT) {
        char ts[80];
        iso_time((int64_t)clock_wall_ms(), ts, sizeof ts);
        n = snprintf(body, sizeof body,
                     "{\"errorMessage\":\"%s %s Task timed out after %.2f seconds\"}", ts,
                     inv->request_id, (double)p->fns[inv->fn]->timeout_ms / 1000.0);
    } else {
        n = snprintf(body, sizeof body,
                     "{\"errorType\":\"%s\",\"errorMessage\":\"RequestId: %s Error: %s\"}", type,
                     inv->request_id, msg);
    }
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof body) n = (int)sizeof body - 1;
    finish(p, inv, outcome, body, (size_t)n, 1);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static void assign(instance_t *inst, invocation_t *inv)
{
    inst->inv = inv;
    inv->inst = inst;
    inv->state = INV_ASSIGNED;
    if (inst->state == INST_IDLE) inst->state = INST_BUSY;
    pthread_cond_broadcast(&inst->cond);
}

/* Creates an instance record for a cold start; the manager thread forks it. */
static instance_t *spawn(platform_t *p, size_t fn, invocation_t *inv)
{
    instance_t *inst = calloc(1, sizeof *inst);
    if (!inst) return NULL;
    pthread_cond_init(&inst->cond, NULL);
    inst->id = ++p->next_instance_id;
    inst->fn = fn;
    inst->code_version = p->fns[fn]->code_version;
    inst->state = INST_STARTING;
    inst->spawn_pending = 1;
    inst->started_mono_us = inst->last_used_mono_us = (int64_t)clock_mono_us();
    inst->started_wall_ms = inst->last_used_wall_ms = (int64_t)clock_wall_ms();
    reclaim_rng_seed(&inst->rng, (uint64_t)p->cfg->seed, inst->id);
    inst->refs = 1;
    inst->out_fd = -1;
    inst->linked = 1;
    inst->next = p->fns[fn]->instances;
    p->fns[fn]->instances = inst;
    p->cold_starts++;
    p->live_instances++;
    if (inv) assign(inst, inv);
    pthread_cond_signal(&p->mgr_cond);
    return inst;
}

/* Lambda's reasons for a 429. */
#define REASON_RESERVED "ReservedFunctionConcurrentInvocationLimitExceeded"
#define REASON_ACCOUNT "ConcurrentInvocationLimitExceeded"

static size_t busy_instances(const function_t *f)
{
    size_t n = 0;
    for (const instance_t *i = f->instances; i; i = i->next)
        if (i->state != INST_DEAD && i->inv) n++;
    return n;
}

/* Concurrency as Lambda counts it: invocations running at once. A function with reserved
 * concurrency R runs at most R; the others share what the account limit leaves after all
 * reservations. NULL when fn may run one more, else the Reason of the 429. */
static const char *concurrency_reason(platform_t *p, size_t fn)
{
    const function_t *f = p->fns[fn];
    if (f->reserved >= 0) return busy_instances(f) >= (size_t)f->reserved ? REASON_RESERVED : NULL;
    int64_t reserved = 0, unreserved_busy = 0;
    for (size_t i = 0; i < p->nfns; i++) {
        if (p->fns[i]->reserved >= 0)
            reserved += p->fns[i]->reserved;
        else
            unreserved_busy += (int64_t)busy_instances(p->fns[i]);
    }
    return unreserved_busy >= p->cfg->account_concurrency - reserved ? REASON_ACCOUNT : NULL;
}

/* Decides where an invocation of function fn goes. With a WARM decision *out is the instance;
 * with AT_CAPACITY *reason (if given) is Lambda's Reason. An instance running older code is
 * never reused (it is retired once idle). */
static placement_decision_t decide_why(platform_t *p, size_t fn, instance_t **out,
                                       const char **reason)
{
    const function_t *f = p->fns[fn];
    const char *why = concurrency_reason(p, fn);
    if (reason) *reason = why;
    if (why) return PLACEMENT_AT_CAPACITY;
    placement_slot_t slots[MAX_INSTANCES_PER_FUNCTION] = {{0}};
    instance_t *insts[MAX_INSTANCES_PER_FUNCTION];
    size_t n = 0;
    for (instance_t *i = f->instances; i && n < MAX_INSTANCES_PER_FUNCTION; i = i->next) {
        if (i->state == INST_DEAD) continue;
        slots[n] = (placement_slot_t){.alive = 1,
                                      .free = i->inv == NULL && i->state != INST_STARTING &&
                                              i->code_version == f->code_version,
                                      .last_used_us = i->last_used_mono_us};
        insts[n++] = i;
    }
    size_t pick = 0;
    placement_decision_t d = placement_choose(slots, n, p->cfg->max_instances, &pick);
    if (d == PLACEMENT_WARM) *out = insts[pick];
    /* --max-instances is the platform's own scaling cap; the closest of Lambda's reasons. */
    if (d == PLACEMENT_AT_CAPACITY && reason) *reason = REASON_ACCOUNT;
    return d;
}

static placement_decision_t decide(platform_t *p, size_t fn, instance_t **out)
{
    return decide_why(p, fn, out, NULL);
}

/* Starts queued Event invocations of fn while instances are free or can be started. */
static void dispatch_queue(platform_t *p, size_t fn)
{
    function_t *f = p->fns[fn];
    while (f->queue.head && !p->stopping) {
        instance_t *inst = NULL;
        placement_decision_t d = decide(p, fn, &inst);
        if (d == PLACEMENT_AT_CAPACITY) break;
        invocation_t *inv;
        QUEUE_POP_HEAD(&f->queue, inv, next);
        f->queue_len--;
        if (d == PLACEMENT_WARM) {
            assign(inst, inv);
        } else if (!spawn(p, fn, inv)) {
            fail(p, inv, BILLING_ERROR, "Runtime.StartError", "cannot allocate an instance");
        }
    }
}

/* Kills an instance (SIGKILL works on stopped processes too) and fails what it was running.
 * The record stays in its function's list until the manager reaps the process. */
static void kill_instance(platform_t *p, instance_t *inst, billing_outcome_t outcome,
                          const char *type, const char *msg, const char *body, size_t body_len)
{
    if (inst->state == INST_DEAD) return;
    inst->state = INST_DEAD;
    p->live_instances--;
    if (inst->pid > 0) kill(inst->pid, SIGKILL);
    invocation_t *inv = inst->inv;
    if (inv) {
        if (body)
            finish(p, inv, outcome, body, body_len, 1);
        else
            fail(p, inv, outcome, type, msg);
    }
    pthread_cond_broadcast(&inst->cond);
    if (inst->pid <= 0) {
        inst->spawn_pending = 0;
        inst_unlink(p, inst);
    }
}

/* After UpdateFunctionCode new invocations go to instances of the new code; one of the old code
 * finishes what it runs and is then retired. */
static void retire_if_stale(platform_t *p, instance_t *inst)
{
    if (inst->state == INST_DEAD || inst->inv || inst->spawn_pending ||
        inst->code_version == p->fns[inst->fn]->code_version)
        return;
    log_info("retire function=%s instance=%llu reason=code-updated", p->fns[inst->fn]->name,
             (unsigned long long)inst->id);
    kill_instance(p, inst, BILLING_ERROR, NULL, NULL, NULL, 0);
}

/* ---- spawning (manager thread only) ---------------------------------------------------------- */

static int is_overridden(const char *entry)
{
    static const char *const names[] = {"AWS_LAMBDA_RUNTIME_API=",
                                        "AWS_LAMBDA_FUNCTION_NAME=",
                                        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=",
                                        "AWS_LAMBDA_FUNCTION_VERSION=",
                                        "AWS_LAMBDA_LOG_STREAM_NAME=",
                                        "AWS_LAMBDA_LOG_GROUP_NAME=",
                                        "AWS_REGION=",
                                        "_HANDLER=",
                                        NULL};
    for (int i = 0; names[i]; i++)
        if (!strncmp(entry, names[i], strlen(names[i]))) return 1;
    return 0;
}

#define INSTANCE_ENV_VARS 11

/* What a created function's instance inherits from the platform: Lambda gives a function a clean
 * environment, so only the network emulation (IC_NODE_*), the sanitizers' settings and a PATH. */
static int passes_to_created(const char *entry)
{
    return !strncmp(entry, "IC_NODE_", 8) || !strncmp(entry, "ASAN_", 5) ||
           !strncmp(entry, "UBSAN_", 6) || !strncmp(entry, "LSAN_", 5);
}

/* Forks and execs the handler for inst. Called with p->lock held, from the manager thread: the
 * child's PR_SET_PDEATHSIG fires when the thread that forked it exits, so forking from a
 * short-lived HTTP connection thread would kill the instance when that connection closes. */
static void fork_instance(platform_t *p, instance_t *inst)
{
    const function_t *fd = p->fns[inst->fn];
    const char *fname = fd->name;
    const char *exec = fd->exec;
    inst->spawn_pending = 0;
    inst->code_version = fd->code_version;
    char *vars[INSTANCE_ENV_VARS] = {0};
    unsigned char r[16];
    random_bytes(r, sizeof r);
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    int ok = 1;
    ok &= asprintf(&vars[0], "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d/i/%llu", p->port,
                   (unsigned long long)inst->id) > 0;
    ok &= asprintf(&vars[1], "AWS_LAMBDA_FUNCTION_NAME=%s", fname) > 0;
    ok &= asprintf(&vars[2], "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%lld", (long long)fd->memory_mb) > 0;
    ok &= asprintf(&vars[3], "AWS_LAMBDA_FUNCTION_VERSION=$LATEST") > 0;
    ok &= asprintf(&vars[4], "AWS_LAMBDA_LOG_STREAM_NAME=%04d/%02d/%02d/[$LATEST]%s",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, hex) > 0;
    ok &= asprintf(&vars[5], "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/%s", fname) > 0;
    ok &= asprintf(&vars[6], "AWS_REGION=us-east-1") > 0;
    const char *base = strrchr(exec, '/');
    ok &= asprintf(&vars[7], "_HANDLER=%s", base ? base + 1 : exec) > 0;
    if (fd->task_root) {
        /* Lambda's layout for OS-only runtimes: the code in LAMBDA_TASK_ROOT, its shared
         * libraries in LAMBDA_TASK_ROOT/lib. */
        ok &= asprintf(&vars[8], "LAMBDA_TASK_ROOT=%s", fd->task_root) > 0;
        ok &= asprintf(&vars[9], "LD_LIBRARY_PATH=%s/lib:%s", fd->task_root, fd->task_root) > 0;
        ok &= asprintf(&vars[10], "PATH=/usr/local/bin:/usr/bin:/bin") > 0;
    }
    size_t nenv = 0;
    for (char **e = fd->env; e && *e; e++)
        nenv++;
    char **envp = calloc(p->base_env_len + INSTANCE_ENV_VARS + nenv + 1, sizeof *envp);
    pid_t pid = -1;
    int err = ENOMEM;
    if (ok && envp) {
        size_t n = 0;
        for (size_t i = 0; i < p->base_env_len; i++)
            if (!fd->task_root || passes_to_created(p->base_env[i])) envp[n++] = p->base_env[i];
        for (int i = 0; i < INSTANCE_ENV_VARS; i++)
            if (vars[i]) envp[n++] = vars[i];
        for (size_t i = 0; i < nenv; i++)
            envp[n++] = fd->env[i]; /* after Lambda's own: getenv finds Lambda's first */
        envp[n] = NULL;
        char *argv[] = {(char *)exec, NULL};
        pid_t parent = getpid();
        int out[2] = {-1, -1};
        if (pipe2(out, O_CLOEXEC) == 0) {
            fcntl(out[0], F_SETFL, O_NONBLOCK);
            fcntl(out[0], F_SETPIPE_SZ, 1 << 20); /* room for bursts between two drains */
        }
        pid = fork();
        if (pid == 0) {
            /* Child: async-signal-safe calls only until execve. */
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigaction(SIGPIPE, &dfl, NULL);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) _exit(126);
            if (fd->task_root && chdir(fd->task_root) < 0) _exit(126);
            setpgid(0, 0); /* a Ctrl-C on the terminal reaches the platform, which kills us */
            if (out[1] >= 0) { /* dup2 clears O_CLOEXEC on the copies */
                dup2(out[1], STDOUT_FILENO);
                dup2(out[1], STDERR_FILENO);
            } else {
                dup2(STDERR_FILENO, STDOUT_FILENO); /* the platform's stdout carries READY */
            }
            syscall(SYS_close_range, 3U, ~0U, 0U);
            execve(exec, argv, envp);
            _exit(127);
        }
        err = errno;
        if (out[1] >= 0) close(out[1]);
        if (pid > 0)
            inst->out_fd = out[0];
        else if (out[0] >= 0)
            close(out[0]);
    }
    for (int i = 0; i < INSTANCE_ENV_VARS; i++)
        free(vars[i]);
    free(envp);
    if (pid < 0) {
        log_error("spawn function=%s instance=%llu error=\"%s\"", fname,
                  (unsigned long long)inst->id, strerror(err));
        kill_instance(p, inst, BILLING_ERROR, "Runtime.StartError", "cannot start the runtime",
                      NULL, 0);
        return;
    }
    inst->pid = pid;
    log_info("spawn function=%s instance=%llu pid=%d handler=%s", fname,
             (unsigned long long)inst->id, (int)pid, exec);
}

/* Lambda retries an asynchronous (Event) invocation that failed (function error, timeout, a
 * runtime that died) up to twice: the first retry a minute after the failure, the second two
 * minutes after the next one (--event-retry-delay times the attempt number, compressed with the
 * lifecycle timers). The function's event-invoke config may lower the count
 * (MaximumRetryAttempts) and bound the event's age (MaximumEventAgeInSeconds, compressed too):
 * a retry that would start past it is dropped. The retry is a new attempt (the failed one is
 * billed) that waits in its function's retry list, then goes to the head of its queue. */
#define EVENT_MAX_RETRIES 2

static void retry_event(platform_t *p, const invocation_t *old)
{
    const function_t *fd = p->fns[old->fn];
    int64_t max = fd->max_retries >= 0 ? fd->max_retries : EVENT_MAX_RETRIES;
    if (old->sync || old->attempt >= max || p->stopping || fd->deleted) return;
    int64_t delay_us = p->event_retry_delay_us * (old->attempt + 1);
    int64_t max_age_s = fd->max_event_age_s >= 0 ? fd->max_event_age_s : 21600;
    int64_t max_age_us = (int64_t)((double)max_age_s * 1e6 / p->cfg->time_compression);
    if ((int64_t)clock_mono_us() + delay_us - old->created_mono_us > max_age_us) {
        log_info("retry-dropped function=%s request=%s reason=max-event-age", fd->name,
                 old->request_id);
        return;
    }
    invocation_t *inv = calloc(1, sizeof *inv);
    if (!inv || !(inv->payload = malloc(old->len ? old->len : 1))) {
        free(inv);
        return;
    }
    memcpy(inv->payload, old->payload, old->len);
    inv->len = old->len;
    inv->fn = old->fn;
    inv->kind = old->kind;
    inv->attempt = old->attempt + 1;
    inv->refs = 1;
    inv->state = INV_QUEUED;
    inv->not_before_us = (int64_t)clock_mono_us() + delay_us;
    inv->created_mono_us = old->created_mono_us;
    memcpy(inv->trace_id, old->trace_id, sizeof inv->trace_id);
    p->retries++;
    make_uuid(inv->request_id);
    function_t *f = p->fns[old->fn];
    inv->next = f->retries;
    f->retries = inv;
    log_info("retry function=%s request=%s previous=%s attempt=%d delay_ms=%lld", f->name,
             inv->request_id, old->request_id, inv->attempt + 1,
             (long long)(delay_us / 1000));
}

/* Moves the retries of function f that are due to the head of its queue. 1 if any moved. */
static int release_retries(platform_t *p, size_t fn, int64_t now)
{
    function_t *f = p->fns[fn];
    int moved = 0;
    for (invocation_t **pp = &f->retries; *pp;) {
        invocation_t *inv = *pp;
        if (inv->not_before_us > now) {
            pp = &inv->next;
            continue;
        }
        *pp = inv->next;
        QUEUE_PUSH_HEAD(&f->queue, inv, next);
        f->queue_len++;
        moved = 1;
    }
    return moved;
}

/* A child exited: fail what it was running (if it was not killed on purpose) and drop it. */
static void reap(platform_t *p, pid_t pid, int status)
{
    for (size_t f = 0; f < p->nfns; f++) {
        for (instance_t *i = p->fns[f]->instances; i; i = i->next) {
            if (i->pid != pid) continue;
            char why[96];
            if (WIFEXITED(status))
                snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(status));
            else if (WIFSIGNALED(status))
                snprintf(why, sizeof why, "signal %d", WTERMSIG(status));
            else
                snprintf(why, sizeof why, "status %d", status);
            log_info("exit function=%s instance=%llu pid=%d %s expected=%d", p->fns[f]->name,
                     (unsigned long long)i->id, (int)pid, why, i->state == INST_DEAD);
            drain_output(i); /* its last words */
            /* The pid is gone (and may be reused): never signal it again. With pid 0,
             * kill_instance unlinks the record itself, which may free it. */
            i->pid = 0;
            if (i->state != INST_DEAD) {
                char msg[160];
                snprintf(msg, sizeof msg, "Runtime exited with error: %s", why);
                if (i->inv) retry_event(p, i->inv);
                kill_instance(p, i, BILLING_ERROR, "Runtime.ExitError", msg, NULL, 0);
            } else {
                inst_unlink(p, i);
            }
            dispatch_queue(p, f);
            return;
        }
    }
}

/* Random reclaim of one instance that is not running an invocation: an exponentially
 * distributed deadline is drawn when its idle period begins (at last_used_mono_us); the instance
 * is killed if it is still idle then. Busy time does not count, and a new idle period draws
 * anew, which the exponential's lack of memory makes equivalent to one clock that pauses while
 * the instance works. Returns 1 if it killed the instance. */
static int random_reclaim(platform_t *p, instance_t *i, int64_t now)
{
    if (!i->random_reclaim_armed || i->random_reclaim_from_us != i->last_used_mono_us) {
        i->random_reclaim_armed = 1;
        i->random_reclaim_from_us = i->last_used_mono_us;
        int64_t wait_us = reclaim_exponential_us(&i->rng, p->reclaim_rate_per_us);
        i->random_reclaim_at_us = i->last_used_mono_us + wait_us;
        log_debug("reclaim-draw function=%s instance=%llu after_us=%lld", p->fns[i->fn]->name,
                  (unsigned long long)i->id, (long long)wait_us);
    }
    if (now < i->random_reclaim_at_us) return 0;
    p->reclaims_random++;
    log_info("reclaim function=%s instance=%llu reason=random idle_ms=%.1f", p->fns[i->fn]->name,
             (unsigned long long)i->id, (double)(now - i->last_used_mono_us) / 1000.0);
    kill_instance(p, i, BILLING_ERROR, NULL, NULL, NULL, 0);
    return 1;
}

/* Timeouts, init timeouts, idle reclaim and random reclaim. */
static void enforce_deadlines(platform_t *p)
{
    int64_t now = (int64_t)clock_mono_us();
    const platform_config_t *cfg = p->cfg;
    for (size_t f = 0; f < p->nfns; f++) {
        int killed = 0;
        instance_t *next;
        for (instance_t *i = p->fns[f]->instances; i; i = next) {
            next = i->next;
            if (i->state == INST_DEAD) continue;
            invocation_t *inv = i->inv;
            if (inv && inv->state == INV_RUNNING && now >= inv->deadline_mono_us) {
                log_warn("timeout function=%s instance=%llu request=%s", p->fns[f]->name,
                         (unsigned long long)i->id, inv->request_id);
                retry_event(p, inv);
                kill_instance(p, i, BILLING_TIMEOUT, NULL, NULL, NULL, 0);
                killed++;
            } else if (i->state == INST_STARTING && i->pid > 0 &&
                       now - i->started_mono_us > cfg->init_timeout_ms * 1000) {
                log_warn("init-timeout function=%s instance=%llu", p->fns[f]->name,
                         (unsigned long long)i->id);
                kill_instance(p, i, BILLING_ERROR, "Runtime.InitTimeout",
                              "the runtime did not ask for an invocation in time", NULL, 0);
                killed++;
            } else if (i->state == INST_IDLE && !inv &&
                       now - i->last_used_mono_us > p->idle_reclaim_us) {
                p->reclaims_idle++;
                log_info("reclaim function=%s instance=%llu reason=idle", p->fns[f]->name,
                         (unsigned long long)i->id);
                kill_instance(p, i, BILLING_ERROR, NULL, NULL, NULL, 0);
                killed++;
            } else if (i->state == INST_IDLE && !inv && p->reclaim_rate_per_us > 0) {
                killed += random_reclaim(p, i, now);
            } else {
                i->random_reclaim_armed = 0; /* busy or starting: never randomly reclaimed */
            }
        }
        if (release_retries(p, f, now)) killed++;
        if (killed) dispatch_queue(p, f);
    }
}

static void *manager_main(void *arg)
{
    platform_t *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        for (size_t f = 0; f < p->nfns; f++) {
            instance_t *next;
            for (instance_t *i = p->fns[f]->instances; i; i = next) {
                next = i->next;
                if (i->spawn_pending && i->state != INST_DEAD) fork_instance(p, i);
            }
        }
        int status;
        pid_t pid;
        for (size_t f = 0; f < p->nfns; f++)
            for (instance_t *i = p->fns[f]->instances; i; i = i->next)
                drain_output(i);
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            reap(p, pid, status);
        enforce_deadlines(p);
        struct timespec ts = clock_mono_timespec(); /* mgr_cond waits on CLOCK_MONOTONIC */
        ts.tv_nsec += MANAGER_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->mgr_cond, &p->lock, &ts);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* ---- life cycle --------------------------------------------------------------------------------
 */

static void free_env(char **env)
{
    for (char **e = env; e && *e; e++)
        free(*e);
    free(env);
}

static void free_functions(platform_t *p)
{
    for (size_t i = 0; p->fns && i < p->nfns; i++) {
        free(p->fns[i]->exec);
        free(p->fns[i]->task_root);
        free_env(p->fns[i]->env);
        free(p->fns[i]);
    }
    free(p->fns);
}

int platform_create(const platform_config_t *cfg, platform_t **out)
{
    platform_t *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->cfg = cfg;
    p->idle_reclaim_us = reclaim_idle_limit_us(cfg->idle_reclaim_ms, cfg->time_compression);
    p->reclaim_rate_per_us = reclaim_rate_per_us(cfg->reclaim_rate, cfg->time_compression);
    p->event_retry_delay_us = reclaim_idle_limit_us(cfg->event_retry_delay_ms, cfg->time_compression);
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->mgr_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&p->done_cond, NULL);
    int rc = -ENOMEM;
    p->capfns = (size_t)cfg->function_count + 16;
    p->fns = calloc(p->capfns, sizeof *p->fns);
    if (!p->fns) goto fail;
    for (size_t i = 0; i < (size_t)cfg->function_count; i++) {
        function_t *f = calloc(1, sizeof *f);
        if (!f) goto fail;
        p->fns[p->nfns++] = f;
        int n = snprintf(f->name, sizeof f->name, "%s%zu", cfg->function_prefix, i);
        if (n < 0 || (size_t)n >= sizeof f->name) {
            rc = -ENAMETOOLONG;
            goto fail;
        }
        f->memory_mb = cfg->memory_mb;
        f->timeout_ms = cfg->timeout_ms;
        f->reserved = f->max_retries = f->max_event_age_s = -1;
        if (!(f->exec = strdup(cfg->handler))) goto fail;
    }
    p->preconfigured = p->nfns;
    size_t n = 0;
    for (char **e = environ; e && *e; e++)
        n++;
    p->base_env = calloc(n + 1, sizeof *p->base_env);
    if (!p->base_env) goto fail;
    for (char **e = environ; e && *e; e++)
        if (!is_overridden(*e)) p->base_env[p->base_env_len++] = *e;
    if (cfg->billing_log && cfg->billing_log[0]) {
        p->billing_log = fopen(cfg->billing_log, "ae"); /* "e": O_CLOEXEC */
        if (!p->billing_log) {
            rc = -errno;
            goto fail;
        }
    }
    if (pthread_create(&p->mgr, NULL, manager_main, p) != 0) {
        rc = -EAGAIN;
        goto fail;
    }
    p->mgr_started = 1;
    *out = p;
    return 0;
fail:
    if (p->billing_log) fclose(p->billing_log);
    free(p->base_env);
    free_functions(p);
    free(p);
    return rc;
}

void platform_set_port(platform_t *p, int port)
{
    pthread_mutex_lock(&p->lock);
    p->port = port;
    pthread_mutex_unlock(&p->lock);
}

void platform_shutdown(platform_t *p)
{
    pthread_mutex_lock(&p->lock);
    if (p->shut_down) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->shut_down = 1;
    p->stopping = 1;
    pthread_cond_broadcast(&p->mgr_cond);
    pthread_mutex_unlock(&p->lock);
    if (p->mgr_started) pthread_join(p->mgr, NULL);

    pthread_mutex_lock(&p->lock);
    for (size_t f = 0; f < p->nfns; f++)
        for (instance_t *i = p->fns[f]->instances; i; i = i->next)
            if (i->pid > 0) kill(i->pid, SIGKILL);
    size_t reaped = 0;
    for (size_t f = 0; f < p->nfns; f++) {
        while (p->fns[f]->instances) {
            instance_t *i = p->fns[f]->instances;
            if (i->pid > 0) {
                while (waitpid(i->pid, NULL, 0) < 0 && errno == EINTR) {
                }
                reaped++;
            }
            if (i->state != INST_DEAD) {
                i->state = INST_DEAD;
                p->live_instances--;
            }
            if (i->inv) fail(p, i->inv, BILLING_ERROR, "Runtime.Shutdown", "platform stopping");
            pthread_cond_broadcast(&i->cond);
            i->pid = 0;
            inst_unlink(p, i);
        }
        while (!QUEUE_EMPTY(&p->fns[f]->queue)) {
            invocation_t *inv;
            QUEUE_POP_HEAD(&p->fns[f]->queue, inv, next);
            inv_release(inv);
        }
        while (p->fns[f]->retries) {
            invocation_t *inv = p->fns[f]->retries;
            p->fns[f]->retries = inv->next;
            inv_release(inv);
        }
        p->fns[f]->queue_len = 0;
    }
    pthread_cond_broadcast(&p->done_cond);
    pthread_mutex_unlock(&p->lock);
    log_info("shutdown instances_reaped=%zu", reaped);
}

void platform_destroy(platform_t *p)
{
    if (!p) return;
    platform_shutdown(p);
    if (p->billing_log) fclose(p->billing_log);
    free(p->base_env);
    free_functions(p);
    pthread_cond_destroy(&p->mgr_cond);
    pthread_cond_destroy(&p->done_cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* ---- Invoke API ---------------------------------------------------------------------------- */

void platform_result_free(platform_result_t *res)
{
    free(res->body);
    res->body = NULL;
    free(res->log_tail);
    res->log_tail = NULL;
    res->body_len = 0;
}

int platform_function_exists(platform_t *p, const char *name, size_t name_len)
{
    pthread_mutex_lock(&p->lock);
    int found = find_function(p, name, name_len) >= 0;
    pthread_mutex_unlock(&p->lock);
    return found;
}

/* True unless the process is gone or a zombie the reaper has not collected yet: an invocation
 * handed to such an instance would be lost (the 10 ms reaper tick leaves that window open). */
static int process_alive(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *rp = strrchr(buf, ')');
    if (!rp || rp[1] != ' ') return 1;
    if (rp[2] == 'Z' || rp[2] == 'X') return 0;
    /* A process that was just killed runs on for a moment while it exits (closing its sockets
     * is what tells the proxy to invoke again): the kernel marks it PF_EXITING (0x4) in the
     * flags, field 9 of the stat line (the 7th after the state). */
    const char *at = rp + 2;
    for (int field = 3; field < 9 && at; field++) {
        at = strchr(at, ' ');
        if (at) at++;
    }
    if (at && (strtoul(at, NULL, 10) & 0x4)) return 0;
    return 1;
}

void platform_invoke(platform_t *p, const char *name, size_t name_len, const char *payload,
                     size_t len, int sync, const char *trace_id, platform_result_t *res)
{
    memset(res, 0, sizeof *res);
    pthread_mutex_lock(&p->lock);
    long fn = find_function(p, name, name_len);
    int pending = fn >= 0 && (int64_t)clock_wall_ms() < p->fns[fn]->ready_at_ms;
    pthread_mutex_unlock(&p->lock);
    if (fn < 0 || pending) {
        res->status = fn < 0 ? PLATFORM_INVOKE_NOT_FOUND : PLATFORM_INVOKE_PENDING;
        return;
    }
    invocation_t *inv = calloc(1, sizeof *inv);
    if (!inv || !(inv->payload = malloc(len ? len : 1))) {
        free(inv);
        res->status = PLATFORM_INVOKE_NOMEM;
        return;
    }
    memcpy(inv->payload, payload, len);
    inv->len = len;
    inv->fn = (size_t)fn;
    inv->want_tail = (sync & PLATFORM_INVOKE_TAIL) != 0;
    sync &= PLATFORM_INVOKE_SYNC;
    inv->sync = sync;
    inv->kind = billing_kind_of_event(payload, len);
    inv->refs = sync ? 2 : 1;
    inv->created_mono_us = (int64_t)clock_mono_us();
    if (trace_id) snprintf(inv->trace_id, sizeof inv->trace_id, "%s", trace_id);
    make_uuid(inv->request_id);
    memcpy(res->request_id, inv->request_id, sizeof res->request_id);

    pthread_mutex_lock(&p->lock);
    if (p->stopping || p->fns[fn]->deleted) {
        res->status = p->stopping ? PLATFORM_INVOKE_SHUTDOWN : PLATFORM_INVOKE_NOT_FOUND;
        inv->refs = 1;
        inv_release(inv);
        goto out;
    }
    function_t *f = p->fns[fn];
    instance_t *inst = NULL;
    const char *reason = NULL;
    placement_decision_t d = decide_why(p, (size_t)fn, &inst, &reason);
    for (int tries = 0;
         d == PLACEMENT_WARM && inst->pid > 0 && !process_alive(inst->pid) && tries < 64; tries++) {
        kill_instance(p, inst, BILLING_ERROR, "Runtime.ExitError", "Runtime exited before reaping",
                      NULL, 0);
        d = decide_why(p, (size_t)fn, &inst, &reason);
    }
    if (d == PLACEMENT_AT_CAPACITY && !sync && f->queue_len < (size_t)p->cfg->max_queue) {
        inv->state = INV_QUEUED;
        QUEUE_PUSH_TAIL(&f->queue, inv, next);
        f->queue_len++;
        log_debug("queue function=%s request=%s depth=%zu", f->name, inv->request_id, f->queue_len);
    } else if (d == PLACEMENT_AT_CAPACITY) {
        p->throttles++;
        if (reason && !strcmp(reason, REASON_RESERVED)) p->throttles_reserved++;
        else p->throttles_account++;
        log_info("throttle function=%s reason=%s sync=%d", f->name, reason ? reason : "queue-full",
                 sync);
        res->status = PLATFORM_INVOKE_THROTTLED;
        res->throttle_reason = reason;
        inv->refs = 1;
        inv_release(inv);
        goto out;
    } else if (d == PLACEMENT_WARM) {
        assign(inst, inv);
    } else if (!(inst = spawn(p, (size_t)fn, inv))) {
        res->status = PLATFORM_INVOKE_NOMEM;
        inv->refs = 1;
        inv_release(inv);
        goto out;
    }
    log_debug("invoke function=%s request=%s sync=%d cold=%d", f->name, inv->request_id, sync,
              d == PLACEMENT_COLD_START);
    if (!sync) {
        res->status = PLATFORM_INVOKE_ACCEPTED;
        goto out;
    }
    while (inv->state != INV_DONE && !p->stopping)
        pthread_cond_wait(&p->done_cond, &p->lock);
    if (inv->state == INV_DONE) {
        res->status = PLATFORM_INVOKE_DONE;
        res->body = inv->result;
        res->body_len = inv->result_len;
        res->function_error = inv->function_error;
        res->log_tail = inv->log_tail;
        inv->log_tail = NULL;
        inv->result = NULL;
        if (!res->body) res->status = PLATFORM_INVOKE_NOMEM;
    } else {
        res->status = PLATFORM_INVOKE_SHUTDOWN;
    }
    inv_release(inv);
out:
    pthread_mutex_unlock(&p->lock);
}

/* ---- Runtime API ---------------------------------------------------------------------------- */

/* Hands the assigned invocation to the instance: it is now running and its deadline starts. */
static int handoff(platform_t *p, instance_t *inst, platform_event_t *ev)
{
    invocation_t *inv = inst->inv;
    ev->body = malloc(inv->len ? inv->len : 1);
    if (!ev->body) return -ENOMEM;
    memcpy(ev->body, inv->payload, inv->len);
    ev->body_len = inv->len;
    inv->state = INV_RUNNING;
    inv->started = 1;
    drain_output(inst);
    inv->out_start = inst->out_total;
    inv->start_mono_us = (int64_t)clock_mono_us();
    inv->start_wall_ms = (int64_t)clock_wall_ms();
    int64_t timeout_ms = p->fns[inst->fn]->timeout_ms;
    inv->deadline_mono_us = inv->start_mono_us + timeout_ms * 1000;
    inv->deadline_wall_ms = inv->start_wall_ms + timeout_ms;
    inst->state = INST_BUSY;
    if (inst->idle_stopped && !inst->admin_frozen && inst->pid > 0) kill(inst->pid, SIGCONT);
    inst->idle_stopped = 0;
    memcpy(ev->request_id, inv->request_id, sizeof ev->request_id);
    ev->deadline_ms = inv->deadline_wall_ms;
    snprintf(ev->function_arn, sizeof ev->function_arn,
             "arn:aws:lambda:us-east-1:000000000000:function:%s", p->fns[inst->fn]->name);
    unsigned char r[24];
    random_bytes(r, sizeof r);
    char hex[49];
    for (int i = 0; i < 24; i++)
        snprintf(hex + 2 * i, 3, "%02x", r[i]);
    if (inv->trace_id[0])
        memcpy(ev->trace_id, inv->trace_id, sizeof ev->trace_id);
    else
        snprintf(ev->trace_id, sizeof ev->trace_id, "Root=1-%08llx-%.24s;Parent=%.16s;Sampled=0",
                 (unsigned long long)(inv->start_wall_ms / 1000), hex, hex + 24);
    return 0;
}

int platform_runtime_next(platform_t *p, uint64_t id, platform_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    pthread_mutex_lock(&p->lock);
    instance_t *inst = find_instance(p, id);
    if (!inst || inst->state == INST_DEAD) {
        pthread_mutex_unlock(&p->lock);
        return -ENOENT;
    }
    inst->refs++;
    function_t *f = p->fns[inst->fn];
    if (inst->state == INST_STARTING) {
        inst->state = inst->inv ? INST_BUSY : INST_IDLE;
        log_info("ready function=%s instance=%llu pid=%d init_ms=%.1f", f->name,
                 (unsigned long long)inst->id, (int)inst->pid,
                 (double)((int64_t)clock_mono_us() - inst->started_mono_us) / 1000.0);
    }
    if (inst->inv && inst->inv->state == INV_RUNNING) {
        fail(p, inst->inv, BILLING_ERROR, "Runtime.InvalidState",
             "the runtime asked for the next invocation without answering this one");
    }
    int rc;
    for (;;) {
        if (p->stopping) {
            rc = -ESHUTDOWN;
            break;
        }
        if (inst->state == INST_DEAD) {
            rc = -ENOENT;
            break;
        }
        if (!inst->inv && f->queue.head) dispatch_queue(p, inst->fn);
        if (inst->inv) {
            rc = handoff(p, inst, ev);
            break;
        }
        inst->state = INST_IDLE;
        if (!inst->idle_stopped && !inst->admin_frozen && inst->pid > 0) {
            kill(inst->pid, SIGSTOP); /* frozen between invocations, as on Lambda */
            inst->idle_stopped = 1;
        }
        pthread_cond_wait(&inst->cond, &p->lock);
    }
    inst_release(inst);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int platform_runtime_result(platform_t *p, uint64_t id, const char *request_id, const char *body,
                            size_t len, int is_error)
{
    pthread_mutex_lock(&p->lock);
    int rc = 0;
    instance_t *inst = find_instance(p, id);
    if (!inst || inst->state == INST_DEAD) {
        rc = -ENOENT;
        goto out;
    }
    invocation_t *inv = inst->inv;
    if (!inv || inv->state != INV_RUNNING || strcmp(inv->request_id, request_id) != 0) {
        rc = -EINVAL;
        goto out;
    }
    if (is_error) retry_event(p, inv);
    finish(p, inv, is_error ? BILLING_ERROR : BILLING_OK, body, len, is_error);
    retire_if_stale(p, inst);
    dispatch_queue(p, inst->fn);
out:
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int platform_runtime_oversize(platform_t *p, uint64_t id, const char *request_id)
{
    pthread_mutex_lock(&p->lock);
    int rc = 0;
    instance_t *inst = find_instance(p, id);
    if (!inst || inst->state == INST_DEAD) {
        rc = -ENOENT;
        goto out;
    }
    invocation_t *inv = inst->inv;
    if (!inv || inv->state != INV_RUNNING || strcmp(inv->request_id, request_id) != 0) {
        rc = -EINVAL;
        goto out;
    }
    fail(p, inv, BILLING_ERROR, "Function.ResponseSizeTooLarge",
         "Response payload size exceeded maximum allowed payload size (6291556 bytes).");
    dispatch_queue(p, inst->fn);
out:
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int platform_runtime_init_error(platform_t *p, uint64_t id, const char *body, size_t len)
{
    pthread_mutex_lock(&p->lock);
    int rc = 0;
    instance_t *inst = find_instance(p, id);
    if (!inst || inst->state == INST_DEAD) {
        rc = -ENOENT;
        goto out;
    }
    size_t fn = inst->fn;
    log_warn("init-error function=%s instance=%llu", p->fns[fn]->name, (unsigned long long)inst->id);
    /* The runtime's own error document is passed through when it is JSON. */
    cJSON *doc = len ? cJSON_ParseWithLength(body, len) : NULL;
    if (doc)
        kill_instance(p, inst, BILLING_ERROR, NULL, NULL, body, len);
    else
        kill_instance(p, inst, BILLING_ERROR, "Runtime.InitError",
                      "the runtime reported an initialization error", NULL, 0);
    cJSON_Delete(doc);
    dispatch_queue(p, fn);
out:
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* ---- admin --------------------------------------------------------------------------------- */

char *platform_stats_json(platform_t *p)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    pthread_mutex_lock(&p->lock);
    const billing_totals_t *t = &p->totals;
    cJSON_AddNumberToObject(o, "requests", (double)t->requests);
    cJSON *k = cJSON_AddObjectToObject(o, "requests_by_kind");
    for (int i = 0; k && i < BILLING_KIND_COUNT; i++)
        cJSON_AddNumberToObject(k, billing_kind_name((billing_kind_t)i),
                                (double)t->requests_by_kind[i]);
    cJSON_AddNumberToObject(o, "billed_ms", (double)t->billed_ms);
    cJSON_AddNumberToObject(o, "gb_seconds", t->gb_seconds);
    cJSON *bk = cJSON_AddObjectToObject(o, "billed_ms_by_kind");
    for (int i = 0; bk && i < BILLING_KIND_COUNT; i++)
        cJSON_AddNumberToObject(bk, billing_kind_name((billing_kind_t)i),
                                (double)t->billed_ms_by_kind[i]);
    cJSON *gk = cJSON_AddObjectToObject(o, "gb_seconds_by_kind");
    for (int i = 0; gk && i < BILLING_KIND_COUNT; i++)
        cJSON_AddNumberToObject(gk, billing_kind_name((billing_kind_t)i), t->gb_seconds_by_kind[i]);
    cJSON_AddNumberToObject(o, "cold_starts", (double)p->cold_starts);
    cJSON_AddNumberToObject(o, "instances", (double)p->live_instances);
    cJSON_AddNumberToObject(o, "timeouts", (double)t->timeouts);
    cJSON_AddNumberToObject(o, "errors", (double)t->errors);
    cJSON_AddNumberToObject(o, "throttles", (double)p->throttles);
    cJSON_AddNumberToObject(o, "throttles_reserved", (double)p->throttles_reserved);
    cJSON_AddNumberToObject(o, "throttles_account", (double)p->throttles_account);
    cJSON_AddNumberToObject(o, "event_retries", (double)p->retries);
    size_t queued = 0;
    for (size_t f = 0; f < p->nfns; f++)
        queued += p->fns[f]->queue_len;
    cJSON_AddNumberToObject(o, "queued", (double)queued);
    char gran[32];
    snprintf(gran, sizeof gran, "%lldms", (long long)p->cfg->billing_ms);
    cJSON_AddStringToObject(o, "billing", gran);
    cJSON_AddNumberToObject(o, "memory_mb", (double)p->cfg->memory_mb);
    cJSON_AddNumberToObject(o, "reclaims_idle", (double)p->reclaims_idle);
    cJSON_AddNumberToObject(o, "reclaims_random", (double)p->reclaims_random);
    cJSON_AddNumberToObject(o, "reclaims_admin", (double)p->reclaims_admin);
    cJSON_AddNumberToObject(o, "reclaim_rate", p->cfg->reclaim_rate);
    cJSON_AddNumberToObject(o, "time_compression", p->cfg->time_compression);
    /* Raw digits: a seed above 2^53 would lose digits as a JSON double. */
    char seed[24];
    snprintf(seed, sizeof seed, "%lld", (long long)p->cfg->seed);
    cJSON_AddRawToObject(o, "seed", seed);
    pthread_mutex_unlock(&p->lock);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static const char *state_name(const instance_t *i)
{
    switch (i->state) {
    case INST_STARTING:
        return "starting";
    case INST_BUSY:
        return "busy";
    case INST_IDLE:
        return i->inv ? "busy" : "idle";
    default:
        return "dead";
    }
}

char *platform_instances_json(platform_t *p)
{
    cJSON *a = cJSON_CreateArray();
    if (!a) return NULL;
    pthread_mutex_lock(&p->lock);
    for (size_t f = 0; f < p->nfns; f++) {
        for (instance_t *i = p->fns[f]->instances; i; i = i->next) {
            if (i->state == INST_DEAD) continue;
            cJSON *o = cJSON_CreateObject();
            if (!o) break;
            cJSON_AddNumberToObject(o, "id", (double)i->id);
            cJSON_AddStringToObject(o, "function", p->fns[f]->name);
            cJSON_AddNumberToObject(o, "pid", (double)i->pid);
            cJSON_AddStringToObject(o, "state", state_name(i));
            cJSON_AddNumberToObject(o, "invocations", (double)i->invocations);
            cJSON_AddNumberToObject(o, "started_ms", (double)i->started_wall_ms);
            cJSON_AddNumberToObject(o, "last_used_ms", (double)i->last_used_wall_ms);
            cJSON_AddBoolToObject(o, "frozen", i->idle_stopped || i->admin_frozen);
            cJSON_AddItemToArray(a, o);
        }
    }
    pthread_mutex_unlock(&p->lock);
    char *s = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return s;
}

int platform_reclaim_instance(platform_t *p, uint64_t id)
{
    pthread_mutex_lock(&p->lock);
    instance_t *inst = find_instance(p, id);
    int rc = -ENOENT;
    if (inst && inst->state != INST_DEAD) {
        size_t fn = inst->fn;
        log_info("reclaim function=%s instance=%llu reason=admin", p->fns[fn]->name,
                 (unsigned long long)id);
        kill_instance(p, inst, BILLING_ERROR, "Runtime.ExitError",
                      "Runtime exited with error: signal: killed (instance reclaimed)", NULL, 0);
        p->reclaims_admin++;
        dispatch_queue(p, fn);
        rc = 1;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int platform_reclaim_function(platform_t *p, const char *name)
{
    pthread_mutex_lock(&p->lock);
    long fn = find_function(p, name, strlen(name));
    if (fn < 0) {
        pthread_mutex_unlock(&p->lock);
        return -ENOENT;
    }
    int count = 0;
    instance_t *next;
    for (instance_t *i = p->fns[fn]->instances; i; i = next) {
        next = i->next;
        if (i->state == INST_DEAD) continue;
        kill_instance(p, i, BILLING_ERROR, "Runtime.ExitError",
                      "Runtime exited with error: signal: killed (instance reclaimed)", NULL, 0);
        count++;
    }
    p->reclaims_admin += (uint64_t)count;
    log_info("reclaim function=%s instances=%d reason=admin", p->fns[fn]->name, count);
    dispatch_queue(p, (size_t)fn);
    pthread_mutex_unlock(&p->lock);
    return count;
}

int platform_freeze(platform_t *p, uint64_t id, int freeze)
{
    pthread_mutex_lock(&p->lock);
    instance_t *inst = find_instance(p, id);
    int rc = -ENOENT;
    if (inst && inst->state != INST_DEAD && inst->pid > 0) {
        if (freeze) {
            kill(inst->pid, SIGSTOP);
            inst->admin_frozen = 1;
        } else {
            kill(inst->pid, SIGCONT);
            inst->admin_frozen = 0;
            inst->idle_stopped = 0;
        }
        log_info("%s instance=%llu pid=%d", freeze ? "freeze" : "thaw", (unsigned long long)id,
                 (int)inst->pid);
        rc = 0;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* ---- functions made through the control plane ------------------------------------------------- */

static char **copy_env(const char *const *env)
{
    size_t n = 0;
    for (const char *const *e = env; e && *e; e++)
        n++;
    char **out = calloc(n + 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++) {
        if (!(out[i] = strdup(env[i]))) {
            free_env(out);
            return NULL;
        }
    }
    return out;
}

int platform_function_put(platform_t *p, const char *name, const platform_fn_settings_t *s)
{
    char *exec = strdup(s->exec);
    char *root = s->task_root ? strdup(s->task_root) : NULL;
    char **env = copy_env(s->env);
    if (!exec || (s->task_root && !root) || !env) {
        free(exec);
        free(root);
        free_env(env);
        return -ENOMEM;
    }
    pthread_mutex_lock(&p->lock);
    long fn = find_function(p, name, strlen(name));
    function_t *f;
    if (fn >= 0 && (size_t)fn < p->preconfigured) {
        pthread_mutex_unlock(&p->lock);
        free(exec);
        free(root);
        free_env(env);
        return -EPERM;
    }
    if (fn < 0) {
        if (p->nfns == p->capfns) {
            size_t cap = p->capfns * 2;
            function_t **n = realloc(p->fns, cap * sizeof *n);
            if (!n) goto nomem;
            p->fns = n;
            p->capfns = cap;
        }
        if (!(f = calloc(1, sizeof *f))) goto nomem;
        snprintf(f->name, sizeof f->name, "%s", name);
        fn = (long)p->nfns;
        p->fns[p->nfns++] = f;
    }
    f = p->fns[fn];
    free(f->exec);
    free(f->task_root);
    free_env(f->env);
    f->exec = exec;
    f->task_root = root;
    f->env = env;
    uint64_t old_version = f->code_version;
    f->memory_mb = s->memory_mb;
    f->timeout_ms = s->timeout_ms;
    f->code_version = s->code_version;
    f->reserved = s->reserved_concurrency;
    f->max_retries = s->max_retry_attempts;
    f->max_event_age_s = s->max_event_age_s;
    f->ready_at_ms = s->ready_at_ms;
    /* Lambda runs new invocations in fresh environments after any change of code or
     * configuration; idle old ones go now, busy ones when they finish. */
    if (old_version != f->code_version) {
        instance_t *next;
        for (instance_t *i = f->instances; i; i = next) {
            next = i->next;
            retire_if_stale(p, i);
        }
    }
    dispatch_queue(p, (size_t)fn);
    pthread_mutex_unlock(&p->lock);
    return 0;
nomem:
    pthread_mutex_unlock(&p->lock);
    free(exec);
    free(root);
    free_env(env);
    return -ENOMEM;
}

int platform_function_remove(platform_t *p, const char *name)
{
    pthread_mutex_lock(&p->lock);
    long fn = find_function(p, name, strlen(name));
    int rc = 0;
    if (fn < 0 || (size_t)fn < p->preconfigured) {
        rc = fn < 0 ? -ENOENT : -EPERM;
        goto out;
    }
    function_t *f = p->fns[fn];
    f->deleted = 1;
    instance_t *next;
    for (instance_t *i = f->instances; i; i = next) {
        next = i->next;
        kill_instance(p, i, BILLING_ERROR, "Runtime.ExitError", "the function was deleted", NULL,
                      0);
    }
    while (!QUEUE_EMPTY(&f->queue)) {
        invocation_t *inv;
        QUEUE_POP_HEAD(&f->queue, inv, next);
        inv_release(inv);
    }
    f->queue_len = 0;
    while (f->retries) {
        invocation_t *inv = f->retries;
        f->retries = inv->next;
        inv_release(inv);
    }
    log_info("delete function=%s", f->name);
out:
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int platform_function_concurrency(platform_t *p, int64_t *reserved_total, int64_t *account)
{
    pthread_mutex_lock(&p->lock);
    int64_t r = 0;
    for (size_t i = 0; i < p->nfns; i++)
        if (!p->fns[i]->deleted && p->fns[i]->reserved >= 0) r += p->fns[i]->reserved;
    pthread_mutex_unlock(&p->lock);
    *reserved_total = r;
    *account = p->cfg->account_concurrency;
    return 0;
}
