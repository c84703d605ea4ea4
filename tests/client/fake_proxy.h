/* fake_proxy.h -- an in-process stand-in for icproxy's library commands, with fault injection. */
#ifndef IC_TEST_FAKE_PROXY_H
#define IC_TEST_FAKE_PROXY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ec.h"

/* Per chunk: LATE is not sent in an ICGET reply (but is to ICGETCHUNKS), LOST never, CORRUPT
 * is sent with a byte flipped. */
enum { FK_OK = 0, FK_LATE = 1, FK_LOST = 2, FK_CORRUPT = 3 };
enum { FM_NORMAL, FM_ERR, FM_MALFORMED, FM_SILENT, FM_CLOSE, FM_TRUNCATE };

typedef struct {
    char *key;
    size_t keylen;
    uint64_t version, index, crc;
    uint8_t *chunk;
    size_t len;
} fake_repair_t;

typedef struct {
    char *key;
    size_t keylen;
    uint64_t version, size;
    int d, p;
    size_t cs;
    uint32_t crc[EC_MAX_CHUNKS];
    uint8_t *chunk[EC_MAX_CHUNKS];
} fake_object_t;

#define FAKE_MAX_OBJECTS 512
#define FAKE_MAX_REPAIRS 64
typedef struct {
    pthread_mutex_t lock;
    int lfd, port;
    uint64_t next_version;
    fake_object_t objects[FAKE_MAX_OBJECTS];
    int nobjects;
    /* Fault injection for ICGET replies. */
    int mode;                    /* FM_* */
    int order[EC_MAX_CHUNKS];    /* send order; norder 0 means 0..n-1 */
    int norder;
    int state[EC_MAX_CHUNKS];    /* FK_* per chunk index */
    int send_all;                /* send every available chunk instead of the first d */
    int spare_refuse;            /* answer ICGETCHUNKS as a proxy that does not know it */
    int spare_stale;             /* answer every ICGETCHUNKS -STALE (the key keeps changing) */
    char replace_with[64];       /* after the next ICGET, the key read is SET anew with this
                                    key's object (a new version), as a concurrent SET would */
    int spare_gets;              /* ICGETCHUNKS requests since the last reset */
    uint64_t spare_listed;       /* the indexes the last one asked for */
    int spare_need;              /* and how many of them it needed */
    fake_repair_t repairs[FAKE_MAX_REPAIRS];
    int nrepairs;
    int icsets, icgets;
    /* Authentication: with a password set, commands before AUTH get -NOAUTH; AUTH password,
     * AUTH default password and AUTH app password are accepted. */
    char password[64]; /* "" none */
    int auths;         /* AUTH commands received */
    /* Redis Cluster: with nranges > 0 CLUSTER SLOTS answers these ranges (each served by
     * 127.0.0.1:range_port[i]), else -ERR as a proxy that is not a cluster. With moved_port
     * (ask_port) set, every key command is answered -MOVED (-ASK) to 127.0.0.1:that port. */
    int nranges;
    int range_first[4], range_last[4], range_port[4];
    int moved_port, ask_port;
    int askings;     /* ASKING commands received */
    int slots_asked; /* CLUSTER SLOTS commands received */
} fake_proxy_t;

/* Starts a fake on 127.0.0.1 (port 0 picks one) with an accept thread. NULL on failure. */
fake_proxy_t *fake_proxy_start(int port);
/* Back to normal replies; forgets repairs and spare requests (objects are kept). */
void fake_proxy_reset_faults(fake_proxy_t *f);
/* The stored object for key, or NULL; call with f->lock held. */
fake_object_t *fake_proxy_find(fake_proxy_t *f, const char *key, size_t keylen);

#endif
