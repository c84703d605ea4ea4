/* proxy_config.h -- icproxy's options as one struct (the table, defaults and bounds are in
 * config.c). */
#ifndef IC_PROXY_PROXY_CONFIG_H
#define IC_PROXY_PROXY_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "awscreds.h"

/* ---- configuration (one table in config.c) ---- */
typedef struct {
    char *bind;
    int64_t client_port;
    int64_t node_port;
    char *node_advertise; /* address nodes dial; default bind:node_port */
    int64_t pool_size;
    char *function_prefix;
    int64_t node_memory_mb;
    int64_t node_reserved_mb;
    int64_t d, p;
    int64_t small_object_max;
    int64_t max_object_size;
    int64_t threads;         /* 1: the loop does it all; N: plus N-1 byte movers; 0: cores */
    int64_t mover_min_bytes; /* shortest transfer given to a mover */
    char *mover_when;        /* busy | always */
    int64_t max_clients;
    int64_t max_pipeline;
    int64_t client_output_limit; /* unread reply bytes before a client's input pauses */
    char *requirepass;           /* the default user's password; "" none (never logged) */
    char *aclfile;               /* ACL-style users; "" none */
    char *cluster_config;        /* the cluster's slot map (cluster.c); "" not a cluster */
    char *cluster_id;            /* this proxy's name in it */
    int64_t protected_mode;      /* bool */
    int64_t timeout_s;           /* idle clients are closed after this; 0 never */
    char *platform_endpoint;     /* empty: start the embedded local platform */
    char *platform_binary;
    char *platform_admin_token_file; /* the platform's admin token (embedded: instead of a fresh
                                        one) */
    char *node_binary;
    int64_t function_timeout_ms;
    int64_t node_idle_return_ms;
    int64_t idle_reclaim_ms;
    char *billing;
    char *billing_log;
    int64_t max_instances;
    char *aws_sigv4;               /* "auto", or e.g. "aws:amz:us-east-1:lambda"; empty: unsigned */
    char *aws_profile;             /* shared-file profile; "": AWS_PROFILE, then default */
    char *aws_region;              /* "": AWS_REGION, AWS_DEFAULT_REGION, the profile's, IMDS */
    char *imds_endpoint;           /* "": AWS_EC2_METADATA_SERVICE_ENDPOINT, then 169.254.169.254 */
    int64_t aws_refresh_margin_ms; /* temporary keys are replaced this long before expiry */
    int64_t aws_fetch_timeout_ms;  /* one IMDS or container-agent request */
    int64_t aws_process_timeout_ms; /* one credential_process run */
    char *node_secret_file; /* the deployment's node secret; empty: a fresh one (embedded only) */
    int64_t invoke_timeout_ms;
    int64_t node_connect_timeout_ms;
    int64_t invoke_retry_ms;
    int64_t invoke_attempts;       /* tries of one Invoke call answered 429 or 5xx */
    int64_t invoke_backoff_ms;     /* first delay between them (doubles, jittered) */
    int64_t invoke_backoff_max_ms; /* the cap of that delay */
    int64_t ping_idle_ms;
    int64_t ping_timeout_ms;
    int64_t request_timeout_ms;
    int64_t warm_on_start;
    int64_t epoch;
    int64_t ready_timeout_ms;
    char *node_return_policy; /* anticipatory | idle */
    /* lifecycle (docs/ARCHITECTURE.md, "Keeping data alive") */
    int64_t warmup_interval_ms;
    int64_t backup_interval_ms;
    int64_t backup_timeout_ms;
    int64_t backup_concurrency;
    int64_t relay_port;
    char *repair_text;      /* yes | hot | lazy | no (derived: repair) */
    int64_t repair_hot_ms;  /* --repair hot: objects read or written this recently */
    int64_t repair_rate;    /* bytes per second */
    char *time_compression; /* decimal factor >= 1 */
    char *reclaim_rate;     /* local platform: random reclaims per instance-hour */
    int64_t seed;
    /* network emulation in the local platform's nodes (docs/PLATFORM.md) */
    int64_t node_bandwidth; /* bytes per second each node sends; 0: unlimited */
    char *straggler_rate;   /* decimal fraction of chunk replies held back */
    int64_t straggler_delay_ms;
    char *log_level;
    int64_t slowlog_log_slower_than; /* microseconds; -1: off, 0: every command */
    int64_t slowlog_max_len;
    int64_t latency_monitor_threshold; /* milliseconds; 0: off */
    /* TLS (docs/SECURITY.md): Redis's option names and meanings */
    int64_t tls_port; /* 0: no TLS listener for clients */
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_ca_cert_file;
    char *tls_auth_clients; /* yes | no | optional */
    char *tls_ciphersuites; /* TLS 1.3 suites, the proxy's preference first */
    int64_t tls_handshake_timeout_ms;
    int64_t node_tls; /* the node port speaks TLS only; invocations say "tls": true */
    /* the Prometheus endpoint (metrics.c, docs/SECURITY.md) */
    int64_t metrics_port; /* 0: off */
    char *metrics_bind;
    char *metrics_token_file; /* "": no token (loopback only) */
    int64_t metrics_max_connections;
    int64_t metrics_timeout_ms;
    /* the backing object store (backing.c, docs/BACKING.md) */
    char *backing;                 /* s3://BUCKET[/PREFIX]; "": none */
    char *backing_endpoint;        /* "": AWS S3; else an S3-compatible URL, path-style */
    char *backing_mode;            /* none | read-through | write-through | write-behind */
    int64_t backing_delete;        /* DEL and expiry delete the store's object too */
    int64_t backing_authoritative; /* every hit is checked against the store first */
    int64_t backing_repair;        /* repair reads the store's copy, not d chunks */
    int64_t backing_timeout_ms;
    int64_t backing_part_size; /* GETs read in ranged parts of this size */
    char *backing_queue_dir;   /* write-behind's journal */
    int64_t backing_queue_max; /* bytes of write-behind uploads waiting */
    /* derived by proxy_config_load */
    char *config_file;  /* --config FILE as an absolute path (CONFIG REWRITE); NULL: none */
    double compression; /* time_compression as a number */
    int64_t billing_ms; /* billing as a number: 1 or 100 */
    int mover_by_load;  /* mover_when is busy */
    int repair;         /* REPAIR_*: repair_text (0 is no: `if (cfg->repair)` asks for any) */
} proxy_config_t;

enum { REPAIR_NO = 0, REPAIR_YES, REPAIR_HOT, REPAIR_LAZY };

/* A lifecycle period after time compression (at least 1 ms). */
uint64_t proxy_scaled_ms(const proxy_config_t *cfg, int64_t ms);

extern const void *proxy_option_table; /* conf_option_t[] */
int proxy_config_load(proxy_config_t *cfg, int argc, char **argv, char *err, size_t errlen);

/* The AWS credential chain's options from the proxy's (the signed invocations and the backing
 * store open the same chain). need_region: the chain must find a region. */
awscreds_options_t proxy_aws_options(const proxy_config_t *cfg, int need_region);

#endif
