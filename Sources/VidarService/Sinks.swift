// Where events go. Each sink is a runner thread reading the event log from its own cursor and delivering one
// record at a time, in order, through its transport; it advances its cursor only when the transport says the
// record arrived (a line written, an MQTT PUBACK, a webhook's 2xx). A slow, hung or absent sink falls behind in
// the log and delays nothing else; a sink that the log's bound overtook reports the loss as `events_dropped`.
import Foundation
import Synchronization
import Vidar
import VidarStream

public struct SinkStatistics: Sendable {
    public var published = 0
    public var failures = 0
    public var dropped = 0
    /// Records in the log not delivered yet.
    public var queued = 0
}

/// What one delivery attempt came to.
enum Delivery: Sendable {
    case delivered
    /// The receiver refused it for good (a webhook's 4xx): counted, not retried.
    case rejected(String)
    /// Try again, after `after` s when the receiver said (Retry-After), else after the runner's backoff.
    case retry(after: Double?, reason: String)
}

/// How a sink reaches its consumer; called from its runner's thread, one record at a time.
protocol SinkTransport: Sendable {
    func deliver(_ record: EventRecord) -> Delivery
    /// Log rotation (SIGHUP): a file sink reopens its path.
    func reopen()
    /// A stream's state that no event carries (a disabled stream), for sinks that keep retained state.
    func streamState(_ stream: String, _ state: String)
    /// The last words before the process stops (MQTT: `offline`, then a clean disconnect).
    func shutdown()
}

extension SinkTransport {
    func reopen() {}
    func streamState(_ stream: String, _ state: String) {}
    func shutdown() {}
}

final class SinkRunner: Sendable {
    /// The sink's URL with credentials redacted (metric labels, logs).
    let name: String
    /// The configured URL: the log keeps the cursor under it.
    private let key: String
    private let transport: any SinkTransport
    private let log: any EventLog
    private let run: String
    private struct State {
        var stats = SinkStatistics()
        var closing: Date?
        var drops = 0
    }
    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)
    private let logFailure: @Sendable (String) -> Void

    init(url: String, transport: any SinkTransport, log: any EventLog, run: String, logFailure: @escaping @Sendable (String) -> Void) {
        name = Redaction.redact(url)
        key = url
        self.transport = transport
        self.log = log
        self.run = run
        self.logFailure = logFailure
        (log as? DiskSpool)?.loadCursor(url)
        Thread.detachNewThread { [self] in loop() }
    }

    var statistics: SinkStatistics {
        let queued = max(0, log.end - log.cursor(key))
        return state.withLock { var s = $0.stats; s.queued = queued; return s }
    }

    func reopen() { transport.reopen() }
    func streamState(_ stream: String, _ value: String) { transport.streamState(stream, value) }

    /// Delivers what it can until `until`, then stops; what is left stays in the log (a spool keeps it).
    func close(until: Date) {
        state.withLock { $0.closing = until }
        _ = finished.wait(timeout: .now() + max(0, until.timeIntervalSinceNow) + 1)
        transport.shutdown()
        log.sync()
    }

    private var deadlinePassed: Bool { state.withLock { $0.closing.map { Date() >= $0 } ?? false } }
    private var closing: Bool { state.withLock { $0.closing != nil } }

    private func loop() {
        defer { finished.signal() }
        var cursor = log.cursor(key)
        var backoff = 0.5
        var lastFailure = ""
        while !deadlinePassed {
            let (start, records) = log.read(from: cursor, limit: 64)
            if start > cursor {
                // The log's bound overtook this sink: those records are gone. Say so before going on.
                state.withLock { $0.stats.dropped += start - cursor; $0.drops += start - cursor }
                cursor = start
            }
            if records.isEmpty {
                if closing { return }
                log.wait(for: cursor, timeout: 0.5)
                continue
            }
            var pending = state.withLock { $0.drops } > 0 ? [droppedNotice()] : []
            pending += records.map(\.record)
            var k = 0
            while k < pending.count && !deadlinePassed {
                let isNotice = k == 0 && pending.count > records.count
                switch transport.deliver(pending[k]) {
                case .delivered:
                    state.withLock { $0.stats.published += isNotice ? 0 : 1 }
                    backoff = 0.5
                case .rejected(let reason):
                    state.withLock { $0.stats.failures += 1 }
                    if reason != lastFailure { logFailure("sink \(name): event refused: \(reason)"); lastFailure = reason }
                case .retry(let after, let reason):
                    state.withLock { $0.stats.failures += 1 }
                    if reason != lastFailure { logFailure("sink \(name): \(reason); retrying"); lastFailure = reason }
                    // Capped, jittered exponential backoff, or what the receiver asked for.
                    let delay = after ?? backoff * Double.random(in: 0.5...1)
                    backoff = min(30, backoff * 2)
                    sleep(seconds: delay)
                    continue
                }
                lastFailure = ""
                if isNotice { state.withLock { $0.drops = 0 } } else {
                    cursor = records[k - (pending.count - records.count)].index + 1
                    log.acknowledge(key, upTo: cursor)
                }
                k += 1
            }
        }
    }

    /// Sleeps in small steps so that a close is not held up.
    private func sleep(seconds: Double) {
        let until = Date().addingTimeInterval(seconds)
        while Date() < until && !deadlinePassed { usleep(50_000) }
    }

    /// The events_dropped notice for the records this sink lost to the log's bound.
    private func droppedNotice() -> EventRecord {
        let (count, number) = state.withLock { ($0.drops, $0.stats.dropped) }
        let id = SHA256.hex(Data(key.utf8)).prefix(8)
        return EventRecord(stream: "vidar", seq: number, eventID: "\(run)-\(id)-dropped-\(number)",
                           event: .eventsDropped(.init(count: count, sink: name, utc: utcString(Date()))))
    }
}

