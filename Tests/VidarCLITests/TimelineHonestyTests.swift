// Timelines say what they could not see: truncated and half-corrupt files are flagged, the tail is labelled and
// flagged, cover art is not video, subtitle files stay valid whatever the label names, the bundled model says
// what it knows.
import Foundation
import Testing
import TestSupport
import Vidar

@Suite(.serialized) struct TimelineHonestyTests {
    static func timeline(_ args: [String]) throws -> [String: Any] {
        let r = try CLI.run(["label", "--quiet"] + args)
        #expect(r.status == 0, "\(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    static func warningCodes(_ t: [String: Any]) -> [String] {
        (t["warnings"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
    }

    @Test func truncatedAndCorruptFilesAreFlagged() throws {
        let model = try TestFixtures.path("tiny.pth")
        // truncated.mp4: the first half of a 3 s file (Tests/Fixtures/make_videos.py).
        let truncated = try Self.timeline(["--model", model, try TestFixtures.path("videos/truncated.mp4")])
        #expect(Self.warningCodes(truncated).contains("ended_early"))
        #expect(truncated["complete"] as? Bool == true, "what could be decoded was labelled")
        // corrupt_middle.ts: 7 of 50 frames damaged.
        let corrupt = try Self.timeline(["--model", model, try TestFixtures.path("videos/corrupt_middle.ts")])
        #expect(Self.warningCodes(corrupt).contains("corrupt_frames"))
        let clean = try Self.timeline(["--model", model, try TestFixtures.path("videos/bikes.mp4")])
        #expect(!Self.warningCodes(clean).contains("ended_early") && !Self.warningCodes(clean).contains("corrupt_frames"))
        // The summary on stderr counts them.
        let r = try CLI.run(["label", "--model", model, "-o", "/dev/null", try TestFixtures.path("videos/truncated.mp4")])
        #expect(r.stderr.contains("warning:") && r.stderrLines.last?.hasSuffix("1 labelled, 0 failed, 3 warnings") == true, "\(r.stderr)")
    }

    @Test func theWholeVideoIsCoveredUpToItsEnd() throws {
        // bikes.mp4: 10 s at 25 fps; 150 frames at 15 fps = 9 full clips and 6 frames of tail.
        let t = try Self.timeline(["--model", try TestFixtures.path("tiny.pth"), "--min-duration", "0",
                                   try TestFixtures.path("videos/bikes.mp4")])
        let segments = try #require(t["segments"] as? [[String: Any]])
        #expect(segments.first?["start"] as? Double == 0)
        #expect(abs((segments.last?["end"] as? Double ?? 0) - 10) < 1e-9, "to the video's end: \(segments.last ?? [:])")
        #expect((t["stats"] as? [String: Any])?["clips"] as? Int == 10)
        #expect(Self.warningCodes(t) == ["padded_tail"])
    }

    @Test func coverArtIsNotVideo() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let song = dir.appendingPathComponent("song.m4a").path
        let made = try runProcess("/usr/bin/ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-f", "lavfi",
                                                      "-i", "testsrc2=size=64x64:duration=0.04", "-frames:v", "1", "-map", "0", "-map", "1", "-c:a", "aac",
                                                      "-c:v", "png", "-disposition:v", "attached_pic", song])
        #expect(made.status == 0, "\(made.stderr)")
        let r = try CLI.run(["label", "--model", try TestFixtures.path("tiny.pth"), song])
        #expect(r.status == ExitCode.dataError.rawValue)
        #expect(r.stderr.contains("song.m4a: no video stream (only a cover picture"), "\(r.stderr)")
    }

    @Test func subtitleFilesStayValidWhateverTheLabelsSay() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The tiny model has 5 classes; every name carries something a cue cannot hold verbatim.
        let labels = dir.appendingPathComponent("labels.txt")
        try "a --> b\n<b>bold</b>\nfish & chips\n1 < 2 > 0\nplain\n".write(to: labels, atomically: true, encoding: .utf8)
        for format in ["vtt", "srt"] {
            let out = dir.appendingPathComponent("t.\(format)").path
            let r = try CLI.run(["label", "--model", try TestFixtures.path("tiny.pth"), "--labels", labels.path, "--threshold", "0.2",
                                 "--exit-threshold", "0.1", "--min-duration", "0", "--quiet", "-o", out, try TestFixtures.path("videos/bikes.mp4")])
            #expect(r.status == 0, "\(r.stderr)")
            let text = try String(contentsOfFile: out, encoding: .utf8)
            let cueLines = text.split(separator: "\n").filter { !$0.contains(" --> ") && $0 != "WEBVTT" && Int($0) == nil }
            #expect(!cueLines.isEmpty)
            for line in cueLines {
                #expect(!line.contains("-->") && !line.contains("<") && !line.replacingOccurrences(of: "&amp;", with: "")
                    .replacingOccurrences(of: "&lt;", with: "").replacingOccurrences(of: "&gt;", with: "").contains("&"), "\(line)")
            }
            // FFmpeg's own subtitle demuxers read every cue back.
            let probe = try runProcess("/usr/bin/ffprobe", ["-v", "error", "-show_entries", "packet=pts", "-of", "csv=p=0", out])
            #expect(probe.status == 0 && probe.stderr.isEmpty, "\(format): \(probe.stderr)")
            #expect(probe.stdout.split(separator: "\n").count == text.components(separatedBy: " --> ").count - 1)
        }
    }

    @Test func theBundledModelSaysWhatItKnows() throws {
        let clip = TestFixtures.repositoryRoot.appendingPathComponent("clips/actions-101.mp4").path
        let r = try CLI.run(["label", clip])
        #expect(r.status == 0)
        #expect(r.stderr.components(separatedBy: "synthetic stick figures").count == 2, "said once on stderr: \(r.stderr)")
        let t = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(((t["model"] as? [String: Any])?["notice"] as? String)?.contains("synthetic stick figures") == true)
        let inspect = try CLI.run(["models", "inspect", "vidar-actions"])
        for text in ["class names:   0 standing_still, 1 waving", "6 walking_right, 7 no_action",
                     "sampling:      16-frame clips at 15 fps, a new clip every 8 sampled frames (overlapping)", "notice:"] {
            #expect(inspect.stdout.contains(text), "\(text) in \(inspect.stdout)")
        }
        let torch = try CLI.run(["label", "--quiet", "--model", try TestFixtures.path("tiny.pth"), try TestFixtures.path("videos/h264.mp4")])
        #expect(!torch.stderr.contains("stick figures"))
    }
}
