/* bench_rawget.c -- the floor for icbench's large GETs: one connection sends GET KEY and reads the
 * bulk reply straight into one buffer with recv, nothing else, and prints the rate. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

#define HEADER_MAX 64                        /* "$<digits>\r\n" */
#define VALUE_MAX ((long long)1 << 32)       /* refuse anything larger */

static int read_full(int fd, char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_rawget PORT KEY REQUESTS SECONDS  (127.0.0.1 only)\n"
                        "GETs KEY REQUESTS times or for SECONDS, prints gets, seconds, MiB/s\n");
        return 2;
    }
    int port = atoi(argv[1]);
    const char *key = argv[2];
    long requests = atol(argv[3]);
    double seconds = atof(argv[4]);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("bench_rawget: connect");
        return 1;
    }
    char cmd[600];
    int cmdlen = snprintf(cmd, sizeof cmd, "*2\r\n$3\r\nGET\r\n$%zu\r\n%s\r\n", strlen(key), key);
    if (cmdlen <= 0 || cmdlen >= (int)sizeof cmd) return 2;
    char *buf = NULL;
    size_t cap = 0;
    long done = 0;
    unsigned long long bytes = 0;
    double t0 = clock_mono_s_double(), end = t0 + seconds;
    while (done < requests && clock_mono_s_double() < end) {
        if (send(fd, cmd, (size_t)cmdlen, MSG_NOSIGNAL) != cmdlen) goto lost;
        /* The header byte by byte is too slow; read a small peek and keep what follows it. */
        char head[HEADER_MAX];
        size_t have = 0;
        char *crlf = NULL;
        while (!crlf) {
            if (have == sizeof head) goto bad;
            ssize_t r = recv(fd, head + have, sizeof head - have, 0);
            if (r <= 0) goto lost;
            have += (size_t)r;
            crlf = memchr(head, '\n', have);
        }
        if (head[0] != '$') goto bad;
        long long len = strtoll(head + 1, NULL, 10);
        if (len < 0 || len > VALUE_MAX) goto bad;
        size_t hdr = (size_t)(crlf - head) + 1, total = (size_t)len + 2;
        if (total > cap) {
            free(buf);
            cap = total;
            buf = malloc(cap);
            if (!buf) return 1;
        }
        size_t extra = have - hdr < total ? have - hdr : total;
        memcpy(buf, head + hdr, extra);
        if (read_full(fd, buf + extra, total - extra) < 0) goto lost;
        bytes += (unsigned long long)len;
        done++;
    }
    double secs = clock_mono_s_double() - t0;
    printf("rawget gets=%ld seconds=%.3f req_per_s=%.1f mib_per_s=%.1f\n", done, secs,
           done / secs, bytes / 1048576.0 / secs);
    free(buf);
    close(fd);
    return 0;
lost:
    fprintf(stderr, "bench_rawget: connection lost\n");
    return 1;
bad:
    fprintf(stderr, "bench_rawget: not a bulk reply (is KEY set?)\n");
    return 1;
}
