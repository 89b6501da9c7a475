// The machine's arithmetic peak per number format, measured on the cores the benchmark runs on (CPeak), so that a
// layer's GFLOP/s can be read as a share of what the hardware does.
import CPeak
import Dispatch
import Synchronization
import Vidar

/// Peak giga-operations/s of `threads` threads running at once, for each weight format whose AVX-512 instruction
/// oneDNN's ISA says this CPU has: "f32" (FMA), "bf16" (AVX512_BF16 dot products), "s8" (VNNI). AMX tiles, where
/// present, go beyond these; oneDNN's ISA name says when (the column then reads as a share of AVX-512's peak).
func measuredPeaks(threads: Int, seconds: Double = 1) -> [String: Double] {
    let isa = Precision.cpuISA
    var kinds: [(String, vidar_peak_kind)] = []
    if isa.hasPrefix("avx512_core") { kinds.append(("f32", VIDAR_PEAK_FP32)) }
    if ["avx512_core_vnni", "avx512_core_bf16", "avx512_core_amx"].contains(isa) { kinds.append(("s8", VIDAR_PEAK_INT8)) }
    if ["avx512_core_bf16", "avx512_core_amx"].contains(isa) { kinds.append(("bf16", VIDAR_PEAK_BF16)) }
    var peaks: [String: Double] = [:]
    for (name, kind) in kinds {
        let total = Mutex(0.0)
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            let gops = vidar_peak_gops(kind, seconds)
            total.withLock { $0 += gops }
        }
        peaks[name] = total.withLock { $0 }
    }
    return peaks
}

/// The weights' number format in a oneDNN verbose line's memory descriptors ("… wei_bf16::blocked:… …" → "bf16").
func weightFormat(_ descriptors: String) -> String? {
    guard let r = descriptors.range(of: "wei_") else { return nil }
    let format = descriptors[r.upperBound...].prefix { $0 != ":" }
    return format.isEmpty ? nil : String(format)
}
