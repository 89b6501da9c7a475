// What a timeline was made from, recorded so that `label --resume` can tell whether an output still stands: the
// input file's identity (size, mtime, a fast content hash) and a fingerprint of every setting that changes the
// result.
import Foundation
import VidarStream
import VidarVideo

extension Timeline.InputIdentity {
    /// Bytes sampled from the start, middle and end of a file for its fast hash.
    public static let sampleBytes = 64 << 10

    /// The identity of a local file; nil for URLs, pipes and devices (nothing stable to compare).
    public static func of(file path: String, fullHash: Bool = false) throws -> Timeline.InputIdentity? {
        guard !path.contains("://"), !path.hasPrefix("pipe:"), path != "-" else { return nil }
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let size = Int(st.st_size)
        let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw VidarError(.notFound, "\(path): cannot read (\(String(cString: strerror(errno))))")
        }
        defer { try? handle.close() }
        var hash = SHA256()
        hash.update(Data("vidar-fast-hash/1 \(size)\n".utf8))
        let n = sampleBytes
        let offsets = size <= 3 * n ? [0] : [0, size / 2 - n / 2, size - n]
        for offset in offsets {
            try handle.seek(toOffset: UInt64(offset))
            hash.update(try handle.read(upToCount: size <= 3 * n ? size : n) ?? Data())
        }
        let full = fullHash ? try SHA256.hex(ofFile: path) : nil
        return Timeline.InputIdentity(size: size, mtime: mtime, fastHash: hash.finalize(), sha256: full)
    }

    /// True when `other` (an output's record) describes the same file content as `self` (the file now): size,
    /// mtime and fast hash agree, and the full hashes too when both have one.
    public func matches(_ other: Timeline.InputIdentity) -> Bool {
        size == other.size && abs(mtime - other.mtime) < 1e-3 && fastHash == other.fastHash
            && (sha256 == nil || other.sha256 == nil || sha256 == other.sha256)
    }
}

/// Every setting that changes what `label` writes, in a canonical form; its SHA-256 is the timeline's
/// `settings_sha256`. Batch size, threads and decoder threads change nothing and are left out; the time range
/// is recorded in the timeline's `part`.
struct SettingsFingerprint: Encodable {
    var modelSha256: String
    var labels: [String]
    var sampling: SamplingOptions
    var transform: ClipTransform
    var aggregator: AggregatorOptions
    var backend: String
    /// nil for fp32, so that timelines from before the choice existed keep their fingerprint.
    var precision: String?
    var topK: Int
    var clips: Bool

    var sha256: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return SHA256.hex((try? e.encode(self)) ?? Data())
    }
}
