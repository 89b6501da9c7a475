// `vidar watch` against real servers on 127.0.0.1: reconnects across a publisher restart (RTSP relay), an HTTP
// MPEG-TS source, clean shutdown, giving up. Every peer is killed at the end; every wait is bounded.
import Foundation
import Testing
import TestSupport
import Vidar

enum Watch {
    static func events(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// Problems validating every event line against docs/events.schema.json (python3-jsonschema); empty when valid.
    static func schemaProblems(_ path: String) throws -> String {
        let schema = TestFixtures.repositoryRoot.appendingPathComponent("docs/events.schema.json").path
        let r = try runProcess("/usr/bin/python3", ["-c", """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[2]))
            for line in open(sys.argv[1]):
                jsonschema.validate(json.loads(line), schema)
            """, path, schema])
        return r.status == 0 ? "" : r.stderr
    }

    /// Waits until the events file holds an event matching `predicate`, or the deadline passes.
    static func waitFor(_ path: String, seconds: Double, _ predicate: ([String: Any]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let events = try? events(path), events.contains(where: predicate) { return true }
            usleep(200_000)
        }
        return false
    }

    static func args(_ out: String, timeout: Int = 2, _ extra: [String]) throws -> [String] {
        ["watch", "--model", try TestFixtures.path("tiny.pth"), "--threshold", "0.3", "--min-duration", "0", "--timeout", "\(timeout)",
         "--stats-interval", "1", "-o", out] + extra
    }
}

@Suite(.serialized) struct WatchCLITests {
    @Test func reconnectsAcrossAPublisherRestartAndRecordsTheGap() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("events.jsonl").path
        let (relay, clientPort, sourcePort) = try startRTSPRelay()
        defer { stopRTSPRelay(relay) }
        var pub = try publisher(["-f", "rtsp", "rtsp://127.0.0.1:\(sourcePort)/cam"], seconds: 60)
        usleep(1_500_000)
        let watch = try ChildProcess(CLI.binary, try Watch.args(out, ["--input-option", "rtsp_transport=udp", "rtsp://127.0.0.1:\(clientPort)/cam"]))
        defer { watch.signal(SIGKILL); _ = watch.wait(timeout: 5) }
        #expect(Watch.waitFor(out, seconds: 20) { $0["event"] as? String == "segment_start" })

        pub.signal(SIGINT)                                   // the camera goes away…
        _ = pub.wait(timeout: 5)
        #expect(Watch.waitFor(out, seconds: 15) { $0["event"] as? String == "stream_lost" })
        usleep(1_000_000)
        pub = try publisher(["-f", "rtsp", "rtsp://127.0.0.1:\(sourcePort)/cam"], seconds: 60)   // …and comes back
        defer { pub.signal(SIGKILL); _ = pub.wait(timeout: 5) }
        #expect(Watch.waitFor(out, seconds: 30) { $0["event"] as? String == "stream_restored" })
        let firstID = try Watch.events(out).first { $0["event"] as? String == "segment_start" }?["id"] as? String
        #expect(firstID?.hasSuffix("-seg-1") == true, "ids carry the run and stream: \(firstID ?? "none")")
        #expect(Watch.waitFor(out, seconds: 20) { ($0["event"] as? String == "segment_start") && ($0["id"] as? String != firstID) })

        watch.signal(SIGINT)
        #expect(watch.wait(timeout: 15) == 0)
        let events = try Watch.events(out)
        let kinds = events.compactMap { $0["event"] as? String }
        let lost = try #require(events.first { $0["event"] as? String == "stream_lost" })
        let restored = try #require(events.first { $0["event"] as? String == "stream_restored" })
        #expect((restored["gap_seconds"] as? Double ?? 0) > 0.5, "gap \(restored)")
        #expect((restored["time"] as! Double) > (lost["time"] as! Double))
        // The first segment ended at the loss, with one id from start to end; the resumed one ended at shutdown.
        let ends = events.filter { $0["event"] as? String == "segment_end" }
        #expect(ends.first?["id"] as? String == firstID && ends.first?["reason"] as? String == "stream_lost")
        #expect(ends.last?["reason"] as? String == "shutdown")
        #expect(kinds.firstIndex(of: "stream_lost")! < kinds.firstIndex(of: "stream_restored")!)
        #expect(kinds.contains("stats"))
        #expect(events.allSatisfy { $0["schema"] as? String == "vidar.events/1" })
        let problems = try Watch.schemaProblems(out)
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test func watchesHTTPMPEGTSAndShutsDownCleanly() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("events.jsonl").path
        let port = freePort()
        let server = try publisher(["-f", "mpegts", "-listen", "1", "http://127.0.0.1:\(port)"], seconds: 60)
        defer { server.signal(SIGKILL); _ = server.wait(timeout: 5) }
        usleep(500_000)
        let watch = try ChildProcess(CLI.binary, try Watch.args(out, ["--updates", "1", "http://127.0.0.1:\(port)"]))
        defer { watch.signal(SIGKILL); _ = watch.wait(timeout: 5) }
        #expect(Watch.waitFor(out, seconds: 20) { $0["event"] as? String == "segment_update" })
        watch.signal(SIGTERM)
        #expect(watch.wait(timeout: 10) == 0)
        let events = try Watch.events(out)
        let start = try #require(events.first { $0["event"] as? String == "segment_start" })
        let end = try #require(events.last { $0["event"] as? String == "segment_end" })
        #expect(start["id"] as? String == end["id"] as? String && end["reason"] as? String == "shutdown")
        for key in ["start", "end", "start_utc", "end_utc", "label", "score", "peak"] { #expect(end[key] != nil, "\(key)") }
        let stats = try #require(events.last { $0["event"] as? String == "stats" })
        let latency = try #require(stats["latency_ms"] as? [String: Any])
        #expect(latency["p50"] != nil && stats["dropped_clips"] as? Int != nil && stats["decoded_fps"] != nil)
        let problems = try Watch.schemaProblems(out)
        #expect(problems.isEmpty, "\(problems)")
    }

