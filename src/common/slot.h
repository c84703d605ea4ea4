/* slot.h -- Redis Cluster's key slot: CRC16-XMODEM of the key (or of its hash tag) mod 16384. */
#ifndef IC_COMMON_SLOT_H
#define IC_COMMON_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384

/* CRC16-XMODEM (polynomial 0x1021, initial 0, no reflection), the CRC Redis Cluster uses. */
uint16_t slot_crc16(const char *p, size_t n);

/* The slot of a key, as Redis Cluster computes it: when the key has a '{' followed later by a '}'
 * with at least one byte between the first '{' and the first '}' after it, only those bytes are
 * hashed (the hash tag), so that related keys share a slot. Binary-safe. */
unsigned slot_of_key(const char *key, size_t len);

#endif
