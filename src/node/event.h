/* event.h -- decodes the invocation payload the proxy sends a node (docs/PROTOCOL.md section 3). */
#ifndef NODE_EVENT_H
#define NODE_EVENT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    NODE_EVENT_ACTIVATE = 1, /* dial the proxy if needed, HELLO, serve until idle */
    NODE_EVENT_WARMUP,       /* return at once */
    NODE_EVENT_BACKUP,       /* "backup": as activate (the proxy then sends BACKUP) */
    NODE_EVENT_BACKUP_PEER,  /* "backup-peer": dial the relay, serve the backup source */
} node_event_cmd_t;

#define NODE_EVENT_MAX_HOST 256
#define NODE_EVENT_MAX_TOKEN 128

typedef struct {
    node_event_cmd_t cmd;
    int64_t node_id;
    char proxy_host[NODE_EVENT_MAX_HOST]; /* empty for warmup without "proxy" */
    int proxy_port;
    int proxy_tls; /* "tls": true: dial the proxy with TLS and verify its certificate */
    char relay_host[NODE_EVENT_MAX_HOST]; /* backup-peer */
    int relay_port;
    char token[NODE_EVENT_MAX_TOKEN + 1]; /* backup-peer */
} node_event_t;

/* Parses a JSON payload of len bytes. Returns 0, or -EINVAL with a one-line reason in err.
 * "activate" and "backup" need node_id (0..2^31-1) and proxy ("host:port"); "backup-peer" needs
 * node_id, relay ("host:port") and token (1..128 printable characters, no space, quote or
 * backslash); "warmup" needs none (a node_id or proxy, if given, must still be valid). "tls",
 * if present, must be a boolean. Unknown fields are ignored so the proxy can add some. */
int node_event_parse(const char *json, size_t len, node_event_t *out, char *err, size_t errlen);

#endif
