/* cmd_cluster.c -- Redis Cluster across proxies: the CLUSTER command, READONLY, READWRITE,
 * ASKING, and the dispatcher's slot check that answers -MOVED, -ASK, -TRYAGAIN and -CROSSSLOT
 * (cluster_route), with Redis 7's replies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "cluster.h"
#include "command.h"
#include "meta.h"
#include "op.h"
#include "server.h"
#include "tx.h"

#define CLUSTER_DISABLED "ERR This instance has cluster support disabled"

/* ---- the slot check ---- */

/* Calls fn on each key the row names among argv (Redis's key positions). */
static int first_and_step(const command_t *row, int argc, int *last, int *step)
{
    if (!row || !row->first_key) return 0;
    *last = row->last_key < 0 ? argc + row->last_key : row->last_key;
    *step = row->key_step > 0 ? row->key_step : 1;
    return 1;
}

int cluster_key_slot(const command_t *row, int argc, const char **argv, const size_t *argl)
{
    int last, step, slot = -1;
    if (!first_and_step(row, argc, &last, &step)) return -1;
    for (int i = row->first_key; i <= last && i < argc; i += step) {
        int s = (int)slot_of_key(argv[i], argl[i]);
        if (slot >= 0 && s != slot) return -2;
        slot = s;
    }
    return slot;
}

int cluster_route(client_t *c, const command_t *row, int argc, const char **argv,
                  const size_t *argl, buf_t *reply)
{
    server_t *srv = c->srv;
    cluster_map_t *map = srv->cluster;
    if (!map) return 0;
    /* MIGRATE's keys may follow KEYS; it checks them itself, and runs on a slot being moved
     * whether the keys are still here or not (as in Redis). */
    if (!strcmp(row->name, "migrate")) return 0;
    int slot = cluster_key_slot(row, argc, argv, argl);
    if (slot == -2) {
        resp_add_error(reply, "CROSSSLOT Keys in request don't hash to the same slot");
        return 1;
    }
    if (slot < 0) return 0;
    int owner = map->owner[slot];
    int last = 0, step = 1, nkeys = 0, missing = 0;
    first_and_step(row, argc, &last, &step);
    int importing = owner != map->self && map->importing[slot] >= 0 && c->asking;
    int migrating = owner == map->self && map->migrating[slot] >= 0;
    if (owner != map->self && !importing) {
        const cluster_proxy_t *p = &map->proxies[owner];
        resp_add_error(reply, "MOVED %d %s:%d", slot, p->host, p->port);
        return 1;
    }
    if (!importing && !migrating) return 0;
    for (int i = row->first_key; i <= last && i < argc; i += step) {
        nkeys++;
        missing += meta_lookup(srv, argv[i], argl[i]) == NULL;
    }
    /* A command of several keys of a slot on the move runs only where all of them are. */
    if (missing && nkeys > 1 && (importing || missing < nkeys)) {
        resp_add_error(reply, "TRYAGAIN Multiple keys request during rehashing of slot");
        return 1;
    }
    if (migrating && missing) {
        const cluster_proxy_t *p = &map->proxies[map->migrating[slot]];
        resp_add_error(reply, "ASK %d %s:%d", slot, p->host, p->port);
        return 1;
    }
    return 0;
}

/* ---- replies ---- */

static void add_node_slots_range(buf_t *b, const cluster_map_t *map, int first, int last, int owner)
{
    const cluster_proxy_t *p = &map->proxies[owner];
    resp_add_array_header(b, 3);
    resp_add_int(b, first);
    resp_add_int(b, last);
    resp_add_array_header(b, 4);
    resp_add_cstr(b, p->host);
    resp_add_int(b, p->port);
    resp_add_cstr(b, p->id);
    resp_add_map_header(b, 0); /* Redis 7's networking metadata: none here */
}

/* The runs of consecutive slots with one owner: calls fn for each, returns how many. */
static int slot_runs(const cluster_map_t *map, int only_owner,
                     void (*fn)(buf_t *, const cluster_map_t *, int, int, int), buf_t *b)
{
    int n = 0;
    for (int s = 0; s < SLOT_COUNT;) {
        int e = s;
        while (e + 1 < SLOT_COUNT && map->owner[e + 1] == map->owner[s])
            e++;
        if (only_owner < 0 || map->owner[s] == only_owner) {
            if (fn) fn(b, map, s, e, map->owner[s]);
            n++;
        }
        s = e + 1;
    }
    return n;
}

