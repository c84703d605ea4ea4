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

    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "ts");
    if (ts) {
        double v = cJSON_IsNumber(ts) ? ts->valuedouble : -1;
        if (!cJSON_IsNumber(ts) || v < 1 || v > 9007199254740991.0 || v != (double)(int64_t)v) {
            snprintf(err, errlen, "field \"ts\" must be Unix milliseconds");
            goto out;
        }
        out->ts_ms = (int64_t)v;
    }
    const cJSON *epoch = cJSON_GetObjectItemCaseSensitive(root, "epoch");
    if (epoch) {
        double v = cJSON_IsNumber(epoch) ? epoch->valuedouble : -1;
        if (!cJSON_IsNumber(epoch) || v < 0 || v > 9007199254740991.0 || v != (double)(int64_t)v) {
            snprintf(err, errlen, "field \"epoch\" must be an integer in 0..2^53-1");
            goto out;
        }
        out->epoch = (int64_t)v;
    }
    const cJSON *nonce = cJSON_GetObjectItemCaseSensitive(root, "nonce");
    if (nonce) {
        size_t n = cJSON_IsString(nonce) ? strlen(nonce->valuestring) : 0;
        if (!nodeauth_nonce_ok(nonce->valuestring, n)) {
            snprintf(err, errlen, "field \"nonce\" must be %d lower-case hex digits",
                     NODEAUTH_NONCE_HEX);
            goto out;
        }
        memcpy(out->nonce, nonce->valuestring, n + 1);
    }
    const cJSON *tls = cJSON_GetObjectItemCaseSensitive(root, "tls");
    if (tls) {
        if (!cJSON_IsBool(tls)) {
            snprintf(err, errlen, "field \"tls\" must be true or false");
            goto out;
        }
        out->tls = cJSON_IsTrue(tls);
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

static int replay_seen(const node_replay_t *r, const char *nonce)
{
    for (size_t i = 0; i < r->count; i++)
        if (memcmp(r->nonce[i], nonce, NODEAUTH_NONCE_HEX) == 0) return 1;
    return 0;
}

static void replay_remember(node_replay_t *r, const char *nonce, int64_t ts)
{
    if (r->count == NODE_REPLAY_SLOTS) {
        if (r->ts[r->next] > r->floor_ts) r->floor_ts = r->ts[r->next];
    } else {
        r->count++;
    }
    memcpy(r->nonce[r->next], nonce, NODEAUTH_NONCE_HEX + 1);
    r->ts[r->next] = ts;
    r->next = (r->next + 1) % NODE_REPLAY_SLOTS;
}

int node_event_open(const char *json, size_t len, const node_event_auth_t *auth,
                    node_event_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > EVENT_MAX_JSON) {
        snprintf(err, errlen, "payload of %zu bytes is over %d", len, EVENT_MAX_JSON);
        return -EINVAL;
    }
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root) {
        snprintf(err, errlen, "payload is not valid JSON");
        return -EINVAL;
    }
    int rc = -EACCES;
    const cJSON *sealed = cJSON_GetObjectItemCaseSensitive(root, "signed");
    const cJSON *mac = cJSON_GetObjectItemCaseSensitive(root, "mac");
    if (!cJSON_IsObject(root) || !cJSON_IsString(sealed) || !cJSON_IsString(mac)) {
        snprintf(err, errlen, "event is not sealed with the node secret (no \"signed\" and "
                              "\"mac\"): refused");
        goto out;
    }
    const char *inner = sealed->valuestring;
    size_t inner_len = strlen(inner);
    const char *fn = auth->function ? auth->function : "";
    const char *parts[] = {fn, inner};
    size_t lens[] = {strlen(fn), inner_len};
    if (!nodeauth_verify(auth->secrets, "ic-event-v1", 2, parts, lens, mac->valuestring,
                     strlen(mac->valuestring))) {
        snprintf(err, errlen, "event MAC does not verify (another node secret, or an event for "
                              "another function): refused");
        goto out;
    }
    char why[256];
    if (node_event_parse(inner, inner_len, out, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s", why);
        rc = -EINVAL;
        goto out;
    }
    if (!out->ts_ms || !out->nonce[0]) {
        snprintf(err, errlen, "event has no \"ts\" or \"nonce\": refused");
        goto out;
    }
    int64_t age = auth->now_ms - out->ts_ms;
    if (age > auth->max_age_ms || -age > auth->max_age_ms) {
        snprintf(err, errlen, "event made %lld ms %s, outside the %lld ms window: refused",
                 (long long)(age < 0 ? -age : age), age < 0 ? "ahead" : "ago",
                 (long long)auth->max_age_ms);
        goto out;
    }
    if (out->ts_ms <= auth->replay->floor_ts || replay_seen(auth->replay, out->nonce)) {
        snprintf(err, errlen, "event nonce already seen (a replay): refused");
        goto out;
    }
    replay_remember(auth->replay, out->nonce, out->ts_ms);
    rc = 0;
out:
    cJSON_Delete(root);
    if (rc < 0 && rc != -EINVAL) memset(out, 0, sizeof *out);
    return rc;
}
