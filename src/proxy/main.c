/* main.c -- icproxy: start-up (config, local platform, listeners, warm pool), the event loop's
 * per-iteration housekeeping, and orderly shutdown on SIGINT/SIGTERM. */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "awscreds.h"
#include "backing.h"
#include "cluster.h"
#include "config.h"
#include "log.h"
#include "net.h"
#include "clock.h"
#include "client.h"
#include "invoker.h"
#include "lifecycle.h"
#include "metrics.h"
#include "mover.h"
#include "meta.h"
#include "nodepool.h"
#include "op.h"
#include "platform_child.h"
#include "proxy_config.h"
#include "repair.h"
#include "server.h"
#include "watch.h"
#include "transport.h"
#include "tls.h"

static void on_accept(ev_loop_t *loop, int fd, int events, void *arg)
{
    server_t *srv = arg;
    for (int i = 0; i < 64; i++) {
        int cfd = net_accept(fd);
        if (cfd < 0) {
            if (cfd != -EAGAIN) log_warn("event=accept_failed error=\"%s\"", strerror(-cfd));
            return;
        }
        if (fd == srv->client_lfd)
            client_accept(srv, cfd, NULL);
        else if (fd == srv->tls_lfd)
            client_accept(srv, cfd, srv->client_tls);
        else
            node_accept(srv, cfd);
    }
}

static void on_signal(ev_loop_t *loop, int fd, int events, void *arg)
{
    struct signalfd_siginfo si;
    ssize_t r = read(fd, &si, sizeof si);
    (void)r;
    log_info("event=shutdown signal=%u", si.ssi_signo);
    ((server_t *)arg)->stopping = 1;
    ev_stop(loop);
}

static int pool_connected(server_t *srv)
{
    int n = 0;
    for (int i = 0; i < srv->nnodes; i++)
        n += srv->nodes[i].hellos > 0;
    return n;
}

/* Nodes whose store the proxy has learned (after a restart, what it rebuilds from). */
static int pool_inventoried(server_t *srv)
{
    int n = 0;
    for (int i = 0; i < srv->nnodes; i++)
        n += srv->nodes[i].inventoried;
    return n;
}

static void ready_check(ev_loop_t *loop, void *arg)
{
    server_t *srv = arg;
    int connected = pool_connected(srv);
    uint64_t waited = ev_now_ms() - srv->start_ms;
    /* A proxy fenced at start (nodes serve a proxy started after it, or its clock is behind)
     * opens its port at once, so that INFO and -FENCED say why. */
    if (srv->cfg.warm_on_start && pool_inventoried(srv) < srv->nnodes && !srv->fenced &&
        waited < (uint64_t)srv->cfg.ready_timeout_ms) {
        ev_timer_add(loop, 5, ready_check, srv);
        return;
    }
    /* Clients come in only now: after a restart, their objects are back in the metadata. */
    repair_rebuild_done(srv);
    if (srv->client_lfd >= 0) ev_set(srv->loop, srv->client_lfd, EV_READ, on_accept, srv);
    if (srv->tls_lfd >= 0) ev_set(srv->loop, srv->tls_lfd, EV_READ, on_accept, srv);
    srv->ready = 1;
    uint64_t cap = 0;
    for (int i = 0; i < srv->nnodes; i++)
        cap += srv->nodes[i].room.mem_limit;
    /* Scripts read the first port as "the" client port: TLS-only, that is the TLS one. */
    char tls[64] = "";
    if (srv->tls_lfd >= 0 && srv->client_lfd >= 0)
        snprintf(tls, sizeof tls, ", TLS clients on %d", srv->tls_port);
    else if (srv->tls_lfd >= 0)
        snprintf(tls, sizeof tls, " over TLS only");
    printf("icproxy ready in %" PRIu64 " ms: clients on %s:%d (Redis protocol)%s, nodes dial %s, "
           "relay on %d\n",
           waited, srv->cfg.bind, srv->client_lfd >= 0 ? srv->client_port : srv->tls_port, tls,
           srv->node_addr, srv->relay_port);
    printf("pool: %d of %d functions warm, %.1f GiB of cache (%" PRId64
           " MiB per function), RS(%" PRId64 "+%" PRId64 "), takeover epoch %" PRIu64 "%s\n",
           connected, srv->nnodes, (double)cap / (1 << 30), srv->cfg.node_memory_mb, srv->cfg.d,
           srv->cfg.p, srv->epoch,
           srv->fenced ? " (FENCED: the pool serves a proxy of a higher epoch, docs/STANDBY.md)"
                       : "");
    printf("platform: %s\n", srv->platform_endpoint);
    printf("stop with Ctrl-C (or SIGTERM to pid %d); every process it started stops with it\n",
           getpid());
    fflush(stdout);
    log_info("event=ready ms=%" PRIu64 " warm=%d nodes=%d", waited, connected, srv->nnodes);
}

