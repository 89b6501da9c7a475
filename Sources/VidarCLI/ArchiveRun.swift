// Labelling an archive with many workers: a manifest of inputs, a deterministic shard of it per worker, a run
// index every worker appends to, and the check that lets `--resume` skip what is already done.
import Foundation
import Vidar
import VidarStream

/// `--from LIST`: one input per line (`-`: stdin); blank lines and lines starting with `#` are skipped.
enum Manifest {
    static let maxBytes = 256 << 20

    static func read(_ path: String) throws -> [String] {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            var st = stat()
            guard stat(path, &st) == 0 else {
                throw VidarError(.notFound, "\(path): cannot read the input list (\(String(cString: strerror(errno))))")
            }
            guard Int(st.st_size) <= maxBytes else { throw VidarError(.invalidData, "\(path): the input list is larger than 256 MiB") }
            guard let d = FileManager.default.contents(atPath: path) else {
                throw VidarError(.notFound, "\(path): cannot read the input list (\(String(cString: strerror(errno))))")
            }
            data = d
        }
        guard let text = String(data: data, encoding: .utf8) else { throw VidarError(.invalidData, "\(path): the input list is not UTF-8 text") }
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }
}

/// One of N workers' share of the inputs: input i belongs to shard FNV-1a(i) mod N, the same on every machine.
struct Shard: Equatable, CustomStringConvertible {
    let index: Int
    let count: Int

    /// "K/N" (0 ≤ K < N), or "auto": a Kubernetes Indexed Job's JOB_COMPLETION_INDEX, with JOB_COMPLETIONS.
    init(parsing text: String, environment env: [String: String] = ProcessInfo.processInfo.environment) throws {
        if text == "auto" {
            guard let k = env["JOB_COMPLETION_INDEX"].flatMap(Int.init), let n = env["JOB_COMPLETIONS"].flatMap(Int.init) else {
                throw UsageError("--shard auto reads JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job) and JOB_COMPLETIONS "
                                 + "(set it to the Job's completions), and they are not both set")
            }
            try self.init(k, n, "JOB_COMPLETION_INDEX=\(k), JOB_COMPLETIONS=\(n)")
            return
        }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else {
            throw UsageError("--shard takes K/N (shard K of N, counting from 0) or auto, not '\(text)'")
        }
        try self.init(k, n, text)
    }

    private init(_ k: Int, _ n: Int, _ source: String) throws {
        guard n >= 1, n <= 1_000_000, k >= 0, k < n else { throw UsageError("shard \(source): needs 0 ≤ K < N ≤ 1000000") }
        (index, count) = (k, n)
    }

    func contains(_ input: String) -> Bool { Int(Self.fnv1a(input) % UInt64(count)) == index }

    var description: String { "\(index)/\(count)" }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h
    }
}

/// `INDEX.jsonl` in the output directory: one JSON line per input a worker starts and finishes. Appends are single
/// write(2) calls on an O_APPEND descriptor under an fcntl write lock, so workers on one shared filesystem (NFS
/// included) never interleave lines.
final class RunIndex {
    static let fileName = "INDEX.jsonl"
    let directory: String
    private let fd: Int32
    private let worker: String
    private let shard: Shard?

