// `vidar label` end to end on generated videos with a small seeded model: schema-valid timelines, every format
// parsed back, a batch with a broken file, progress lines, and SIGINT mid-file.
import Foundation
import Testing
import TestSupport
import Vidar

enum Label {
    static func video(_ name: String) throws -> String { try TestFixtures.path("videos/\(name)") }
    static var model: String { get throws { try TestFixtures.path("tiny.pth") } }
    static var schema: String { TestFixtures.repositoryRoot.appendingPathComponent("docs/timeline.schema.json").path }

    /// Validates a timeline file with the JSON Schema in docs/ (python3-jsonschema), returning its problems.
    static func schemaProblems(_ path: String) throws -> String {
        let r = try runProcess("/usr/bin/python3", ["-c", """
            import json, sys, jsonschema
            jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))
            """, path, schema])
        return r.status == 0 ? "" : r.stderr
    }

    static func timeline(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }
}

@Suite(.serialized) struct LabelCLITests {
    @Test func labelsAVideoIntoASchemaValidTimeline() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("t.json").path
        let r = try CLI.run(["label", "--model", try Label.model, "--clips", "-o", out, try Label.video("h264.mp4")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("segments") && r.stdout.isEmpty)
        let problems = try Label.schemaProblems(out)
        #expect(problems.isEmpty, "\(problems)")
        let t = try Label.timeline(out)
        #expect(t["complete"] as? Bool == true)
        let segments = try #require(t["segments"] as? [[String: Any]])
        #expect(!segments.isEmpty)
        #expect(segments.first?["start"] as? Double == 0)
        for s in segments { #expect((s["end"] as! Double) <= 3.0 && (s["start"] as! Double) < (s["end"] as! Double)) }
        for (a, b) in zip(segments, segments.dropFirst()) { #expect(a["end"] as? Double == b["start"] as? Double) }
        let stats = try #require(t["stats"] as? [String: Any])
        // Two full clips and the tail (13 sampled frames) padded into a third, which the timeline says.
        #expect(stats["frames_decoded"] as? Int == 75 && stats["clips"] as? Int == 3 && stats["padded_clip"] as? Bool == true)
        #expect((t["clips"] as? [Any])?.count == 3)
        #expect(segments.last?["end"] as? Double == 3.0, "the tail is labelled up to the video's end")
        let warnings = try #require(t["warnings"] as? [[String: Any]])
        #expect(warnings.map { $0["code"] as? String } == ["padded_tail"])
        #expect((t["provenance"] as? [String: Any])?["vidar_version"] as? String == Installation.version)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["t.json"], "written atomically, no temp left")
    }

    @Test func aBrokenFileInABatchDoesNotCostTheOthers() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let broken = try Label.video("not_media.mp4")
        let missing = try Label.video("h264.mp4").replacingOccurrences(of: "h264.mp4", with: "missing.mp4")
        let r = try CLI.run(["label", "--model", try Label.model, "-o", dir.path, "--quiet",
                             try Label.video("h264.mp4"), broken, try Label.video("short.mp4"), missing])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderrLines.count == 3, "two errors and the summary: \(r.stderr)")
        #expect(r.stderr.contains(broken) && r.stderr.contains("not a media file") && r.stderr.contains("missing.mp4: no such file"))
        #expect(r.stderrLines.last == "vidar: 2 labelled, 2 failed, 2 warnings")
        let written = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(written == ["INDEX.jsonl", "h264.mp4.json", "short.mp4.json"])
        // The run index has each input's start and end, the failures with their reason.
        let index = try String(contentsOf: dir.appendingPathComponent("INDEX.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(index.filter { $0["status"] as? String == "ok" }.count == 2 && index.filter { $0["status"] as? String == "failed" }.count == 2)
        #expect(index.contains { $0["status"] as? String == "failed" && $0["input"] as? String == missing && $0["exit_code"] as? Int == 66 })
        let short = try Label.timeline(dir.appendingPathComponent("short.mp4.json").path)
        #expect((short["stats"] as? [String: Any])?["padded_clip"] as? Bool == true)
        #expect(try Label.schemaProblems(dir.appendingPathComponent("short.mp4.json").path).isEmpty)
    }

    @Test func everyFormatParsesBack() throws {
        let video = try Label.video("h264.mp4")
        let json = try Label.timeline({
            let dir = try TestFixtures.temporaryDirectory()
            let p = dir.appendingPathComponent("x.json").path
            _ = try CLI.run(["label", "--model", try Label.model, "--quiet", "--min-duration", "0", "-o", p, video])
            return p
        }())
        let segments = try #require(json["segments"] as? [[String: Any]])
        func run(_ format: String) throws -> String {
            let r = try CLI.run(["label", "--model", try Label.model, "--quiet", "--min-duration", "0", "--format", format, video])
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout
        }
        let jsonl = try run("jsonl").split(separator: "\n")
        #expect(jsonl.count == segments.count)
        for line in jsonl { #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] != nil) }
        let cue = #"(\d{2}):(\d{2}):(\d{2})[,.](\d{3}) --> (\d{2}):(\d{2}):(\d{2})[,.](\d{3})"#
        let srt = try run("srt")
        let srtBlocks = srt.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(srtBlocks.count == segments.count)
        for (i, block) in srtBlocks.enumerated() {
            let lines = block.split(separator: "\n")
            #expect(lines.count == 3 && lines[0] == "\(i + 1)" && lines[1].contains(",") && lines[1].range(of: cue, options: .regularExpression) != nil)
            #expect(lines[2].hasPrefix(segments[i]["label"] as! String))
        }
        let vtt = try run("vtt")
        #expect(vtt.hasPrefix("WEBVTT\n\n"))
        #expect(vtt.components(separatedBy: " --> ").count - 1 == segments.count)
        #expect(vtt.range(of: #"\d{2}:\d{2}:\d{2}\.\d{3} --> "#, options: .regularExpression) != nil)
        let csv = try run("csv").split(separator: "\n")
        #expect(csv.first == "source,start,end,label,score,peak,clips,alternatives")
        #expect(csv.count == segments.count + 1)
        #expect(csv.dropFirst().allSatisfy { $0.hasPrefix(video + ",") && $0.split(separator: ",", omittingEmptySubsequences: false).count >= 8 })
        for line in jsonl {
            #expect((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["source"] as? String == video)
        }
    }

    /// A per-class threshold above anything the model reaches keeps that class out of the timeline.
    @Test func perClassThresholdsReachTheAggregator() throws {
        let video = try Label.video("h264.mp4")
        let base = try CLI.run(["label", "--model", try Label.model, "--quiet", "--format", "jsonl", "--threshold", "0.3", video])
        let top = try #require((try JSONSerialization.jsonObject(with: Data(base.stdout.split(separator: "\n")[0].utf8)) as? [String: Any])?["label"] as? String)
        #expect(top.hasPrefix("class "))
        let index = String(top.dropFirst("class ".count))
        let r = try CLI.run(["label", "--model", try Label.model, "--quiet", "--format", "jsonl", "--threshold", "0.3",
                             "--class-threshold", "\(index)=0.99", video])
        #expect(r.status == 0, "\(r.stderr)")
        let labels = try r.stdout.split(separator: "\n").map {
            try #require((try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["label"] as? String)
        }
        #expect(!labels.contains(top), "\(labels)")
        #expect(try CLI.run(["label", "--model", try Label.model, "--class-threshold", "jumping=0.5", video]).status == 64)
    }

    @Test func aModelsAggregatorSettingsApplyUnlessTheUserSetsThem() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("tuned.safetensors").path
        try Safetensors.encode(try Checkpoint.read(path: try TestFixtures.path("tiny.safetensors")),
                               setting: [AggregatorDefaults.metadataKey: #"{"smooth": "ma:2", "patience": 3, "exit_threshold": 0.3}"#])
            .write(to: URL(fileURLWithPath: model))
        let video = try Label.video("h264.mp4")
        func aggregator(_ extra: [String]) throws -> [String: Any] {
            let r = try CLI.run(["label", "--model", model, "--quiet"] + extra + [video])
            #expect(r.status == 0, "\(r.stderr)")
            return try #require((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["aggregator"] as? [String: Any])
        }
        let recommended = try aggregator([])
        #expect(recommended["patience"] as? Int == 3 && recommended["exit_threshold"] as? Double == 0.3 && recommended["margin"] as? Double == 0.1)
        #expect((recommended["smoothing"] as? [String: Any])?["moving_average"] as? [String: Int] == ["clips": 2], "\(recommended)")
        let mine = try aggregator(["--patience", "5", "--smooth", "none"])
        #expect(mine["patience"] as? Int == 5 && (mine["smoothing"] as? [String: Any])?["none"] != nil, "\(mine)")
        // A threshold below the model's exit threshold: one line, a usage error.
        let low = try CLI.run(["label", "--model", model, "--threshold", "0.2", video])
        #expect(low.status == 64 && low.stderr.contains("threshold (0.2)") && low.stderr.contains("exit threshold (0.3)"), "\(low.stderr)")
        let inspect = try CLI.run(["models", "inspect", model])
        #expect(inspect.stdout.contains("aggregator:    smooth ma:2, exit threshold 0.3, patience 3"), "\(inspect.stdout)")
        let plain = try CLI.run(["models", "inspect", try TestFixtures.path("tiny.safetensors")])
        #expect(plain.stdout.contains("aggregator:    none (vidar's defaults)"), "\(plain.stdout)")
    }

    @Test func progressLinesAreJSON() throws {
        let r = try CLI.run(["label", "--model", try Label.model, "--quiet", "--progress", "json", try Label.video("h264.mp4")])
        #expect(r.status == 0)
        let lines = try r.stderrLines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let progress = lines.filter { $0["event"] as? String == "progress" }
        #expect(!progress.isEmpty && progress.allSatisfy { $0["frames"] as? Int != nil && $0["clips"] as? Int != nil })
        #expect(lines.contains { $0["event"] as? String == "warning" && $0["code"] as? String == "padded_tail" })
        #expect(lines.last?["event"] as? String == "summary" && lines.last?["labelled"] as? Int == 1 && lines.last?["failed"] as? Int == 0)
        #expect(lines.allSatisfy { ["progress", "warning", "summary"].contains($0["event"] as? String ?? "") }, "only JSON on stderr")
    }

    /// On a terminal (a pty from util-linux `script`), stderr shows a progress bar; piped, it shows none.
    @Test func aProgressBarOnlyOnATerminal() throws {
        let command = "'\(CLI.binary)' label --model '\(try Label.model)' --quiet -o /dev/null '\(try Label.video("bikes.mp4"))'"
        let r = try runProcess("/usr/bin/script", ["-qec", command, "/dev/null"])
        #expect(r.status == 0, "\(r.stdout)")
        #expect(r.stdout.contains("\r") && r.stdout.contains("frames") && r.stdout.contains("ETA"), "\(r.stdout.prefix(300))")
        let piped = try CLI.run(["label", "--model", try Label.model, "--quiet", "-o", "/dev/null", try Label.video("bikes.mp4")])
        #expect(piped.stderr.isEmpty)
    }

    @Test func usageErrorsExit64() throws {
        for args in [["label"], ["label", "--format", "xml", "a.mp4"], ["label", "--smooth", "median", "a.mp4"],
                     ["label", "-o", "/tmp/one-file.json", "a.mp4", "b.mp4"], ["label", "--threshold", "0.1", "--exit-threshold", "0.2", "a.mp4"]] {
            let r = try CLI.run(args)
            #expect(r.status == 64, "\(args): \(r.stderr)")
            #expect(r.stderrLines.count == 1)
        }
        #expect(try CLI.run(["label", "--help"]).stdout.contains("default: none"))
    }

    /// SIGINT mid-file: the processed part is written, marked incomplete, and the exit code says interrupted.
    @Test func interruptWritesAnIncompleteTimeline() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("long.json").path
        // The naive reference backend makes each clip take long enough to interrupt reliably.
        let child = try ChildProcess(CLI.binary, ["label", "--model", try Label.model, "--backend", "reference", "--progress", "json",
                                                  "--quiet", "-o", out, try Label.video("bikes.mp4")])
        let seen = child.stderr.read(until: { $0.contains("\"progress\"") }, seconds: 60)
        #expect(seen.contains("\"progress\""))
        child.signal(SIGINT)
        let status = child.wait(timeout: 60)
        #expect(status == 130)
        let t = try Label.timeline(out)
        #expect(t["complete"] as? Bool == false)
        let segments = try #require(t["segments"] as? [[String: Any]])
        let clips = (t["stats"] as? [String: Any])?["clips"] as? Int ?? 0
        #expect(clips >= 1 && clips < 10, "stopped early: \(clips) of 10 clips")
        #expect(!segments.isEmpty && (segments.last!["end"] as! Double) < 10)
        #expect(try Label.schemaProblems(out).isEmpty)
    }

    /// `-o /dev/null` writes into the device: the atomic rename used for files once replaced /dev/null itself with
    /// a regular file when run as root (and failed with "permission denied" otherwise).
    @Test func writingToDevNullLeavesItADevice() throws {
        let r = try CLI.run(["label", "--model", try Label.model, "--quiet", "-o", "/dev/null", try Label.video("h264.mp4")])
        #expect(r.status == 0, "\(r.stderr)")
        var st = stat()
        #expect(stat("/dev/null", &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR, "/dev/null is no longer a character device")
    }

    /// One copy of r3d_18's weights in memory: the checkpoint's pages are dropped as its tensors are folded, and the
    /// folded weights as oneDNN packs them (peak 420 → 324 MB at 720p before this). Bound: 350 MB at either precision.
    @Test func labellingWithR3D18StaysUnder350MB() throws {
        for precision in ["fp32"] + (Precision.bf16.unavailableReason == nil ? ["bf16"] : []) {
            let r = try runMeasured(CLI.binary, ["label", "--quiet", "--model", try TestFixtures.path("r3d_18.pth"),
                                                 "--precision", precision, try Label.video("hd_640x360.mp4")])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.peakRSSMB > 50 && r.peakRSSMB <= 350, "\(precision): peak RSS \(r.peakRSSMB) MB")
        }
    }

    /// --precision reaches the network and the provenance; `auto` follows what oneDNN finds on the CPU (an AVX-512
    /// ceiling set through ONEDNN_MAX_CPU_ISA turns native bf16 off); a precision the backend lacks is one line, 64.
    @Test func precisionIsChosenRecordedAndChecked() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        func precision(_ args: [String], environment: [String: String]? = nil) throws -> String? {
            let out = dir.appendingPathComponent("t.json").path
            let r = try CLI.run(["label", "--quiet", "-o", out] + args + [try Label.video("h264.mp4")], environment: environment)
            #expect(r.status == 0, "\(r.stderr)")
            return (try Label.timeline(out)["provenance"] as? [String: Any])?["precision"] as? String
        }
        #expect(try precision([]) == "fp32")
        #expect(try precision(["--precision", "auto"]) == (Precision.cpuHasNativeBF16 ? "bf16" : "fp32"))
        var env = ProcessInfo.processInfo.environment
        env["ONEDNN_MAX_CPU_ISA"] = "AVX512_CORE"
        #expect(try precision(["--precision", "auto"], environment: env) == "fp32")
        if Precision.bf16.unavailableReason == nil {
            #expect(try precision(["--precision", "bf16"]) == "bf16")
            let problems = try Label.schemaProblems(dir.appendingPathComponent("t.json").path)
            #expect(problems.isEmpty, "\(problems)")
        } else {
            let r = try CLI.run(["label", "--precision", "bf16", try Label.video("h264.mp4")])
            #expect(r.status == 69 && r.stderrLines.count == 1 && r.stderr.contains("AVX-512"), "\(r.stderr)")
        }
        // A CPU without AVX-512, as oneDNN sees it under an AVX2 ceiling: bf16 is refused in one line, auto is fp32.
        var avx2 = ProcessInfo.processInfo.environment
        avx2["ONEDNN_MAX_CPU_ISA"] = "AVX2"
        let refused = try CLI.run(["label", "--precision", "bf16", try Label.video("h264.mp4")], environment: avx2)
        #expect(refused.status == 69 && refused.stderrLines.count == 1 && refused.stderr.contains("needs a CPU with AVX-512"),
                "\(refused.stderr)")
        #expect(try precision(["--precision", "auto"], environment: avx2) == "fp32")
        // A configuration mistake is named before what this CPU lacks: the same message on every machine.
        for environment in [nil, avx2] {
            let r = try CLI.run(["label", "--precision", "bf16", "--backend", "gemm", try Label.video("h264.mp4")], environment: environment)
            #expect(r.status == 64 && r.stderrLines.count == 1 && r.stderr.contains("needs the onednn backend"), "\(r.stderr)")
        }
    }
}

