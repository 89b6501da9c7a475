// A `vidar serve` started by a test: its configuration in a scratch directory, its port read from its log, its
// events from a file sink, its API reached with curl.
import Foundation
import Testing
import TestSupport

final class Served: Sendable {
    let dir: URL
    let process: ChildProcess
    let port: Int
    /// Everything serve wrote on stderr so far (read by a thread of its own, so the pipe never fills).
    private let log: PipeLog

    var configPath: String { dir.appendingPathComponent("vidar.yaml").path }
    var eventsPath: String { dir.appendingPathComponent("events.jsonl").path }
    var stderr: String { log.contents }

    /// Starts serve on `yaml` (a file sink and a free loopback port are added unless given).
    init(_ yaml: String, environment: [String: String] = [:], extra: [String] = []) throws {
        dir = try TestFixtures.temporaryDirectory()
        let full = (yaml.contains("listen:") ? "" : "listen: 127.0.0.1:0\n")
            + (yaml.contains("events:") ? "" : "events: [\"file:\(dir.appendingPathComponent("events.jsonl").path)\"]\n") + yaml
        try full.write(toFile: dir.appendingPathComponent("vidar.yaml").path, atomically: true, encoding: .utf8)
        process = try ChildProcess(CLI.binary, ["serve", "--config", dir.appendingPathComponent("vidar.yaml").path] + extra,
                                   environment: environment)
        let text = process.stderr.read(until: { $0.contains(/on http:\/\/127\.0\.0\.1:\d+/) }, seconds: 60)
        guard let found = text.firstMatch(of: /on http:\/\/127\.0\.0\.1:(\d+)/).flatMap({ Int($0.1) }) else {
            throw ProcessTimeout(description: "serve did not start: \(text)")
        }
        port = found
        log = process.keepDraining(stderrSoFar: text).stderr
    }

    deinit {
        process.signal(SIGKILL)
        _ = process.wait(timeout: 5)
        try? FileManager.default.removeItem(at: dir)
    }

    /// (status, body) of a request through curl.
    func request(_ method: String, _ path: String, body: String? = nil, token: String? = nil) throws -> (Int, String) {
        var args = ["-s", "-m", "20", "-X", method, "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"]
        if let token { args += ["-H", "Authorization: Bearer \(token)"] }
        if let body { args += ["-H", "Content-Type: application/json", "--data-binary", body] }
        let r = try runProcess("/usr/bin/curl", args, timeout: 30)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    func json(_ path: String) throws -> [String: Any] {
        let (status, body) = try request("GET", path)
        return try #require((try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]), "\(path) → \(status) \(body)")
    }

    /// The API's view of one stream.
    func stream(_ name: String) throws -> [String: Any]? {
        (try json("/api/streams")["streams"] as? [[String: Any]])?.first { $0["name"] as? String == name }
    }

    var events: [[String: Any]] { (try? Watch.events(eventsPath)) ?? [] }

    /// Waits until `predicate` holds (checked twice a second).
    func wait(_ seconds: Double, _ what: String, _ predicate: () throws -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? predicate()) == true { return true }
            usleep(500_000)
        }
        Issue.record("waited \(seconds) s for \(what)")
        return false
    }

    func state(_ name: String) -> String? { (try? stream(name))?.flatMap { $0["state"] as? String } }

    /// SIGTERM and the exit status.
    func terminate() -> Int32? {
        process.signal(SIGTERM)
        return process.wait(timeout: 30)
    }
}

/// An HTTP MPEG-TS camera: ffmpeg publishing in real time to the first client that connects.
func httpCamera(port: Int, seconds: Int = 120) throws -> ChildProcess {
    try publisher(["-f", "mpegts", "-listen", "1", "http://127.0.0.1:\(port)"], seconds: seconds)
}
