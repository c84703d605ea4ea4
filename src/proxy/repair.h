/* repair.h -- lost chunks, inventories, and the rebuild after a restart (repair.c). */
#ifndef IC_PROXY_REPAIR_H
#define IC_PROXY_REPAIR_H

#include <stddef.h>

#include "metatab.h"

typedef struct server server_t;
typedef struct node node_t;

/* ---- repair: lost chunks, inventories, rebuild after a restart (repair.c) ---- */
int repair_init(server_t *srv);
/* Chunk `slot` of object m is gone from its node: remember it and queue the object. */
void repair_note_lost(server_t *srv, meta_t *m, int slot);
/* Queues the object for repair if it has lost chunks (again, after a failed attempt). */
void repair_enqueue(server_t *srv, meta_t *m);
/* A node runs an instance whose store the proxy has not reconciled: ask what it holds. */
void repair_request_inventory(node_t *n);
/* The INVENTORY reply (malloc'd; ownership passes). */
void repair_inventory(node_t *n, char *data, size_t len);
/* Start-up: 1 while nodes' inventories may still bring back objects (client reads wait). */
int repair_rebuilding(server_t *srv);
/* Ends the start-up window: rebuilt objects become visible, repairs may start. */
void repair_rebuild_done(server_t *srv);

#endif
