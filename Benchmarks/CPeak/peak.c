// Loops of independent zmm multiply-adds: 16 accumulators cover each instruction's latency (4–6 cycles) times
// the two pipes that issue it, so throughput, not latency, bounds the loop.
#include "peak.h"
#include <time.h>

#if defined(__x86_64__)
#include <immintrin.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define BLOCK 100000L
#define ACC 16
// Operands come through a volatile so that the compiler cannot fold the loop into fewer instructions.
static volatile float operand = 1.0f;
static volatile float sink;

__attribute__((target("avx512f")))
static double fp32_block(void) {
    __m512 x = _mm512_set1_ps(operand), y = _mm512_set1_ps(operand * 1e-7f), acc[ACC];
    for (int a = 0; a < ACC; a++) acc[a] = _mm512_set1_ps((float)a);
    for (long i = 0; i < BLOCK; i++)
        for (int a = 0; a < ACC; a++) acc[a] = _mm512_fmadd_ps(acc[a], x, y);
    __m512 s = acc[0];
    for (int a = 1; a < ACC; a++) s = _mm512_add_ps(s, acc[a]);
    sink = _mm512_reduce_add_ps(s);
    return (double)BLOCK * ACC * 16 * 2;
}

__attribute__((target("avx512f,avx512bf16")))
static double bf16_block(void) {
    __m512 f = _mm512_set1_ps(operand * 1e-7f), acc[ACC];
    __m512bh x = _mm512_cvtne2ps_pbh(f, f);
    for (int a = 0; a < ACC; a++) acc[a] = _mm512_set1_ps((float)a);
    for (long i = 0; i < BLOCK; i++)
        for (int a = 0; a < ACC; a++) acc[a] = _mm512_dpbf16_ps(acc[a], x, x);
    __m512 s = acc[0];
    for (int a = 1; a < ACC; a++) s = _mm512_add_ps(s, acc[a]);
    sink = _mm512_reduce_add_ps(s);
    return (double)BLOCK * ACC * 16 * 2 * 2;
}

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static double int8_block(void) {
    __m512i x = _mm512_set1_epi8((char)operand), acc[ACC];
    for (int a = 0; a < ACC; a++) acc[a] = _mm512_set1_epi32(a);
    for (long i = 0; i < BLOCK; i++)
        for (int a = 0; a < ACC; a++) acc[a] = _mm512_dpbusd_epi32(acc[a], x, x);
    __m512i s = acc[0];
    for (int a = 1; a < ACC; a++) s = _mm512_add_epi32(s, acc[a]);
    sink = (float)_mm512_reduce_add_epi32(s);
    return (double)BLOCK * ACC * 16 * 4 * 2;
}

#endif

double vidar_peak_gops(enum vidar_peak_kind kind, double seconds) {
#if !defined(__x86_64__)
    (void)kind; (void)seconds;
    return 0;  // the loops are AVX-512; the bench reports no peak elsewhere
#else
    double ops = 0, start = now(), elapsed = 0;
    do {
        switch (kind) {
        case VIDAR_PEAK_FP32: ops += fp32_block(); break;
        case VIDAR_PEAK_BF16: ops += bf16_block(); break;
        case VIDAR_PEAK_INT8: ops += int8_block(); break;
        }
        elapsed = now() - start;
    } while (elapsed < seconds);
    return ops / elapsed / 1e9;
#endif
}
