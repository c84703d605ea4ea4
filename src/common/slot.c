/* slot.c -- Redis Cluster's key slot (CRC16-XMODEM with the hash-tag rule). */
#include "slot.h"

/* The table of the CRC over one byte, built once from the polynomial: 512 bytes. */
static uint16_t crc16_table[256];
static int crc16_ready;

static void crc16_init(void)
{
    for (unsigned b = 0; b < 256; b++) {
        uint16_t crc = (uint16_t)(b << 8);
        for (int i = 0; i < 8; i++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
        crc16_table[b] = crc;
    }
    crc16_ready = 1;
}

uint16_t slot_crc16(const char *p, size_t n)
{
    /* Racing first calls from two threads write the same values: harmless. */
    if (!crc16_ready) crc16_init();
    const unsigned char *s = (const unsigned char *)p;
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++)
        crc = (uint16_t)((crc << 8) ^ crc16_table[((crc >> 8) ^ s[i]) & 0xff]);
    return crc;
}

unsigned slot_of_key(const char *key, size_t len)
{
    size_t open = 0;
    while (open < len && key[open] != '{')
        open++;
    if (open < len) {
        size_t close = open + 1;
        while (close < len && key[close] != '}')
            close++;
        /* "{}" hashes the whole key, as does a '{' without a later '}'. */
        if (close < len && close > open + 1)
            return slot_crc16(key + open + 1, close - open - 1) & (SLOT_COUNT - 1);
    }
    return slot_crc16(key, len) & (SLOT_COUNT - 1);
}
