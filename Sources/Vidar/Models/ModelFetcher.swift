// Downloads a checkpoint into the cache and keeps it only if its SHA-256 starts with the prefix its name
// carries. The file appears under its final name only once verified, by rename(2): never a partial file.
import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

public struct ModelFetcher {
    public var cacheDirectory: URL
    /// Called with (bytes received, bytes expected or -1), from URLSession's queue.
    public var progress: (@Sendable (Int64, Int64) -> Void)?
    public var timeout: TimeInterval = 60

    public init(cacheDirectory: URL = ModelRegistry.cacheDirectory(), progress: (@Sendable (Int64, Int64) -> Void)? = nil) {
        self.cacheDirectory = cacheDirectory
        self.progress = progress
    }

    /// `spec` is a registered name (resolved against `baseURL`) or a URL whose file name carries a hash prefix.
    /// Returns the verified file's path; an already verified cached copy is reused.
    public func fetch(_ spec: String, baseURL: String = ModelRegistry.torchvisionBaseURL) throws -> String {
        let url: URL
        if let model = ModelRegistry.model(named: spec) {
            guard let u = URL(string: (baseURL.hasSuffix("/") ? baseURL : baseURL + "/") + model.fileName) else {
                throw VidarError(.invalidRequest, "\(baseURL): not a valid base URL")
            }
            url = u
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
            throw VidarError(.ioFailed, "\(temp.path): cannot read the downloaded file back")
        }
        guard digest.hasPrefix(expected) else {
            throw VidarError(.invalidData, "\(url.absoluteString): SHA-256 \(digest.prefix(16))… does not start with \(expected) as its name says; download discarded")
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

/// Streams the response body straight to disk so memory stays flat for a 127 MB checkpoint. URLSession calls
/// it on its own queue while `download` waits on `done`: all mutable state is behind one Mutex.
private final class DownloadDelegate: NSObject, URLSessionDataDelegate, Sendable {
    let file: URL
    let progress: (@Sendable (Int64, Int64) -> Void)?
    let done = DispatchSemaphore(value: 0)

    private struct State {
        var handle: FileHandle?
        var received: Int64 = 0
        var expected: Int64 = -1
        var failure: VidarError?
        var finished = false
    }
    private let state = Mutex(State())

    var receivedSoFar: Int64 { state.withLock { $0.received } }
    var failure: VidarError? { state.withLock { $0.failure } }

    init(file: URL, progress: (@Sendable (Int64, Int64) -> Void)?) {
        self.file = file
        self.progress = progress
    }

    /// Records the first failure and signals completion once, whichever callback gets there first (a cancelled
    /// task may never complete on Linux).
    private func finish(_ failure: VidarError? = nil) {
        state.withLock { s in
            if s.failure == nil { s.failure = failure }
            guard !s.finished else { return }
            s.finished = true
            try? s.handle?.close()
            done.signal()
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let url = response.url?.absoluteString ?? "download"
        if let http = response as? HTTPURLResponse, http.statusCode != 200 {
            completionHandler(.cancel)
            finish(VidarError(.unavailable, "\(url): server answered HTTP \(http.statusCode)"))
            return
        }
        guard FileManager.default.createFile(atPath: file.path, contents: nil),
              let h = FileHandle(forWritingAtPath: file.path) else {
            completionHandler(.cancel)
            finish(VidarError(.cannotCreate, "\(file.path): cannot create the download file"))
            return
        }
        state.withLock { $0.handle = h; $0.expected = response.expectedContentLength }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let written: Result<(Int64, Int64), any Error> = state.withLock { s in
            Result {
                try s.handle?.write(contentsOf: data)
                s.received += Int64(data.count)
                return (s.received, s.expected)
            }
        }
        switch written {
        case .success(let (received, expected)):
            progress?(received, expected)
        case .failure(let error):
            dataTask.cancel()
            finish(VidarError(.ioFailed, "\(file.path): write failed: \(error.localizedDescription)"))
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let url = task.originalRequest?.url?.absoluteString ?? "download"
        let (received, expected) = state.withLock { ($0.received, $0.expected) }
        if let error {
            finish(VidarError(.unavailable, "\(url): \(error.localizedDescription)"))
        } else if expected >= 0, received != expected {
            finish(VidarError(.unavailable, "\(url): connection closed after \(received) of \(expected) bytes"))
        } else {
            finish()
        }
    }
}
