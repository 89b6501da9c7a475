// A checkpoint's named tensors, read lazily out of the (memory-mapped) file they came from.
import Foundation

public enum DType: String, Sendable, CaseIterable {
    case float32 = "F32", float16 = "F16", bfloat16 = "BF16"
    /// Only for BatchNorm's `num_batches_tracked` counters, which every state_dict carries and vidar ignores.
    case int64 = "I64"

    public var byteSize: Int {
        switch self {
        case .float32: return 4
        case .float16, .bfloat16: return 2
        case .int64: return 8
        }
    }

    public var isFloatingPoint: Bool { self != .int64 }
}

/// One tensor inside a checkpoint file: where its elements are, and how to turn them into float32.
public struct TensorEntry: Sendable {
    public let shape: [Int]
    public let dtype: DType
    /// The bytes of the tensor's storage, starting at its first element.
    let storage: Data
    /// Element strides; nil for contiguous row-major.
    let strides: [Int]?

    public var count: Int { shape.reduce(1, *) }

    init(shape: [Int], dtype: DType, storage: Data, strides: [Int]? = nil) {
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
        self.strides = strides
    }

    /// Gives the pages of a file-mapped tensor back to the kernel (they are re-read from the file if touched
    /// again). Only for storage in a private read-only file mapping: on heap memory this would zero it.
    func dropPages() {
        storage.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress, raw.count > 0 else { return }
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let start = (Int(bitPattern: base) + page - 1) / page * page
            let end = (Int(bitPattern: base) + raw.count) / page * page
            if end > start { madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED) }
        }
    }

    /// The elements as float32 in row-major order (half and bfloat16 widened exactly).
    public func floats() -> [Float] {
        let n = count
        let rowMajor = strides == nil || strides == Self.contiguousStrides(shape)
        return [Float](unsafeUninitializedCapacity: n) { out, filled in
            storage.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                func element(_ i: Int) -> Float {
                    switch dtype {
                    case .float32: return Float(bitPattern: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).littleEndian)
                    case .float16: return Float(halfBits: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).littleEndian)
                    case .bfloat16: return Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).littleEndian) << 16)
                    case .int64: return Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)))
                    }
                }
                if rowMajor {
                    for i in 0..<n { out[i] = element(i) }
                } else {
                    let st = strides!
                    var index = [Int](repeating: 0, count: shape.count)
                    for i in 0..<n {
                        var offset = 0
                        for d in 0..<shape.count { offset += index[d] * st[d] }
                        out[i] = element(offset)
                        var d = shape.count - 1
                        while d >= 0 { index[d] += 1; if index[d] < shape[d] { break }; index[d] = 0; d -= 1 }
                    }
                }
            }
            filled = n
        }
    }

    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) { strides[d] = acc; acc *= shape[d] }
        return strides
    }

}

extension TensorEntry {
    /// IEEE binary16 → binary32 (exposed for tests).
    public static func widenHalf(_ bits: UInt16) -> Float { Float(halfBits: bits) }
}

extension Float {
    /// IEEE binary16 → binary32, exact (subnormals, infinities and NaN included).
    init(halfBits h: UInt16) {
        let sign = UInt32(h >> 15) << 31
        let exponent = Int((h >> 10) & 0x1f)
        let mantissa = UInt32(h & 0x3ff)
        if exponent == 0x1f {
            self = Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13))
        } else if exponent == 0 {
            let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
            self = sign != 0 ? -magnitude : magnitude
        } else {
            self = Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | (mantissa << 13))
        }
    }
}

/// The named tensors of a checkpoint, with the format they came in and any string metadata it carried.
public struct StateDict: Sendable {
    public var tensors: [String: TensorEntry]
    public var format: String
    public var metadata: [String: String]
    /// The tensors' bytes are pages of a read-only file mapping (Checkpoint.read(path:)), which may be dropped.
    public var isFileMapped = false

    public init(tensors: [String: TensorEntry], format: String, metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.format = format
        self.metadata = metadata
    }

    /// The dtypes present, e.g. "F32" or "F16+F32".
    public var dtypeSummary: String {
        Set(tensors.values.filter(\.dtype.isFloatingPoint).map(\.dtype.rawValue)).sorted().joined(separator: "+")
    }
}
