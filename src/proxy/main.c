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
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "net.h"
#include "clock.h"
#include "proxy.h"

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
            client_accept(srv, cfd);
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
    if (srv->cfg.warm_on_start && pool_inventoried(srv) < srv->nnodes &&
        waited < (uint64_t)srv->cfg.ready_timeout_ms) {
        ev_timer_add(loop, 5, ready_check, srv);
        return;
    }
    /* Clients come in only now: after a restart, their objects are back in the metadata. */
    repair_rebuild_done(srv);
    ev_set(srv->loop, srv->client_lfd, EV_READ, on_accept, srv);
    srv->ready = 1;
    uint64_t cap = 0;
    for (int i = 0; i < srv->nnodes; i++)
        cap += srv->nodes[i].room.mem_limit;
    printf("icproxy ready in %" PRIu64 " ms: clients on %s:%d (Redis protocol), nodes dial %s, "
           "relay on %d\n",
           waited, srv->cfg.bind, srv->client_port, srv->node_addr, srv->relay_port);
    printf("pool: %d of %d functions warm, %.1f GiB of cache (%" PRId64
           " MiB per function), RS(%" PRId64 "+%" PRId64 ")\n",
           connected, srv->nnodes, (double)cap / (1 << 30), srv->cfg.node_memory_mb, srv->cfg.d,
           srv->cfg.p);
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
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    srv->start_ms = ev_now_ms();
    srv->next_version = clock_wall_ms() * 1000; /* versions keep increasing across restarts */
    srv->loop = ev_create((int)(rl.rlim_cur > 1 << 20 ? 1 << 20 : rl.rlim_cur));
    if (!srv->loop || meta_table_init(&srv->meta) < 0) {
        fprintf(stderr, "icproxy: out of memory\n");
        return 1;
    }
    ev_set_after_io(srv->loop, server_after_io, srv);

    srv->client_lfd = net_listen(cfg->bind, (int)cfg->client_port, 511);
    srv->node_lfd = net_listen(cfg->bind, (int)cfg->node_port, 511);
    if (srv->client_lfd < 0 || srv->node_lfd < 0) {
        fprintf(stderr, "icproxy: cannot listen on %s:%" PRId64 " / %" PRId64 ": %s\n", cfg->bind,
                cfg->client_port, cfg->node_port,
                strerror(-(srv->client_lfd < 0 ? srv->client_lfd : srv->node_lfd)));
        return 1;
    }
    srv->client_port = net_local_port(srv->client_lfd);
    srv->node_port = net_local_port(srv->node_lfd);
    if (cfg->node_advertise[0])
        snprintf(srv->node_addr, sizeof srv->node_addr, "%s", cfg->node_advertise);
    else
        snprintf(srv->node_addr, sizeof srv->node_addr, "%s:%d", cfg->bind, srv->node_port);
    ev_set(srv->loop, srv->node_lfd, EV_READ, on_accept, srv);
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
    if (cfg->platform_endpoint[0]) {
        snprintf(srv->platform_endpoint, sizeof srv->platform_endpoint, "%s",
                 cfg->platform_endpoint);
    } else {
        if (platform_child_start(cfg, dir, &srv->platform, err, sizeof err) < 0) {
            fprintf(stderr, "icproxy: %s\n", err);
            return 1;
        }
        snprintf(srv->platform_endpoint, sizeof srv->platform_endpoint, "http://127.0.0.1:%d",
                 srv->platform.port);
    }
    srv->invoker =
        invoker_start(srv, srv->platform_endpoint, cfg->aws_sigv4, cfg->invoke_timeout_ms);
    if (!srv->invoker) {
        platform_child_stop(&srv->platform);
        return 1;
    }
    srv->nnodes = (int)cfg->pool_size;
    srv->nodes = calloc((size_t)srv->nnodes, sizeof *srv->nodes);
    for (int i = 0; i < srv->nnodes; i++)
        node_init(srv, &srv->nodes[i], i);
    log_info("event=start client_port=%d node_port=%d pool=%d platform=%s", srv->client_port,
             srv->node_port, srv->nnodes, srv->platform_endpoint);
    if (cfg->warm_on_start)
        for (int i = 0; i < srv->nnodes; i++)
            node_invoke(&srv->nodes[i], "activate");
    ev_timer_add(srv->loop, 0, ready_check, srv);
    node_start_sweeps(srv);
    meta_start_expiry(srv);

    rc = ev_run(srv->loop);
    if (rc < 0) log_error("event=loop_failed error=\"%s\"", strerror(-rc));

    client_close_all(srv);
    for (int i = 0; i < srv->nnodes; i++)
        if (srv->nodes[i].conn) node_conn_failed(srv->nodes[i].conn, "shutdown");
    server_after_io(srv->loop, srv);
    for (int i = 0; i < srv->nnodes; i++)
        node_drop_deferred(&srv->nodes[i]);
    invoker_stop(srv->invoker);
    platform_child_stop(&srv->platform);
    opindex_free(&srv->readers);
    opindex_free(&srv->staged);
    opindex_free(&srv->storing);
    log_info("event=stopped");
    return 0;
}
