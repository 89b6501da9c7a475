// The number format the network runs in. fp32 is the reference; bf16 keeps fp32's range with an 8-bit
// mantissa (oneDNN accumulates in fp32), which is what this CPU family's AVX512_BF16/AMX units compute on.
// int8 multiplies u8 activations by s8 weights into int32 (VNNI, AMX): per-output-channel weight scales and
// per-activation scales from a calibration the checkpoint carries (Calibration.swift).
import CDNNL

public enum Precision: String, Sendable, CaseIterable, Codable {
    case fp32, bf16, int8

    /// The names `--precision` takes: every precision, and `auto`.
    public static let choices = ["fp32", "bf16", "int8", "auto"]

    /// `auto` is bf16 where the CPU computes it natively (AVX512_BF16 or AMX), else fp32: bf16 emulated on
    /// plain AVX-512 is slower than fp32. Throws for an unknown name, and for a precision this CPU cannot run.
    public static func named(_ name: String) throws -> Precision {
        let p = try resolved(name)
        if let reason = p.unavailableReason { throw InferenceError(description: reason) }
        return p
    }

    /// `name` as a precision (`auto` resolved as `named` does), not yet checked against this CPU: a caller checks
    /// the configuration first (backend, checkpoint), so that the same mistake gets the same message everywhere.
    public static func resolved(_ name: String) throws -> Precision {
        if name == "auto" { return cpuHasNativeBF16 ? .bf16 : .fp32 }
        guard let p = Precision(rawValue: name) else {
            throw InferenceError(description: "unknown precision '\(name)' (\(choices.joined(separator: ", ")))")
        }
        return p
    }

    /// Why this CPU cannot run the precision at all; nil when it can. oneDNN 2.6's bf16 convolutions need
    /// AVX-512 at least (emulated there, native with AVX512_BF16 or AMX); its int8 ones run from SSE4.1 up
    /// (fast with VNNI or AMX).
    public var unavailableReason: String? {
        guard self == .bf16 else { return nil }
        let isa = dnnl_get_effective_cpu_isa().rawValue, avx512 = dnnl_cpu_isa_avx512_core.rawValue
        return isa & avx512 == avx512 ? nil : "bf16 needs a CPU with AVX-512 (oneDNN sees \(Self.cpuISA)); use --precision fp32"
    }

    /// Why this network cannot run at this precision; nil when it can. int8 needs the activation ranges of a
    /// calibration.
    public func unsupportedReason(for network: VideoResNet) -> String? {
        guard self == .int8, network.calibration == nil else { return nil }
        return "int8 needs activation ranges the checkpoint does not have: run `vidar models calibrate CKPT VIDEO… -o OUT.safetensors` and use OUT"
    }

    /// What oneDNN found on this CPU (it also honours ONEDNN_MAX_CPU_ISA, so a test can turn bf16 off).
    public static var cpuHasNativeBF16: Bool {
        let isa = dnnl_get_effective_cpu_isa().rawValue, bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        return isa & bf16 == bf16
    }

    /// oneDNN's ISA name for the provenance and benchmark reports, e.g. "avx512_core_amx".
    public static var cpuISA: String {
        switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core: return "avx512_core"
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
        case dnnl_cpu_isa_avx2: return "avx2"
        default: return "other (\(dnnl_get_effective_cpu_isa().rawValue))"
        }
    }

    /// Why `backend` cannot run this precision; nil when it can. Only oneDNN has reduced precision.
    public func unsupportedReason(on backend: ConvolutionBackend) -> String? {
        self == .fp32 || backend is OneDNNConvolution ? nil : "\(rawValue) needs the onednn backend"
    }

    /// The number format of activations between layers (int8's are u8 after a ReLU, s8 without one).
    func dnnl(relu: Bool = true) -> dnnl_data_type_t {
        switch self {
        case .fp32: return dnnl_f32
        case .bf16: return dnnl_bf16
        case .int8: return relu ? dnnl_u8 : dnnl_s8
        }
    }
}
