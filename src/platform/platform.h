/* platform.h -- the local function platform: functions, instances (processes), invocations,
 * billing. */
#ifndef IC_PLATFORM_H
#define IC_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "billing.h"

/* Filled from the option table in main.c; strings are owned by the config. */
typedef struct {
    char *host;
    int64_t port;
    char *function_prefix;
    int64_t function_count;
    int64_t memory_mb;
    int64_t timeout_ms;
    int64_t init_timeout_ms; /* from spawn to the runtime's first GET /next */
    int64_t idle_reclaim_ms; /* simulated time: divided by time_compression */
    int64_t billing_ms;      /* billing granularity: 1 or 100 */
    char *billing_log;
    char *handler;
    int64_t max_instances;
    int64_t max_queue;
    int64_t event_retry_delay_ms; /* simulated time: divided by time_compression */
    char *log_level;
    char *require_sigv4; /* "KEY_ID[:SESSION_TOKEN]" Invoke requests must be signed with */
    char *admin_token_file; /* first line: the admin API's bearer token (else the environment's) */
    int64_t connection_timeout_s; /* idle connections and unfinished request bodies are cut */
    int64_t max_connections;      /* beyond: 503 */
    int64_t max_waiting;          /* long polls + sync invocations waiting at once; 0: sized */
    int64_t http_threads;         /* epoll threads of the HTTP front end */
    char *reclaim_rate_text;     /* --reclaim-rate as given; parsed into reclaim_rate */
    char *time_compression_text; /* --time-compression as given; parsed into time_compression */
    int64_t seed;                /* --seed; main.c replaces 0 with a seed from the clock */
    double reclaim_rate;         /* random reclaims per instance-hour of simulated time, 0: off */
    double time_compression;     /* simulated seconds per real second, >= 1 */
    /* Network emulation, exported to every instance as IC_NODE_* variables (src/node/node.h). */
    int64_t node_bandwidth;       /* bytes per second a node sends its proxy; 0: unlimited */
    char *straggler_rate_text;    /* --straggler-rate as given; parsed into straggler_rate */
    double straggler_rate;        /* fraction of chunk replies held back */
    int64_t straggler_delay_ms;   /* how long */
    int64_t account_concurrency;  /* concurrent executions of the account (Lambda: 1000) */
    char *state_dir;              /* the control plane's functions and code; "": a temporary one */
    int state_reset;              /* start with no created functions (wipes state_dir) */
    int64_t update_delay_ms;      /* Pending / InProgress lasts this long after a change */
    int64_t code_storage_bytes;   /* TotalCodeSize of the account (Lambda: 75 GB) */
} platform_config_t;

/* The admin API's token: printable ASCII, no blanks, this many bytes at least and at most. */
#define PLATFORM_ADMIN_TOKEN_MIN 16
#define PLATFORM_ADMIN_TOKEN_MAX 512

/* Lambda's payload limits. */
#define PLATFORM_MAX_SYNC_PAYLOAD (6 * 1024 * 1024)
#define PLATFORM_MAX_EVENT_PAYLOAD (256 * 1024)
#define PLATFORM_MAX_RESPONSE (6 * 1024 * 1024)

typedef struct platform platform_t;

/* Creates the platform and starts its manager thread (which forks instances, so that
 * PR_SET_PDEATHSIG in them tracks a thread that lives as long as the platform). The config must
 * outlive the platform. Returns 0 or a negative errno. */
int platform_create(const platform_config_t *cfg, platform_t **out);
/* Tells the HTTP port (used in AWS_LAMBDA_RUNTIME_API); call before the first invocation. */
void platform_set_port(platform_t *p, int port);
/* Stops everything: wakes every waiting caller (they get PLATFORM_SHUTDOWN), kills every
 * instance with SIGKILL and reaps them all. Safe to call once; platform_destroy frees. */
void platform_shutdown(platform_t *p);
void platform_destroy(platform_t *p);

typedef enum {
    PLATFORM_INVOKE_DONE = 0,  /* sync: finished, see function_error and body */
    PLATFORM_INVOKE_ACCEPTED,  /* Event: queued or dispatched */
    PLATFORM_INVOKE_NOT_FOUND, /* no such function */
    PLATFORM_INVOKE_THROTTLED, /* at max-instances (sync) or queue full (Event) */
    PLATFORM_INVOKE_SHUTDOWN,  /* the platform is stopping */
    PLATFORM_INVOKE_PENDING,   /* created or updated moments ago: not yet Active */
    PLATFORM_INVOKE_NOMEM,
} platform_invoke_status_t;

