/* cluster.h -- the proxy's place in a Redis Cluster of proxies: the slot map read from the cluster
 * config file (which proxy serves which of the 16384 slots), node ids, and slots being moved. */
#ifndef IC_PROXY_CLUSTER_H
#define IC_PROXY_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "slot.h"

/* Hard limits of the cluster config file: it is read once at start, but a bad file must fail
 * cleanly, never run the proxy out of memory. */
#define CLUSTER_PROXIES_MAX 64
#define CLUSTER_NAME_MAX 64
#define CLUSTER_HOST_MAX 255
#define CLUSTER_LINE_MAX 8192
#define CLUSTER_FILE_MAX (1 << 20)

typedef struct {
    char name[CLUSTER_NAME_MAX + 1];
    char id[41]; /* 40 hex digits: SHA-1 of the name, so every proxy derives the same id */
    char host[CLUSTER_HOST_MAX + 1];
    int port;
} cluster_proxy_t;

/* The map. owner[] changes at run time only through CLUSTER SETSLOT NODE (never written back to
 * the file); migrating[]/importing[] are the slots being moved (-1: none). */
typedef struct cluster_map {
    int nproxies;
    int self; /* this proxy's entry (--cluster-id) */
    cluster_proxy_t proxies[CLUSTER_PROXIES_MAX];
    int8_t owner[SLOT_COUNT];
    int8_t migrating[SLOT_COUNT]; /* to this proxy */
    int8_t importing[SLOT_COUNT]; /* from this proxy */
} cluster_map_t;

/* Parses the text of a cluster config file (len bytes, no NUL needed): lines of
 *     proxy NAME HOST:PORT SLOTS RANGE...
 * (RANGE: a slot or FIRST-LAST), blank lines and '#' comments. Every slot must be owned by exactly
 * one proxy. Returns 0, or -1 with a reason naming the line in err. self is left at -1. */
int cluster_parse(cluster_map_t *map, const char *text, size_t len, char *err, size_t errlen);
/* Reads and parses the file, and finds self_name in it. Returns 0, or -1 with err set. The map is
 * allocated here; the caller frees it. */
int cluster_load(cluster_map_t **out, const char *path, const char *self_name, char *err,
                 size_t errlen);
/* The entry whose 40-hex-digit id or name is s, or -1. */
int cluster_find(const cluster_map_t *map, const char *s, size_t len);
/* Node id: the hex SHA-1 of the name (out: 41 bytes). */
void cluster_node_id(const char *name, char out[41]);

/* ---- the dispatcher's slot check (cmd_cluster.c) ---- */
typedef struct client client_t;
typedef struct command command_t;
/* The slot of the keys the row names among argv: -1 for none, -2 if they span slots. */
int cluster_key_slot(const command_t *row, int argc, const char **argv, const size_t *argl);
/* In cluster mode, whether this proxy serves the command's keys: 0 to run it, or 1 with the
 * error in reply (-CROSSSLOT, -MOVED to the owner, -ASK to the target of a slot being moved for
 * a key this proxy no longer has, -TRYAGAIN for several keys of a slot half moved). */
int cluster_route(client_t *c, const command_t *row, int argc, const char **argv,
                  const size_t *argl, buf_t *reply);

#endif
