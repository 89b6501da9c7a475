// The durable event log: a directory of segment files (`00000000000000000000.log`, named by the index of their
// first record) holding records as [length u32][crc32 u32][JSON], one cursor file per sink, and a lock file.
// Records are written at once (a killed vidar loses nothing: the kernel has them) and fsync'd every
// `syncInterval` (a power cut loses at most that). On opening, a torn last record is cut off. Past `maxBytes`
// the oldest segments are deleted; sinks whose cursor pointed into them skip ahead and count the loss.
import Foundation
import Synchronization
import Vidar
import VidarStream

final class DiskSpool: EventLog {
    /// Records larger than this are not read back (a damaged length field cannot make a huge allocation).
    static let maxRecordBytes = 4 << 20
    /// Segment files hold about an eighth of the bound, so trimming frees space in small steps.
    let segmentBytes: Int
    let directory: URL
    let maxBytes: Int
    let syncInterval: Double
    /// One file: the index of its first record, where each record starts, its size.
    private struct Segment {
        var first: Int
        var offsets: [Int]
        var bytes: Int
        var path: String
        var count: Int { offsets.count }
    }
    private struct State {
        var segments: [Segment] = []
        var next = 0
        var fd: Int32 = -1
        var cursors: [String: Int] = [:]
        var dirtyCursors: Set<String> = []
        var seqs: [String: Int] = [:]
        var lastSync = Date()
        var unsynced = false
        /// Segments a previous run started and never ended (it was killed), per stream.
        var unterminated: [String: OpenSegments] = [:]
    }
    private let state = Mutex(State())
    private let arrived = Condition()
    private let lockFD: Int32

    /// Opens (or creates) the spool; another process holding it is an error.
    init(directory: URL, maxBytes: Int, syncInterval: Double = 1) throws {
        self.directory = directory
        self.maxBytes = maxBytes
        self.syncInterval = syncInterval
        segmentBytes = min(4 << 20, max(4096, maxBytes / 8))
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw ServeConfigError(description: "\(directory.path): cannot create the spool directory (\(error.localizedDescription))")
        }
        lockFD = open(directory.appendingPathComponent("lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockFD >= 0, flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            throw ServeConfigError(description: "\(directory.path): the spool is in use by another vidar (or cannot be locked)")
        }
        try state.withLock { try recover(&$0) }
    }

    deinit {
        sync()
        state.withLock { if $0.fd >= 0 { close($0.fd) } }
        close(lockFD)
    }

    // MARK: EventLog

    func append(_ record: EventRecord) {
        let body = record.jsonLine()
        var frame = Data(capacity: body.count + 8)
        withUnsafeBytes(of: UInt32(body.count).littleEndian) { frame.append(contentsOf: $0) }
        withUnsafeBytes(of: crc32(body).littleEndian) { frame.append(contentsOf: $0) }
        frame.append(body)
        state.withLock { s in
            if s.segments.isEmpty || s.segments[s.segments.count - 1].bytes + frame.count > segmentBytes { roll(&s) }
            writeAll(s.fd, frame)
            s.segments[s.segments.count - 1].offsets.append(s.segments[s.segments.count - 1].bytes)
            s.segments[s.segments.count - 1].bytes += frame.count
            s.next += 1
            s.seqs[record.stream] = max(s.seqs[record.stream] ?? 1, record.seq + 1)
            s.unsynced = true
            trim(&s)
            if Date().timeIntervalSince(s.lastSync) >= syncInterval { syncLocked(&s) }
        }
        arrived.broadcast()
    }

