// Where every stream's events meet: each gets a position in the service's recent-event ring (GET /api/events,
// Server-Sent Events resume by it), live subscribers are woken, and every sink receives it. Publishing never
// waits on a consumer: sinks and subscribers each have their own bounded queue.
import Foundation
import Synchronization
import VidarStream

public final class EventHub: Sendable {
    public let capacity: Int
    let log: any EventLog
    private let sinks: [SinkRunner]
    private struct State {
        var ring: [(position: Int, record: EventRecord)] = []
        var next = 1
        var subscribers: [ObjectIdentifier: Subscription] = [:]
        var totals: [String: Int] = [:]
        var closed = false
    }
    private let state = Mutex(State())

    init(capacity: Int, log: any EventLog, sinks: [SinkRunner]) {
        self.capacity = capacity
        self.log = log
        self.sinks = sinks
    }

    /// The hub for a list of sink URLs: a durable spool at `spool` (when given), else a bounded memory log.
    public static func make(sinks urls: [String], spool: SpoolSettings?, run: String, model: String,
                            log message: @escaping @Sendable (String) -> Void, capacity: Int = 1000) throws -> EventHub {
        let log: any EventLog = try spool.map { try DiskSpool(directory: $0.directory, maxBytes: $0.maxBytes, syncInterval: $0.syncInterval) }
            ?? MemoryLog(capacity: 100_000)
        let runners = try urls.map { url in
            SinkRunner(url: url, transport: try Sinks.transport(url, run: run, model: model, log: message), log: log, run: run,
                       logFailure: message)
        }
        return EventHub(capacity: capacity, log: log, sinks: runners)
    }

    public var sinkNames: [String] { sinks.map(\.name) }

    /// The seq a stream's next event gets: continuing from the spool after a restart, else 1.
    public func nextSeq(for stream: String) -> Int { log.nextSeqs[stream] ?? 1 }

    /// segment_end events (reason `interrupted`) owed for segments a killed run left open on `stream`: publish them
    /// before the stream's new events, so every segment_start is followed by its segment_end.
    public func unterminatedSegments(_ stream: String) -> [StreamEvent] { log.takeUnterminated(stream) }

    /// Bytes held by the spool (or the memory log).
    public var spoolBytes: Int { log.bytes }

    /// A stream's state that no event carries (disabled), for sinks with retained state.
    public func setStreamState(_ stream: String, _ value: String) { sinks.forEach { $0.streamState(stream, value) } }

    /// Takes one stream's event (in that stream's order) to the ring, the subscribers and the sinks.
    public func publish(_ record: EventRecord) {
        let (position, subscribers) = state.withLock { s in
            let position = s.next
            s.next += 1
            if s.ring.count == capacity { s.ring.removeFirst(max(1, capacity / 8)) }
            s.ring.append((position, record))
            s.totals[record.event.name, default: 0] += 1
            return (position, Array(s.subscribers.values))
        }
        for sub in subscribers { sub.deliver(position, record) }
        log.append(record)
    }

    /// Events after `since` (a position), at most `limit`, oldest first, and the position to ask from next. Without
    /// `since`: the newest `limit`.
    func events(since: Int?, limit: Int) -> (events: [(Int, EventRecord)], next: Int) {
        state.withLock { s in
            let after = since.map { p in s.ring.filter { $0.position > p } } ?? Array(s.ring.suffix(limit))
            let page = Array(after.prefix(limit))
            return (page.map { ($0.position, $0.record) }, (page.last?.position ?? (since ?? s.next - 1)) + 1)
        }
    }

    /// Events per type since the service started (Prometheus `vidar_events_total`).
    var totals: [String: Int] { state.withLock { $0.totals } }

    /// A live feed, starting after `since` when given (what the ring still holds is replayed first).
    func subscribe(since: Int?) -> Subscription {
        let sub = Subscription()
        let backlog: [(Int, EventRecord)] = state.withLock { s in
            if s.closed { sub.end() } else { s.subscribers[ObjectIdentifier(sub)] = sub }
            return since.map { p in s.ring.filter { $0.position > p }.map { ($0.position, $0.record) } } ?? []
        }
        for (p, r) in backlog { sub.deliver(p, r) }
        return sub
    }

    func unsubscribe(_ sub: Subscription) {
        _ = state.withLock { $0.subscribers.removeValue(forKey: ObjectIdentifier(sub)) }
        sub.end()
    }

    /// Ends every subscription (their responses finish) and closes the sinks, flushing for at most `deadline` s.
    public func close(deadline: Double) {
        let subs = state.withLock { s -> [Subscription] in s.closed = true; defer { s.subscribers = [:] }; return Array(s.subscribers.values) }
        subs.forEach { $0.end() }
        let until = Date().addingTimeInterval(deadline)
        for sink in sinks { sink.close(until: until) }
    }

    /// Log rotation: file sinks reopen their paths.
    public func reopenSinks() { sinks.forEach { $0.reopen() } }

    var sinkStatistics: [(name: String, stats: SinkStatistics)] { sinks.map { ($0.name, $0.statistics) } }
}

/// One live reader of the hub (a Server-Sent Events response): a bounded queue it drains at its own pace. A reader
/// that falls more than `limit` events behind is ended; it reconnects and resumes by position (Last-Event-ID).
final class Subscription: Sendable {
    static let limit = 1000
    private struct State {
        var queue: [(Int, EventRecord)] = []
        var ended = false
    }
    private let state = Mutex(State())
    private let ready = DispatchSemaphore(value: 0)

    func deliver(_ position: Int, _ record: EventRecord) {
        state.withLock { s in
            guard !s.ended else { return }
            if s.queue.count >= Self.limit { s.ended = true } else { s.queue.append((position, record)) }
        }
        ready.signal()
    }

    func end() {
        state.withLock { $0.ended = true }
        ready.signal()
    }

    /// The next events, waiting up to `timeout` s: empty when none came, nil once ended and drained.
    func next(timeout: Double) -> [(Int, EventRecord)]? {
        for attempt in 0..<2 {
            let (items, ended) = state.withLock { s in
                defer { s.queue = [] }
                return (s.queue, s.ended)
            }
            if !items.isEmpty { return items }
            if ended { return nil }
            if attempt == 0 { _ = ready.wait(timeout: .now() + timeout) }
        }
        return []
    }
}
