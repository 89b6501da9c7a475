// Downloads a checkpoint into the cache and keeps it only if its SHA-256 starts with the prefix its name
// carries. The file appears under its final name only once verified, by rename(2): never a partial file. The
// body is bounded (a registered model's size, else `maxBytes`), hashed as it arrives, and the partial file is
// removed on every failure and on cancellation (a stopping signal).
import Foundation
import Synchronization
import VidarCurl

public struct ModelFetcher {
    public var cacheDirectory: URL
    /// Called with (bytes received, bytes expected or -1), from URLSession's queue.
    public var progress: (@Sendable (Int64, Int64) -> Void)?
    public var timeout: TimeInterval = 60
    /// The most a download may bring for a URL that is not a registered model (whose own bound applies).
    public var maxBytes: Int64 = 2 << 30
    /// Told when the server redirects to another host (the download follows it).
    public var notice: (@Sendable (String) -> Void)?
    /// Set from another thread (a signal handler) to abandon the download; its partial file is removed.
    public let cancellation = FetchCancellation()

    public init(cacheDirectory: URL = ModelRegistry.cacheDirectory(), progress: (@Sendable (Int64, Int64) -> Void)? = nil) {
        self.cacheDirectory = cacheDirectory
        self.progress = progress
    }

    /// `spec` is a registered name (resolved against `baseURL`) or a URL whose file name carries a hash prefix.
    /// Returns the verified file's path; an already verified cached copy is reused.
    public func fetch(_ spec: String, baseURL: String = ModelRegistry.torchvisionBaseURL) throws -> String {
        let url: URL
        var limit = maxBytes
        if let model = ModelRegistry.model(named: spec) {
            guard let u = URL(string: (baseURL.hasSuffix("/") ? baseURL : baseURL + "/") + model.fileName) else {
                throw VidarError(.invalidRequest, "\(baseURL): not a valid base URL")
            }
            url = u
            limit = Int64(model.maxBytes)
        } else if let u = URL(string: spec), let scheme = u.scheme, ["http", "https"].contains(scheme) {
            url = u
        } else {
            let names = ModelRegistry.models.map(\.name).joined(separator: ", ")
            throw VidarError(.invalidRequest, "\(spec): not a registered model (\(names)) nor an http(s) URL")
        }
        let fileName = url.lastPathComponent
        guard let expected = ModelRegistry.hashPrefix(ofFileName: fileName) else {
            throw VidarError(.invalidRequest, "\(url.absoluteString): file name '\(fileName)' carries no SHA-256 prefix (name-<hex>.ext), so the download cannot be verified")
        }
        do {
            try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        } catch {
            throw VidarError(.cannotCreate, "\(cacheDirectory.path): cannot create the model cache directory (\(FileErrors.describe(error)))")
        }
        let destination = cacheDirectory.appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: destination.path),
           (try? SHA256.hex(ofFile: destination.path))?.hasPrefix(expected) == true {
            return destination.path
        }
        let temp = AtomicFile.temporarySibling(of: destination)
        defer { try? FileManager.default.removeItem(at: temp) }
        let digest = try download(url, to: temp, limit: limit)
        guard digest.hasPrefix(expected) else {
            throw VidarError(.invalidData, "\(url.absoluteString): SHA-256 \(digest.prefix(16))… does not start with \(expected) as its name says; download discarded")
        }
        try AtomicFile.commit(temp, to: destination)
        return destination.path
    }

    /// Streams `url` into `file` through libcurl, hashing as it writes: the write is the transfer's pace, so memory
    /// stays flat however fast the server sends. Returns the body's SHA-256 (hex).
    private func download(_ url: URL, to file: URL, limit: Int64) throws -> String {
        guard FileManager.default.createFile(atPath: file.path, contents: nil), let handle = FileHandle(forWritingAtPath: file.path) else {
            throw VidarError(.cannotCreate, "\(file.path): cannot create the download file (\(FileErrors.describe(errno)))")
        }
        defer { try? handle.close() }
        let address = url.absoluteString
        func tooLarge() -> VidarError {
            VidarError(.invalidData, "\(address): the download is larger than its limit of \(limit) bytes (--max-size); nothing was kept")
        }
        var hash = SHA256()
        var received: Int64 = 0
        var writeFailure: VidarError?
        var request = Curl.Request(url: address)
        request.followRedirects = true
        request.connectTimeout = min(timeout, 30)
        request.stallTimeout = timeout
        request.maxBytes = limit
        let (cancellation, progress) = (self.cancellation, self.progress)
        request.onProgress = { now, total in
            if now > 0 { progress?(now, total > 0 ? total : -1) }
            return !cancellation.isCancelled
        }
        let response: CurlResponse
        do {
            response = try Curl.perform(request) { data in
                guard received + Int64(data.count) <= limit else { writeFailure = tooLarge(); return false }
                do { try handle.write(contentsOf: data) } catch {
                    writeFailure = VidarError(.ioFailed, "\(file.path): write failed: \(FileErrors.describe(error))")
                    return false
                }
                hash.update(data)
                received += Int64(data.count)
                return true
            }
        } catch let e as CurlError {
            if let writeFailure { throw writeFailure }
            switch e.kind {
            case .aborted: throw VidarError(.ioFailed, "\(address): download interrupted; nothing was kept")
            case .tooLarge: throw tooLarge()
            case .timeout: throw VidarError(.unavailable, "\(address): no data for \(Int(timeout)) s; download abandoned")
            case .transport: throw VidarError(.unavailable, "\(address): \(e.description)")
            }
        }
        guard response.status == 200 else { throw VidarError(.unavailable, "\(address): server answered HTTP \(response.status)") }
        if let to = URL(string: response.effectiveURL)?.host, to != url.host {
            notice?("redirected to another host: \(Redaction.redact(response.effectiveURL))")
        }
        return hash.finalize()
    }
}

/// Abandons a download from any thread.
public final class FetchCancellation: Sendable {
    private let flag = Atomic(false)
    public init() {}
    public func cancel() { flag.store(true, ordering: .releasing) }
    public var isCancelled: Bool { flag.load(ordering: .acquiring) }
}
