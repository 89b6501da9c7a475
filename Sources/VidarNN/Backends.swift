// The convolution backends by name, the one used when none is named, and the thread counts of the libraries
// that compute (OpenBLAS for gemm and the classifier, OpenMP for oneDNN).
import COpenBLAS
import CDNNL

public enum Backends {
    public static let names = ["onednn", "gemm", "reference"]

    /// oneDNN when it initialises (measured ~2.4× faster than the OpenBLAS path here), else OpenBLAS gemm.
    /// One instance for the process, so every stream shares the packed weights it compiles.
    public static let standard: ConvolutionBackend = (try? OneDNNConvolution()) ?? GemmConvolution()

    /// `auto` (= `standard`), or a fresh backend of the named kind.
    public static func named(_ name: String) throws -> ConvolutionBackend {
        switch name {
        case "auto": return standard
        case "onednn": return try OneDNNConvolution()
        case "gemm": return GemmConvolution()
        case "reference": return ReferenceConvolution()
        default: throw InferenceError(description: "unknown backend '\(name)' (auto, \(names.joined(separator: ", ")))")
        }
    }

    /// Sets OpenBLAS's (process-wide) and OpenMP's (the calling thread's) thread counts.
    public static func setThreads(_ n: Int) {
        BLAS.setThreads(n)
        OpenMP.setThreads(n)
    }
}

/// OpenBLAS's thread count and core name, so callers can keep BLAS from fighting the decode thread.
public enum BLAS {
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }
    public static var threads: Int { Int(openblas_get_num_threads()) }
    public static var coreName: String { String(cString: openblas_get_corename()) }
}

/// oneDNN's threads come from OpenMP. The count is an OpenMP per-thread setting: each inference thread sets
/// its own, so two streams can run one thread each while a third runs two.
public enum OpenMP {
    public static func setThreads(_ n: Int) { omp_set_num_threads(Int32(max(1, n))) }
}

/// Why the network could not run on an input: a shape it cannot take, or a backend failure (out of memory…).
public struct InferenceError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(description: String) { self.description = description }
}
