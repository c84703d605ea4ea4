/* event.c -- invocation payload decoder on cJSON; strict about the fields it uses. */
#include "event.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "net.h"

#define EVENT_MAX_JSON (256 * 1024) /* Event invocations carry at most 256 KiB */

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
    } else {
        snprintf(err, errlen, "unknown cmd \"%.64s\" (expected activate or warmup)",
                 cmd->valuestring);
        goto out;
    }

    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "node_id");
    if (id) {
        double v = cJSON_IsNumber(id) ? id->valuedouble : -1;
        if (!cJSON_IsNumber(id) || v < 0 || v > 2147483647.0 || v != (double)(int64_t)v) {
            snprintf(err, errlen, "field \"node_id\" must be an integer in 0..2147483647");
            goto out;
        }
        out->node_id = (int64_t)v;
    } else if (out->cmd == NODE_EVENT_ACTIVATE) {
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
    } else if (out->cmd == NODE_EVENT_ACTIVATE) {
        snprintf(err, errlen, "field \"proxy\" missing");
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}
