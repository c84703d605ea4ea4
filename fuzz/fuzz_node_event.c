/* fuzz_node_event.c -- libFuzzer driver for the invocation payload decoder and the event check:
 * what it accepts must carry what its command needs; raw input (which cannot carry a valid MAC)
 * is never accepted as a sealed event; the same input sealed with the right secret opens exactly
 * when it parses and carries a fresh ts and nonce. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodeauth.h"
#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_event(const node_event_t *ev);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    node_event_t ev;
    char err[300];
    static nodeauth_secrets_t secrets = {.current = "fuzz-node-secret-0123456789abcdef"};
    static node_replay_t replay;
    node_event_auth_t auth = {.secrets = &secrets, .function = "icnode0", .now_ms = 1700000000000,
                              .max_age_ms = 300000, .replay = &replay};
    if (node_event_open((const char *)data, size, &auth, &ev, err, sizeof err) == 0) abort();
    int parsed = node_event_parse((const char *)data, size, &ev, err, sizeof err) == 0;
    if (parsed) check_event(&ev);
    /* Sealed with the secret: opens iff it parses, has a ts in the window and a new nonce. */
    static char sealed[2 * 1024 * 1024];
    if (size > 64 * 1024) return 0;
    int n = nodeauth_event_seal(secrets.current, "icnode0", (const char *)data, size, sealed,
                            sizeof sealed);
    if (n < 0) return 0;
    node_event_t ev2;
    /* A NUL inside the input cuts the text the node verifies: it cannot then match. */
    int has_nul = memchr(data, 0, size) != NULL;
    int rc = node_event_open(sealed, (size_t)n, &auth, &ev2, err, sizeof err);
    if (rc == 0) {
        if (!parsed || has_nul || !ev2.ts_ms || !ev2.nonce[0]) abort();
        check_event(&ev2);
        /* The same event again is a replay. */
        if (node_event_open(sealed, (size_t)n, &auth, &ev2, err, sizeof err) != -EACCES) abort();
    }
    return 0;
}

static void check_event(const node_event_t *evp)
{
    node_event_t ev = *evp;
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
