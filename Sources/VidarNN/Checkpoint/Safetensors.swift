// safetensors: an 8-byte little-endian header length, a JSON header, then the tensors' bytes.
// Every header field is validated before any tensor is touched.
import Foundation

public enum Safetensors {
    /// Headers beyond this are refused before parsing (the format's own reference uses 100 MB).
    static let maxHeaderBytes = 100_000_000

    static func read(_ data: Data, path: String) throws -> StateDict {
        func bad(_ reason: String) -> CheckpointError { CheckpointError(.badFormat, path, "invalid safetensors file: \(reason)") }
        guard data.count >= 8 else { throw bad("shorter than its 8-byte header length") }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(maxHeaderBytes) else { throw bad("header length \(headerLength) exceeds \(maxHeaderBytes) bytes") }
        guard 8 + Int(headerLength) <= data.count else { throw bad("header length \(headerLength) runs past the end of the file (truncated?)") }
        let bodyStart = 8 + Int(headerLength)
        let bodySize = data.count - bodyStart
        guard let json = try? JSONSerialization.jsonObject(with: data[8..<bodyStart]), let header = json as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        var tensors: [String: TensorEntry] = [:]
        var ranges: [(Int, Int, String)] = []
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else { throw bad("__metadata__ must map strings to strings") }
                metadata = m
                continue
            }
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
                  let shapeAny = info["shape"] as? [Any], let offsetsAny = info["data_offsets"] as? [Any] else {
                throw bad("tensor '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let dtype = DType(rawValue: dtypeName), dtype.isFloatingPoint || name.hasSuffix("num_batches_tracked") else {
                throw bad("tensor '\(name)' has dtype \(dtypeName); vidar reads F32, F16 and BF16")
            }
            let shape = shapeAny.compactMap { ($0 as? NSNumber).flatMap { Int(exactly: $0.doubleValue) } }
            let offsets = offsetsAny.compactMap { ($0 as? NSNumber).flatMap { Int(exactly: $0.doubleValue) } }
            guard shape.count == shapeAny.count, shape.allSatisfy({ $0 >= 0 }) else { throw bad("tensor '\(name)' has an invalid shape") }
            guard offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw bad("tensor '\(name)' has invalid data_offsets")
            }
            guard offsets[1] <= bodySize else {
                throw bad("tensor '\(name)' ends at byte \(offsets[1]) of a \(bodySize)-byte data section (truncated?)")
            }
            guard shape.count <= InputLimits.maxTensorRank else {
                throw bad("tensor '\(name)' has \(shape.count) dimensions; at most \(InputLimits.maxTensorRank) are supported")
            }
            guard let count = Checked.product(shape), count <= InputLimits.maxTensorElements,
                  let bytes = Checked.multiply(count, dtype.byteSize) else {
                throw bad("tensor '\(name)' shape \(shape) has more than \(InputLimits.maxTensorElements) elements")
            }
            guard bytes == offsets[1] - offsets[0] else {
                throw bad("tensor '\(name)' spans \(offsets[1] - offsets[0]) bytes but \(dtypeName) \(shape) needs \(bytes)")
            }
            ranges.append((offsets[0], offsets[1], name))
            tensors[name] = TensorEntry(shape: shape, dtype: dtype,
                                        storage: data[(bodyStart + offsets[0])..<(bodyStart + offsets[1])])
        }
        ranges.sort { $0.0 < $1.0 }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 {
            throw bad("tensors '\(a.2)' and '\(b.2)' overlap")
        }
        return StateDict(tensors: tensors, format: "safetensors", metadata: metadata)
    }

    /// Writes tensors (float32) with optional metadata; used by tests and tools.
    public static func encode(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) -> Data {
        var header: [String: Any] = metadata.isEmpty ? [:] : ["__metadata__": metadata]
        var offset = 0
        for (name, t) in tensors {
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + t.count * 4]]
            offset += t.count * 4
        }
        var json = try! JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, t) in tensors { t.data.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// A safetensors copy of `dict`: its floating-point tensors as F32, by name, and its metadata with `metadata`'s
    /// keys set (a model carrying a calibration, or a test's model with other metadata).
    public static func encode(_ dict: StateDict, setting metadata: [String: String]) -> Data {
        let tensors = dict.tensors.sorted { $0.key < $1.key }.filter { $0.value.dtype.isFloatingPoint }
            .map { ($0.key, Tensor(shape: $0.value.shape, data: $0.value.floats())) }
        return encode(tensors, metadata: dict.metadata.merging(metadata) { $1 })
    }
}
