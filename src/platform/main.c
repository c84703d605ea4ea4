/* main.c -- icplatform: a Lambda-compatible local function platform running cache nodes as
 * processes.
 *
 * Choices:
 * - libmicrohttpd on a small pool of epoll threads, so that idle or hostile connections cost no
 *   thread (one thread per connection let 4,200 idle connections starve the Invoke API). The
 *   requests that wait by nature (a long poll per instance, a synchronous invocation per busy
 *   one) are suspended and each handed to a thread of its own that makes the platform's plain
 *   blocking call: the platform's capacity bounds those threads (--max-waiting), not the
 *   clients, and the state machine keeps waiting on condition variables instead of being split
 *   into callbacks (see http_api.c).
 * - cJSON for JSON: the platform only validates payloads, reads one field ("cmd") and builds
 *   small admin documents; cJSON does that with a tiny API and is already a project dependency.
 *
 * Life cycle: parse options, start the platform (manager thread) and the HTTP server with
 * SIGTERM/SIGINT blocked in every thread, print "READY port=N", then wait for a signal in
 * sigwait(); on it, kill and reap every instance and exit 0. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config.h"
#include "control.h"
#include "http_api.h"
#include "log.h"
#include "platform.h"
#include "reclaim.h"

#define OPT(field) offsetof(platform_config_t, field)

static const conf_option_t options[] = {
    {"host", CONF_STRING, OPT(host), 0, 0, "127.0.0.1", "address to listen on", 0},
    {"port", CONF_INT, OPT(port), 0, 65535, "0", "HTTP port (0 picks a free one, printed in READY)",
     0},
    {"function-prefix", CONF_STRING, OPT(function_prefix), 0, 0, "icnode",
     "functions are named PREFIX0 .. PREFIX(N-1)", 0},
    {"function-count", CONF_INT, OPT(function_count), 0, 100000, "32",
     "number of pre-configured functions (0: only those made through the control plane)", 0},
    {"memory", CONF_INT, OPT(memory_mb), 128, 10240, "256",
     "memory of each function in MiB (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, billing)", 0},
    {"timeout", CONF_MS, OPT(timeout_ms), 10, 3600000, "900s",
     "function timeout: a longer invocation is killed and fails", 0},
    {"init-timeout", CONF_MS, OPT(init_timeout_ms), 10, 3600000, "10s",
     "a new instance must ask for its first invocation within this (Lambda: 10 s)", 0},
    {"idle-reclaim", CONF_MS, OPT(idle_reclaim_ms), 10, 86400000, "27m",
     "an instance idle this long is killed (AWS observed: about 27 minutes)", 0},
    {"billing", CONF_MS, OPT(billing_ms), 1, 1000, "1ms",
     "billing granularity: 1ms (AWS since 2020-12) or 100ms (the paper's)", 0},
    {"billing-log", CONF_STRING, OPT(billing_log), 0, 0, "",
     "file to append one JSON line per finished invocation (empty: off)", 0},
    {"handler", CONF_STRING, OPT(handler), 0, 0, "",
     "executable each instance runs (empty: icnode next to icplatform)", 0},
    {"max-instances", CONF_INT, OPT(max_instances), 1, 1024, "4",
     "instances per function; beyond, Event invocations queue and RequestResponse gets 429", 0},
    {"max-queue", CONF_INT, OPT(max_queue), 0, 1000000, "10000",
     "queued Event invocations per function before they are refused with 429", 0},
    {"event-retry-delay", CONF_MS, OPT(event_retry_delay_ms), 0, 3600000, "1m",
     "a failed Event invocation (function error, timeout, runtime died) is retried after this "
     "long, the second retry after twice this (Lambda: 1 and 2 minutes; at most twice, fewer "
     "by the function's event-invoke config); compressed like idle-reclaim",
     0},
    {"log-level", CONF_STRING, OPT(log_level), 0, 0, "info", "debug, info, warn or error", 0},
    {"require-sigv4", CONF_STRING, OPT(require_sigv4), 0, 0, "",
     "KEY_ID[:SESSION_TOKEN]: every Invoke request must carry a SigV4 signature for KEY_ID (and "
     "that X-Amz-Security-Token), as on AWS; 403 InvalidSignatureException otherwise. The shape, "
     "key and token are checked, not the secret. Empty: no signature needed",
     0},
    {"admin-token-file", CONF_STRING, OPT(admin_token_file), 0, 0, "",
     "file whose first line is the admin API's bearer token (16 to 512 printable bytes); without "
     "it, the token is IC_PLATFORM_ADMIN_TOKEN (removed from the environment at start), and with "
     "neither the admin API is off (403)",
     0},
    {"connection-timeout", CONF_INT, OPT(connection_timeout_s), 1, 86400, "30",
     "seconds: a connection silent this long (idle, half a request, junk) is closed, and a "
     "request body must be whole within this of its start; a long poll or a RequestResponse "
     "invocation waiting for its function is never cut",
     0},
    {"max-connections", CONF_INT, OPT(max_connections), 16, 1000000, "10000",
     "connections served at once; a request on one more gets 503 ServiceException and is "
     "closed (lowered to fit RLIMIT_NOFILE, which is raised to its hard limit)",
     0},
    {"max-waiting", CONF_INT, OPT(max_waiting), 0, 1000000, "0",
     "requests that wait at once, each on a thread of its own: runtime long polls and "
     "RequestResponse invocations; beyond, 503 / 429 (0: 2 x function-count x max-instances "
     "+ 64, at most 32768)",
     0},
    {"http-threads", CONF_INT, OPT(http_threads), 1, 64, "4",
     "threads serving the HTTP connections (epoll), however many connections are open", 0},
    {"reclaim-rate", CONF_STRING, OPT(reclaim_rate_text), 0, 0, "0",
     "random reclaims per instance-hour of idle time (decimal, 0: off); idle instances only", 0},
    {"time-compression", CONF_STRING, OPT(time_compression_text), 0, 0, "1",
     "simulated seconds per real second (decimal >= 1): divides idle-reclaim, multiplies "
     "reclaim-rate; not the function timeout or billing",
     0},
    {"seed", CONF_INT, OPT(seed), 0, INT64_MAX, "0",
     "seed of the random reclaims and of the nodes' straggler choice, for repeatable runs (0: "
     "from the clock, logged)",
     0},
    {"node-bandwidth", CONF_BYTES, OPT(node_bandwidth), 0, (int64_t)64 << 30, "0",
     "network emulation: bytes per second each instance sends its proxy, k/m/g suffixes (0: "
     "unlimited); exported as IC_NODE_BANDWIDTH",
     0},
    {"straggler-rate", CONF_STRING, OPT(straggler_rate_text), 0, 0, "0",
     "network emulation: fraction (0..1) of chunk replies an instance holds back; exported as "
     "IC_NODE_STRAGGLER_RATE",
     0},
    {"straggler-delay", CONF_MS, OPT(straggler_delay_ms), 0, 3600000, "100ms",
     "network emulation: how long a held reply waits; exported as IC_NODE_STRAGGLER_DELAY_MS", 0},
    {"account-concurrency", CONF_INT, OPT(account_concurrency), 1, 1000000, "1000",
     "concurrent executions of the account (Lambda: 1000); beyond, 429 "
     "TooManyRequestsException with Reason ConcurrentInvocationLimitExceeded",
     0},
    {"state-dir", CONF_STRING, OPT(state_dir), 0, 0, "",
     "directory keeping the functions made through the control plane and their code, across "
     "restarts (empty: a temporary one, removed at exit)",
     0},
    {"state-reset", CONF_BOOL, OPT(state_reset), 0, 1, "no",
     "start with no created functions: forget what --state-dir holds", 0},
    {"update-delay", CONF_MS, OPT(update_delay_ms), 0, 600000, "100ms",
     "a created function stays Pending, an updated one InProgress, this long (invocations and "
     "further updates meanwhile get 409 ResourceConflictException, as on Lambda)",
     0},
    {"code-storage", CONF_BYTES, OPT(code_storage_bytes), 1, (int64_t)1 << 50, "75g",
     "total zip bytes of all created functions (Lambda's TotalCodeSize); beyond, "
     "CodeStorageExceededException",
     0},
    CONF_END,
};

static const char usage[] =
    "usage: icplatform [options]\n"
    "A local AWS Lambda look-alike: serves the Invoke API and, per instance, the Runtime API on\n"
    "one port, running each function instance as a process of --handler.";

/* Sets cfg->handler to DIR/icnode, DIR being the directory of this executable. */
static int default_handler(platform_config_t *cfg)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -errno;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    char *path;
    if (asprintf(&path, "%s/icnode", self) < 0) return -ENOMEM;
    free(cfg->handler);
    cfg->handler = path;
    return 0;
}

