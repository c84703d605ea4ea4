/* lifecycle.h -- warm-up, backups and the relay port where a node meets its backup peer
 * (lifecycle.c). */
#ifndef IC_PROXY_LIFECYCLE_H
#define IC_PROXY_LIFECYCLE_H

#include <stddef.h>

#include "nodeproto.h"

typedef struct server server_t;
typedef struct node node_t;

/* ---- lifecycle: warm-up, backups, the relay port (lifecycle.c) ---- */
int lifecycle_start(server_t *srv, char *err, size_t errlen);
/* BACKUPDONE token status chunks bytes deleted, from the node (decoded by nodeproto.c). */
void lifecycle_backup_done(node_t *n, const nodeproto_msg_t *m);
void lifecycle_node_lost(node_t *n);
/* A connection to the relay port: it must introduce itself with RELAY token source|peer. */
void lifecycle_relay_adopt(server_t *srv, int fd);

#endif
