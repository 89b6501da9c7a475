// A TCP listener on 127.0.0.1 that accepts connections and never sends a byte: a dead camera, for timeout tests.
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class SilentTCPServer: Sendable {
    public let port: Int
    private let listener: Int32
    /// Accepted connections, and whether the server still runs.
    private let state = Mutex<(clients: [Int32], running: Bool)>(([], true))

    public init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 8) == 0 else { throw ProcessTimeout(description: "cannot listen on 127.0.0.1") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) }
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        self.listener = listener
        Thread.detachNewThread { [self] in
            while true {
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { return }
                state.withLock { $0.clients.append(fd) }
            }
        }
    }

    /// Connections accepted so far (a client that reached this server).
    public var connections: Int { state.withLock { $0.clients.count } }

    public func stop() {
        let wasRunning = state.withLock { s in
            defer { s.running = false; s.clients.forEach { close($0) }; s.clients = [] }
            return s.running
        }
        guard wasRunning else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    deinit { stop() }
}