    init(directory: String, shard: Shard?) throws {
        self.directory = directory
        self.shard = shard
        let path = URL(fileURLWithPath: directory).appendingPathComponent(Self.fileName).path
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw VidarError(.cannotCreate, "\(path): cannot open the run index: \(FileErrors.describe(errno))") }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        worker = "\(String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)):\(getpid())"
    }

    deinit { close(fd) }

    /// `input` is being labelled (a worker killed now leaves it `started`: the report counts it pending).
    func started(_ input: String, output: String) throws {
        try append(["status": "started", "input": input, "output": relative(output)])
    }

    func skipped(_ input: String, output: String) throws {
        try append(["status": "skipped", "input": input, "output": relative(output), "reason": "up to date"])
    }

    func finished(_ input: String, output: String, timeline: Timeline) throws {
        var record: [String: Any] = ["status": "ok", "input": input, "output": relative(output), "segments": timeline.segments.count,
                                     "warnings": timeline.warnings.map(\.code.rawValue), "seconds": timeline.stats.wallSeconds,
                                     "settings_sha256": timeline.provenance.settingsSha256 ?? "", "vidar_version": timeline.provenance.vidarVersion]
        if let duration = timeline.source.duration { record["duration"] = duration }
        if let id = timeline.provenance.input {
            record["input_size"] = id.size
            record["input_mtime"] = id.mtime
            record["input_fast_hash"] = id.fastHash
        }
        try append(record)
    }

    func failed(_ input: String, output: String?, error: any Error, code: ExitCode) throws {
        var record: [String: Any] = ["status": "failed", "input": input, "error": "\(error)", "exit_code": Int(code.rawValue)]
        if let output { record["output"] = relative(output) }
        try append(record)
    }

    private func relative(_ path: String) -> String {
        let base = URL(fileURLWithPath: directory).standardizedFileURL.path + "/"
        let full = URL(fileURLWithPath: path).standardizedFileURL.path
        return full.hasPrefix(base) ? String(full.dropFirst(base.count)) : full
    }

    private func append(_ record: [String: Any]) throws {
        var r = record
        r["utc"] = utcString(Date())
        r["worker"] = worker
        if let shard { r["shard"] = shard.description }
        var line = try JSONSerialization.data(withJSONObject: r, options: [.sortedKeys, .withoutEscapingSlashes])
        line.append(0x0A)
        var lock = flock(l_type: Int16(F_WRLCK), l_whence: Int16(SEEK_SET), l_start: 0, l_len: 0, l_pid: 0)
        while fcntl(fd, F_SETLKW, &lock) != 0 {
            guard errno == EINTR else { throw VidarError(.ioFailed, "\(directory)/\(Self.fileName): cannot lock: \(FileErrors.describe(errno))") }
        }
        defer {
            var unlock = flock(l_type: Int16(F_UNLCK), l_whence: Int16(SEEK_SET), l_start: 0, l_len: 0, l_pid: 0)
            _ = fcntl(fd, F_SETLK, &unlock)
        }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else {
            throw VidarError(.ioFailed, "\(directory)/\(Self.fileName): cannot append: \(FileErrors.describe(errno))")
        }
    }

    /// Every record of every index line in `directory`, in file order (unparseable lines, a torn last line
    /// included, are skipped and counted).
    static func read(_ directory: String) -> (records: [[String: Any]], unreadable: Int) {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(fileName).path
        guard let data = FileManager.default.contents(atPath: path) else { return ([], 0) }
        var records: [[String: Any]] = []
        var unreadable = 0
        for line in data.split(separator: 0x0A) where !line.isEmpty {
            if let o = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], o["input"] is String {
                records.append(o)
            } else {
                unreadable += 1
            }
        }
        return (records, unreadable)
    }
}

/// `--resume`: whether an existing output still stands for an input as it is now.
enum ResumeCheck {
    /// True when `output` exists, is complete, and was made by this vidar from the same input content, model and
    /// settings (and the same time range). JSON outputs say so themselves; other formats are checked against the
    /// run index's last `ok` record for the output.
    static func upToDate(output: String, input: String, expected: Timeline.Provenance, range: TimeRange?, format: TimelineFormat,
                         index: [String: [String: Any]]) -> Bool {
        guard FileManager.default.fileExists(atPath: output), let now = expected.input else { return false }
        if format == .json {
            guard let data = FileManager.default.contents(atPath: output),
                  let t = try? TimelineFormat.decodeJSON(data) else { return false }
            let p = t.provenance
            return t.complete && p.vidarVersion == expected.vidarVersion && p.settingsSha256 == expected.settingsSha256
                && p.modelSha256 == expected.modelSha256 && (p.input.map(now.matches) ?? false)
                && t.part.map { TimeRange(start: $0.start, end: $0.end) } == range
        }
        guard let r = index[output] else { return false }
        return r["settings_sha256"] as? String == expected.settingsSha256 && r["vidar_version"] as? String == expected.vidarVersion
            && r["input_size"] as? Int == now.size && r["input_fast_hash"] as? String == now.fastHash
            && abs((r["input_mtime"] as? Double ?? -1) - now.mtime) < 1e-3
    }

    /// The last `ok` record per output path (absolute), from the index in `directory`.
    static func lastOK(in directory: String) -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for r in RunIndex.read(directory).records where r["status"] as? String == "ok" {
            guard let o = r["output"] as? String else { continue }
            out[URL(fileURLWithPath: directory).appendingPathComponent(o).standardizedFileURL.path] = r
        }
        return out
    }
}
