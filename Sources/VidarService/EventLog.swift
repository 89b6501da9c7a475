// The events every sink reads from, in the order they were produced, each sink at its own cursor. Two kinds:
// `MemoryLog` (a bounded ring) and `DiskSpool` (durable: segment files of length-prefixed, checksummed records,
// and one cursor file per sink), so a sink that is down — or a vidar that was killed — delivers later what it has
// not delivered yet. Both are bounded: past the bound the oldest records go, and each sink learns how many of
// its undelivered records it lost.
import Foundation
import Synchronization
import VidarStream

/// One stored event: its place in the log and its bytes (a JSON Lines document).
struct LoggedEvent: Sendable {
    let index: Int
    let record: EventRecord
}

protocol EventLog: Sendable {
    /// Stores a record (assigning its index); never blocks on a reader.
    func append(_ record: EventRecord)
    /// Up to `limit` records at or after `index`, and the index they start at (later than asked when older ones were
    /// dropped: the difference is what this reader lost).
    func read(from index: Int, limit: Int) -> (start: Int, records: [LoggedEvent])
    /// Waits up to `timeout` s for a record at or after `index`.
    func wait(for index: Int, timeout: Double)
    /// Where `sink` stopped last time (0 for a new sink).
    func cursor(_ sink: String) -> Int
    /// `sink` has delivered every record before `index`.
    func acknowledge(_ sink: String, upTo index: Int)
    /// Bytes held (`vidar_spool_bytes`).
    var bytes: Int { get }
    /// The index the next record will get.
    var end: Int { get }
    /// The next seq of each stream, continuing across restarts.
    var nextSeqs: [String: Int] { get }
    /// Makes everything durable now (the spool fsyncs; memory does nothing).
    func sync()
    /// Segment ends owed for segments a killed run left open on `stream` (a spool read back; else none).
    func takeUnterminated(_ stream: String) -> [StreamEvent]
}

/// The bounded in-memory log (no spool): what sinks have not delivered is lost with the process.
final class MemoryLog: EventLog {
    private let capacity: Int
    private struct State {
        var records: [LoggedEvent] = []
        var next = 0
        var cursors: [String: Int] = [:]
        var seqs: [String: Int] = [:]
        var bytes = 0
    }
    private let state = Mutex(State())
    private let arrived = Condition()

    init(capacity: Int) { self.capacity = capacity }

    func append(_ record: EventRecord) {
        state.withLock { s in
            if s.records.count >= capacity {
                let gone = s.records.removeFirst()
                s.bytes -= gone.record.jsonLine().count
            }
            s.records.append(LoggedEvent(index: s.next, record: record))
            s.bytes += record.jsonLine().count
            s.next += 1
            s.seqs[record.stream] = max(s.seqs[record.stream] ?? 1, record.seq + 1)
        }
        arrived.broadcast()
    }

    func read(from index: Int, limit: Int) -> (start: Int, records: [LoggedEvent]) {
        state.withLock { s in
            let first = s.records.first?.index ?? s.next
            let start = max(index, first)
            let offset = start - first
            guard offset < s.records.count else { return (start, []) }
            return (start, Array(s.records[offset..<min(s.records.count, offset + limit)]))
        }
    }

    func wait(for index: Int, timeout: Double) {
        arrived.wait(timeout: timeout) { self.state.withLock { $0.next > index } }
    }

    func cursor(_ sink: String) -> Int { state.withLock { $0.cursors[sink] ?? ($0.records.first?.index ?? $0.next) } }
    func acknowledge(_ sink: String, upTo index: Int) { state.withLock { $0.cursors[sink] = index } }
    var bytes: Int { state.withLock { $0.bytes } }
    var end: Int { state.withLock { $0.next } }
    var nextSeqs: [String: Int] { state.withLock { $0.seqs } }
    func sync() {}
    func takeUnterminated(_ stream: String) -> [StreamEvent] { [] }
}

/// A condition variable with a predicate and a timeout (Foundation's NSCondition, used only through here).
final class Condition: @unchecked Sendable {
    // NSCondition is thread-safe by design; it is not marked Sendable in corelibs-foundation.
    private let condition = NSCondition()

    func broadcast() {
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until `ready()` is true or `timeout` s have passed.
    func wait(timeout: Double, until ready: () -> Bool) {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !ready() {
            guard condition.wait(until: deadline) else { return }
        }
    }
}

/// Where and how big the durable spool is.
public struct SpoolSettings: Sendable, Equatable {
    public var directory: URL
    public var maxBytes = 256 << 20
    /// Seconds between fsyncs: a killed process loses nothing; a power cut at most this much.
    public var syncInterval = 1.0
    public init(directory: URL) { self.directory = directory }

    /// `$XDG_STATE_HOME/vidar/spool/NAME` (else `~/.local/state/vidar/spool/NAME`).
    public static func defaultDirectory(_ name: String, environment env: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        let state = env["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: env["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".local/state")
        return state.appendingPathComponent("vidar/spool/\(name)")
    }
}
