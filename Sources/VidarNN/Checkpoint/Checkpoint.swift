// Opens a checkpoint file of any supported format, recognised by its first bytes, without copying it.
import Foundation

public enum Checkpoint {
    /// Reads the named tensors of a PyTorch zip checkpoint or a safetensors file.
    public static func read(path: String) throws -> StateDict {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError(.unreadable, path, "no such file")
        }
        guard !isDirectory.boolValue else { throw CheckpointError(.unreadable, path, "is a directory, not a checkpoint file") }
        func unreadable(_ what: String) -> CheckpointError {
            CheckpointError(.unreadable, path, "cannot be \(what) (\(String(cString: strerror(errno))))")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw unreadable("read") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw unreadable("read") }
        let size = Int(st.st_size)
        guard size > 0 else { return try read(Data(), path: path) }
        // Our own read-only private mapping, so that each tensor's pages can be dropped once it has been converted
        // (`TensorEntry.dropPages`): loading then never holds the whole file and the weights at once.
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw unreadable("mapped")
        }
        let data = Data(bytesNoCopy: base, count: size, deallocator: .custom { pointer, count in munmap(pointer, count) })
        var dict = try read(data, path: path)
        dict.isFileMapped = true
        return dict
    }

    public static func read(_ data: Data, path: String) throws -> StateDict {
        let head = [UInt8](data.prefix(9))
        if head.starts(with: [0x50, 0x4b, 0x03, 0x04]) { return try TorchCheckpoint.read(data, path: path) }
        if head.count == 9 && head[8] == UInt8(ascii: "{") { return try Safetensors.read(data, path: path) }
        if head.first == 0x80 {
            throw CheckpointError(.badFormat, path, """
                legacy (pre-1.6) torch.save format is not supported; re-save it as a zip checkpoint with: \
                python3 -c "import torch; torch.save(torch.load('\(path)', map_location='cpu'), 'resaved.pth')"
                """)
        }
        if head.isEmpty { throw CheckpointError(.badFormat, path, "empty file") }
        throw CheckpointError(.badFormat, path, "not a checkpoint: expected a PyTorch zip (torch.save) or safetensors file")
    }
}
