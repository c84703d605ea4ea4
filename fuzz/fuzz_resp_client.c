/* fuzz_resp_client.c -- libFuzzer driver: arbitrary bytes as a server's replies to icbench's
 * RESP client, read over a socketpair until it reports an error; bodies are bounded by a small
 * value_max and every reply must stay inside what was sent. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "resp_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_VALUE_MAX 65536

static size_t progress_calls;

static void on_progress(void *arg, const void *value, size_t len, size_t have)
{
    (void)arg;
    (void)value;
    if (have > len || len > FUZZ_VALUE_MAX) __builtin_trap();
    progress_calls++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 200000) return 0; /* stays within one socket buffer: the writer never blocks */
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 0;
    int buf = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    struct timeval tv = {1, 0}; /* only a bug could make the reader wait */
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(sv[1], data + off, size - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(sv[1]);
    resp_client_t c;
    resp_client_init(&c, sv[0], FUZZ_VALUE_MAX);
    c.progress = on_progress;
    size_t consumed_bound = off;
    for (int replies = 0; replies < 100000; replies++) {
        resp_reply_t r;
        char err[256];
        if (resp_client_read(&c, &r, err, sizeof err) < 0) {
            if (err[0] == 0) __builtin_trap(); /* every failure says why */
            break;
        }
        if (r.kind == RESP_REPLY_BULK) {
            if (r.len > FUZZ_VALUE_MAX || r.len > consumed_bound || (r.len && !r.value))
                __builtin_trap();
            volatile unsigned char sink = 0;
            for (size_t i = 0; i < r.len; i++)
                sink ^= r.value[i];
            (void)sink;
        }
        if ((r.kind == RESP_REPLY_STATUS || r.kind == RESP_REPLY_ERROR) &&
            (!r.text || strlen(r.text) > r.len || r.len > RESP_CLIENT_LINE_MAX))
            __builtin_trap();
    }
    resp_client_close(&c);
    return 0;
}
