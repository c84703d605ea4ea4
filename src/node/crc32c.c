/* crc32c.c -- CRC-32C for the node's ranged reads (CGETR), with the CPU's CRC instructions.
 * Why not ISA-L's crc32_iscsi, as the proxy and the library use: Debian's libisal2 cannot be
 * installed for arm64 beside the host's (not Multi-Arch: same), so the arm64 package cannot ship
 * it, and mapping it costs every idle instance about 100 KiB resident (4.09 -> 4.19 MiB, over the
 * 4 MiB budget of tests/node/test_node.py). The SSE4.2 and ARMv8 CRC32C instructions compute the
 * same function; a table covers CPUs without them. tests/node/test_node_piece.c checks every path
 * against ec_crc. */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82F63B78u /* reflected */

static uint32_t table[256];

static uint32_t crc_table(uint32_t reg, const unsigned char *p, size_t n)
{
    while (n--)
        reg = table[(reg ^ *p++) & 0xFF] ^ (reg >> 8);
    return reg;
}

#if defined(__x86_64__)
#include <nmmintrin.h>
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t reg, const unsigned char *p,
                                                          size_t n)
{
    uint64_t r = reg;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        r = _mm_crc32_u64(r, v);
    }
    reg = (uint32_t)r;
    while (n--)
        reg = _mm_crc32_u8(reg, *p++);
    return reg;
}
static int hw_present(void) { return __builtin_cpu_supports("sse4.2"); }
#elif defined(__aarch64__)
#include <arm_acle.h>
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
__attribute__((target("+crc"))) static uint32_t crc_hw(uint32_t reg, const unsigned char *p,
                                                        size_t n)
{
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        reg = __crc32cd(reg, v);
    }
    while (n--)
        reg = __crc32cb(reg, *p++);
    return reg;
}
static int hw_present(void) { return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0; }
#else
static uint32_t crc_hw(uint32_t reg, const unsigned char *p, size_t n)
{
    return crc_table(reg, p, n);
}
static int hw_present(void) { return 0; }
#endif

static int use_hw = -1; /* -1: not decided yet; crc32c_force_table sets 0 */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t r = i;
        for (int k = 0; k < 8; k++)
            r = (r >> 1) ^ (CRC32C_POLY & (0u - (r & 1)));
        table[i] = r;
    }
    if (use_hw < 0) use_hw = hw_present();
}

uint32_t crc32c(const void *p, size_t n)
{
    pthread_once(&once, init);
    uint32_t reg = 0xFFFFFFFFu;
    reg = use_hw ? crc_hw(reg, p, n) : crc_table(reg, p, n);
    return reg ^ 0xFFFFFFFFu;
}

void crc32c_force_table(int on)
{
    pthread_once(&once, init);
    use_hw = on ? 0 : hw_present();
}
