/* crc_combine.c -- the CRC-32C of two byte strings joined, from their CRCs: pure arithmetic, in a
 * file of its own so that a program can link it without ISA-L (icnode's idle footprint). */
#include <stdint.h>

#include "ec.h"

/* Product of two polynomials mod the CRC-32C polynomial, in the reflected bit order the CRC
 * register uses (bit 31 is x^0). */
static uint32_t crc_gf_mul(uint32_t a, uint32_t b)
{
    uint32_t product = 0;
    for (int i = 0; i < 32; i++) {
        if (a & (0x80000000u >> i)) product ^= b;
        b = (b >> 1) ^ (0x82F63B78u & (0u - (b & 1))); /* b *= x */
    }
    return product;
}

uint32_t ec_crc_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    /* Appending len_b bytes multiplies A's register by x^(8 len_b); the pre- and post-inversions
     * of both CRCs cancel in the sum, so the result is crc_a * x^(8 len_b) + crc_b. */
    uint32_t shift = 0x80000000u;      /* x^0 */
    uint32_t power = 0x80000000u >> 8; /* x^8: one byte */
    for (uint64_t n = len_b; n; n >>= 1) {
        if (n & 1) shift = crc_gf_mul(shift, power);
        power = crc_gf_mul(power, power);
    }
    return crc_gf_mul(shift, crc_a) ^ crc_b;
}
