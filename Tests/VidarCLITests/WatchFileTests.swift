// `vidar watch` on files and pipes, and its start-up errors: a file plays in real time and ends, UTC stamps are
// arrival times, errors that retrying cannot mend end at once with FFmpeg's reason, status lines on stderr.
import Foundation
import Testing
import TestSupport
import Vidar

@Suite(.serialized) struct WatchFileTests {
    static func watch(_ extra: [String], timeout: TimeInterval = 60) throws -> (ProcessResult, [[String: Any]], Double) {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("events.jsonl").path
        let t0 = Date()
        let r = try runProcess(CLI.binary, ["watch", "--model", try TestFixtures.path("tiny.pth"), "--threshold", "0.3",
                                            "--min-duration", "0", "-o", out] + extra, timeout: timeout)
        let elapsed = Date().timeIntervalSince(t0)
        let events = FileManager.default.fileExists(atPath: out) ? try Watch.events(out) : []
        if !events.isEmpty { #expect(try Watch.schemaProblems(out).isEmpty) }
        return (r, events, elapsed)
    }

    @Test func aFilePlaysInRealTimeAndEnds() throws {
        // h264.mp4 is 3 s long.
        let (r, events, elapsed) = try Self.watch([try TestFixtures.path("videos/h264.mp4")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(elapsed >= 2.5, "paced to its timestamps: \(elapsed) s")
        #expect(events.first?["event"] as? String == "stream_started")
        #expect(events.first?["vidar_version"] as? String == Installation.version)
        let end = try #require(events.last { $0["event"] as? String == "segment_end" })
        #expect(end["reason"] as? String == "end_of_stream")
        #expect(!events.contains { $0["event"] as? String == "stream_lost" })
        for status in ["connecting to", "connected to", "h264 320×240", "ended"] {
            #expect(r.stderr.contains(status), "\(status) in \(r.stderr)")
        }
    }

    @Test func utcStampsAreArrivalTimesEvenFlatOut() throws {
        let before = Date()
        // Stats every 0.1 s: stamps to check however many clips the drop-oldest ring lets through under load.
        let (r, events, _) = try Self.watch(["--no-realtime", "--quiet", "--stats-interval", "0.1", try TestFixtures.path("videos/bikes.mp4")])
        let after = Date()
        #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
        let parse = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var stamps: [Date] = []
        for e in events {
            for key in ["utc", "start_utc", "end_utc"] { if let s = e[key] as? String { stamps.append(try parse.parse(s)) } }
        }
        #expect(stamps.count > 3)
        // 10 s of video decoded in far less than 10 s: timestamp-derived stamps would land in the future.
        for s in stamps { #expect(s >= before.addingTimeInterval(-1) && s <= after.addingTimeInterval(1), "\(s) outside the run") }
    }

    @Test func loopStartsTheFileOverUntilStopped() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("events.jsonl").path
        let child = try ChildProcess(CLI.binary, ["watch", "--model", try TestFixtures.path("tiny.pth"), "--loop", "--no-realtime", "--quiet",
                                                  "--stats-interval", "0.5", "-o", out, try TestFixtures.path("videos/h264.mp4")])
        // One pass is 3 clips: many more mean it started over.
        #expect(Watch.waitFor(out, seconds: 60) { ($0["event"] as? String == "stats") && (($0["clips"] as? Int ?? 0) >= 10) })
        child.signal(SIGINT)
        #expect(child.wait(timeout: 15) == 0)
        let kinds = try Watch.events(out).compactMap { $0["event"] as? String }
        #expect(!kinds.contains("stream_lost"))
        #expect(try CLI.run(["watch", "--loop", "http://127.0.0.1:1/x.ts"]).status == 64, "--loop is for files")
    }

    @Test func errorsThatRetryingCannotMendEndAtOnce() throws {
        let missing = try TestFixtures.path("videos/h264.mp4").replacingOccurrences(of: "h264", with: "missing")
        let (gone, _, t1) = try Self.watch(["--quiet", missing])
        expectFailure(gone, .noInput, mentioning: missing, "no such file")
        #expect(t1 < 20)

        let server = try LoopbackHTTPServer(directory: try TestFixtures.temporaryDirectory())
        defer { server.stop() }
        let (notFound, _, t2) = try Self.watch(["--quiet", server.baseURL + "absent.ts"])
        expectFailure(notFound, .unavailable, mentioning: "absent.ts", "404")
        #expect(t2 < 20)

        let (unknownHost, _, _) = try Self.watch(["--quiet", "http://host.invalid/cam.ts"])
        expectFailure(unknownHost, .unavailable, mentioning: "host.invalid", "resolve")

        let (badFormat, _, _) = try Self.watch(["--quiet", "--input-format", "nosuchformat", "udp://127.0.0.1:9"])
        expectFailure(badFormat, .usage, mentioning: "udp://127.0.0.1:9", "unknown input format 'nosuchformat'")

        let (badOption, _, _) = try Self.watch(["--quiet", "--input-option", "no_such_option=1", try TestFixtures.path("videos/h264.mp4")])
        expectFailure(badOption, .usage, mentioning: "h264.mp4", "input option 'no_such_option'")
    }
}
