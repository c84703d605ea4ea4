/* crc32c.h -- CRC-32C (the chunks' checksum) for the node, without ISA-L (crc32c.c says why). */
#ifndef NODE_CRC32C_H
#define NODE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The standard CRC-32C of n bytes: equal to ec_crc(p, n). */
uint32_t crc32c(const void *p, size_t n);

/* Tests: 1 makes crc32c use its table even where the CPU has CRC instructions, 0 undoes it. */
void crc32c_force_table(int on);

#endif
