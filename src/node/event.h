/* event.h -- decodes the invocation payload the proxy sends a node (docs/PROTOCOL.md section 3). */
#ifndef NODE_EVENT_H
#define NODE_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "nodeauth.h"

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
    int tls; /* "tls": true: dial the proxy (backup-peer: the relay) with TLS, verifying it */
    char relay_host[NODE_EVENT_MAX_HOST]; /* backup-peer */
    int relay_port;
    char token[NODE_EVENT_MAX_TOKEN + 1]; /* backup-peer */
    int64_t ts_ms;                        /* "ts": when it was made (Unix ms); 0 if absent */
    /* "epoch": the takeover epoch of the proxy that made it (docs/STANDBY.md); 0 if absent. A node
     * that has accepted a higher one refuses the event. */
    int64_t epoch;
    char nonce[NODEAUTH_NONCE_HEX + 1];       /* "nonce": 32 hex digits; empty if absent */
} node_event_t;

/* Parses a JSON payload of len bytes. Returns 0, or -EINVAL with a one-line reason in err.
 * "activate" and "backup" need node_id (0..2^31-1) and proxy ("host:port"); "backup-peer" needs
 * node_id, relay ("host:port") and token (1..128 printable characters, no space, quote or
 * backslash); "warmup" needs none (a node_id or proxy, if given, must still be valid). "tls",
 * if present, must be a boolean; "epoch", if present, an integer in 0..2^53-1. Unknown fields are
 * ignored so the proxy can add some. */
int node_event_parse(const char *json, size_t len, node_event_t *out, char *err, size_t errlen);

/* Nonces of the events accepted lately, so a sealed event seen on the way cannot be played again.
 * When the table is full the oldest entry goes and its timestamp becomes a floor: an event made
 * at or before it is refused (events arrive roughly in the order they are made, so only a
 * replay or a very late event hits the floor). */
#define NODE_REPLAY_SLOTS 4096
typedef struct {
    char nonce[NODE_REPLAY_SLOTS][NODEAUTH_NONCE_HEX + 1];
    int64_t ts[NODE_REPLAY_SLOTS];
    size_t next, count;
    int64_t floor_ts;
} node_replay_t;

/* What a node checks an event against. */
typedef struct {
    const nodeauth_secrets_t *secrets;
    const char *function; /* AWS_LAMBDA_FUNCTION_NAME: an event sealed for another function fails */
    int64_t now_ms;       /* wall clock */
    int64_t max_age_ms;   /* accepted clock distance between the event's ts and now, either way */
    node_replay_t *replay;
} node_event_auth_t;

/* Opens a sealed event ({"signed":"<event>","mac":"<hex>"}, docs/PROTOCOL.md section 3): checks
 * the MAC over the function name and the exact event text, then parses the event (as
 * node_event_parse, and it must carry "ts" and "nonce"), then its age and that its nonce was not
 * seen. 0 (the nonce is then remembered); -EACCES when the event is not proven (unsealed, wrong
 * secret or function, stale, replayed), -EINVAL when it is malformed; a one-line reason in err
 * either way, which never contains the secret. */
int node_event_open(const char *json, size_t len, const node_event_auth_t *auth,
                    node_event_t *out, char *err, size_t errlen);

#endif
