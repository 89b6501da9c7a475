// PyTorch's zip checkpoint (`torch.save`, PyTorch ≥ 1.6): <archive>/data.pkl names the tensors and
// <archive>/data/<key> holds each storage's raw little-endian bytes.
import Foundation

enum TorchCheckpoint {
    static func read(_ data: Data, path: String) throws -> StateDict {
        let zip: ZipArchive
        do { zip = try ZipArchive(data) } catch let e as ZipError {
            throw CheckpointError(.badFormat, path, "not a readable PyTorch zip checkpoint: \(e.reason)")
        }
        // torch.save writes "<archive>/data.pkl"; the archive folder's name varies between PyTorch versions.
        let pickles = zip.entries.values.filter { e in
            let parts = e.name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.last == "data.pkl" && parts.count <= 2
        }
        guard pickles.count == 1, let pkl = pickles.first else {
            throw CheckpointError(.badFormat, path, "zip archive has no data.pkl: not a torch.save checkpoint")
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))
        if let order = zip.entries[prefix + "byteorder"],
           String(decoding: data[order.dataOffset..<order.dataOffset + order.size], as: UTF8.self) != "little" {
            throw CheckpointError(.badFormat, path, "big-endian checkpoints are not supported")
        }
        let root: PickleValue
        do {
            root = try RestrictedUnpickler.load(data[pkl.dataOffset..<pkl.dataOffset + pkl.size])
        } catch let e as UnpicklingError {
            throw CheckpointError(e.unsafe ? .unsafePickle : .badFormat, path, e.reason)
        }
        guard case .dict(let dict) = root else {
            throw CheckpointError(.badFormat, path, "data.pkl holds no state_dict (a full pickled model? save model.state_dict() instead)")
        }
        var tensors: [String: TensorEntry] = [:]
        for (k, v) in dict.items {
            guard case .string(let name) = k else { throw CheckpointError(.badFormat, path, "state_dict has a non-string key") }
            guard case .tensor(let t) = v else {
                throw CheckpointError(.badFormat, path, "state_dict entry '\(name)' is not a tensor")
            }
            guard let record = zip.entries[prefix + "data/" + t.storageKey] else {
                throw CheckpointError(.badFormat, path, "storage '\(t.storageKey)' of tensor '\(name)' is missing from the archive")
            }
            guard let storageBytes = Checked.multiply(t.storageCount, t.dtype.byteSize), record.size >= storageBytes else {
                throw CheckpointError(.badFormat, path, "storage '\(t.storageKey)' of tensor '\(name)' is shorter than its \(t.storageCount) elements")
            }
            let start = record.dataOffset + t.offset * t.dtype.byteSize
            let storage = data[start..<record.dataOffset + record.size]
            tensors[name] = TensorEntry(shape: t.shape, dtype: t.dtype, storage: storage, strides: t.strides)
        }
        return StateDict(tensors: tensors, format: "pytorch-zip")
    }
}
