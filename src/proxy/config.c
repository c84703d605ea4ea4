/* config.c -- icproxy's one option table: flags, config file, --help and the sample config (the
 * groups it shares with icsim are declared in src/model/options.h). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ec.h"
#include "options.h"
#include "proxy_config.h"

#define OPT(name, type, field, min, max, def, help)                                                \
    {                                                                                              \
        name, type, offsetof(proxy_config_t, field), min, max, def, help, 0                        \
    }
/* A row CONFIG SET may change while the proxy runs: its value is read where it is used, never
 * turned into state at start (cmd_config.c applies the few that need more, e.g. requirepass). */
#define OPT_RT(name, type, field, min, max, def, help)                                             \
    {                                                                                              \
        name, type, offsetof(proxy_config_t, field), min, max, def, help, CONF_F_RUNTIME           \
    }
#define FIELD(field) offsetof(proxy_config_t, field)
#define GiB ((int64_t)1 << 30)

static const conf_option_t options[] = {
    OPT("bind", CONF_STRING, bind, 0, 0, "127.0.0.1",
        "address to listen on, for clients and nodes"),
    OPT("client-port", CONF_INT, client_port, 0, 65535, "6378",
        "port for clients (Redis protocol); 0 picks a free one"),
    OPT("node-port", CONF_INT, node_port, 0, 65535, "6388",
        "port cache nodes dial; 0 picks a free one"),
    OPT("node-advertise", CONF_STRING, node_advertise, 0, 0, "",
        "host:port nodes are told to dial (default: bind:node-port); auto: this EC2 instance's "
        "private IPv4 address from IMDSv2, at node-port"),
    OPT("function-prefix", CONF_STRING, function_prefix, 0, 0, "icnode",
        "functions are named PREFIX0..PREFIX(N-1)"),
    MODEL_OPTIONS_POOL(FIELD),
    OPT("max-object-size", CONF_BYTES, max_object_size, 1, 64 * GiB, "1g",
        "largest value accepted (and at most d x 1 GiB: a node stores chunks up to 1 GiB)"),
    OPT("threads", CONF_INT, threads, 0, 256, "0",
        "threads the proxy uses: 1 runs everything on the event loop; N > 1 adds N-1 byte movers "
        "that carry chunk bodies and large replies (docs/ARCHITECTURE.md, \"Many cores\"); 0: "
        "one per core"),
    OPT("mover-min-bytes", CONF_BYTES, mover_min_bytes, 4096, 64 * GiB, "64k",
        "transfers at least this long go to a byte mover (with threads > 1)"),
    OPT("mover-when", CONF_STRING, mover_when, 0, 0, "busy",
        "busy: byte movers take transfers only while the event loop is busy enough for the "
        "hand-off to pay (docs/ARCHITECTURE.md, \"Many cores\"); always: whenever they are long "
        "enough"),
    OPT_RT("max-clients", CONF_INT, max_clients, 1, 1000000, "10000",
           "most client connections at once"),
    OPT_RT("requirepass", CONF_STRING, requirepass, 0, 0, "",
           "password of the default user; clients send AUTH PASSWORD first (empty: none)"),
    OPT("aclfile", CONF_STRING, aclfile, 0, 0, "",
        "file of users, one 'user NAME on >PASSWORD ~* +@all' line each (not with requirepass)"),
    OPT("cluster-config", CONF_STRING, cluster_config, 0, 0, "",
        "Redis Cluster of proxies: file of 'proxy NAME HOST:PORT SLOTS FIRST-LAST ...' lines "
        "giving every proxy's share of the 16384 slots (docs/CLUSTER.md); empty: not a cluster"),
    OPT("cluster-id", CONF_STRING, cluster_id, 0, 0, "",
        "the NAME of this proxy's line in cluster-config"),
    OPT_RT("protected-mode", CONF_BOOL, protected_mode, 0, 1, "yes",
           "refuse clients from other hosts while the default user needs no password"),
    OPT_RT("timeout", CONF_INT, timeout_s, 0, 31536000, "0",
           "close a client idle this many seconds with no reply pending (0: never, as Redis)"),
    OPT_RT("max-pipeline", CONF_INT, max_pipeline, 1, 100000, "128",
           "most commands in flight per client before reading pauses"),
    OPT_RT("client-output-limit", CONF_BYTES, client_output_limit, 64 * 1024, 64 * GiB, "64m",
           "a client with this many reply bytes unread stops being read until it takes them"),
    OPT("platform-endpoint", CONF_STRING, platform_endpoint, 0, 0, "",
        "Lambda Invoke API endpoint; empty starts the embedded local platform"),
    OPT("platform-binary", CONF_STRING, platform_binary, 0, 0, "",
        "local platform executable (default: icplatform next to icproxy)"),
    OPT("platform-admin-token-file", CONF_STRING, platform_admin_token_file, 0, 0, "",
        "file whose first line is the platform's admin API token, for reading its /admin/stats "
        "(INFO); the embedded platform is given it instead of a fresh random token (tests use "
        "this to reach its admin API); empty: a fresh token, or no stats from an external "
        "platform"),
    OPT("node-binary", CONF_STRING, node_binary, 0, 0, "",
        "cache node executable the local platform runs (default: icnode next to icproxy)"),
    MODEL_OPTIONS_NODE_POLICY(FIELD),
    MODEL_OPTIONS_PLATFORM(FIELD),
    OPT("billing-log", CONF_STRING, billing_log, 0, 0, "",
        "local platform: file with one JSON line per invocation"),
    OPT("aws-sigv4", CONF_STRING, aws_sigv4, 0, 0, "",
        "sign invocations with SigV4: auto (service lambda in the region the credential chain "
        "finds), or explicitly aws:amz:REGION:lambda; keys from the AWS credential chain "
        "(environment, shared files, container, EC2 instance role; docs/SECURITY.md); empty: "
        "unsigned"),
    OPT("aws-profile", CONF_STRING, aws_profile, 0, 0, "",
        "profile of the shared credentials and config files (empty: AWS_PROFILE, then default)"),
    OPT("aws-region", CONF_STRING, aws_region, 0, 0, "",
        "region for --aws-sigv4 auto (empty: AWS_REGION, AWS_DEFAULT_REGION, the profile's "
        "region, then the instance's from IMDS)"),
    OPT("imds-endpoint", CONF_STRING, imds_endpoint, 0, 0, "",
        "EC2 instance metadata service (IMDSv2) for the instance role, the region and "
        "--node-advertise auto (empty: AWS_EC2_METADATA_SERVICE_ENDPOINT, then "
        "http://169.254.169.254)"),
    OPT("aws-refresh-margin", CONF_MS, aws_refresh_margin_ms, 1000, 3600000, "5m",
        "temporary AWS keys (instance role, container, credential_process) are fetched again "
        "this long before they expire; a failed fetch keeps the old keys and is retried"),
    OPT("aws-fetch-timeout", CONF_MS, aws_fetch_timeout_ms, 100, 60000, "2s",
        "timeout of each request to IMDS or the container credentials agent"),
    OPT("aws-process-timeout", CONF_MS, aws_process_timeout_ms, 100, 600000, "30s",
        "a profile's credential_process not done by then is killed"),
    OPT("node-secret-file", CONF_STRING, node_secret_file, 0, 0, "",
        "file holding the deployment's node secret (the functions' IC_NODE_SECRET; a second "
        "line: the previous one, still accepted while rotating); empty: a fresh secret for "
        "the embedded platform"),
    OPT("invoke-timeout", CONF_MS, invoke_timeout_ms, 100, 600000, "10s",
        "HTTP timeout of one Invoke API call"),
    OPT("node-connect-timeout", CONF_MS, node_connect_timeout_ms, 10, 600000, "5s",
        "how long a request waits for an invoked node to connect"),
    OPT("invoke-retry", CONF_MS, invoke_retry_ms, 0, 600000, "1s",
        "invoke a node again when it has not connected this long after an invocation (0: never); "
        "the invocation may have reached a wedged instance, so the retry may start another, and "
        "the first instance to say HELLO is kept"),
    OPT("invoke-attempts", CONF_INT, invoke_attempts, 1, 20, "4",
        "tries of one Invoke call that Lambda answers 429 (throttled) or 5xx, with capped, "
        "jittered exponential backoff between them (INFO: invoke_throttled, invoke_retries)"),
    OPT("invoke-backoff", CONF_MS, invoke_backoff_ms, 1, 60000, "100ms",
        "the first delay before retrying a throttled or failed Invoke call; doubles per retry"),
    OPT("invoke-backoff-max", CONF_MS, invoke_backoff_max_ms, 1, 600000, "2s",
        "the most the delay before an Invoke retry grows to"),
    OPT("ping-idle", CONF_MS, ping_idle_ms, 0, 3600000, "1s",
        "ping a node before use when it has been silent this long"),
    OPT("ping-timeout", CONF_MS, ping_timeout_ms, 1, 60000, "200ms",
        "a node that does not answer a ping in time is invoked again"),
    OPT("request-timeout", CONF_MS, request_timeout_ms, 10, 3600000, "10s",
        "a GET that has not gathered d chunks by then fails; a node silent this long on a request "
        "is replaced"),
    OPT("warm-on-start", CONF_BOOL, warm_on_start, 0, 1, "yes",
        "invoke every function at start so the pool is warm"),
    OPT("ready-timeout", CONF_MS, ready_timeout_ms, 100, 600000, "10s",
        "at start, how long to wait for the pool to connect"),
    OPT("epoch", CONF_INT, epoch, 0, 9007199254740991LL, "0",
        "takeover epoch: nodes that accepted an event of this proxy refuse every proxy of a "
        "lower one (docs/STANDBY.md); 0: the start time in Unix ms, above that of any proxy "
        "started earlier while the clocks agree; a higher value is used as given"),
    MODEL_OPTIONS_LIFECYCLE(FIELD),
    OPT("backup-timeout", CONF_MS, backup_timeout_ms, 100, 3600000, "2m",
        "a backup not finished by then is abandoned (retried at the next interval)"),
    OPT("relay-port", CONF_INT, relay_port, 0, 65535, "6389",
        "port where a backing-up node and its peer instance meet; 0 picks a free one"),
    OPT("repair", CONF_STRING, repair_text, 0, 0, "yes",
        "rebuild lost chunks: yes (in the background as soon as they are found lost, and at a "
        "GET that finds them), hot (in the background only for objects used within "
        "repair-hot-window), lazy (only at a GET that finds them), no"),
    OPT("repair-rate", CONF_BYTES, repair_rate, 1, 64 * GiB, "64m",
        "bytes per second background repair may read and write"),
    OPT("time-compression", CONF_STRING, time_compression, 0, 0, "1",
        "divide every lifecycle timer (warm-up, backup, local platform reclaim) by this factor"),
    OPT("seed", CONF_INT, seed, 0, INT64_MAX, "0",
        "seed for the local platform's random reclaims (0: from the clock)"),
    OPT("straggler-rate", CONF_STRING, straggler_rate, 0, 0, "0",
        "local platform: fraction (0..1) of chunk replies a node holds back, emulating stragglers"),
    OPT("straggler-delay", CONF_MS, straggler_delay_ms, 0, 3600000, "100ms",
        "local platform: how long a held-back chunk reply waits"),
    OPT_RT("log-level", CONF_STRING, log_level, 0, 0, "info", "debug, info, warn or error"),
    OPT_RT("slowlog-log-slower-than", CONF_INT, slowlog_log_slower_than, -1, INT64_MAX, "10000",
           "SLOWLOG keeps commands whose time in the proxy's event loop (node waits excluded) "
           "reaches this many microseconds; -1: none, 0: every command"),
    OPT_RT("slowlog-max-len", CONF_INT, slowlog_max_len, 0, 1000000, "128",
           "most entries SLOWLOG keeps; the oldest go first"),
    OPT_RT("latency-monitor-threshold", CONF_INT, latency_monitor_threshold, 0, INT64_MAX, "0",
           "LATENCY records commands whose whole time (node waits included) reaches this many "
           "milliseconds; 0: off"),
    OPT("tls-port", CONF_INT, tls_port, 0, 65535, "0",
        "port for clients over TLS (Redis protocol); 0: none. With it, client-port 0 means no "
        "plaintext port, as Redis's port 0"),
    OPT("tls-cert-file", CONF_STRING, tls_cert_file, 0, 0, "",
        "the proxy's certificate chain (PEM) for TLS"),
    OPT("tls-key-file", CONF_STRING, tls_key_file, 0, 0, "",
        "the private key (PEM) of tls-cert-file"),
    OPT("tls-ca-cert-file", CONF_STRING, tls_ca_cert_file, 0, 0, "",
        "CA bundle (PEM) that client certificates are verified against"),
    OPT("tls-auth-clients", CONF_STRING, tls_auth_clients, 0, 0, "yes",
        "yes: clients must present a certificate signed by the CA; optional: verified when "
        "presented; no: not asked for"),
    OPT("tls-ciphersuites", CONF_STRING, tls_ciphersuites, 0, 0,
        "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384",
        "TLS 1.3 cipher suites in the proxy's order of preference, applied over the client's "
        "(AES-128-GCM first: 4.3 GB/s against AES-256-GCM's 2.8 GB/s on a core here)"),
    OPT("node-tls", CONF_BOOL, node_tls, 0, 1, "no",
        "the node port speaks TLS only (tls-cert-file, tls-key-file); nodes verify the proxy "
        "against the CA bundle in their IC_NODE_TLS_CA"),
    OPT("tls-handshake-timeout", CONF_MS, tls_handshake_timeout_ms, 10, 600000, "10s",
        "a TLS connection that has not finished its handshake by then is closed"),
    OPT("metrics-port", CONF_INT, metrics_port, 0, 65535, "0",
        "port serving GET /metrics in the Prometheus text format; 0: off"),
    OPT("metrics-bind", CONF_STRING, metrics_bind, 0, 0, "127.0.0.1",
        "address the metrics port listens on; beyond loopback it needs metrics-token-file"),
    OPT("metrics-token-file", CONF_STRING, metrics_token_file, 0, 0, "",
        "file whose first line (16 to 512 printable bytes) scrapers must send as "
        "'Authorization: Bearer <token>' (else 401); empty: none, allowed on loopback only"),
    OPT("metrics-max-connections", CONF_INT, metrics_max_connections, 1, 1024, "16",
        "most connections to the metrics port at once; more wait in the listen backlog until one "
        "ends"),
    OPT("metrics-timeout", CONF_MS, metrics_timeout_ms, 1000, 600000, "10s",
        "a metrics connection is closed when idle this long, and when open this long whatever "
        "it does (a scraper trickling its request holds no slot past it)"),
    OPT("backing", CONF_STRING, backing, 0, 0, "",
        "an S3 bucket under the cache, s3://BUCKET[/PREFIX] (docs/BACKING.md): misses are read "
        "from it and, by backing-mode, SETs written to it; keys from the AWS credential chain "
        "(as aws-sigv4's); empty: none"),
    OPT("backing-endpoint", CONF_STRING, backing_endpoint, 0, 0, "",
        "URL of an S3-compatible store, addressed path-style (URL/BUCKET/KEY); empty: AWS S3 in "
        "the credential chain's region (us-east-1 if none)"),
    OPT("backing-mode", CONF_STRING, backing_mode, 0, 0, "",
        "none, read-through (misses read from the store; SETs cache only), write-through (a "
        "SET is acknowledged once the store and the cache have it), or write-behind (once "
        "cached; a journaled queue uploads it); empty: write-through with backing, else none"),
    OPT("backing-delete", CONF_BOOL, backing_delete, 0, 1, "no",
        "DEL, UNLINK and expiry delete the store's object too (no: they drop the cached copy "
        "only, and a later GET reads the store's object again)"),
    OPT("backing-authoritative", CONF_BOOL, backing_authoritative, 0, 1, "no",
        "before answering a hit, ask the store whether the object is still the one cached "
        "(a conditional GET with its ETag: one store request per GET); a changed object is "
        "answered from the store and cached again"),
    OPT("backing-repair", CONF_BOOL, backing_repair, 0, 1, "yes",
        "background repair rebuilds lost chunks from the store's copy of the object (one read of "
        "the store, checked against the chunks' CRCs) instead of reading d chunks from the "
        "nodes, which wakes d functions; falls back to the nodes when the store's copy differs"),
    OPT("backing-timeout", CONF_MS, backing_timeout_ms, 100, 600000, "5s",
        "a store request fails when it cannot connect, or moves no byte, for this long"),
    OPT("backing-part-size", CONF_BYTES, backing_part_size, 64 * 1024, GiB, "8m",
        "objects larger than this are read from the store as parallel ranged GETs, and written as "
        "multipart uploads (parts of at least 5 MiB), of this size"),
    OPT("backing-queue-dir", CONF_STRING, backing_queue_dir, 0, 0, "",
        "write-behind: directory of the upload queue's journal (fsync'd before a SET is "
        "acknowledged, replayed at start)"),
    OPT("backing-queue-max", CONF_BYTES, backing_queue_max, 1, 64 * GiB, "256m",
        "write-behind: bytes waiting for upload past which SETs are refused until it drains"),
    CONF_END,
};