static void cluster_slots(buf_t *b, const cluster_map_t *map)
{
    resp_add_array_header(b, slot_runs(map, -1, NULL, NULL));
    slot_runs(map, -1, add_node_slots_range, b);
}

static void add_int_pair(buf_t *b, const cluster_map_t *map, int first, int last, int owner)
{
    (void)map, (void)owner;
    resp_add_int(b, first);
    resp_add_int(b, last);
}

static void cluster_shards(buf_t *b, const cluster_map_t *map)
{
    resp_add_array_header(b, map->nproxies);
    for (int i = 0; i < map->nproxies; i++) {
        const cluster_proxy_t *p = &map->proxies[i];
        char endpoint[CLUSTER_HOST_MAX + 1];
        snprintf(endpoint, sizeof endpoint, "%s", p->host);
        resp_add_map_header(b, 2);
        resp_add_cstr(b, "slots");
        resp_add_array_header(b, 2 * slot_runs(map, i, NULL, NULL));
        slot_runs(map, i, add_int_pair, b);
        resp_add_cstr(b, "nodes");
        resp_add_array_header(b, 1);
        resp_add_map_header(b, 7);
        resp_add_cstr(b, "id");
        resp_add_cstr(b, p->id);
        resp_add_cstr(b, "port");
        resp_add_int(b, p->port);
        resp_add_cstr(b, "ip");
        resp_add_cstr(b, p->host);
        resp_add_cstr(b, "endpoint");
        resp_add_cstr(b, endpoint);
        resp_add_cstr(b, "role");
        resp_add_cstr(b, "master");
        resp_add_cstr(b, "replication-offset");
        resp_add_int(b, 0);
        resp_add_cstr(b, "health");
        resp_add_cstr(b, "online");
    }
}

static void text_range(buf_t *b, const cluster_map_t *map, int first, int last, int owner)
{
    (void)map, (void)owner;
    if (first == last)
        buf_printf(b, " %d", first);
    else
        buf_printf(b, " %d-%d", first, last);
}

/* CLUSTER NODES: one line per proxy, as Redis 7 writes them (no bus: cport 0, no epochs). */
static void cluster_nodes(buf_t *out, const cluster_map_t *map)
{
    buf_t b;
    buf_init(&b);
    for (int i = 0; i < map->nproxies; i++) {
        const cluster_proxy_t *p = &map->proxies[i];
        buf_printf(&b, "%s %s:%d@0 %s - 0 0 0 connected", p->id, p->host, p->port,
                   i == map->self ? "myself,master" : "master");
        slot_runs(map, i, text_range, &b);
        if (i == map->self)
            for (int s = 0; s < SLOT_COUNT; s++) {
                if (map->migrating[s] >= 0)
                    buf_printf(&b, " [%d->-%s]", s, map->proxies[map->migrating[s]].id);
                if (map->importing[s] >= 0)
                    buf_printf(&b, " [%d-<-%s]", s, map->proxies[map->importing[s]].id);
            }
        buf_printf(&b, "\n");
    }
    resp_add_verbatim(out, "txt", buf_head(&b), buf_len(&b));
    buf_free(&b);
}

static void cluster_info(buf_t *out, const cluster_map_t *map)
{
    buf_t b;
    buf_init(&b);
    buf_printf(&b,
               "cluster_state:ok\r\ncluster_slots_assigned:%d\r\ncluster_slots_ok:%d\r\n"
               "cluster_slots_pfail:0\r\ncluster_slots_fail:0\r\ncluster_known_nodes:%d\r\n"
               "cluster_size:%d\r\ncluster_current_epoch:0\r\ncluster_my_epoch:0\r\n"
               "cluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n"
               "total_cluster_links_buffer_limit_exceeded:0\r\n",
               SLOT_COUNT, SLOT_COUNT, map->nproxies, map->nproxies);
    resp_add_verbatim(out, "txt", buf_head(&b), buf_len(&b));
    buf_free(&b);
}

/* A slot argument: 0 .. 16383, or -1. */
static int parse_slot(const char *a, size_t l)
{
    int64_t v;
    if (resp_parse_i64(a, l, &v) < 0 || v < 0 || v >= SLOT_COUNT) return -1;
    return (int)v;
}