/* Parses the decimal options and picks a seed when none was given. 0, or -1 with err set. */
static int finish_config(platform_config_t *cfg, char *err, size_t errlen)
{
    if (conf_parse_decimal(cfg->reclaim_rate_text, 0, RECLAIM_MAX_RECLAIM_RATE,
                           &cfg->reclaim_rate) < 0) {
        snprintf(err, errlen, "reclaim-rate '%.40s' is not a decimal from 0 to %g",
                 cfg->reclaim_rate_text, RECLAIM_MAX_RECLAIM_RATE);
        return -1;
    }
    if (conf_parse_decimal(cfg->time_compression_text, 1, RECLAIM_MAX_COMPRESSION,
                           &cfg->time_compression) < 0) {
        snprintf(err, errlen, "time-compression '%.40s' is not a decimal from 1 to %g",
                 cfg->time_compression_text, RECLAIM_MAX_COMPRESSION);
        return -1;
    }
    if (conf_parse_decimal(cfg->straggler_rate_text, 0, 1, &cfg->straggler_rate) < 0) {
        snprintf(err, errlen, "straggler-rate '%.40s' is not a decimal from 0 to 1",
                 cfg->straggler_rate_text);
        return -1;
    }
    if (cfg->seed == 0) {
        /* 53 bits, so that the seed printed in /admin/stats survives any JSON reader. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t mixed = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        mixed ^= (uint64_t)getpid() << 32;
        cfg->seed = (int64_t)(mixed & ((UINT64_C(1) << 53) - 1));
        if (cfg->seed == 0) cfg->seed = 1;
    }
    return 0;
}

/* Network emulation happens in each instance (icnode's send path), configured by its environment
 * as a real function's would be: the options become IC_NODE_* variables every instance inherits.
 * Unset options leave whatever the environment already says. Call before platform_create(),
 * which copies the environment, and before any thread starts. 0, or -1 with err set. */
static int export_network_emulation(const platform_config_t *cfg, char *err, size_t errlen)
{
    char v[32];
    int rc = 0;
    if (cfg->node_bandwidth > 0) {
        snprintf(v, sizeof v, "%lld", (long long)cfg->node_bandwidth);
        rc |= setenv("IC_NODE_BANDWIDTH", v, 1);
    }
    if (cfg->straggler_rate > 0) {
        rc |= setenv("IC_NODE_STRAGGLER_RATE", cfg->straggler_rate_text, 1);
        snprintf(v, sizeof v, "%lld", (long long)cfg->straggler_delay_ms);
        rc |= setenv("IC_NODE_STRAGGLER_DELAY_MS", v, 1);
        /* The run's seed makes the stragglers repeatable too (each node mixes in its name). */
        snprintf(v, sizeof v, "%lld", (long long)cfg->seed);
        rc |= setenv("IC_NODE_STRAGGLER_SEED", v, 0);
    }
    if (rc) snprintf(err, errlen, "setenv: %s", strerror(errno));
    return rc ? -1 : 0;
}

/* Reads the admin API's token into tok (NUL-terminated, cap > PLATFORM_ADMIN_TOKEN_MAX): the
 * first line of cfg->admin_token_file, else IC_PLATFORM_ADMIN_TOKEN. Either way the variable
 * leaves the environment here, before platform_create() copies the environment that every
 * instance inherits: a function must not hold the key to reclaim or freeze the others. Returns 0
 * (tok may be empty: no token, the admin API is off), or -1 with err set for a token that cannot
 * be used (short, long, or not printable: it travels in an HTTP header). */
static int load_admin_token(const platform_config_t *cfg, char *tok, size_t cap, char *err,
                            size_t errlen)
{
    int rc = 0;
    const char *env = getenv("IC_PLATFORM_ADMIN_TOKEN");
    tok[0] = 0;
    if (cfg->admin_token_file[0]) {
        rc = conf_token_read_file(cfg->admin_token_file, PLATFORM_ADMIN_TOKEN_MIN,
                                  PLATFORM_ADMIN_TOKEN_MAX, tok, cap);
        if (rc < 0 && rc != -EINVAL)
            snprintf(err, errlen, "admin-token-file %s: %s", cfg->admin_token_file, strerror(-rc));
    } else if (env) {
        rc = conf_token_check(env, PLATFORM_ADMIN_TOKEN_MIN, PLATFORM_ADMIN_TOKEN_MAX, tok, cap);
    }
    if (rc == -EINVAL)
        snprintf(err, errlen,
                 "the admin token (from %s) must be %d to %d printable bytes without blanks",
                 cfg->admin_token_file[0] ? cfg->admin_token_file : "IC_PLATFORM_ADMIN_TOKEN",
                 PLATFORM_ADMIN_TOKEN_MIN, PLATFORM_ADMIN_TOKEN_MAX);
    /* unsetenv alone leaves the text in the start-up environment block, which any process of
     * the same user (an instance, say) can read in /proc/PID/environ: wipe it there too. */
    if (env) OPENSSL_cleanse((void *)env, strlen(env));
    unsetenv("IC_PLATFORM_ADMIN_TOKEN");
    return rc < 0 ? -1 : 0;
}

/* The HTTP front end's limits from the config. Raises RLIMIT_NOFILE's soft limit to the hard one
 * (thousands of sockets must fit) and lowers max-connections, with a warning, to what the limit
 * leaves after the instances' reserve (max-waiting, see http.c) and the platform's other
 * descriptors. */
#define FD_RESERVE 256
static void http_limits(const platform_config_t *cfg, platform_http_limits_t *out)
{
    struct rlimit rl;
    int64_t fit = cfg->max_connections;
    int64_t waiting = cfg->max_waiting;
    if (waiting == 0) {
        waiting = 2 * cfg->function_count * cfg->max_instances + 64;
        if (waiting > 32768) waiting = 32768;
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rlim_t want = rl.rlim_max;
            rl.rlim_cur = want;
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0) getrlimit(RLIMIT_NOFILE, &rl);
        }
        int64_t room = rl.rlim_cur == RLIM_INFINITY ? INT64_MAX
                                                    : (int64_t)rl.rlim_cur - FD_RESERVE -
                                                          HTTP_OVERFLOW_CONNECTIONS - waiting;
        if (room < fit) {
            fit = room < 16 ? 16 : room;
            log_warn("max-connections lowered from %lld to %lld: RLIMIT_NOFILE is %llu",
                     (long long)cfg->max_connections, (long long)fit,
                     (unsigned long long)rl.rlim_cur);
        }
    }
    out->threads = (unsigned)cfg->http_threads;
    out->max_connections = (unsigned)fit;
    out->max_waiting = (unsigned)waiting;
    out->connection_timeout_ms = cfg->connection_timeout_s * 1000;
}