static int self_dir(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0) return -1;
    exe[n] = 0;
    snprintf(out, cap, "%s", dirname(exe));
    return 0;
}

static int advertise_is_loopback(const char *addr)
{
    char host[256];
    int port;
    return net_split_hostport(addr, host, sizeof host, &port) == 0 && net_host_is_loopback(host);
}

/* The deployment's node secret: from --node-secret-file, or, with the embedded platform on a
 * loopback address, a fresh one handed to the platform (and through it to every function
 * instance) in IC_NODE_SECRET. Anything that can reach a non-loopback node port must be made to
 * prove the secret the operator configured, so there is no default there. */
static int load_node_secret(server_t *srv, char *err, size_t errlen)
{
    const proxy_config_t *cfg = &srv->cfg;
    if (cfg->node_secret_file[0]) {
        char why[400];
        if (nodeauth_secrets_load(cfg->node_secret_file, &srv->node_secrets, why, sizeof why) < 0) {
            snprintf(err, errlen, "node-secret-file %s", why);
            return -1;
        }
    } else if (cfg->platform_endpoint[0]) {
        snprintf(err, errlen,
                 "--platform-endpoint needs --node-secret-file: the functions prove the same "
                 "secret (their IC_NODE_SECRET) before they get any data");
        return -1;
    } else if (!net_host_is_loopback(cfg->bind) ||
               (cfg->node_advertise[0] && !advertise_is_loopback(cfg->node_advertise))) {
        snprintf(err, errlen,
                 "bind %s is not a loopback address: set --node-secret-file (see "
                 "docs/SECURITY.md); a fresh secret is made only for a proxy on loopback",
                 cfg->bind);
        return -1;
    } else if (nodeauth_random_hex(srv->node_secrets.current, 32) < 0) {
        snprintf(err, errlen, "cannot make a node secret: the random generator failed");
        return -1;
    }
    if (!cfg->platform_endpoint[0]) {
        /* The embedded platform inherits the environment and passes it to its instances. */
        setenv("IC_NODE_SECRET", srv->node_secrets.current, 1);
        if (srv->node_secrets.previous[0])
            setenv("IC_NODE_SECRET_PREVIOUS", srv->node_secrets.previous, 1);
        else
            unsetenv("IC_NODE_SECRET_PREVIOUS");
    }
    return 0;
}

/* --node-advertise auto: on EC2 the nodes dial the instance's private address, which only the
 * instance metadata service knows. Asked once at start; no answer is a start error, since
 * nodes told a wrong address never connect. The host goes into advertise_host. */
static int resolve_advertise(const proxy_config_t *cfg, char *advertise_host, size_t cap, char *err,
                             size_t errlen)
{
    char endpoint[256], why[400];
    awscreds_imds_endpoint(cfg->imds_endpoint, endpoint, sizeof endpoint);
    const char *disabled = getenv("AWS_EC2_METADATA_DISABLED");
    if (disabled && !strcasecmp(disabled, "true")) {
        snprintf(err, errlen,
                 "node-advertise auto needs the instance metadata service, and "
                 "AWS_EC2_METADATA_DISABLED is true");
        return -1;
    }
    if (awscreds_imds_get(endpoint, cfg->aws_fetch_timeout_ms, "/latest/meta-data/local-ipv4",
                          advertise_host, cap, why, sizeof why) < 0) {
        snprintf(err, errlen, "node-advertise auto: no private address from IMDS at %s (%.200s)",
                 endpoint, why);
        return -1;
    }
    if (!awscreds_is_ipv4(advertise_host)) {
        snprintf(err, errlen,
                 "node-advertise auto: IMDS at %s answered '%.40s', not an IPv4 "
                 "address",
                 endpoint, advertise_host);
        return -1;
    }
    return 0;
}

