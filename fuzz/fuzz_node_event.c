/* fuzz_node_event.c -- libFuzzer driver for the invocation payload decoder: what it accepts must
 * carry what its command needs. */
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
        if (ev.cmd != NODE_EVENT_ACTIVATE && ev.cmd != NODE_EVENT_WARMUP &&
            ev.cmd != NODE_EVENT_BACKUP && ev.cmd != NODE_EVENT_BACKUP_PEER)
            abort();
        int dials_proxy = ev.cmd == NODE_EVENT_ACTIVATE || ev.cmd == NODE_EVENT_BACKUP;
        if (dials_proxy && (ev.proxy_port <= 0 || !ev.proxy_host[0])) abort();
        if (strnlen(ev.proxy_host, sizeof ev.proxy_host) == sizeof ev.proxy_host) abort();
        if (ev.cmd == NODE_EVENT_BACKUP_PEER) {
            if (ev.relay_port <= 0 || ev.relay_port > 65535 || !ev.relay_host[0]) abort();
            size_t n = strnlen(ev.token, sizeof ev.token);
            if (n == 0 || n == sizeof ev.token) abort();
            for (size_t i = 0; i < n; i++)
                if (ev.token[i] <= ' ' || ev.token[i] == '"' || ev.token[i] == '\\') abort();
        }
    }
    return 0;
}
