/* event.c -- invocation payload decoder on cJSON; strict about the fields it uses. */
#include "event.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "net.h"

#define EVENT_MAX_JSON (256 * 1024) /* Event invocations carry at most 256 KiB */

/* Tokens travel in RESP bulks and JSON strings: printable, no space, quote or backslash. */
static int token_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > NODE_EVENT_MAX_TOKEN) return 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] <= ' ' || t[i] > '~' || t[i] == '"' || t[i] == '\\') return 0;
    return 1;
}

int node_event_parse(const char *json, size_t len, node_event_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int rc = -EINVAL;
    if (len > EVENT_MAX_JSON) {
        snprintf(err, errlen, "payload of %zu bytes is over %d", len, EVENT_MAX_JSON);
        return rc;
    }
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        snprintf(err, errlen, "payload is not valid JSON");
        return rc;
    }
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "payload is not a JSON object");
        goto out;
    }
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(root, "cmd");
    if (!cJSON_IsString(cmd)) {
        snprintf(err, errlen, "field \"cmd\" missing or not a string");
        goto out;
    }
    if (strcmp(cmd->valuestring, "activate") == 0) {
        out->cmd = NODE_EVENT_ACTIVATE;
    } else if (strcmp(cmd->valuestring, "warmup") == 0) {
        out->cmd = NODE_EVENT_WARMUP;
    } else if (strcmp(cmd->valuestring, "backup") == 0) {
        out->cmd = NODE_EVENT_BACKUP;
    } else if (strcmp(cmd->valuestring, "backup-peer") == 0) {
        out->cmd = NODE_EVENT_BACKUP_PEER;
    } else {
        snprintf(err, errlen,
                 "unknown cmd \"%.64s\" (expected activate, warmup, backup or backup-peer)",
                 cmd->valuestring);
        goto out;
    }
    int needs_proxy = out->cmd == NODE_EVENT_ACTIVATE || out->cmd == NODE_EVENT_BACKUP;
    int is_peer = out->cmd == NODE_EVENT_BACKUP_PEER;

    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "node_id");
    if (id) {
        double v = cJSON_IsNumber(id) ? id->valuedouble : -1;
        if (!cJSON_IsNumber(id) || v < 0 || v > 2147483647.0 || v != (double)(int64_t)v) {
            snprintf(err, errlen, "field \"node_id\" must be an integer in 0..2147483647");
            goto out;
        }
        out->node_id = (int64_t)v;
    } else if (needs_proxy || is_peer) {
        snprintf(err, errlen, "field \"node_id\" missing");
        goto out;
    }

    const cJSON *proxy = cJSON_GetObjectItemCaseSensitive(root, "proxy");
    if (proxy) {
        if (!cJSON_IsString(proxy) ||
            net_split_hostport(proxy->valuestring, out->proxy_host, sizeof out->proxy_host,
                               &out->proxy_port) < 0 ||
            out->proxy_host[0] == '\0' || out->proxy_port <= 0 || out->proxy_port > 65535) {
            snprintf(err, errlen, "field \"proxy\" must be a \"host:port\" string");
            goto out;
        }
    } else if (needs_proxy) {
        snprintf(err, errlen, "field \"proxy\" missing");
        goto out;
    }

    const cJSON *tls = cJSON_GetObjectItemCaseSensitive(root, "tls");
    if (tls) {
        if (!cJSON_IsBool(tls)) {
            snprintf(err, errlen, "field \"tls\" must be true or false");
            goto out;
        }
        out->proxy_tls = cJSON_IsTrue(tls);
    }

    if (is_peer) {
        const cJSON *relay = cJSON_GetObjectItemCaseSensitive(root, "relay");
        if (!cJSON_IsString(relay) ||
            net_split_hostport(relay->valuestring, out->relay_host, sizeof out->relay_host,
                               &out->relay_port) < 0 ||
            out->relay_host[0] == '\0' || out->relay_port <= 0 || out->relay_port > 65535) {
            snprintf(err, errlen, "field \"relay\" missing or not a \"host:port\" string");
            goto out;
        }
        const cJSON *token = cJSON_GetObjectItemCaseSensitive(root, "token");
        if (!cJSON_IsString(token) || !token_ok(token->valuestring)) {
            snprintf(err, errlen, "field \"token\" missing or not 1..%d printable characters",
                     NODE_EVENT_MAX_TOKEN);
            goto out;
        }
        snprintf(out->token, sizeof out->token, "%s", token->valuestring);
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}
