// Containers damaged in the ways real files are (found by flipping bytes of the test videos' headers): each says
// what FFmpeg found, on one line, and a timestamp jump costs no more than the frames the file really holds.
import Foundation
import Testing
import TestSupport
import Vidar

@Suite(.serialized) struct DamagedContainerTests {
    /// h264.mp4 with the bytes `offset` bytes after box `box`'s type (its first one after box `after`) replaced by `value`.
    static func patched(_ box: String, after: String = "moov", at offset: Int, _ value: [UInt8], in dir: URL, name: String) throws -> String {
        var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try CLI.fixture("videos/h264.mp4"))))
        func find(_ tag: String, from: Int) -> Int? { (from..<(data.count - 4)).first { Array(data[$0..<$0 + 4]) == Array(tag.utf8) } }
        let parent = try #require(find(after, from: 0), "no \(after) box")
        let at = try #require(find(box, from: parent), "no \(box) box")
        data.replaceSubrange(at + 4 + offset..<at + 4 + offset + value.count, with: value)
        let out = dir.appendingPathComponent(name)
        try Data(data).write(to: out)
        return out.path
    }

    @Test func ffmpegsOwnWordsForADamagedHeaderAndAMisplacedChunk() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // stsc's first chunk made huge: FFmpeg logs the contradiction, then "error reading header" (INVALIDDATA).
        let stsc = try Self.patched("stsc", at: 8, [0x10, 0, 0, 0], in: dir, name: "stsc.mp4")
        expectFailure(try CLI.run(["probe", stsc]), .dataError, mentioning: "stsc.mp4", "header is damaged): stream 0, contradictionary STSC and STCO")
        // stco's first chunk offset moved past the end: no frame, and FFmpeg says where.
        let stco = try Self.patched("stco", at: 8, [0x10, 0, 0, 0], in: dir, name: "stco.mp4")
        expectFailure(try CLI.run(["probe", "--count", stco]), .dataError, mentioning: "stco.mp4", "no decodable video frame (truncated or corrupt data?): stream 0, offset 0x")
        #expect(try CLI.run(["probe", "--count", stco]).stderr.contains("partial file"))
    }

    @Test func aFourCCWithControlBytesIsEscaped() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The sample entry's codec tag (avc1 → a\0c\x1b) inside stsd: an unknown codec whose tag is not text.
        let path = try Self.patched("avc1", after: "stsd", at: -4, [0x61, 0x00, 0x63, 0x1b], in: dir, name: "tag.mp4")
        let r = try CLI.run(["probe", path])
        expectFailure(r, .dataError, mentioning: "tag.mp4", #"(FourCC a\x00c\x1b)"#)
        #expect(!r.stderr.unicodeScalars.contains { $0.properties.generalCategory == .control && $0 != "\n" }, "\(r.stderr.debugDescription)")
    }

    /// Two 1-second MPEG-TS recordings joined, the second stamped 50,000 s later (`-output_ts_offset`): 100 KB
    /// that used to be labelled as 50,000 s of one repeated frame (47,000 clips, hours of work).
    static func joinedRecordings(in dir: URL) throws -> String {
        let out = dir.appendingPathComponent("joined.ts").path
        let script = """
            set -e; cd '\(dir.path)'
            ffmpeg -v error -y -f lavfi -i testsrc2=size=160x120:rate=25 -t 1 -c:v libx264 -preset ultrafast a.ts
            ffmpeg -v error -y -f lavfi -i testsrc2=size=160x120:rate=25 -t 1 -c:v libx264 -preset ultrafast -output_ts_offset 50000 b.ts
            cat a.ts b.ts > '\(out)'
            """
        let r = try runProcess("/bin/sh", ["-c", script])
        try #require(r.status == 0, "\(r.stderr)")
        return out
    }

    @Test func aTimestampJumpEndsTheFileWithAWarningInsteadOfLabellingTheGap() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = try Self.joinedRecordings(in: dir)
        let out = dir.appendingPathComponent("joined.json").path
        let started = Date()
        let r = try CLI.run(["label", "--quiet", "-o", out, video])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Date().timeIntervalSince(started) < 30, "bounded by the frames the file holds")
        let timeline = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as! [String: Any]
        let warnings = timeline["warnings"] as! [[String: Any]]
        let jump = try #require(warnings.first { $0["code"] as? String == "timestamp_jump" }, "\(warnings)")
        #expect((jump["message"] as! String).contains("jump from 0.96 s to 50000.00 s"), "\(jump)")
        #expect(!warnings.contains { $0["code"] as? String == "ended_early" }, "one warning for one cause: \(warnings)")
        let segments = timeline["segments"] as! [[String: Any]]
        #expect(segments.allSatisfy { ($0["end"] as! Double) <= 1.01 }, "nothing is labelled past the jump: \(segments)")
    }

    /// Live, the same jump re-anchors the stream: its frames go on right after the last one.
    @Test func aTimestampJumpInAWatchedStreamGoesOn() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let video = try Self.joinedRecordings(in: dir)
        let started = Date()
        // A Kinetics-style model with no background class and thresholds 0, so the test pattern makes a segment
        // whose end shows where the stream's clock went (the bundled model rightly sees nobody acting in it).
        let r = try CLI.run(["watch", "--no-realtime", "--model", try CLI.fixture("tiny.pth"), "--threshold", "0", "--exit-threshold", "0", video])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Date().timeIntervalSince(started) < 30)
        let events = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let ends = events.filter { $0["event"] as? String == "segment_end" }.compactMap { $0["end"] as? Double }
        #expect(!ends.isEmpty, "\(r.stdout)")
        #expect(ends.allSatisfy { $0 < 10 }, "both seconds of video, and no 50,000 s gap: \(ends)")
        let stats = try #require(events.last { $0["event"] as? String == "stats" })
        #expect(stats["frames_decoded"] as? Int == 50, "\(stats)")
    }
}