/* CLUSTER SETSLOT slot IMPORTING|MIGRATING|NODE id, or STABLE: the running map only. */
static void cluster_setslot(server_t *srv, buf_t *b, int argc, const char **argv,
                            const size_t *argl)
{
    cluster_map_t *map = srv->cluster;
    int slot = parse_slot(argv[2], argl[2]);
    if (slot < 0) {
        resp_add_error(b, "ERR Invalid or out of range slot");
        return;
    }
    if (arg_is(argv[3], argl[3], "STABLE") && argc == 4) {
        map->migrating[slot] = map->importing[slot] = -1;
        resp_add_simple(b, "OK");
        return;
    }
    if (argc != 5 || !(arg_is(argv[3], argl[3], "IMPORTING") ||
                       arg_is(argv[3], argl[3], "MIGRATING") || arg_is(argv[3], argl[3], "NODE"))) {
        resp_add_error(b, "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try "
                          "CLUSTER HELP");
        return;
    }
    int node = cluster_find(map, argv[4], argl[4]);
    if (node < 0) {
        resp_add_error(b, "ERR Unknown node %.*s", (int)(argl[4] > 64 ? 64 : argl[4]), argv[4]);
        return;
    }
    if (arg_is(argv[3], argl[3], "MIGRATING")) {
        if (map->owner[slot] != map->self) {
            resp_add_error(b, "ERR I'm not the owner of hash slot %d", slot);
            return;
        }
        if (node == map->self) {
            resp_add_error(b, "ERR Target node is myself");
            return;
        }
        map->migrating[slot] = (int8_t)node;
    } else if (arg_is(argv[3], argl[3], "IMPORTING")) {
        if (map->owner[slot] == map->self) {
            resp_add_error(b, "ERR I'm already the owner of hash slot %d", slot);
            return;
        }
        if (node == map->self) {
            resp_add_error(b, "ERR Target node is myself");
            return;
        }
        map->importing[slot] = (int8_t)node;
    } else {
        /* NODE: the slot is node's now. The source keeps serving keys it still has until this
         * point (MIGRATE moved them); as in Redis, it refuses while keys remain. */
        if (map->owner[slot] == map->self && node != map->self &&
            meta_slot_count(&srv->meta, (unsigned)slot)) {
            resp_add_error(b,
                           "ERR Can't assign hashslot %d to a different node while I still hold "
                           "keys for this hash slot.",
                           slot);
            return;
        }
        map->owner[slot] = (int8_t)node;
        map->migrating[slot] = -1;
        if (node == map->self) map->importing[slot] = -1;
    }
    resp_add_simple(b, "OK");
}

static const char *const cluster_subcommands[] = {
    "SLOTS",   "SHARDS",          "NODES",         "INFO",    "MYID",
    "KEYSLOT", "COUNTKEYSINSLOT", "GETKEYSINSLOT", "SETSLOT", "HELP"};