enum Sinks {
    /// A sink for a configured URL: `stdout` (or `-`), `file:PATH`, `mqtt://…`, `mqtts://…`, `http://…`, `https://…`.
    static func transport(_ url: String, run: String, model: String, log: @escaping @Sendable (String) -> Void) throws -> any SinkTransport {
        if url == "stdout" || url == "-" { return try LineTransport(path: nil) }
        if url.hasPrefix("file:") { return try LineTransport(path: String(url.dropFirst("file:".count))) }
        if url.hasPrefix("mqtt://") || url.hasPrefix("mqtts://") { return try MQTTTransport(url: url, run: run, model: model) }
        if url.hasPrefix("http://") || url.hasPrefix("https://") { return try WebhookTransport(url: url) }
        throw ServeConfigError(description: "unknown event sink '\(Redaction.redact(url))' (stdout, file:PATH, mqtt://…, mqtts://…, http(s)://…)")
    }
}

/// JSON Lines to stdout or appended to a file (reopened on SIGHUP for log rotation).
final class LineTransport: SinkTransport {
    private let path: String?
    private let fd: Mutex<Int32>

    init(path: String?) throws {
        self.path = path
        fd = Mutex(path == nil ? STDOUT_FILENO : -1)
        if path != nil { try open() }
    }

    private func open() throws {
        guard let path else { return }
        let new = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard new >= 0 else { throw ServeConfigError(description: "\(path): cannot open the events file (\(String(cString: strerror(errno))))") }
        let old = fd.withLock { f -> Int32 in defer { f = new }; return f }
        if old >= 0 { close(old) }
    }

    func reopen() { try? open() }

    func deliver(_ record: EventRecord) -> Delivery {
        let line = record.jsonLine() + Data([0x0a])
        let ok = fd.withLock { fd in
            line.withUnsafeBytes { raw -> Bool in
                var offset = 0
                while offset < raw.count {
                    let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 { if errno == EINTR { continue }; return false }
                    offset += n
                }
                return true
            }
        }
        return ok ? .delivered : .retry(after: nil, reason: "write failed (\(String(cString: strerror(errno))))")
    }
}
