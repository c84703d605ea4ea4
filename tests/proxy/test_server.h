/* test_server.h -- a proxy's server_t with its nodes and object table but no sockets, for unit
 * tests of the proxy's metadata and placement (tests/proxy/test_meta.c, tests/model). */
#ifndef IC_TEST_SERVER_H
#define IC_TEST_SERVER_H

#include <stdint.h>
#include <stdlib.h>

#include "meta.h"
#include "nodepool.h"
#include "server.h"

/* nnodes nodes with room for node_bytes each; the caller frees it with free_server. */
static inline server_t *make_server(int nnodes, uint64_t node_bytes)
{
    server_t *srv = calloc(1, sizeof *srv);
    srv->loop = ev_create(1024);
    srv->cfg.function_prefix = "t";
    srv->cfg.node_memory_mb = 256;
    srv->cfg.node_reserved_mb = 32;
    meta_table_init(&srv->meta);
    srv->nnodes = nnodes;
    srv->nodes = calloc((size_t)nnodes, sizeof(node_t));
    for (int i = 0; i < nnodes; i++) {
        node_init(srv, &srv->nodes[i], i);
        srv->nodes[i].room.mem_limit = node_bytes;
    }
    return srv;
}

static inline void free_server(server_t *srv)
{
    for (int i = 0; i < srv->nnodes; i++)
        node_drop_deferred(&srv->nodes[i]);
    meta_table_free(&srv->meta);
    ev_destroy(srv->loop);
    free(srv->nodes);
    free(srv);
}

#endif