const void *proxy_option_table = options;

static const char usage[] = "icproxy -- InfiniCache proxy: a Redis-protocol cache whose memory "
                            "lives in serverless functions.\n"
                            "Usage: icproxy [--config FILE] [--option value]...";

int proxy_config_load(proxy_config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    int rc = conf_parse_args(options, cfg, argc, argv, usage, err, errlen);
    if (rc != 0) return rc;
    for (int i = 1; i < argc; i++) {
        const char *path = !strcmp(argv[i], "--config") && i + 1 < argc ? argv[i + 1]
                           : !strncmp(argv[i], "--config=", 9)          ? argv[i] + 9
                                                                        : NULL;
        if (!path) continue;
        free(cfg->config_file);
        cfg->config_file = realpath(path, NULL); /* CONFIG REWRITE finds it from any cwd */
    }
    double rate;
    if (conf_parse_decimal(cfg->time_compression, 1, 1e6, &cfg->compression) < 0) {
        snprintf(err, errlen, "time-compression '%s' is not a number from 1 to 1000000",
                 cfg->time_compression);
        return -1;
    }
    if (conf_parse_decimal(cfg->reclaim_rate, 0, 1e6, &rate) < 0) {
        snprintf(err, errlen, "reclaim-rate '%s' is not a number of reclaims per hour",
                 cfg->reclaim_rate);
        return -1;
    }
    if (conf_parse_decimal(cfg->straggler_rate, 0, 1, &rate) < 0) {
        snprintf(err, errlen, "straggler-rate '%s' is not a fraction from 0 to 1",
                 cfg->straggler_rate);
        return -1;
    }
    if (strcmp(cfg->node_return_policy, "anticipatory") &&
        strcmp(cfg->node_return_policy, "idle")) {
        snprintf(err, errlen, "node-return-policy '%s' is not anticipatory or idle",
                 cfg->node_return_policy);
        return -1;
    }
    if (!strcmp(cfg->repair_text, "yes"))
        cfg->repair = REPAIR_YES;
    else if (!strcmp(cfg->repair_text, "hot"))
        cfg->repair = REPAIR_HOT;
    else if (!strcmp(cfg->repair_text, "lazy"))
        cfg->repair = REPAIR_LAZY;
    else if (!strcmp(cfg->repair_text, "no"))
        cfg->repair = REPAIR_NO;
    else {
        snprintf(err, errlen, "repair '%s' is not yes, hot, lazy or no", cfg->repair_text);
        return -1;
    }
    cfg->mover_by_load = !strcmp(cfg->mover_when, "busy");
    if (!cfg->mover_by_load && strcmp(cfg->mover_when, "always")) {
        snprintf(err, errlen, "mover-when '%s' is not busy or always", cfg->mover_when);
        return -1;
    }
    if (model_billing_parse(cfg->billing, &cfg->billing_ms) < 0) {
        snprintf(err, errlen, "billing '%s' is not 1ms or 100ms", cfg->billing);
        return -1;
    }
    return 0;
}

uint64_t proxy_scaled_ms(const proxy_config_t *cfg, int64_t ms)
{
    double v = (double)ms / (cfg->compression > 0 ? cfg->compression : 1);
    return v < 1 ? 1 : (uint64_t)v;
}

awscreds_options_t proxy_aws_options(const proxy_config_t *cfg, int need_region)
{
    return (awscreds_options_t){
        .profile = cfg->aws_profile,
        .region = cfg->aws_region,
        .imds_endpoint = cfg->imds_endpoint,
        .refresh_margin_ms = cfg->aws_refresh_margin_ms,
        .fetch_timeout_ms = cfg->aws_fetch_timeout_ms,
        .process_timeout_ms = cfg->aws_process_timeout_ms,
        .need_region = need_region,
    };
}