/// The default model on a demo clip: the timeline must mostly agree with the clip's ground truth.
struct BundledModelLabelTests {
    @Test func theBundledModelLabelsADemoClip() throws {
        let clip = TestFixtures.repositoryRoot.appendingPathComponent("clips/actions-101.mp4").path
        let r = try CLI.run(["label", "--quiet", clip])
        #expect(r.status == 0, "\(r.stderr)")
        let t = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let predicted = try #require(t["segments"] as? [[String: Any]])
        let truthData = try Data(contentsOf: URL(fileURLWithPath: clip.replacingOccurrences(of: ".mp4", with: ".truth.json")))
        let truth = try #require((try JSONSerialization.jsonObject(with: truthData) as? [String: Any])?["segments"] as? [[String: Any]])
        func label(_ segs: [[String: Any]], _ time: Double) -> String? {
            segs.first { ($0["start"] as! Double) <= time && time < ($0["end"] as! Double) }?["label"] as? String
        }
        let times = Array(stride(from: 0.0, to: 40.0, by: 1.0 / 15))
        let agree = times.filter { label(predicted, $0) == label(truth, $0) }.count
        let accuracy = Double(agree) / Double(times.count)
        #expect(accuracy >= 0.75, "frame agreement with the ground truth: \(accuracy)")
        #expect((t["model"] as? [String: Any])?["stride"] as? Int == 8)
        // Nobody in the frame: the clip has two empty stretches (9.9 s); the model's background class keeps them no_action.
        let empty = times.filter { label(truth, $0) == "no_action" }
        #expect(empty.count > 100, "the demo clip has empty stretches")
        let quiet = Double(empty.filter { label(predicted, $0) == "no_action" }.count) / Double(max(empty.count, 1))
        #expect(quiet >= 0.8, "share of the empty time labelled no_action: \(quiet)")
    }
}

