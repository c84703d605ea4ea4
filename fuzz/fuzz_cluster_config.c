/* fuzz_cluster_config.c -- libFuzzer driver for icproxy's cluster config parser: any bytes parse
 * within limits, and a parsed map gives every slot exactly one known proxy with a sound address. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cluster_map_t map;
    char err[512];
    if (cluster_parse(&map, (const char *)data, size, err, sizeof err) < 0) {
        if (!memchr(err, 0, sizeof err) || !err[0]) __builtin_trap();
        return 0;
    }
    if (map.nproxies < 1 || map.nproxies > CLUSTER_PROXIES_MAX) __builtin_trap();
    for (int s = 0; s < SLOT_COUNT; s++)
        if (map.owner[s] < 0 || map.owner[s] >= map.nproxies || map.migrating[s] != -1)
            __builtin_trap();
    for (int i = 0; i < map.nproxies; i++) {
        const cluster_proxy_t *p = &map.proxies[i];
        if (!p->name[0] || strlen(p->id) != 40 || !p->host[0] || p->port < 1 || p->port > 65535)
            __builtin_trap();
        if (cluster_find(&map, p->name, strlen(p->name)) != i) __builtin_trap();
    }
    return 0;
}
