// The one door to GNU libmicrohttpd: an HTTP/1.1 server on one address, one thread per connection (so a
// Server-Sent Events response may block while it waits), with bounded connections, header memory, body size and
// idle time. Requests are handed to one Swift handler as values; responses are bytes or a stream of chunks.
import CMicroHTTPD
import Foundation
import Synchronization

public struct HTTPRequest: Sendable {
    public let method: String
    public let path: String
    public let query: [String: String]
    /// Header names lowercased.
    public let headers: [String: String]
    public let body: Data
    /// The body was longer than the server's limit and was not kept.
    public let bodyTooLarge: Bool

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:],
                body: Data = Data(), bodyTooLarge: Bool = false) {
        (self.method, self.path, self.query, self.headers, self.body, self.bodyTooLarge) = (method, path, query, headers, body, bodyTooLarge)
    }
}

public struct HTTPResponse: Sendable {
    public enum Body: Sendable {
        case data(Data)
        /// Chunks produced while the response is read: `next(maxBytes)` blocks until it has bytes and returns nil at
        /// the end.
        case stream(@Sendable (Int) -> Data?)
    }

    public var status: Int
    public var headers: [String: String]
    public var body: Body

    public init(status: Int, headers: [String: String] = [:], body: Body = .data(Data())) {
        (self.status, self.headers, self.body) = (status, headers, body)
    }

    /// A JSON body (already encoded).
    public static func json(_ status: Int, _ data: Data) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: .data(data + Data("\n".utf8)))
    }

    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .data(Data(text.utf8)))
    }
}

public struct HTTPServerError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

public final class HTTPServer: Sendable {
    public struct Limits: Sendable {
        public var maxConnections = 64
        /// Per-connection memory for the request line, headers and buffers (libmicrohttpd refuses larger headers).
        public var headerMemory = 32 * 1024
        public var maxBody = 64 * 1024
        /// Seconds a connection may sit idle.
        public var idleTimeout = 120
        public init() {}
    }

    public let port: Int
    public let host: String
    /// The daemon's address, as an integer so the class stays Sendable (libmicrohttpd's daemon is thread-safe for
    /// stopping; it is touched only by `stop`).
    private let daemon: Int
    private let context: Context
    private let stopped = Atomic<Bool>(false)

    /// What the C callbacks reach through their `cls` pointer.
    final class Context: Sendable {
        let handler: @Sendable (HTTPRequest) -> HTTPResponse
        let limits: Limits
        init(handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse, limits: Limits) { (self.handler, self.limits) = (handler, limits) }
    }

    /// Listens on `host:port` (an IPv4 or IPv6 literal; port 0 picks a free one).
    public init(host: String, port: Int, limits: Limits = Limits(), handler: @escaping @Sendable (HTTPRequest) -> HTTPResponse) throws {
        let context = Context(handler: handler, limits: limits)
        let cls = Unmanaged.passUnretained(context).toOpaque()
        var v4 = sockaddr_in(), v6 = sockaddr_in6()
        let started: OpaquePointer?
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            started = withUnsafePointer(to: &v4) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    vidar_mhd_start($0, 0, UInt32(limits.maxConnections), limits.headerMemory, UInt32(limits.idleTimeout),
                                    accessHandler, cls, requestCompleted)
                }
            }
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            started = withUnsafePointer(to: &v6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    vidar_mhd_start($0, 1, UInt32(limits.maxConnections), limits.headerMemory, UInt32(limits.idleTimeout),
                                    accessHandler, cls, requestCompleted)
                }
            }
        } else {
            throw HTTPServerError(description: "\(host): not an IP address to listen on")
        }
        guard let started else {
            throw HTTPServerError(description: "cannot listen on \(host):\(port) (\(String(cString: strerror(errno))))")
        }
        self.context = context
        self.host = host
        daemon = Int(bitPattern: UnsafeMutableRawPointer(started))
        self.port = Int(vidar_mhd_port(started))
    }

    /// Stops listening and waits for the connection threads (streams must have ended).
    public func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        MHD_stop_daemon(OpaquePointer(bitPattern: daemon))
    }

    deinit { stop() }

    /// Whether `host` is a loopback address (127.0.0.0/8 or ::1).
    public static func isLoopback(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        if inet_pton(AF_INET6, host, &v6) == 1 { return host == "::1" || host == "0:0:0:0:0:0:0:1" }
        return false
    }
}

/// The body of one request as it arrives, kept up to the limit.
private final class RequestState {
    var body = Data()
    var tooLarge = false
    let limit: Int
    init(limit: Int) { self.limit = limit }
}

