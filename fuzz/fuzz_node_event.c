/* fuzz_node_event.c -- libFuzzer driver for the invocation payload decoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    node_event_t ev;
    char err[200];
    if (node_event_parse((const char *)data, size, &ev, err, sizeof err) == 0) {
        if (ev.cmd != NODE_EVENT_ACTIVATE && ev.cmd != NODE_EVENT_WARMUP) abort();
        if (ev.cmd == NODE_EVENT_ACTIVATE && (ev.proxy_port <= 0 || !ev.proxy_host[0])) abort();
        if (strnlen(ev.proxy_host, sizeof ev.proxy_host) == sizeof ev.proxy_host) abort();
    }
    return 0;
}
