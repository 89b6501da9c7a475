// `vidar probe` as a user runs it: JSON on stdout, one-line errors with documented exit codes.
import Foundation
import Testing
import TestSupport
import Vidar

@Suite(.serialized) struct ProbeCLITests {
    static func video(_ name: String) throws -> String { try TestFixtures.path("videos/\(name)") }

    static func json(_ r: ProcessResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    @Test func probeDescribesTheStream() throws {
        let r = try CLI.run(["probe", try Self.video("rot90.mp4")])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try Self.json(r)
        #expect(j["codec"] as? String == "h264")
        #expect(j["width"] as? Int == 240 && j["height"] as? Int == 320)
        #expect(j["rotation"] as? Int == 270)
        #expect(j["frame_rate"] as? Double == 25)
        #expect(j["duration"] as? Double == 3)
        #expect(j["frames_decoded"] == nil)
    }

    @Test func countDecodesEverythingAndCountsClips() throws {
        let r = try CLI.run(["probe", "--count", try Self.video("h264.mp4")])
        let j = try Self.json(r)
        #expect(j["frames_decoded"] as? Int == 75)
        #expect(j["corrupt_frames_skipped"] as? Int == 0)
        // 3 s at 15 fps = 45 sampled frames → two 16-frame clips and the 13-frame tail padded into a third
        #expect(j["clips"] as? Int == 3 && j["padded_clips"] as? Int == 1 && j["shorter_than_one_clip"] as? Bool == false)
        let overlap = try Self.json(try CLI.run(["probe", "--count", "--stride", "8", try Self.video("h264.mp4")]))
        #expect(overlap["clips"] as? Int == 5)
        let short = try Self.json(try CLI.run(["probe", "--count", try Self.video("short.mp4")]))
        #expect(short["clips"] as? Int == 1 && short["shorter_than_one_clip"] as? Bool == true)
        let broken = try Self.json(try CLI.run(["probe", "--count", try Self.video("corrupt_frames.avi")]))
        #expect(broken["corrupt_frames_skipped"] as? Int == 3)
    }

    @Test func badInputsGetOneLineAndTheirExitCode() throws {
        for (name, code, reason) in [("zero_bytes.mp4", ExitCode.dataError, "empty file"),
                                     ("not_media.mp4", .dataError, "not a media file"),
                                     ("audio_only.m4a", .dataError, "no video stream"),
                                     ("unknown_codec.avi", .dataError, "unsupported video codec")] {
            let path = try Self.video(name)
            expectFailure(try CLI.run(["probe", path]), code, mentioning: path, reason)
        }
        let truncated = try Self.video("truncated_header.mp4")
        expectFailure(try CLI.run(["probe", "--count", truncated]), .dataError, mentioning: truncated, "no decodable video frame")
        expectFailure(try CLI.run(["probe", "/nonexistent/clip.mp4"]), .noInput, mentioning: "/nonexistent/clip.mp4", "no such file")
        expectFailure(try CLI.run(["probe", NSTemporaryDirectory()]), .noInput, mentioning: NSTemporaryDirectory(), "is a directory")
    }

    /// Root reads everything, so the check runs vidar as `nobody` on a root-only file.
    @Test func unreadableFilesSayPermissionDenied() throws {
        let (dir, file) = try CLI.rootOwnedDirectory(copying: "videos/h264.mp4", as: "secret.mp4", mode: 0o600)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.runAsNobody(["probe", file])
        expectFailure(r, .noInput, mentioning: file, "permission denied")
    }

    @Test func aDeadNetworkSourceTimesOut() throws {
        let server = try FeedServer()
        defer { server.stop() }
        let url = "tcp://127.0.0.1:\(server.port)"
        let r = try CLI.run(["probe", "--input-format", "mpegts", "--timeout", "1", url])
        expectFailure(r, .unavailable, mentioning: url, "timed out")
    }

    @Test func readsOverHTTPFromALoopbackServer() throws {
        let server = try LoopbackHTTPServer(directory: URL(fileURLWithPath: try Self.video("h264.mp4")).deletingLastPathComponent())
        defer { server.stop() }
        let r = try CLI.run(["probe", "--count", server.baseURL + "h264.mp4"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Self.json(r)["frames_decoded"] as? Int == 75)
        let missing = server.baseURL + "missing.mp4"
        expectFailure(try CLI.run(["probe", missing]), .unavailable, mentioning: missing, "404")
    }

    @Test func readsFromAPipe() throws {
        let r = try runProcess("/bin/sh", ["-c", "cat '\(try Self.video("start_offset.ts"))' | '\(CLI.binary)' probe --count pipe:0"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try Self.json(r)
        #expect(j["container"] as? String == "mpegts" && j["frames_decoded"] as? Int == 50)
    }

    @Test func usageErrors() throws {
        for args in [["probe"], ["probe", "a", "b"], ["probe", "--option", "novalue", "x"], ["probe", "--timeout", "0", "x"]] {
            let r = try CLI.run(args)
            #expect(r.status == 64, "\(args): \(r.stderr)")
        }
    }
}
