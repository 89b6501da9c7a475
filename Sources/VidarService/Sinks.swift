// Where events go. Each sink has its own thread and bounded queue, so a slow consumer (a full pipe, a slow disk)
// delays neither inference nor the other sinks; what a full queue drops is counted.
import Foundation
import Synchronization
import VidarStream

public struct SinkStatistics: Sendable {
    public var published = 0
    public var failures = 0
    public var dropped = 0
    public var queued = 0
}

protocol EventSink: Sendable {
    /// The sink's URL as configured (credentials redacted).
    var name: String { get }
    func publish(_ record: EventRecord)
    /// File sinks reopen their path (log rotation on SIGHUP).
    func reopen()
    /// Delivers what is queued until `until`, then stops.
    func close(until: Date)
    var statistics: SinkStatistics { get }
}

enum Sinks {
    /// A sink for a configured URL: `stdout` (or `-`), `file:PATH`.
    static func make(_ url: String, queueLimit: Int = 10_000) throws -> any EventSink {
        if url == "stdout" || url == "-" { return LineSink(name: "stdout", path: nil, queueLimit: queueLimit) }
        if url.hasPrefix("file:") {
            let path = String(url.dropFirst("file:".count))
            let sink = LineSink(name: url, path: path, queueLimit: queueLimit)
            try sink.open()
            return sink
        }
        throw ServeConfigError(description: "unknown event sink '\(url)' (stdout, file:PATH)")
    }
}

/// JSON Lines to stdout or appended to a file, written by the sink's own thread.
final class LineSink: EventSink {
    let name: String
    private let path: String?
    private let queueLimit: Int
    private struct State {
        var queue: [EventRecord] = []
        var fd: Int32 = -1
        var stats = SinkStatistics()
        var closing: Date?
        var reopen = false
    }
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    init(name: String, path: String?, queueLimit: Int) {
        self.name = name
        self.path = path
        self.queueLimit = queueLimit
        state.withLock { $0.fd = path == nil ? STDOUT_FILENO : -1 }
        Thread.detachNewThread { [self] in run() }
    }

    /// Opens (or reopens) the file for appending; the first open's failure is the configuration's error.
    func open() throws {
        guard let path else { return }
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ServeConfigError(description: "\(path): cannot open the events file (\(String(cString: strerror(errno))))") }
        let old = state.withLock { s -> Int32 in defer { s.fd = fd }; return s.fd }
        if old >= 0 && old != STDOUT_FILENO { Glibc.close(old) }
    }

    func publish(_ record: EventRecord) {
        state.withLock { s in
            if s.queue.count >= queueLimit { s.queue.removeFirst(); s.stats.dropped += 1 }
            s.queue.append(record)
        }
        wake.signal()
    }

    func reopen() {
        state.withLock { $0.reopen = true }
        wake.signal()
    }

    func close(until: Date) {
        state.withLock { $0.closing = until }
        wake.signal()
        _ = done.wait(timeout: .now() + max(0, until.timeIntervalSinceNow) + 0.5)
    }

    var statistics: SinkStatistics { state.withLock { var s = $0.stats; s.queued = $0.queue.count; return s } }

    private func run() {
        defer { done.signal() }
        while true {
            _ = wake.wait(timeout: .now() + 1)
            let (batch, fd, closing, reopen) = state.withLock { s in
                defer { s.queue = []; s.reopen = false }
                return (s.queue, s.fd, s.closing, s.reopen)
            }
            if reopen { try? open() }
            var data = Data()
            for r in batch { data.append(r.jsonLine()); data.append(0x0a) }
            if !data.isEmpty {
                let ok = write(all: data, to: reopen ? state.withLock { $0.fd } : fd)
                state.withLock { s in if ok { s.stats.published += batch.count } else { s.stats.failures += batch.count } }
            }
            if let closing, state.withLock({ $0.queue.isEmpty }) || Date() >= closing { return }
        }
    }

    private func write(all data: Data, to fd: Int32) -> Bool {
        guard fd >= 0 else { return false }
        return data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
    }
}