/* --aws-sigv4: the credential chain's keys, and "auto" resolved to the chain's region. */
static int aws_setup(server_t *srv, char *err, size_t errlen)
{
    const proxy_config_t *cfg = &srv->cfg;
    if (!cfg->aws_sigv4[0]) return 0;
    int automatic = !strcmp(cfg->aws_sigv4, "auto");
    awscreds_options_t opt = proxy_aws_options(cfg, automatic);
    char why[800];
    if (awscreds_open(&opt, &srv->aws, why, sizeof why) < 0) {
        snprintf(err, errlen, "aws-sigv4: %.480s", why);
        return -1;
    }
    if (automatic)
        snprintf(srv->aws_sigv4, sizeof srv->aws_sigv4, "aws:amz:%s:lambda",
                 awscreds_region(srv->aws));
    else
        snprintf(srv->aws_sigv4, sizeof srv->aws_sigv4, "%s", cfg->aws_sigv4);
    return 0;
}

/* Only digests are kept (auth.c): the configured password is wiped from memory, and from the
 * command line that ps shows. */
static void hide_password(proxy_config_t *cfg, int argc, char **argv)
{
    explicit_bzero(cfg->requirepass, strlen(cfg->requirepass));
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!strcmp(a, "--requirepass") && i + 1 < argc)
            memset(argv[i + 1], '*', strlen(argv[i + 1]));
        else if (!strncmp(a, "--requirepass=", 14))
            memset(a + 14, '*', strlen(a + 14));
    }
}

/* Loads the TLS contexts from the tls-* options: for clients when tls-port is set, for nodes with
 * node-tls yes (same certificate, no client certificates). 0 or -1 with err. */
static int proxy_tls_init(server_t *srv, char *err, size_t errlen)
{
    proxy_config_t *cfg = &srv->cfg;
    char why[400];
    if (cfg->node_tls) {
        /* Nodes prove nothing with certificates (they have none); they verify the proxy. */
        srv->node_tls = tls_server_ctx_new(cfg->tls_cert_file, cfg->tls_key_file, NULL,
                                           TLS_AUTH_NO, why, sizeof why);
        if (!srv->node_tls ||
            tls_ctx_set_ciphersuites(srv->node_tls, cfg->tls_ciphersuites, why, sizeof why) < 0) {
            snprintf(err, errlen, "node TLS: %s", why);
            return -1;
        }
    }
    if (cfg->tls_port != 0) {
        tls_auth_t auth;
        if (tls_auth_parse(cfg->tls_auth_clients, &auth) < 0) {
            snprintf(err, errlen, "tls-auth-clients '%s' is not yes, no or optional",
                     cfg->tls_auth_clients);
            return -1;
        }
        srv->client_tls = tls_server_ctx_new(cfg->tls_cert_file, cfg->tls_key_file,
                                             cfg->tls_ca_cert_file, auth, why, sizeof why);
        if (!srv->client_tls ||
            tls_ctx_set_ciphersuites(srv->client_tls, cfg->tls_ciphersuites, why, sizeof why) < 0) {
            snprintf(err, errlen, "TLS: %s", why);
            return -1;
        }
    }
    if (srv->node_tls || srv->client_tls)
        transport_tls_init(&srv->tp, (uint64_t)cfg->tls_handshake_timeout_ms);
    return 0;
}

/* The transport's end-of-iteration hook: the SETs staged in this iteration go out, so their
 * node requests join this iteration's writes. */
static void send_staged(void *arg)
{
    ops_start_staged(arg);
}

