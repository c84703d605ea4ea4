/* platform_child.c -- starts the embedded local function platform as a child process and
 * learns its port; stops it (and, through it, every node instance) on exit. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "config.h"
#include "ev.h"
#include "log.h"
#include "platform_child.h"
#include "proxy_config.h"

int platform_admin_token(const proxy_config_t *cfg, char *out, size_t cap, char *err, size_t errlen)
{
    out[0] = 0;
    if (cfg->platform_admin_token_file[0]) {
        int rc = conf_token_read_file(cfg->platform_admin_token_file, PLATFORM_TOKEN_MIN,
                                      PLATFORM_TOKEN_MAX, out, cap);
        if (rc < 0) {
            snprintf(err, errlen, "platform-admin-token-file %s: %s",
                     cfg->platform_admin_token_file,
                     rc == -EINVAL ? "the first line must be 16 to 512 printable bytes without "
                                     "blanks"
                                   : strerror(-rc));
            return -1;
        }
        return 0;
    }
    if (cfg->platform_endpoint[0]) return 0;
    unsigned char r[32];
    if (cap < 2 * sizeof r + 1 || RAND_bytes(r, sizeof r) != 1) {
        snprintf(err, errlen, "cannot draw a random admin token for the local platform");
        return -1;
    }
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
    OPENSSL_cleanse(r, sizeof r);
    return 0;
}

int platform_child_start(const proxy_config_t *cfg, const char *self_dir, const char *admin_token,
                         platform_child_t *out, char *err, size_t errlen)
{
    char bin[1024], handler[1024], count[16], mem[16], timeout[32], idle[32], maxinst[16];
    if (cfg->platform_binary[0])
        snprintf(bin, sizeof bin, "%s", cfg->platform_binary);
    else
        snprintf(bin, sizeof bin, "%s/icplatform", self_dir);
    if (cfg->node_binary[0])
        snprintf(handler, sizeof handler, "%s", cfg->node_binary);
    else
        snprintf(handler, sizeof handler, "%s/icnode", self_dir);
    snprintf(count, sizeof count, "%lld", (long long)cfg->pool_size);
    snprintf(mem, sizeof mem, "%lld", (long long)cfg->node_memory_mb);
    snprintf(timeout, sizeof timeout, "%lldms", (long long)cfg->function_timeout_ms);
    snprintf(idle, sizeof idle, "%lldms", (long long)cfg->idle_reclaim_ms);
    snprintf(maxinst, sizeof maxinst, "%lld", (long long)cfg->max_instances);
    if (access(bin, X_OK) < 0) {
        snprintf(err, errlen, "local platform %s: %s", bin, strerror(errno));
        return -1;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    char reserved[16];
    snprintf(reserved, sizeof reserved, "%lld", (long long)cfg->node_reserved_mb);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fds[1], STDOUT_FILENO);
        setenv("IC_NODE_RESERVED_MB", reserved, 1);
        /* In the environment, not on the command line, which every local user can read. */
        setenv("IC_PLATFORM_ADMIN_TOKEN", admin_token, 1);
        char idle_return[24];
        snprintf(idle_return, sizeof idle_return, "%lld", (long long)cfg->node_idle_return_ms);
        setenv("IC_NODE_IDLE_RETURN_MS", idle_return, 1);
        /* With per-millisecond billing there is no boundary to aim at: the anticipatory
         * policy lingers as long as the idle one would. */
        setenv("IC_NODE_BILLING_IDLE_MS", idle_return, 1);
        /* One line per invocation from the platform and every node would drown the proxy's own
         * log: they log warnings only, unless the proxy runs at debug level. */
        const char *child_level = strcmp(cfg->log_level, "debug") == 0 ? "debug" : "warn";
        setenv("IC_NODE_LOG_LEVEL", child_level, 1);
        setenv("IC_NODE_RETURN_POLICY", cfg->node_return_policy, 1);
        char billing_ms[16], seed[24];
        snprintf(billing_ms, sizeof billing_ms, "%lld", (long long)cfg->billing_ms);
        setenv("IC_NODE_BILLING_MS", billing_ms, 1);
        snprintf(seed, sizeof seed, "%lld", (long long)cfg->seed);
        /* clang-format off */
        const char *argv[] = {bin, "--host", "127.0.0.1", "--port", "0",
                              "--function-prefix", cfg->function_prefix, "--function-count", count,
                              "--memory", mem, "--timeout", timeout, "--idle-reclaim", idle,
                              "--billing", cfg->billing, "--billing-log", cfg->billing_log,
                              "--handler", handler, "--max-instances", maxinst,
                              "--log-level", child_level,
                              NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                              NULL, NULL, NULL, NULL, NULL, NULL};
        /* clang-format on */
        /* Lifecycle experiments only: passed when set, so the plain case needs no such flags. */
        size_t argc = 0;
        while (argv[argc]) argc++;
        if (cfg->compression != 1) {
            argv[argc++] = "--time-compression";
            argv[argc++] = cfg->time_compression;
        }
        if (strtod(cfg->reclaim_rate, NULL) > 0) {
            argv[argc++] = "--reclaim-rate";
            argv[argc++] = cfg->reclaim_rate;
        }
        if (cfg->seed) {
            argv[argc++] = "--seed";
            argv[argc++] = seed;
        }
        /* Network emulation, likewise only when asked for. */
        char bandwidth[24], delay[32];
        if (cfg->node_bandwidth > 0) {
            snprintf(bandwidth, sizeof bandwidth, "%lld", (long long)cfg->node_bandwidth);
            argv[argc++] = "--node-bandwidth";
            argv[argc++] = bandwidth;
        }
        if (strtod(cfg->straggler_rate, NULL) > 0) {
            snprintf(delay, sizeof delay, "%lldms", (long long)cfg->straggler_delay_ms);
            argv[argc++] = "--straggler-rate";
            argv[argc++] = cfg->straggler_rate;
            argv[argc++] = "--straggler-delay";
            argv[argc++] = delay;
        }
        execv(bin, (char *const *)argv);
        fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    /* Wait for "READY port=N" with a deadline. */
    char line[256];
    size_t len = 0;
    uint64_t deadline = ev_now_ms() + 10000;
    out->pid = pid;
    out->port = 0;
    while (ev_now_ms() < deadline && len < sizeof line - 1) {
        struct pollfd p = {fds[0], POLLIN, 0};
        int n = poll(&p, 1, (int)(deadline - ev_now_ms()));
        if (n <= 0) continue;
        ssize_t r = read(fds[0], line + len, sizeof line - 1 - len);
        if (r <= 0) break;
        len += (size_t)r;
        line[len] = 0;
        char *nl = strchr(line, '\n');
        if (!nl) continue;
        *nl = 0;
        if (sscanf(line, "READY port=%d", &out->port) == 1) break;
        memmove(line, nl + 1, len - (size_t)(nl + 1 - line));
        len -= (size_t)(nl + 1 - line);
    }
    close(fds[0]);
    if (out->port <= 0) {
        snprintf(err, errlen, "local platform did not report ready (see its log above)");
        platform_child_stop(out);
        return -1;
    }
    return 0;
}

void platform_child_stop(platform_child_t *pc)
{
    if (pc->pid <= 0) return;
    kill(pc->pid, SIGTERM);
    /* Bounded wait, then force. */
    for (int i = 0; i < 100; i++) {
        if (waitpid(pc->pid, NULL, WNOHANG) == pc->pid) {
            pc->pid = 0;
            return;
        }
        usleep(20000);
    }
    kill(pc->pid, SIGKILL);
    waitpid(pc->pid, NULL, 0);
    pc->pid = 0;
}