static void free_config(platform_config_t *cfg)
{
    for (const conf_option_t *o = options; o->name; o++)
        if (o->type == CONF_STRING) free(*(char **)((char *)cfg + o->offset));
}

int main(int argc, char **argv)
{
    platform_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    char err[512];
    int rc = conf_parse_args(options, &cfg, argc, argv, usage, err, sizeof err);
    if (rc == 1) {
        free_config(&cfg);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "icplatform: %s\n", err);
        free_config(&cfg);
        return 2;
    }
    char admin_token[PLATFORM_ADMIN_TOKEN_MAX + 1];
    if (finish_config(&cfg, err, sizeof err) < 0 ||
        load_admin_token(&cfg, admin_token, sizeof admin_token, err, sizeof err) < 0 ||
        export_network_emulation(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "icplatform: %s\n", err);
        free_config(&cfg);
        return 2;
    }
    log_set_component("platform");
    log_level_t level;
    if (log_level_parse(cfg.log_level, &level) < 0) {
        fprintf(stderr, "icplatform: unknown log level '%s'\n", cfg.log_level);
        free_config(&cfg);
        return 2;
    }
    log_set_level(level);
    size_t plen = strlen(cfg.function_prefix);
    if (plen == 0 || plen + 6 > 64 ||
        strspn(cfg.function_prefix,
               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != plen) {
        fprintf(stderr, "icplatform: function prefix must be 1-58 of [A-Za-z0-9_-]\n");
        free_config(&cfg);
        return 2;
    }
    if (!cfg.handler[0] && default_handler(&cfg) < 0) {
        fprintf(stderr, "icplatform: cannot locate the default handler\n");
        free_config(&cfg);
        return 2;
    }
    if (access(cfg.handler, X_OK) != 0) {
        fprintf(stderr, "icplatform: handler %s is not executable: %s\n", cfg.handler,
                strerror(errno));
        free_config(&cfg);
        return 2;
    }

    /* Die with the parent (icproxy), which then needs no clean-up of its own. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop, NULL); /* inherited by every thread created below */

    platform_t *p = NULL;
    platform_http_t *http = NULL;
    int port = 0;
    rc = platform_create(&cfg, &p);
    if (rc < 0) {
        log_error("start error=\"%s\"", platform_strerror(rc));
        free_config(&cfg);
        return 1;
    }
    platform_http_limits_t limits;
    http_limits(&cfg, &limits);
    rc = platform_http_create(p, cfg.host, (int)cfg.port, &limits, &http, &port);
    if (rc < 0) {
        log_error("listen host=%s port=%lld error=\"%s\"", cfg.host, (long long)cfg.port,
                  platform_strerror(rc));
        platform_destroy(p);
        free_config(&cfg);
        return 1;
    }
    platform_set_port(p, port);
    control_t *control = NULL;
    rc = control_create(p, &cfg, &control);
    if (rc < 0) {
        log_error("state dir=%s error=\"%s\"", cfg.state_dir, strerror(-rc));
        platform_shutdown(p);
        platform_http_stop(http);
        platform_destroy(p);
        free_config(&cfg);
        return 1;
    }
    platform_http_set_control(http, control);
    platform_http_require_sigv4(http, cfg.require_sigv4);
    platform_http_set_admin_token(http, admin_token); /* length checked by load_admin_token */
    rc = platform_http_serve(http);
    if (rc < 0) {
        log_error("serve port=%d error=\"%s\"", port, platform_strerror(rc));
        OPENSSL_cleanse(admin_token, sizeof admin_token);
        platform_shutdown(p);
        platform_http_stop(http);
        control_destroy(control);
        platform_destroy(p);
        free_config(&cfg);
        return 1;
    }
    if (admin_token[0])
        log_info("admin api=on");
    else
        log_warn("admin api=off: /admin answers 403; give --admin-token-file FILE or "
                 "IC_PLATFORM_ADMIN_TOKEN to turn it on");
    OPENSSL_cleanse(admin_token, sizeof admin_token);
    log_info("listening host=%s port=%d functions=%lld prefix=%s memory_mb=%lld timeout_ms=%lld "
             "idle_reclaim_ms=%lld billing_ms=%lld max_instances=%lld handler=%s reclaim_rate=%g "
             "time_compression=%g seed=%lld node_bandwidth=%lld straggler_rate=%g "
             "straggler_delay_ms=%lld max_connections=%u max_waiting=%u connection_timeout_s=%lld "
             "http_threads=%u",
             cfg.host, port, (long long)cfg.function_count, cfg.function_prefix,
             (long long)cfg.memory_mb, (long long)cfg.timeout_ms, (long long)cfg.idle_reclaim_ms,
             (long long)cfg.billing_ms, (long long)cfg.max_instances, cfg.handler, cfg.reclaim_rate,
             cfg.time_compression, (long long)cfg.seed, (long long)cfg.node_bandwidth,
             cfg.straggler_rate, (long long)cfg.straggler_delay_ms, limits.max_connections,
             limits.max_waiting, (long long)cfg.connection_timeout_s, limits.threads);
    printf("READY port=%d\n", port);
    fflush(stdout);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0) {
    }
    log_info("signal=%d stopping", sig);
    platform_shutdown(p); /* kills and reaps every instance, wakes blocked requests */
    platform_http_stop(http);
    control_destroy(control);
    platform_destroy(p);
    free_config(&cfg);
    return 0;
}
