// Downloads a checkpoint into the cache and keeps it only if its SHA-256 starts with the prefix its name
// carries. The file appears under its final name only once verified, by rename(2): never a partial file.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

public struct ModelFetcher {
    public var cacheDirectory: URL
    /// Called with (bytes received, bytes expected or -1).
    public var progress: ((Int64, Int64) -> Void)?
    public var timeout: TimeInterval = 60

    public init(cacheDirectory: URL = ModelRegistry.cacheDirectory(), progress: ((Int64, Int64) -> Void)? = nil) {
        self.cacheDirectory = cacheDirectory
        self.progress = progress
    }

    /// `spec` is a registered name (resolved against `baseURL`) or a URL whose file name carries a hash prefix.
    /// Returns the verified file's path; an already verified cached copy is reused.
    public func fetch(_ spec: String, baseURL: String = ModelRegistry.torchvisionBaseURL) throws -> String {
        let url: URL
        if let model = ModelRegistry.model(named: spec) {
            guard let u = URL(string: (baseURL.hasSuffix("/") ? baseURL : baseURL + "/") + model.fileName) else {
                throw VidarError(.usage, "\(baseURL): not a valid base URL")
            }
            url = u
        } else if let u = URL(string: spec), let scheme = u.scheme, ["http", "https"].contains(scheme) {
            url = u
        } else {
            let names = ModelRegistry.models.map(\.name).joined(separator: ", ")
            throw VidarError(.usage, "\(spec): not a registered model (\(names)) nor an http(s) URL")
        }
        let fileName = url.lastPathComponent
        guard let expected = ModelRegistry.hashPrefix(ofFileName: fileName) else {
            throw VidarError(.usage, "\(url.absoluteString): file name '\(fileName)' carries no SHA-256 prefix (name-<hex>.ext), so the download cannot be verified")
        }
        do {
            try FileManager.default.createDirectory(at: cacheDirectory, withIntermediateDirectories: true)
        } catch {
            throw VidarError(.cannotCreate, "\(cacheDirectory.path): cannot create the model cache directory")
        }
        let destination = cacheDirectory.appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: destination.path),
           (try? SHA256.hex(ofFile: destination.path))?.hasPrefix(expected) == true {
            return destination.path
        }
        let temp = AtomicFile.temporarySibling(of: destination)
        defer { try? FileManager.default.removeItem(at: temp) }
        try download(url, to: temp)
        let digest: String
        do { digest = try SHA256.hex(ofFile: temp.path) } catch {
            throw VidarError(.ioError, "\(temp.path): cannot read the downloaded file back")
        }
        guard digest.hasPrefix(expected) else {
            throw VidarError(.dataError, "\(url.absoluteString): SHA-256 \(digest.prefix(16))… does not start with \(expected) as its name says; download discarded")
        }
        try AtomicFile.commit(temp, to: destination)
        return destination.path
    }

    private func download(_ url: URL, to file: URL) throws {
        let delegate = DownloadDelegate(file: file, progress: progress)
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        let session = URLSession(configuration: config, delegate: delegate, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let task = session.dataTask(with: url)
        task.resume()
        // Bounded: a server that stops sending for `timeout` seconds ends the download.
        var seen: Int64 = -1
        while delegate.done.wait(timeout: .now() + timeout) == .timedOut {
            let now = delegate.receivedSoFar
            if now == seen {
                task.cancel()
                throw VidarError(.unavailable, "\(url.absoluteString): no data for \(Int(timeout)) s; download abandoned")
            }
            seen = now
        }
        if let failure = delegate.failure { throw failure }
    }
}

/// Streams the response body straight to disk so memory stays flat for a 127 MB checkpoint.
private final class DownloadDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let file: URL
    let progress: ((Int64, Int64) -> Void)?
    let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var finished = false
    var handle: FileHandle?
    var received: Int64 = 0
    var receivedSoFar: Int64 { lock.withLock { received } }

    /// Signals completion once, whichever callback gets there first (a cancelled task may never complete on Linux).
    func finish() {
        lock.withLock {
            guard !finished else { return }
            finished = true
            try? handle?.close()
            done.signal()
        }
    }
    var expected: Int64 = -1
    var failure: VidarError?

    init(file: URL, progress: ((Int64, Int64) -> Void)?) {
        self.file = file
        self.progress = progress
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let url = response.url?.absoluteString ?? "download"
        if let http = response as? HTTPURLResponse, http.statusCode != 200 {
            failure = VidarError(.unavailable, "\(url): server answered HTTP \(http.statusCode)")
            completionHandler(.cancel)
            finish()
            return
        }
        guard FileManager.default.createFile(atPath: file.path, contents: nil),
              let h = FileHandle(forWritingAtPath: file.path) else {
            failure = VidarError(.cannotCreate, "\(file.path): cannot create the download file")
            completionHandler(.cancel)
            finish()
            return
        }
        handle = h
        expected = response.expectedContentLength
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        do { try handle?.write(contentsOf: data) } catch {
            failure = VidarError(.ioError, "\(file.path): write failed: \(error.localizedDescription)")
            dataTask.cancel()
            finish()
            return
        }
        lock.withLock { received += Int64(data.count) }
        progress?(received, expected)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if failure == nil, let error {
            failure = VidarError(.unavailable, "\(task.originalRequest?.url?.absoluteString ?? "download"): \(error.localizedDescription)")
        } else if failure == nil, expected >= 0, received != expected {
            failure = VidarError(.unavailable, "\(task.originalRequest?.url?.absoluteString ?? "download"): connection closed after \(received) of \(expected) bytes")
        }
        finish()
    }
}
