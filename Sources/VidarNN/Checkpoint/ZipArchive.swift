// The central directory of a zip file, read directly: only stored (uncompressed) entries, zip64 aware.
// That is all `torch.save` writes, and it lets tensors be used in place from a memory-mapped file.
import Foundation

struct ZipArchive {
    struct Entry {
        let name: String
        /// Where the entry's bytes start in the file, and how many there are.
        let dataOffset: Int
        let size: Int
    }

    let entries: [String: Entry]

    /// Parses `data`; throws a reason string on anything malformed or compressed.
    init(_ data: Data) throws {
        let bytes = ByteReader(data)
        let eocd = try Self.findEndOfCentralDirectory(bytes)
        var count = Int(try bytes.u16(eocd + 10))
        var directorySize = Int(try bytes.u32(eocd + 12))
        var directoryOffset = Int(try bytes.u32(eocd + 16))
        if count == 0xffff || directorySize == 0xffff_ffff || directoryOffset == 0xffff_ffff {
            // zip64: the locator sits just before the classic record and points at the zip64 record.
            let locator = eocd - 20
            guard locator >= 0, try bytes.u32(locator) == 0x0706_4b50 else { throw ZipError("zip64 locator missing") }
            let record = try bytes.int(u64At: locator + 8)
            guard try bytes.u32(record) == 0x0606_4b50 else { throw ZipError("zip64 end record missing") }
            count = try bytes.int(u64At: record + 32)
            directorySize = try bytes.int(u64At: record + 40)
            directoryOffset = try bytes.int(u64At: record + 48)
        }
        guard directoryOffset >= 0, directorySize >= 0, directoryOffset + directorySize <= data.count,
              count <= directorySize / 46 + 1 else { throw ZipError("central directory lies outside the file") }

        var entries: [String: Entry] = [:]
        var p = directoryOffset
        for _ in 0..<count {
            guard try bytes.u32(p) == 0x0201_4b50 else { throw ZipError("bad central directory entry") }
            let method = try bytes.u16(p + 10)
            var compressed = Int(try bytes.u32(p + 20))
            var uncompressed = Int(try bytes.u32(p + 24))
            let nameLength = Int(try bytes.u16(p + 28))
            let extraLength = Int(try bytes.u16(p + 30))
            let commentLength = Int(try bytes.u16(p + 32))
            var localOffset = Int(try bytes.u32(p + 42))
            let name = String(decoding: try bytes.slice(p + 46, nameLength), as: UTF8.self)
            // zip64 extra field: the 64-bit values appear only for the fields saturated above, in this order.
            var e = p + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = try bytes.u16(e), length = Int(try bytes.u16(e + 2))
                if id == 0x0001 {
                    var q = e + 4
                    if uncompressed == 0xffff_ffff { uncompressed = try bytes.int(u64At: q); q += 8 }
                    if compressed == 0xffff_ffff { compressed = try bytes.int(u64At: q); q += 8 }
                    if localOffset == 0xffff_ffff { localOffset = try bytes.int(u64At: q); q += 8 }
                }
                e += 4 + length
            }
            guard method == 0 else { throw ZipError("entry '\(name)' is compressed (method \(method)); torch.save stores entries uncompressed") }
            guard compressed == uncompressed else { throw ZipError("entry '\(name)' has inconsistent sizes") }
            guard try bytes.u32(localOffset) == 0x0403_4b50 else { throw ZipError("entry '\(name)' has no local header") }
            let dataOffset = localOffset + 30 + Int(try bytes.u16(localOffset + 26)) + Int(try bytes.u16(localOffset + 28))
            guard dataOffset + uncompressed <= data.count else { throw ZipError("entry '\(name)' is truncated") }
            entries[name] = Entry(name: name, dataOffset: dataOffset, size: uncompressed)
            p = extraEnd + commentLength
        }
        self.entries = entries
    }

    private static func findEndOfCentralDirectory(_ bytes: ByteReader) throws -> Int {
        let n = bytes.data.count
        guard n >= 22 else { throw ZipError("file too short for a zip archive") }
        var p = n - 22
        let lowest = max(0, n - 22 - 0xffff)
        while p >= lowest {
            if try bytes.u32(p) == 0x0605_4b50 { return p }
            p -= 1
        }
        throw ZipError("no end of central directory: the file is truncated or not a zip archive")
    }
}

struct ZipError: Error { let reason: String; init(_ r: String) { reason = r } }

/// Bounds-checked little-endian reads.
struct ByteReader {
    let data: Data
    init(_ data: Data) { self.data = data }

    func slice(_ offset: Int, _ count: Int) throws -> Data {
        guard offset >= 0, count >= 0, offset + count <= data.count else { throw ZipError("read past the end of the file") }
        let start = data.startIndex + offset
        return data[start..<start + count]
    }

    private func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) throws -> T {
        guard offset >= 0, offset + MemoryLayout<T>.size <= data.count else { throw ZipError("read past the end of the file") }
        return data.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    func u16(_ offset: Int) throws -> UInt16 { try load(offset, UInt16.self) }
    func u32(_ offset: Int) throws -> UInt32 { try load(offset, UInt32.self) }
    func int(u64At offset: Int) throws -> Int {
        let v = try load(offset, UInt64.self)
        guard v <= UInt64(Int.max / 2) else { throw ZipError("offset out of range") }
        return Int(v)
    }
}
