/* bench_startup.c -- times a server from exec to its "ready" output line, over several runs, and reads its RSS at that moment. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include "clock.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* VmRSS of pid in KiB, or -1. */
static long rss_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* Stops the child with SIGTERM, then SIGKILL if it has not exited within grace_ms. */
static void stop_child(pid_t pid, int grace_ms) {
    kill(pid, SIGTERM);
    double deadline = clock_mono_ms_double() + grace_ms;
    int status;
    while (clock_mono_ms_double() < deadline) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

/* One run: exec argv with stdout on a pipe, wait for a line containing pattern (up to timeout_ms),
 * then keep reading for linger_ms so the rest of a banner is captured. Returns the time to the
 * ready line in ms, or -1. The banner is printed when print_banner is set. */
static double one_run(char **argv, const char *pattern, int timeout_ms, int linger_ms,
                      int print_banner, long *rss_out) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    double t0 = clock_mono_ms_double();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 2);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    char buf[16384];
    size_t len = 0;
    double ready = -1, stop_at = t0 + timeout_ms;
    while (clock_mono_ms_double() < stop_at && len < sizeof buf - 1) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int wait = (int)(stop_at - clock_mono_ms_double());
        if (poll(&pfd, 1, wait > 0 ? wait : 0) <= 0) continue;
        ssize_t r = read(fds[0], buf + len, sizeof buf - 1 - len);
        if (r <= 0) break;
        len += (size_t)r;
        buf[len] = 0;
        if (ready < 0) {
            char *hit = strstr(buf, pattern);
            if (hit && strchr(hit, '\n')) {
                ready = clock_mono_ms_double() - t0;
                *rss_out = rss_kib(pid);
                stop_at = clock_mono_ms_double() + linger_ms;
            }
        }
    }
    buf[len] = 0;
    if (print_banner) {
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) printf("banner: %s\n", line);
    }
    close(fds[0]);
    stop_child(pid, 10000);
    return ready;
}

static void usage(void) {
    fprintf(stderr, "usage: bench_startup --name NAME --pattern TEXT [--runs N] [--timeout-ms MS]\n"
                    "                     [--linger-ms MS] -- command [args...]\n"
                    "Runs the command N times (default 5); each time measures exec -> the first stdout\n"
                    "line containing TEXT, and the process's VmRSS then; stops it with SIGTERM.\n");
}

int main(int argc, char **argv) {
    const char *name = NULL, *pattern = NULL;
    int runs = 5, timeout_ms = 20000, linger_ms = 300;
    static const struct option longopts[] = {{"name", required_argument, 0, 'n'},
                                             {"pattern", required_argument, 0, 'p'},
                                             {"runs", required_argument, 0, 'r'},
                                             {"timeout-ms", required_argument, 0, 't'},
                                             {"linger-ms", required_argument, 0, 'l'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        switch (ch) {
        case 'n': name = optarg; break;
        case 'p': pattern = optarg; break;
        case 'r': runs = atoi(optarg); break;
        case 't': timeout_ms = atoi(optarg); break;
        case 'l': linger_ms = atoi(optarg); break;
        default: usage(); return ch == 'h' ? 0 : 2;
        }
    }
    if (!name || !pattern || optind >= argc || runs < 1 || runs > 100) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    double times[100];
    long rss[100];
    int ok = 0;
    for (int i = 0; i < runs; i++) {
        long r = -1;
        double t = one_run(argv + optind, pattern, timeout_ms, linger_ms, i == 0, &r);
        printf("figure=startup_%s run=%d ready_ms=%.1f rss_kib=%ld\n", name, i, t, r);
        fflush(stdout);
        if (t >= 0) {
            times[ok] = t;
            rss[ok] = r;
            ok++;
        }
    }
    if (ok == 0) return 1;
    qsort(times, (size_t)ok, sizeof(double), cmp_double);
    long rss_max = 0;
    for (int i = 0; i < ok; i++)
        if (rss[i] > rss_max) rss_max = rss[i];
    printf("figure=startup_%s runs=%d median_ms=%.1f max_ms=%.1f rss_kib=%ld\n", name, ok,
           times[ok / 2], times[ok - 1], rss_max);
    return ok == runs ? 0 : 1;
}