static cmd_status_t proc_cluster(client_t *c, op_t *op, int argc, const char **argv,
                                 const size_t *argl)
{
    server_t *srv = c->srv;
    cluster_map_t *map = srv->cluster;
    buf_t *b = &op->reply;
    const char *sub = argv[1];
    size_t subl = argl[1];
    int known = 0;
    for (size_t i = 0; i < sizeof cluster_subcommands / sizeof *cluster_subcommands; i++)
        known |= arg_is(sub, subl, cluster_subcommands[i]);
    if (!known) {
        resp_add_error(b, "ERR unknown subcommand '%.*s'. Try CLUSTER HELP.",
                       (int)(subl > 64 ? 64 : subl), sub);
        return CMD_REPLIED;
    }
    if (!map) {
        resp_add_error(b, CLUSTER_DISABLED);
        return CMD_REPLIED;
    }
    /* Each subcommand's arity, as Redis's command table gives it (name and container counted). */
    static const struct {
        const char *name;
        int arity;
    } arity[] = {{"slots", 2},         {"shards", 2},  {"nodes", 2},           {"info", 2},
                 {"myid", 2},          {"keyslot", 3}, {"countkeysinslot", 3}, {"help", 2},
                 {"getkeysinslot", 4}, {"setslot", -4}};
    for (size_t i = 0; i < sizeof arity / sizeof *arity; i++)
        if (arg_is(sub, subl, arity[i].name) &&
            (arity[i].arity < 0 ? argc < -arity[i].arity : argc != arity[i].arity)) {
            resp_add_error(b, "ERR wrong number of arguments for 'cluster|%s' command",
                           arity[i].name);
            return CMD_REPLIED;
        }
    if (arg_is(sub, subl, "SLOTS")) {
        cluster_slots(b, map);
    } else if (arg_is(sub, subl, "SHARDS")) {
        cluster_shards(b, map);
    } else if (arg_is(sub, subl, "NODES")) {
        cluster_nodes(b, map);
    } else if (arg_is(sub, subl, "INFO")) {
        cluster_info(b, map);
    } else if (arg_is(sub, subl, "MYID")) {
        resp_add_cstr(b, map->proxies[map->self].id);
    } else if (arg_is(sub, subl, "KEYSLOT")) {
        resp_add_int(b, slot_of_key(argv[2], argl[2]));
    } else if (arg_is(sub, subl, "COUNTKEYSINSLOT")) {
        int slot = parse_slot(argv[2], argl[2]);
        if (slot < 0)
            resp_add_error(b, "ERR Invalid slot");
        else
            resp_add_int(b, meta_slot_count(&srv->meta, (unsigned)slot));
    } else if (arg_is(sub, subl, "GETKEYSINSLOT")) {
        int slot = parse_slot(argv[2], argl[2]);
        int64_t max;
        if (slot < 0 || resp_parse_i64(argv[3], argl[3], &max) < 0 || max < 0) {
            resp_add_error(b, "ERR Invalid slot or number of keys");
            return CMD_REPLIED;
        }
        uint32_t n = meta_slot_count(&srv->meta, (unsigned)slot);
        if ((uint64_t)max < n) n = (uint32_t)max;
        resp_add_array_header(b, n);
        meta_t *m = meta_slot_first(&srv->meta, (unsigned)slot);
        for (uint32_t i = 0; i < n && m; i++, m = m->slot_next)
            resp_add_bulk(b, meta_key(m), m->keylen);
    } else if (arg_is(sub, subl, "SETSLOT")) {
        cluster_setslot(srv, b, argc, argv, argl);
    } else {
        static const char *const help[] = {
            "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "COUNTKEYSINSLOT <slot>",
            "    Return the number of keys in <slot>.",
            "GETKEYSINSLOT <slot> <count>",
            "    Return key names stored by current node in a slot.",
            "INFO",
            "    Return information about the cluster.",
            "KEYSLOT <key>",
            "    Return the hash slot for <key>.",
            "MYID",
            "    Return the node id.",
            "NODES",
            "    Return cluster configuration seen by node. Output format:",
            "    <id> <ip:port@cport> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
            "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
            "    Set slot state (the running map only: the config file is not changed).",
            "SHARDS",
            "    Return information about slot range mappings and the nodes in each shard.",
            "SLOTS",
            "    Return information about slots range mappings. Each range is made of:",
            "    start, end, master and replicas IP addresses, ports and ids",
            "HELP",
            "    Print this help.",
        };
        command_add_help(b, help, sizeof help / sizeof *help);
    }
    return CMD_REPLIED;
}

/* READONLY, READWRITE, ASKING: connection flags of cluster clients. */
static cmd_status_t proc_cluster_flag(client_t *c, op_t *op, int argc, const char **argv,
                                      const size_t *argl)
{
    (void)argc;
    if (!c->srv->cluster) {
        resp_add_error(&op->reply, CLUSTER_DISABLED);
        return CMD_REPLIED;
    }
    if (arg_is(argv[0], argl[0], "ASKING"))
        c->asking = 1;
    else
        c->readonly = arg_is(argv[0], argl[0], "READONLY");
    resp_add_simple(&op->reply, "OK");
    return CMD_REPLIED;
}

/* clang-format off */
const command_t cmd_cluster_commands[] = {
    {"cluster",   -2, 0, 0,        0, 0, 0, proc_cluster,      NULL},
    {"readonly",   1, 0, CMD_FAST, 0, 0, 0, proc_cluster_flag, NULL},
    {"readwrite",  1, 0, CMD_FAST, 0, 0, 0, proc_cluster_flag, NULL},
    {"asking",     1, 0, CMD_FAST, 0, 0, 0, proc_cluster_flag, NULL},
    {NULL, 0, 0, 0, 0, 0, 0, NULL, NULL},
};
/* clang-format on */