/// The bundled model's evaluation cannot flatter: its seeds, footage and patterns are disjoint from training's, and
/// every no-actor source renders the same frames twice, and every training footage file is the pinned one
/// (tools/actions/test_seeds.py, run with Debian's python3 and torch as `make model` runs them; on a fresh machine
/// it first fetches the footage, about 25 MB of Debian packages).
struct BundledModelDataTests {
    @Test func trainingAndEvaluationDataAreDisjoint() throws {
        let script = TestFixtures.repositoryRoot.appendingPathComponent("tools/actions/test_seeds.py").path
        // Every test the file defines must have run (a skipped or renamed one shows as a smaller count); at least
        // the 11 it has now, so a count that found none cannot pass.
        let defined = try String(contentsOfFile: script, encoding: .utf8)
            .components(separatedBy: "\n").filter { $0.hasPrefix("    def test_") }.count
        let r = try runProcess("/usr/bin/python3", [script], timeout: 600)
        #expect(r.status == 0, "tools/actions/test_seeds.py failed:\n\(r.stderr)")
        #expect(defined >= 11 && r.stderr.contains("Ran \(defined) tests") && r.stderr.contains("OK"), "\(r.stderr)")
    }
}

/// int8 as a user reaches it: `vidar models calibrate` on their video writes a checkpoint that `--precision int8`
/// runs (recorded in the provenance, with labels like fp32's); an uncalibrated one is refused in one line, 64.
struct Int8CLITests {
    @Test func calibrateThenLabelAtInt8() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let clips = TestFixtures.repositoryRoot.appendingPathComponent("clips")
        let calibrated = dir.appendingPathComponent("actions-int8.safetensors").path
        let c = try CLI.run(["models", "calibrate", "vidar-actions", clips.appendingPathComponent("actions-102.mp4").path,
                             "--max-clips", "12", "-o", calibrated])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(c.stdout == calibrated + "\n" && c.stderr.contains("12 clips"), "\(c.stdout) \(c.stderr)")
        let inspect = try CLI.run(["models", "inspect", "--json", calibrated])
        let info = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any])
        #expect((info["class_names"] as? [String])?.contains("no_action") == true, "labels kept: \(inspect.stdout)")
        #expect((info["int8_calibration"] as? [String: Any])?["clips"] as? Int == 12, "\(inspect.stdout)")

        let video = clips.appendingPathComponent("actions-101.mp4").path
        func label(_ args: [String]) throws -> [String: Any] {
            let out = dir.appendingPathComponent("t.json").path
            let r = try CLI.run(["label", "--quiet", "--model", calibrated, "-o", out] + args + [video])
            #expect(r.status == 0, "\(r.stderr)")
            return try Label.timeline(out)
        }
        let (fp32, int8) = (try label([]), try label(["--precision", "int8"]))
        #expect((int8["provenance"] as? [String: Any])?["precision"] as? String == "int8")
        let labels = { (t: [String: Any]) in (t["segments"] as? [[String: Any]] ?? []).compactMap { $0["label"] as? String } }
        #expect(!labels(fp32).isEmpty && labels(int8) == labels(fp32), "\(labels(int8)) vs \(labels(fp32))")

        let refused = try CLI.run(["label", "--precision", "int8", video])
        expectFailure(refused, .usage, mentioning: "vidar-actions.safetensors", "vidar models calibrate")
        let wrongSuffix = try CLI.run(["models", "calibrate", "vidar-actions", video, "-o", dir.appendingPathComponent("x.pth").path])
        expectFailure(wrongSuffix, .usage, mentioning: "x.pth", ".safetensors")
        let missing = try CLI.run(["models", "calibrate", "vidar-actions", "/nonexistent.mp4", "-o", calibrated])
        expectFailure(missing, .noInput, mentioning: "/nonexistent.mp4", "no such file")
        let notVideo = try Label.video("not_media.mp4")
        expectFailure(try CLI.run(["models", "calibrate", "vidar-actions", notVideo, "-o", calibrated]), .dataError,
                      mentioning: "not_media.mp4", "not a media file")
    }
}
