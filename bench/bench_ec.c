/* bench_ec.c -- times ec_encode/ec_decode on many small objects, beside memcpy of the same bytes
 * and ISA-L with its tables rebuilt on every call. */
#include <getopt.h>
#include <isa-l/erasure_code.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ec.h"

#define ROUNDS 7

typedef struct {
    int d, p;
    size_t cs;
    uint8_t *mem;
    uint8_t *chunk[EC_MAX_CHUNKS];
    uint8_t *out[EC_MAX_CHUNKS]; /* where decode writes, apart from the chunks it reads */
} bench_object_t;

/* The decode patterns: every choice of p lost chunks among the first p + 2 (all of them when
 * p + 2 > n), so a rotating run visits several distinct patterns, as a proxy taking the first d
 * chunks to arrive does. */
#define MAX_PATTERNS 64
typedef struct {
    int have_idx[EC_MAX_CHUNKS], want_idx[EC_MAX_CHUNKS], nwant;
} pattern_t;

static int make_patterns(int d, int p, pattern_t *out)
{
    int n = d + p, count = 0;
    /* Two lost chunks a < b (or one when p == 1), taken from the first few indexes. */
    for (int a = 0; a < n && count < MAX_PATTERNS; a++)
        for (int b = p >= 2 ? a + 1 : a; b < n && count < MAX_PATTERNS; b++) {
            pattern_t *pt = &out[count++];
            int nh = 0;
            pt->nwant = 0;
            for (int i = 0; i < n; i++) {
                if (i == a || i == b)
                    pt->want_idx[pt->nwant++] = i;
                else if (nh < d)
                    pt->have_idx[nh++] = i;
            }
            if (p < 2) break; /* one loss per pattern: move a on */
        }
    return count;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The encoding path as it was before the tables were cached: matrix and tables per call. It is
 * the baseline the cached ec_encode is compared with in the same run. */
static void encode_rebuilding_tables(bench_object_t *o)
{
    uint8_t m[EC_MAX_CHUNKS * EC_MAX_DATA], tables[EC_MAX_DATA * EC_MAX_CHUNKS * 32];
    gf_gen_cauchy1_matrix(m, o->d + o->p, o->d);
    ec_init_tables(o->d, o->p, m + o->d * o->d, tables);
    ec_encode_data((int)o->cs, o->d, o->p, tables, o->chunk, o->chunk + o->d);
}

enum series { MEMCPY, ENCODE_REBUILD, ENCODE, DECODE_FIXED, DECODE_ROTATING, NSERIES };
static const char *series_names[NSERIES] = {"memcpy", "encode_rebuild_tables", "encode",
                                            "decode_one_pattern", "decode_rotating_patterns"};

/* Nanoseconds per operation of one series, the median of ROUNDS rounds of `iters` each. */
static double run_series(enum series s, bench_object_t *o, const pattern_t *pt, int npt, long iters)
{
    double ns[ROUNDS];
    size_t object_bytes = (size_t)o->d * o->cs;
    for (int r = 0; r < ROUNDS; r++) {
        uint64_t t0 = clock_mono_ns();
        for (long i = 0; i < iters; i++) {
            const pattern_t *use = &pt[s == DECODE_ROTATING ? i % npt : 0];
            uint8_t *have[EC_MAX_CHUNKS];
            switch (s) {
            case MEMCPY:
                memcpy(o->out[0], o->chunk[0], object_bytes);
                break;
            case ENCODE_REBUILD:
                encode_rebuilding_tables(o);
                break;
            case ENCODE:
                ec_encode(o->d, o->p, o->cs, o->chunk, o->chunk + o->d);
                break;
            case DECODE_FIXED:
            case DECODE_ROTATING:
                for (int k = 0; k < o->d; k++)
                    have[k] = o->chunk[use->have_idx[k]];
                if (ec_decode(o->d, o->p, o->cs, use->have_idx, have, use->nwant, use->want_idx,
                              o->out) < 0) {
                    fprintf(stderr, "bench_ec: decode failed\n");
                    exit(1);
                }
                break;
            default:
                break;
            }
        }
        ns[r] = (double)(clock_mono_ns() - t0) / (double)iters;
    }
    qsort(ns, ROUNDS, sizeof ns[0], cmp_double);
    return ns[ROUNDS / 2];
}

static void bench_size(int d, int p, size_t object_size, long iters)
{
    bench_object_t o = {.d = d, .p = p, .cs = ec_chunk_size(object_size, d)};
    int n = d + p;
    /* The out chunks hold a whole object too, for the memcpy series. */
    size_t out_bytes = (size_t)(n > d ? n : d) * o.cs;
    o.mem = malloc((size_t)n * o.cs + out_bytes);
    if (!o.mem) {
        fprintf(stderr, "bench_ec: out of memory\n");
        exit(1);
    }
    for (size_t b = 0; b < (size_t)n * o.cs + out_bytes; b++)
        o.mem[b] = (uint8_t)(b * 131 + 7);
    for (int i = 0; i < n; i++) {
        o.chunk[i] = o.mem + (size_t)i * o.cs;
        o.out[i] = o.mem + (size_t)n * o.cs + (size_t)i * o.cs;
    }
    ec_encode(d, p, o.cs, o.chunk, o.chunk + d);
    pattern_t pt[MAX_PATTERNS];
    int npt = make_patterns(d, p, pt);

    double ns[NSERIES];
    for (int s = 0; s < NSERIES; s++) {
        if ((s == DECODE_FIXED || s == DECODE_ROTATING) && p == 0) continue;
        ns[s] = run_series((enum series)s, &o, pt, npt, iters);
        printf("figure=ec_%s d=%d p=%d size=%zu chunk=%zu iters=%ld patterns=%d ns_per_op=%.0f\n",
               series_names[s], d, p, object_size, o.cs, iters, s == DECODE_ROTATING ? npt : 1,
               ns[s]);
    }
    printf("ratio=ec_encode/encode_rebuild_tables size=%zu value=%.3f\n", object_size,
           ns[ENCODE_REBUILD] / ns[ENCODE]);
    printf("ratio=ec_encode/memcpy size=%zu value=%.3f\n", object_size, ns[MEMCPY] / ns[ENCODE]);
    free(o.mem);
}

int main(int argc, char **argv)
{
    int d = 10, p = 2;
    long iters = 20000;
    size_t only_size = 0; /* 0: both sizes */
    int opt;
    while ((opt = getopt(argc, argv, "d:p:n:s:h")) != -1) {
        switch (opt) {
        case 'd':
            d = atoi(optarg);
            break;
        case 'p':
            p = atoi(optarg);
            break;
        case 'n':
            iters = atol(optarg);
            break;
        case 's':
            only_size = (size_t)strtoull(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr,
                    "usage: bench_ec [-d DATA] [-p PARITY] [-n ITERATIONS] [-s OBJECT_BYTES]\n"
                    "times RS(d+p) encode and decode of 1 KiB and 64 KiB objects\n"
                    "(or of OBJECT_BYTES only, -n times per round)\n");
            return opt == 'h' ? 0 : 2;
        }
    }
    if (!ec_params_valid(d, p) || iters <= 0) {
        fprintf(stderr, "bench_ec: bad parameters\n");
        return 2;
    }
    if (only_size) {
        bench_size(d, p, only_size, iters);
        return 0;
    }
    bench_size(d, p, 1024, iters);
    bench_size(d, p, 64 * 1024, iters / 10 > 0 ? iters / 10 : 1);
    return 0;
}