int main(int argc, char **argv)
{
    static server_t server;
    server_t *srv = &server;
    char err[512];
    int rc = proxy_config_load(&srv->cfg, argc, argv, err, sizeof err);
    if (rc == 1) return 0;
    if (rc < 0) {
        fprintf(stderr, "icproxy: %s\n", err);
        return 2;
    }
    proxy_config_t *cfg = &srv->cfg;
    log_level_t level;
    if (log_level_parse(cfg->log_level, &level) < 0) {
        fprintf(stderr, "icproxy: unknown log level '%s'\n", cfg->log_level);
        return 2;
    }
    log_set_level(level);
    log_set_component("proxy");
    if (cfg->node_reserved_mb >= cfg->node_memory_mb) {
        fprintf(stderr, "icproxy: node-reserved must be below node-memory\n");
        return 2;
    }
    if (cfg->d + cfg->p > cfg->pool_size) {
        fprintf(stderr, "icproxy: d + p (%" PRId64 ") exceeds pool-size (%" PRId64 ")\n",
                cfg->d + cfg->p, cfg->pool_size);
        return 2;
    }
    char advertise_host[64] = "";
    int advertise_auto = !strcmp(cfg->node_advertise, "auto");
    if (advertise_auto) {
        if (resolve_advertise(cfg, advertise_host, sizeof advertise_host, err, sizeof err) < 0) {
            fprintf(stderr, "icproxy: %s\n", err);
            return 2;
        }
        /* What the node secret check looks at until the port is known. */
        char resolved[96];
        snprintf(resolved, sizeof resolved, "%s:%" PRId64, advertise_host, cfg->node_port);
        free(cfg->node_advertise);
        cfg->node_advertise = strdup(resolved);
        if (!cfg->node_advertise) return 1;
        log_info("event=node_advertise_auto address=%s", advertise_host);
    }
    if (load_node_secret(srv, err, sizeof err) < 0) {
        fprintf(stderr, "icproxy: %s\n", err);
        return 2;
    }
    if (auth_load(&srv->auth, cfg->requirepass, cfg->aclfile, err, sizeof err) < 0) {
        fprintf(stderr, "icproxy: %s\n", err);
        return 2;
    }
    if (cfg->cluster_config[0] &&
        cluster_load(&srv->cluster, cfg->cluster_config, cfg->cluster_id, err, sizeof err) < 0) {
        fprintf(stderr, "icproxy: %s\n", err);
        return 2;
    }
    if (!cfg->cluster_config[0] && cfg->cluster_id[0]) {
        fprintf(stderr, "icproxy: cluster-id needs cluster-config\n");
        return 2;
    }
    hide_password(cfg, argc, argv);
    if (aws_setup(srv, err, sizeof err) < 0) {
        fprintf(stderr, "icproxy: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    srv->start_ms = ev_now_ms();
    srv->next_version = clock_wall_ms() * 1000; /* versions keep increasing across restarts */
    /* Every start takes the pool over: a later start has a higher epoch, so nodes that meet this
     * proxy refuse any proxy started before it (docs/STANDBY.md). */
    srv->epoch = clock_wall_ms();
    if ((uint64_t)cfg->epoch > srv->epoch) srv->epoch = (uint64_t)cfg->epoch;
    srv->loop = ev_create((int)(rl.rlim_cur > 1 << 20 ? 1 << 20 : rl.rlim_cur));
    if (!srv->loop || meta_table_init(&srv->meta) < 0 ||
        (srv->cluster && meta_table_index_slots(&srv->meta) < 0)) {
        fprintf(stderr, "icproxy: out of memory\n");
        return 1;
    }
    transport_init(&srv->tp, srv->loop);
    transport_add_hook(&srv->tp, send_staged, srv);
    long threads = cfg->threads ? (long)cfg->threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (threads > 1) {
        mover_t *mover = mover_start(srv->loop, (int)threads - 1);
        if (!mover) {
            fprintf(stderr, "icproxy: cannot start %ld byte movers\n", threads - 1);
            return 1;
        }
        transport_set_mover(&srv->tp, mover, (size_t)cfg->mover_min_bytes, cfg->mover_by_load);
    }

    if (proxy_tls_init(srv, err, sizeof err) < 0) {
        fprintf(stderr, "icproxy: %s\n", err);
        return 2;
    }
    /* As Redis's `port 0` with a tls-port: client-port 0 then means no plaintext listener.
     * Without TLS it keeps picking a free port (what tests rely on). */
    int plain = cfg->client_port != 0 || cfg->tls_port == 0;
    int fds[3] = {-1, -1, -1}; /* client, tls, node */
    int64_t ports[3] = {cfg->client_port, cfg->tls_port, cfg->node_port};
    int wanted[3] = {plain, cfg->tls_port != 0, 1};
    for (int i = 0; i < 3; i++) {
        if (!wanted[i]) continue;
        fds[i] = net_listen(cfg->bind, (int)ports[i], 511);
        if (fds[i] < 0) {
            fprintf(stderr, "icproxy: cannot listen on %s:%" PRId64 ": %s\n", cfg->bind, ports[i],
                    strerror(-fds[i]));
            return 1;
        }
    }
    srv->client_lfd = fds[0];
    srv->tls_lfd = fds[1];
    srv->node_lfd = fds[2];
    srv->client_port = srv->client_lfd >= 0 ? net_local_port(srv->client_lfd) : 0;
    srv->tls_port = srv->tls_lfd >= 0 ? net_local_port(srv->tls_lfd) : 0;
    srv->node_port = net_local_port(srv->node_lfd);
    if (advertise_auto)
        snprintf(srv->node_addr, sizeof srv->node_addr, "%s:%d", advertise_host, srv->node_port);
    else if (cfg->node_advertise[0])
        snprintf(srv->node_addr, sizeof srv->node_addr, "%s", cfg->node_advertise);
    else
        snprintf(srv->node_addr, sizeof srv->node_addr, "%s:%d", cfg->bind, srv->node_port);
    ev_set(srv->loop, srv->node_lfd, EV_READ, on_accept, srv);
    if (metrics_start(srv, err, sizeof err) < 0) {
        fprintf(stderr, "icproxy: %s\n", err);
        return 2;
    }
    err[0] = 0;
    if (lifecycle_start(srv, err, sizeof err) < 0 || repair_init(srv) < 0) {
        fprintf(stderr, "icproxy: %s\n", err[0] ? err : "out of memory");
        return 1;
    }

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    ev_set(srv->loop, sfd, EV_READ, on_signal, srv);

    char dir[PATH_MAX];
    self_dir(dir, sizeof dir);
    char admin_token[PLATFORM_TOKEN_MAX + 1];
    if (platform_admin_token(cfg, admin_token, sizeof admin_token, err, sizeof err) < 0) {
        fprintf(stderr, "icproxy: %s\n", err);
        return 1;
    }
    if (cfg->platform_endpoint[0]) {
        snprintf(srv->platform_endpoint, sizeof srv->platform_endpoint, "%s",
                 cfg->platform_endpoint);
    } else {
        if (platform_child_start(cfg, dir, admin_token, &srv->platform, err, sizeof err) < 0) {
            fprintf(stderr, "icproxy: %s\n", err);
            return 1;
        }
        snprintf(srv->platform_endpoint, sizeof srv->platform_endpoint, "http://127.0.0.1:%d",
                 srv->platform.port);
    }
    srv->invoker = invoker_start(srv, srv->platform_endpoint, srv->aws_sigv4,
                                 cfg->invoke_timeout_ms, admin_token);
    explicit_bzero(admin_token, sizeof admin_token); /* the invoker keeps the copy it needs */
    if (!srv->invoker) {
        platform_child_stop(&srv->platform);
        return 1;
    }
    srv->nnodes = (int)cfg->pool_size;
    srv->nodes = calloc((size_t)srv->nnodes, sizeof *srv->nodes);
    for (int i = 0; i < srv->nnodes; i++)
        node_init(srv, &srv->nodes[i], i);
    log_info("event=start client_port=%d tls_port=%d node_port=%d pool=%d platform=%s "
             "epoch=%" PRIu64,
             srv->client_port, srv->tls_port, srv->node_port, srv->nnodes, srv->platform_endpoint,
             srv->epoch);
    if (cfg->warm_on_start)
        for (int i = 0; i < srv->nnodes; i++)
            node_invoke(&srv->nodes[i], "activate");
    if (backing_start(srv, err, sizeof err) < 0) {
        fprintf(stderr, "icproxy: %s\n", err);
        invoker_stop(srv->invoker);
        platform_child_stop(&srv->platform);
        return 2;
    }
    ev_timer_add(srv->loop, 0, ready_check, srv);
    client_start_timeout_sweep(srv);
    node_start_sweeps(srv);
    meta_start_expiry(srv);

    rc = ev_run(srv->loop);
    if (rc < 0) log_error("event=loop_failed error=\"%s\"", strerror(-rc));

    client_close_all(srv);
    for (int i = 0; i < srv->nnodes; i++)
        if (srv->nodes[i].conn) node_conn_failed(srv->nodes[i].conn, "shutdown");
    transport_after_io(srv->loop, &srv->tp);
    for (int i = 0; i < srv->nnodes; i++)
        node_drop_deferred(&srv->nodes[i]);
    metrics_stop(srv);
    backing_stop(srv);
    invoker_stop(srv->invoker);
    awscreds_close(srv->aws);
    platform_child_stop(&srv->platform);
    opindex_free(&srv->readers);
    opindex_free(&srv->staged);
    auth_free(&srv->auth);
    opindex_free(&srv->storing);
    rmw_holds_free(srv);
    watch_table_free(srv);
    mover_stop(srv->tp.mover);
    transport_free(&srv->tp);
    log_info("event=stopped");
    return 0;
}