    /// MJPEG over HTTP (multipart) and MPEG-TS through a pipe: a stream that ends is a lost stream.
    @Test func watchesHTTPMJPEGAndPipes() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = freePort()
        let server = try ChildProcess("/usr/bin/ffmpeg", ["-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "60",
                                                          "-c:v", "mjpeg", "-q:v", "5", "-f", "mpjpeg", "-listen", "1", "http://127.0.0.1:\(port)"])
        defer { server.signal(SIGKILL); _ = server.wait(timeout: 5) }
        usleep(500_000)
        let mjpeg = dir.appendingPathComponent("mjpeg.jsonl").path
        let watch = try ChildProcess(CLI.binary, try Watch.args(mjpeg, ["--input-format", "mpjpeg", "http://127.0.0.1:\(port)"]))
        #expect(Watch.waitFor(mjpeg, seconds: 20) { $0["event"] as? String == "segment_start" })
        watch.signal(SIGINT)
        #expect(watch.wait(timeout: 10) == 0)

        // A pipe ends at its writer's EOF: the open segment ends with it, and watch exits 0.
        let piped = dir.appendingPathComponent("pipe.jsonl").path
        let video = try TestFixtures.path("videos/start_offset.ts")
        let r = try runProcess("/bin/sh", ["-c", "cat '\(video)' | '\(CLI.binary)' " + (try Watch.args(piped, ["pipe:0"]))
                                    .map { "'\($0)'" }.joined(separator: " ")], timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let events = try Watch.events(piped)
        let kinds = events.compactMap { $0["event"] as? String }
        #expect(kinds.first == "stream_started" && kinds.contains("segment_start") && !kinds.contains("stream_lost"))
        #expect(events.last { $0["event"] as? String == "segment_end" }?["reason"] as? String == "end_of_stream")
    }

    @Test func stopsPromptlyWhileASourceIsSilent() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("events.jsonl").path
        let server = try FeedServer()
        defer { server.stop() }
        let watch = try ChildProcess(CLI.binary, try Watch.args(out, timeout: 60, ["--input-format", "mpegts", "tcp://127.0.0.1:\(server.port)"]))
        usleep(1_500_000)
        let t0 = Date()
        watch.signal(SIGINT)
        #expect(watch.wait(timeout: 10) == 0)
        #expect(Date().timeIntervalSince(t0) < 5, "the blocking read is interrupted, not waited out")
    }

    /// GNU OpenMP's idle threads spin unless told otherwise, starving decode threads on the same cores; vidar
    /// restarts itself with OMP_WAIT_POLICY=PASSIVE (read once, at load), and leaves a user's own setting alone.
    @Test(arguments: [nil, "active"]) func runsTheNetworkWithPassiveOpenMPThreads(userPolicy: String?) throws {
        try #require(ProcessInfo.processInfo.environment["OMP_WAIT_POLICY"] == nil && ProcessInfo.processInfo.environment["GOMP_SPINCOUNT"] == nil,
                     "run the tests without OMP_WAIT_POLICY and GOMP_SPINCOUNT set: this test checks what vidar sets by itself")
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try FeedServer()
        defer { server.stop() }
        let watch = try ChildProcess(CLI.binary, try Watch.args(dir.appendingPathComponent("events.jsonl").path, timeout: 60,
                                                                ["--input-format", "mpegts", "tcp://127.0.0.1:\(server.port)"]),
                                     environment: userPolicy.map { ["OMP_WAIT_POLICY": $0] })
        // Connected to its camera: past the restart, with the model loaded.
        let deadline = Date().addingTimeInterval(30)
        while server.connections == 0 && watch.poll() == nil && Date() < deadline { usleep(50_000) }
        try #require(server.connections > 0, "vidar watch never connected to its source")
        let environ = try #require(FileManager.default.contents(atPath: "/proc/\(watch.pid)/environ"), "the pid spawned is still vidar's")
        let variables = String(decoding: environ, as: UTF8.self).split(separator: "\0").map(String.init)
        #expect(variables.filter { $0.hasPrefix("OMP_WAIT_POLICY=") } == ["OMP_WAIT_POLICY=\(userPolicy ?? "PASSIVE")"], "\(variables.filter { $0.contains("OMP") })")
        watch.signal(SIGINT)
        #expect(watch.wait(timeout: 10) == 0)
    }

    @Test func givesUpAfterMaxRetries() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("events.jsonl").path
        let r = try CLI.run(try Watch.args(out, ["--max-retries", "2", "http://127.0.0.1:\(freePort())/none.ts"]))
        #expect(r.status == ExitCode.unavailable.rawValue, "\(r.stderr)")
        let lost = try Watch.events(out).filter { $0["event"] as? String == "stream_lost" }
        #expect(lost.count == 2 && lost.last?["giving_up"] as? Bool == true)
    }
}