    func read(from index: Int, limit: Int) -> (start: Int, records: [LoggedEvent]) {
        let (segments, next) = state.withLock { ($0.segments, $0.next) }
        let start = max(index, segments.first?.first ?? next)
        var out: [LoggedEvent] = []
        for segment in segments where segment.first + segment.count > start && out.count < limit {
            let fd = open(segment.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            for k in max(0, start - segment.first)..<segment.count where out.count < limit {
                guard let body = readRecord(fd, at: segment.offsets[k]), let record = try? EventRecord.decode(jsonLine: body) else { continue }
                out.append(LoggedEvent(index: segment.first + k, record: record))
            }
        }
        return (out.first?.index ?? start, out)
    }

    /// The body of the record at `offset`, if whole and intact.
    private func readRecord(_ fd: Int32, at offset: Int) -> Data? {
        var header = Data(count: 8)
        guard header.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, 8, off_t(offset)) }) == 8 else { return nil }
        let length = Int(header.loadLE(0))
        guard length <= Self.maxRecordBytes else { return nil }
        var body = Data(count: length)
        guard body.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, length, off_t(offset + 8)) }) == length,
              crc32(body) == header.loadLE(4) else { return nil }
        return body
    }

    func wait(for index: Int, timeout: Double) {
        arrived.wait(timeout: timeout) { self.state.withLock { $0.next > index } }
    }

    func cursor(_ sink: String) -> Int {
        state.withLock { s in s.cursors[sink] ?? (s.segments.first?.first ?? s.next) }
    }

    func acknowledge(_ sink: String, upTo index: Int) {
        state.withLock { s in
            s.cursors[sink] = index
            s.dirtyCursors.insert(sink)
            if Date().timeIntervalSince(s.lastSync) >= syncInterval { syncLocked(&s) }
        }
    }

    var bytes: Int { state.withLock { $0.segments.reduce(0) { $0 + $1.bytes } } }
    var end: Int { state.withLock { $0.next } }
    var nextSeqs: [String: Int] { state.withLock { $0.seqs } }

    func sync() { state.withLock { syncLocked(&$0) } }

    // MARK: files

    private func cursorPath(_ sink: String) -> String {
        // The sink's URL with credentials, so a file name derived from a hash of it, not the URL itself.
        directory.appendingPathComponent("cursor-" + SHA256.hex(Data(sink.utf8)).prefix(16) + ".txt").path
    }

    private func syncLocked(_ s: inout State) {
        if s.unsynced && s.fd >= 0 { fsync(s.fd) }
        for sink in s.dirtyCursors {
            try? "\(s.cursors[sink] ?? 0)\n".write(toFile: cursorPath(sink), atomically: true, encoding: .utf8)
        }
        if !s.dirtyCursors.isEmpty || s.unsynced {
            let seqs = s.seqs.map { "\($0.key) \($0.value)" }.sorted().joined(separator: "\n")
            try? (seqs + "\n").write(toFile: directory.appendingPathComponent("seqs.txt").path, atomically: true, encoding: .utf8)
        }
        s.dirtyCursors = []
        s.unsynced = false
        s.lastSync = Date()
    }

    /// Starts a new segment file at the next index.
    private func roll(_ s: inout State) {
        if s.fd >= 0 { fsync(s.fd); close(s.fd) }
        let path = directory.appendingPathComponent(String(format: "%020d.log", s.next)).path
        s.fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        s.segments.append(Segment(first: s.next, offsets: [], bytes: 0, path: path))
    }

    /// Deletes the oldest segments while the spool is over its bound (never the one being written).
    private func trim(_ s: inout State) {
        while s.segments.count > 1 && s.segments.reduce(0, { $0 + $1.bytes }) > maxBytes {
            syncLocked(&s)  // the seqs it held are recorded before they go
            let gone = s.segments.removeFirst()
            unlink(gone.path)
        }
    }

    /// Reads back segments, cursors and seqs; cuts a torn last record.
    private func recover(_ s: inout State) throws {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
        for name in names where name.hasSuffix(".log") {
            guard let first = Int(name.dropLast(4)) else { continue }
            let path = directory.appendingPathComponent(name).path
            let data = FileManager.default.contents(atPath: path) ?? Data()
            var offset = 0
            var offsets: [Int] = []
            while offset + 8 <= data.count {
                let length = Int(data.loadLE(offset))
                guard length <= Self.maxRecordBytes, offset + 8 + length <= data.count,
                      crc32(data.subdata(in: (offset + 8)..<(offset + 8 + length))) == data.loadLE(offset + 4) else { break }
                if let r = try? EventRecord.decode(jsonLine: data.subdata(in: (offset + 8)..<(offset + 8 + length))) {
                    s.seqs[r.stream] = max(s.seqs[r.stream] ?? 1, r.seq + 1)
                    s.unterminated[r.stream, default: OpenSegments()].follow(r.event)
                }
                offsets.append(offset)
                offset += 8 + length
            }
            if offset < data.count { truncate(path, off_t(offset)) }  // a record cut short by a crash
            s.segments.append(Segment(first: first, offsets: offsets, bytes: offset, path: path))
            s.next = first + offsets.count
        }
        if let last = s.segments.last {
            s.fd = open(last.path, O_WRONLY | O_APPEND | O_CLOEXEC)
        }
        if let text = try? String(contentsOfFile: directory.appendingPathComponent("seqs.txt").path, encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                if parts.count == 2, let n = Int(parts[1]) { s.seqs[String(parts[0])] = max(s.seqs[String(parts[0])] ?? 1, n) }
            }
        }
    }

    /// The segments a killed run left open on `stream`, ended now with reason `interrupted` (once per stream).
    func takeUnterminated(_ stream: String) -> [StreamEvent] {
        state.withLock { $0.unterminated.removeValue(forKey: stream)?.ends ?? [] }
    }

    /// Loads a sink's saved cursor (called when the sink starts).
    func loadCursor(_ sink: String) {
        guard let text = try? String(contentsOfFile: cursorPath(sink), encoding: .utf8),
              let index = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return }
        state.withLock { $0.cursors[sink] = index }
    }
}

