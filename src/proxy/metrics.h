/* metrics.h -- the Prometheus endpoint (GET /metrics on --metrics-port) and the latency
 * histograms it exports, observed on the event loop as each command completes (metrics.c). */
#ifndef IC_PROXY_METRICS_H
#define IC_PROXY_METRICS_H

#include <stddef.h>

#include "buf.h"

typedef struct server server_t;
typedef struct op op_t;

/* Starts the listener when --metrics-port is set (nothing to do otherwise: 0). Refuses a bind
 * beyond loopback without --metrics-token-file, and a token file it cannot read. 0, or -1 with
 * err set. Everything runs on srv->loop: the handlers read the counters with no locks. */
int metrics_start(server_t *srv, char *err, size_t errlen);
/* Closes the listener and its connections and frees what metrics_start made. */
void metrics_stop(server_t *srv);
/* A command's op is decided (its reply complete): its latency goes into the histograms of its
 * command and, for GET and SET, of its object's size class. O(1), no allocation; nothing when
 * the endpoint is off or the op runs no command (background reads). */
void metrics_op_done(op_t *op);
/* The whole exposition text, appended to b (what GET /metrics answers). */
void metrics_render(server_t *srv, buf_t *b);

#endif