/// Collects a connection's key/value pairs of one kind.
private final class Pairs {
    var values: [String: String] = [:]
    let lowercase: Bool
    init(lowercase: Bool) { self.lowercase = lowercase }
}

private let collect: MHD_KeyValueIterator = { cls, _, key, value in
    let pairs = Unmanaged<Pairs>.fromOpaque(cls!).takeUnretainedValue()
    if let key {
        let k = String(cString: key)
        pairs.values[pairs.lowercase ? k.lowercased() : k] = value.map { String(cString: $0) } ?? ""
    }
    return VIDAR_MHD_YES
}

private func values(_ connection: OpaquePointer?, _ kind: MHD_ValueKind, lowercase: Bool) -> [String: String] {
    let pairs = Pairs(lowercase: lowercase)
    _ = MHD_get_connection_values(connection, kind, collect, Unmanaged.passUnretained(pairs).toOpaque())
    return pairs.values
}

private let accessHandler: MHD_AccessHandlerCallback = { cls, connection, url, method, _, uploadData, uploadSize, conCls in
    let context = Unmanaged<HTTPServer.Context>.fromOpaque(cls!).takeUnretainedValue()
    guard let conCls else { return VIDAR_MHD_NO }
    // First call: headers only. Keep per-request state until the body has arrived.
    guard let stateRaw = conCls.pointee else {
        conCls.pointee = Unmanaged.passRetained(RequestState(limit: context.limits.maxBody)).toOpaque()
        return VIDAR_MHD_YES
    }
    let state = Unmanaged<RequestState>.fromOpaque(stateRaw).takeUnretainedValue()
    if let uploadSize, uploadSize.pointee > 0 {
        let n = uploadSize.pointee
        if !state.tooLarge, let uploadData {
            if state.body.count + n > state.limit { state.tooLarge = true; state.body = Data() }
            else { state.body.append(UnsafeRawPointer(uploadData).assumingMemoryBound(to: UInt8.self), count: n) }
        }
        uploadSize.pointee = 0
        return VIDAR_MHD_YES
    }
    let request = HTTPRequest(method: method.map { String(cString: $0) } ?? "GET", path: url.map { String(cString: $0) } ?? "/",
                              query: values(connection, VIDAR_MHD_GET_ARGUMENT_KIND, lowercase: false),
                              headers: values(connection, VIDAR_MHD_HEADER_KIND, lowercase: true),
                              body: state.body, bodyTooLarge: state.tooLarge)
    let response = context.handler(request)
    let mhd: OpaquePointer?
    switch response.body {
    case .data(let data):
        mhd = data.withUnsafeBytes { MHD_create_response_from_buffer(data.count, UnsafeMutableRawPointer(mutating: $0.baseAddress), VIDAR_MHD_RESPMEM_MUST_COPY) }
    case .stream(let next):
        let box = Unmanaged.passRetained(StreamBox(next)).toOpaque()
        mhd = MHD_create_response_from_callback(VIDAR_MHD_SIZE_UNKNOWN, 4096, readChunk, box, freeStream)
    }
    guard let mhd else { return VIDAR_MHD_NO }
    for (name, value) in response.headers { MHD_add_response_header(mhd, name, value) }
    let queued = MHD_queue_response(connection, UInt32(response.status), mhd)
    MHD_destroy_response(mhd)
    return queued
}

private let requestCompleted: MHD_RequestCompletedCallback = { _, _, conCls, _ in
    guard let conCls, let raw = conCls.pointee else { return }
    Unmanaged<RequestState>.fromOpaque(raw).release()
    conCls.pointee = nil
}

/// A streaming body's producer, owned by libmicrohttpd until it frees it.
private final class StreamBox {
    let next: @Sendable (Int) -> Data?
    init(_ next: @escaping @Sendable (Int) -> Data?) { self.next = next }
}

private let readChunk: MHD_ContentReaderCallback = { cls, _, buffer, max in
    let box = Unmanaged<StreamBox>.fromOpaque(cls!).takeUnretainedValue()
    guard let chunk = box.next(max), let buffer else { return VIDAR_MHD_END_OF_STREAM }
    let n = min(chunk.count, max)
    chunk.withUnsafeBytes { buffer.update(from: $0.bindMemory(to: CChar.self).baseAddress!, count: n) }
    return n
}

private let freeStream: MHD_ContentReaderFreeCallback = { cls in
    Unmanaged<StreamBox>.fromOpaque(cls!).release()
}