private func writeAll(_ fd: Int32, _ data: Data) {
    data.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 { if errno == EINTR { continue }; return }
            offset += n
        }
    }
}

extension Data {
    /// A little-endian UInt32 at `offset`.
    func loadLE(_ offset: Int) -> UInt32 {
        withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    }
}

/// CRC-32 (IEEE), to tell a torn or damaged record from a whole one.
func crc32(_ data: Data) -> UInt32 {
    var crc: UInt32 = 0xffff_ffff
    for byte in data {
        crc = crc32Table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8)
    }
    return crc ^ 0xffff_ffff
}

private let crc32Table: [UInt32] = (0..<256).map { i -> UInt32 in
    var c = UInt32(i)
    for _ in 0..<8 { c = (c & 1) != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

/// A stream's segments seen starting and not yet ending, while a spool is read back.
struct OpenSegments {
    private var open: [String: StreamEvent.SegmentStart] = [:]
    private var last: (time: Double, utc: String, score: Double, peak: Double)?
    private var order: [String] = []

    mutating func follow(_ event: StreamEvent) {
        switch event {
        case .segmentStart(let p):
            open[p.id] = p
            order.append(p.id)
            last = (p.start, p.startUtc, p.score, p.score)
        case .segmentUpdate(let p):
            last = (p.time, p.utc, p.score, p.peak)
        case .segmentEnd(let p):
            open[p.id] = nil
            last = (p.end, p.endUtc, p.score, p.peak)
        case .stats(let p):
            if let l = last { last = (l.time, p.utc, l.score, l.peak) }
        default:
            break
        }
    }

    /// segment_end events for what is still open, at the last moment the spool knew of.
    var ends: [StreamEvent] {
        order.compactMap { id in
            guard let s = open[id] else { return nil }
            let end = max(s.start, last?.time ?? s.start)
            return .segmentEnd(.init(id: s.id, label: s.label, start: s.start, end: end, startUtc: s.startUtc,
                                     endUtc: last?.utc ?? s.startUtc, score: last?.score ?? s.score,
                                     peak: last?.peak ?? s.score, clips: 0, reason: .interrupted))
        }
    }
}
