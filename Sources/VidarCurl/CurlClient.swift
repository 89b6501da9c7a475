// The one door to libcurl: one HTTP request at a time, bounded in time, its body streamed to a callback that may
// stop it (a size limit, a stop request), redirects reported. Used by webhooks and model downloads.
import CCurl
import Foundation
import Synchronization

public struct CurlResponse: Sendable {
    public var status: Int
    /// Header names lowercased (the last response's, after redirects).
    public var headers: [String: String]
    /// The URL that answered, after redirects.
    public var effectiveURL: String
}

public struct CurlError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case transport, aborted, timeout, tooLarge }
    public let kind: Kind
    public let description: String
}

public enum Curl {
    private static let global: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public struct Request: Sendable {
        public var url: String
        public var method = "GET"
        public var headers: [String: String] = [:]
        public var body: Data?
        public var connectTimeout = 10.0
        /// The whole request (nil: no bound; downloads bound stalls instead).
        public var timeout: Double?
        /// Abort when fewer than 1 byte/s arrive for this long.
        public var stallTimeout: Double = 60
        public var followRedirects = false
        /// Refused when the answer announces more (curl's MAXFILESIZE: before the body is read).
        public var maxBytes: Int64?
        /// Called about once a second and as data arrives, with (bytes received, bytes announced or 0); returning
        /// false stops the transfer (`.aborted`), also while nothing arrives.
        public var onProgress: (@Sendable (Int64, Int64) -> Bool)?
        public init(url: String) { self.url = url }
    }

    /// Performs `request`; `onData` receives the body as it arrives and returns false to abort (then the error is
    /// `.aborted`).
    public static func perform(_ request: Request, onData: @escaping (Data) -> Bool = { _ in true }) throws -> CurlResponse {
        try CurlSession().perform(request, onData: onData)
    }

    static func start() -> UnsafeMutableRawPointer? {
        _ = global
        return curl_easy_init()
    }
}

/// One libcurl handle kept across requests, so a webhook's connection (and TLS session) is reused from one event
/// to the next instead of a new handshake each time. Requests on one session run one at a time.
public final class CurlSession: Sendable {
    /// libcurl's handle: used only while holding `lock`.
    private nonisolated(unsafe) let curl: UnsafeMutableRawPointer
    private let lock = Mutex(())

    public init() throws {
        guard let curl = Curl.start() else { throw CurlError(kind: .transport, description: "cannot start libcurl") }
        self.curl = curl
    }

    deinit { curl_easy_cleanup(curl) }

    /// Performs `request`; `onData` receives the body as it arrives and returns false to abort (then the error is
    /// `.aborted`).
    public func perform(_ request: Curl.Request, onData: @escaping (Data) -> Bool = { _ in true }) throws -> CurlResponse {
        try lock.withLock { _ in
            curl_easy_reset(curl)  // every option back to its default; the connection cache stays
            return try Self.perform(curl, request, onData: onData)
        }
    }

    private static func perform(_ curl: UnsafeMutableRawPointer, _ request: Curl.Request, onData: @escaping (Data) -> Bool) throws -> CurlResponse {
        let context = Context(onData: onData, onProgress: request.onProgress)
        var headers: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headers) }
        for (name, value) in request.headers { headers = curl_slist_append(headers, "\(name): \(value)") }
        _ = vidar_curl_set_string(curl, CURLOPT_URL, request.url)
        _ = vidar_curl_set_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = vidar_curl_set_long(curl, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000))
        if let t = request.timeout { _ = vidar_curl_set_long(curl, CURLOPT_TIMEOUT_MS, Int(t * 1000)) }
        _ = vidar_curl_set_long(curl, CURLOPT_LOW_SPEED_LIMIT, 1)
        _ = vidar_curl_set_long(curl, CURLOPT_LOW_SPEED_TIME, max(1, Int(request.stallTimeout)))
        _ = vidar_curl_set_long(curl, CURLOPT_FOLLOWLOCATION, request.followRedirects ? 1 : 0)
        _ = vidar_curl_set_long(curl, CURLOPT_MAXREDIRS, 5)
        _ = vidar_curl_set_string(curl, CURLOPT_CUSTOMREQUEST, request.method)
        _ = vidar_curl_set_slist(curl, CURLOPT_HTTPHEADER, headers)
        let body = request.body.map { Array($0) } ?? []
        if request.body != nil {
            _ = vidar_curl_set_off(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
        }
        let raw = Unmanaged.passUnretained(context).toOpaque()
        _ = vidar_curl_set_write(curl, writeCallback, raw)
        _ = vidar_curl_set_header(curl, headerCallback, raw)
        if let max = request.maxBytes { _ = vidar_curl_set_off(curl, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(max)) }
        if request.onProgress != nil { _ = vidar_curl_set_progress(curl, progressCallback, raw) }
        let code: CURLcode = body.withUnsafeBufferPointer { b in
            if request.body != nil { _ = vidar_curl_set_pointer(curl, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: b.baseAddress)) }
            return curl_easy_perform(curl)
        }
        if (code == CURLE_WRITE_ERROR || code == CURLE_ABORTED_BY_CALLBACK) && context.aborted {
            throw CurlError(kind: .aborted, description: "stopped")
        }
        if code == CURLE_FILESIZE_EXCEEDED { throw CurlError(kind: .tooLarge, description: String(cString: curl_easy_strerror(code))) }
        guard code == CURLE_OK else {
            let kind: CurlError.Kind = code == CURLE_OPERATION_TIMEDOUT ? .timeout : .transport
            throw CurlError(kind: kind, description: String(cString: curl_easy_strerror(code)))
        }
        let effective = vidar_curl_effective_url(curl).map { String(cString: $0) } ?? request.url
        return CurlResponse(status: vidar_curl_response_code(curl), headers: context.headers, effectiveURL: effective)
    }
}

/// What the C callbacks fill in; used by the one thread that performs the request.
private final class Context {
    let onData: (Data) -> Bool
    let onProgress: (@Sendable (Int64, Int64) -> Bool)?
    var headers: [String: String] = [:]
    var aborted = false
    init(onData: @escaping (Data) -> Bool, onProgress: (@Sendable (Int64, Int64) -> Bool)?) { (self.onData, self.onProgress) = (onData, onProgress) }
}

private let progressCallback: vidar_curl_progress_callback = { raw, total, now, _, _ in
    let context = Unmanaged<Context>.fromOpaque(raw!).takeUnretainedValue()
    guard context.onProgress?(Int64(now), Int64(total)) ?? true else { context.aborted = true; return 1 }
    return 0
}

private let writeCallback: vidar_curl_data_callback = { data, size, count, raw in
    let context = Unmanaged<Context>.fromOpaque(raw!).takeUnretainedValue()
    let n = size * count
    guard let data, context.onData(Data(bytes: data, count: n)) else { context.aborted = true; return 0 }
    return n
}

private let headerCallback: vidar_curl_data_callback = { data, size, count, raw in
    let context = Unmanaged<Context>.fromOpaque(raw!).takeUnretainedValue()
    let n = size * count
    guard let data else { return n }
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    if line.hasPrefix("HTTP/") { context.headers = [:] }  // a new response (after a redirect or 100-continue)
    if let colon = line.firstIndex(of: ":") {
        context.headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return n
}
