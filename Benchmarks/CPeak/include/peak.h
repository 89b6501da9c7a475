// The arithmetic peak of one core, measured rather than looked up: the layers benchmark reports each convolution's
// GFLOP/s as a share of what the same core reaches in a loop of nothing but multiply-adds (clocks under a
// hypervisor, turbo and AVX-512 frequency offsets make a datasheet figure a guess).
#ifndef VIDAR_PEAK_H
#define VIDAR_PEAK_H

enum vidar_peak_kind {
    VIDAR_PEAK_FP32 = 0,  // vfmadd231ps zmm: 16 lanes × 2 flop
    VIDAR_PEAK_BF16 = 1,  // vdpbf16ps zmm (AVX512_BF16): 16 lanes × 2 products × 2 flop, fp32 accumulation
    VIDAR_PEAK_INT8 = 2,  // vpdpbusd zmm (AVX512_VNNI): 16 lanes × 4 products × 2 op, int32 accumulation
};

/// Giga-operations per second of the calling thread over about `seconds` of independent zmm multiply-add chains
/// (no memory traffic). The caller checks the CPU has the instructions (oneDNN's ISA): they fault where absent.
double vidar_peak_gops(enum vidar_peak_kind kind, double seconds);

#endif
