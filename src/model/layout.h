/* layout.h -- an object's layout: how many data chunks an object of a given size is stored as, and
 * in which order a GET asks for the replicas of a replicated one. Pure: icproxy's SET and GET
 * (op_write.c, op_read.c), the client library's ICSET and the simulator ask these same functions. */
#ifndef IC_MODEL_LAYOUT_H
#define IC_MODEL_LAYOUT_H

#include <stdint.h>

/* The data chunks d of an object of `size` bytes: 1 at or below small_object_max (replication: the
 * object and p copies of it, since coding a small object costs more per request than it saves),
 * the configured d above. The parity chunks are the configured p either way. */
int layout_data_chunks(uint64_t size, uint64_t small_object_max, int d);

/* The chunk a GET of a replicated object (d = 1, n = 1 + p replicas) asks k-th: k = 0 first, the
 * next one each time a replica turns out lost. The replicas are taken in rotation from
 * version % n, so the reads of successive versions of a hot key fall on different nodes. */
int layout_read_slot(uint64_t version, int n, int k);

#endif
