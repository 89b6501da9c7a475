// NumPy's .npy format (versions 1–3) for little-endian float32 arrays in C order: how tensors enter and
// leave `vidar infer`, so anyone can compare vidar with PyTorch.
import Foundation

public struct NPYError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

public enum NPY {
    public static func decode(_ data: Data) throws -> Tensor {
        let bytes = [UInt8](data.prefix(12))
        guard bytes.count >= 10, bytes.starts(with: [0x93] + Array("NUMPY".utf8)) else {
            throw NPYError(reason: "not a NumPy .npy file (bad magic)")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1: headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw NPYError(reason: "truncated .npy header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default: throw NPYError(reason: "unsupported .npy version \(major)")
        }
        guard headerLength <= InputLimits.maxNPYHeaderBytes else {
            throw NPYError(reason: "header length \(headerLength) exceeds \(InputLimits.maxNPYHeaderBytes) bytes")
        }
        guard headerStart + headerLength <= data.count else { throw NPYError(reason: "truncated .npy header") }
        let header = String(decoding: data[headerStart..<headerStart + headerLength], as: UTF8.self)
        guard let descr = field("descr", in: header) else { throw NPYError(reason: "npy header has no 'descr'") }
        let dtype = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\" "))
        guard dtype == "<f4" || dtype == "f4" else {
            throw NPYError(reason: "array dtype is \(dtype); expected little-endian float32 ('<f4')")
        }
        guard field("fortran_order", in: header)?.trimmingCharacters(in: .whitespaces) == "False" else {
            throw NPYError(reason: "Fortran-ordered arrays are not supported; save a C-ordered array")
        }
        guard let shapeText = field("shape", in: header) else { throw NPYError(reason: "npy header has no 'shape'") }
        let dims = shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() ")).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let shape = try dims.map { d -> Int in
            guard let v = Int(d), v >= 0 else { throw NPYError(reason: "bad shape \(shapeText)") }
            return v
        }
        guard shape.count <= InputLimits.maxTensorRank else {
            throw NPYError(reason: "'shape' has \(shape.count) dimensions; at most \(InputLimits.maxTensorRank) are supported")
        }
        guard let count = Checked.product(shape), count <= InputLimits.maxTensorElements, let bytes = Checked.multiply(count, 4) else {
            throw NPYError(reason: "'shape' \(shape) has more than \(InputLimits.maxTensorElements) elements")
        }
        let start = headerStart + headerLength
        guard data.count - start == bytes else {
            throw NPYError(reason: "holds \(data.count - start) data bytes but shape \(shape) needs \(bytes) (truncated?)")
        }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in data[start...].withUnsafeBytes { dst.copyMemory(from: $0) } }
        return Tensor(shape: shape, data: values)
    }

    public static func encode(_ t: Tensor) -> Data {
        let shape = t.shape.count == 1 ? "(\(t.shape[0]),)" : "(" + t.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let n = header.utf8.count
        out.append(contentsOf: [UInt8(n & 0xff), UInt8(n >> 8)])
        out.append(contentsOf: Array(header.utf8))
        t.data.withUnsafeBytes { out.append(contentsOf: $0) }
        return out
    }

    /// The text of `'key': value` in a header dict (value up to the next top-level comma).
    private static func field(_ key: String, in header: String) -> String? {
        guard let r = header.range(of: "'\(key)':") else { return nil }
        var depth = 0
        var value = ""
        for ch in header[r.upperBound...] {
            if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 }
            if (ch == "," && depth == 0) || ch == "}" { break }
            value.append(ch)
        }
        return value.trimmingCharacters(in: .whitespaces)
    }
}