typedef struct {
    platform_invoke_status_t status;
    int function_error; /* X-Amz-Function-Error: Unhandled */
    char *body;         /* malloc'd, owned by the caller (platform_result_free) */
    size_t body_len;
    char request_id[40];
    const char *throttle_reason; /* THROTTLED: Lambda's Reason (static string), or NULL */
    char *log_tail; /* DONE with PLATFORM_INVOKE_TAIL: the invocation's log tail (malloc'd) */
} platform_result_t;

#define PLATFORM_INVOKE_SYNC 1 /* RequestResponse */
#define PLATFORM_INVOKE_TAIL 2 /* with SYNC: the result carries the log tail (--log-type Tail) */
/* Invokes function `name` with `payload` (copied). sync (PLATFORM_INVOKE_* flags) with SYNC set
 * blocks until the invocation finishes. trace_id (the Invoke's X-Amzn-Trace-Id, or NULL) is handed to the runtime as
 * Lambda-Runtime-Trace-Id, retries included. Never takes ownership of payload. */
void platform_invoke(platform_t *p, const char *name, size_t name_len, const char *payload,
                     size_t len, int sync, const char *trace_id, platform_result_t *res);

/* How instances of a created function run (control.c fills it from the definition). Strings
 * are copied. */
typedef struct {
    int64_t memory_mb, timeout_ms;
    const char *exec;       /* the bootstrap new instances run */
    const char *task_root;  /* LAMBDA_TASK_ROOT, their working directory */
    const char *const *env; /* the function's "K=V" variables, NULL-terminated */
    uint64_t code_version;  /* a change retires the instances of the older one */
    int64_t reserved_concurrency, max_retry_attempts, max_event_age_s; /* -1: none / default */
    int64_t ready_at_ms;    /* wall clock: invocations before get PLATFORM_INVOKE_PENDING */
} platform_fn_settings_t;
/* Creates function name or changes its settings. Instances of an older code_version finish what
 * they run and are retired; new invocations start instances of the new one. 0, -EPERM for a
 * pre-configured function, -ENOMEM. */
int platform_function_put(platform_t *p, const char *name, const platform_fn_settings_t *s);
/* Deletes a created function: its instances are killed, its queued events dropped. 0, -ENOENT,
 * -EPERM (pre-configured). */
int platform_function_remove(platform_t *p, const char *name);
/* The sum of reserved concurrency and the account's limit. */
int platform_function_concurrency(platform_t *p, int64_t *reserved_total, int64_t *account);
void platform_result_free(platform_result_t *res);
/* 1 if `name` is one of the platform's functions. */
int platform_function_exists(platform_t *p, const char *name, size_t name_len);

/* What GET /runtime/invocation/next hands to an instance; body is malloc'd, caller frees. */
typedef struct {
    char *body;
    size_t body_len;
    char request_id[40];
    int64_t deadline_ms;
    char function_arn[160];
    char trace_id[96];
} platform_event_t;

/* Runtime API, called from the HTTP threads. All return 0 or a negative errno:
 * -ENOENT unknown or dead instance, -EINVAL wrong request id, -ESHUTDOWN stopping. */
int platform_runtime_next(platform_t *p, uint64_t instance, platform_event_t *ev);
int platform_runtime_result(platform_t *p, uint64_t instance, const char *request_id,
                            const char *body, size_t len, int is_error);
int platform_runtime_init_error(platform_t *p, uint64_t instance, const char *body, size_t len);
/* Fails the running invocation of `instance` because its response was too large. */
int platform_runtime_oversize(platform_t *p, uint64_t instance, const char *request_id);

/* Admin hooks. The JSON strings are malloc'd; the caller frees them. */
char *platform_stats_json(platform_t *p);
char *platform_instances_json(platform_t *p);
/* Kills one instance (by id) or every instance of a function; returns how many were killed,
 * or -ENOENT for an unknown instance/function. */
int platform_reclaim_instance(platform_t *p, uint64_t instance);
int platform_reclaim_function(platform_t *p, const char *name);
/* SIGSTOP (freeze != 0) or SIGCONT an instance, busy or not. 0 or -ENOENT. */
int platform_freeze(platform_t *p, uint64_t instance, int freeze);

const char *platform_strerror(int err);

#endif
