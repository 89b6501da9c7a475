// A TCP listener on 127.0.0.1 that misbehaves like a broken camera: on each connection it sends `prefix` (e.g. a
// second of real MPEG-TS), then either keeps the socket open and silent (a stalled camera) or sends random bytes
// forever (garbage). With no prefix and silence it is a dead camera that accepts and never sends a byte.
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class FeedServer: Sendable {
    public enum After: Sendable { case silence, garbage }
    public let port: Int
    private let listener: Int32
    private let state = Mutex<(clients: [Int32], running: Bool)>(([], true))

    public init(prefix: Data = Data(), then after: After = .silence) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 8) == 0 else { throw ProcessTimeout(description: "cannot listen on 127.0.0.1") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) } }
        port = Int(UInt16(bigEndian: addr.sin_port))
        self.listener = listener
        Thread.detachNewThread { [self] in
            while true {
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { return }
                state.withLock { $0.clients.append(fd) }
                Thread.detachNewThread { [self] in serve(fd, prefix: prefix, after: after) }
            }
        }
    }

    /// Connections accepted so far (a client that reached this server).
    public var connections: Int { state.withLock { $0.clients.count } }

    private func serve(_ fd: Int32, prefix: Data, after: After) {
        var sigpipe = sigset_t()
        sigemptyset(&sigpipe)
        sigaddset(&sigpipe, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &sigpipe, nil)
        guard send(fd, prefix) else { return }
        guard after == .garbage else { return }
        var rng = SystemRandomNumberGenerator()
        while state.withLock({ $0.running }) {
            let junk = Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) })
            guard send(fd, junk) else { return }
            usleep(20_000)
        }
    }

    private func send(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }

    public func stop() {
        let (wasRunning, clients) = state.withLock { s -> (Bool, [Int32]) in
            defer { s.running = false; s.clients = [] }
            return (s.running, s.clients)
        }
        guard wasRunning else { return }
        clients.forEach { close($0) }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }
}
