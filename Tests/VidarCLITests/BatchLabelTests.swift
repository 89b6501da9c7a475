// `vidar label` on many inputs loses nothing: directories are created, names never collide, stdout stays one
// valid document, exit codes say what happened, and a stop signal writes the partial timeline.
import Foundation
import Testing
import TestSupport
import Vidar

enum Batch {
    static var model: String { get throws { try TestFixtures.path("tiny.pth") } }
    static func video(_ name: String) throws -> String { try TestFixtures.path("videos/\(name)") }

    /// Every file under `dir`, relative, sorted, but the run indexes (INDEX.jsonl).
    static func files(_ dir: URL) -> [String] {
        (FileManager.default.enumerator(atPath: dir.path)?.allObjects as? [String] ?? [])
            .filter { !$0.hasSuffix("INDEX.jsonl") }
            .filter { !(try! FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent($0).path)[.type] as! FileAttributeType == .typeDirectory) }
            .sorted()
    }

    static func label(_ args: [String], cwd: URL? = nil) throws -> ProcessResult {
        guard let cwd else { return try CLI.run(["label", "--model", try model] + args) }
        let quoted = (["label", "--model", try model] + args).map { "'\($0)'" }.joined(separator: " ")
        return try runProcess("/bin/sh", ["-c", "cd '\(cwd.path)' && '\(CLI.binary)' \(quoted)"])
    }
}

@Suite(.serialized) struct BatchLabelTests {
    /// The README's own example: `-o out/ --format srt *.mp4` when out/ does not exist yet.
    @Test func outputDirectoriesAreCreated() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try Batch.label(["--quiet", "-o", dir.path + "/out/", "--format", "srt",
                                 try Batch.video("h264.mp4"), try Batch.video("short.mp4")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Batch.files(dir) == ["out/h264.mp4.srt", "out/short.mp4.srt"])
        // One input and a trailing slash: a directory, not a file named after it.
        let one = try Batch.label(["--quiet", "-o", dir.path + "/single/", try Batch.video("h264.mp4")])
        #expect(one.status == 0, "\(one.stderr)")
        #expect(Batch.files(dir).contains("single/h264.mp4.json"))
    }

    @Test func inputsWithTheSameNameNeverOverwriteEachOther() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for sub in ["a", "b"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: try Batch.video("h264.mp4"), toPath: dir.appendingPathComponent("a/clip.mp4").path)
        try FileManager.default.copyItem(atPath: try Batch.video("short.mp4"), toPath: dir.appendingPathComponent("b/clip.mp4").path)
        let r = try Batch.label(["--quiet", "-o", "out", "a/clip.mp4", "b/clip.mp4"], cwd: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(Batch.files(dir.appendingPathComponent("out")) == ["a/clip.mp4.json", "b/clip.mp4.json"])
        let a = try Label.timeline(dir.appendingPathComponent("out/a/clip.mp4.json").path)
        let b = try Label.timeline(dir.appendingPathComponent("out/b/clip.mp4.json").path)
        #expect((a["source"] as? [String: Any])?["path"] as? String == "a/clip.mp4")
        #expect((b["source"] as? [String: Any])?["path"] as? String == "b/clip.mp4")
        // The same file twice would write one output twice: refused before any work.
        let twice = try Batch.label(["-o", "again", "a/clip.mp4", "./a/clip.mp4"], cwd: dir)
        #expect(twice.status == 64 && twice.stderr.contains("would both be written to clip.mp4.json"), "\(twice.stderr)")
        #expect(twice.stderrLines.count == 1)
        #expect(Batch.files(dir.appendingPathComponent("again")).isEmpty)
    }

    @Test func directoriesAreSearchedWithGlobsAndRecursion() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let library = dir.appendingPathComponent("library")
        try FileManager.default.createDirectory(at: library.appendingPathComponent("2024/day1"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try Batch.video("h264.mp4"), toPath: library.appendingPathComponent("top.mp4").path)
        try FileManager.default.copyItem(atPath: try Batch.video("short.mp4"), toPath: library.appendingPathComponent("2024/day1/deep.mp4").path)
        try FileManager.default.copyItem(atPath: try Batch.video("gray.mkv"), toPath: library.appendingPathComponent("2024/other.mkv").path)
        try "notes".write(to: library.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)

        let flat = try Batch.label(["--quiet", "-o", "flat/", "library"], cwd: dir)
        #expect(flat.status == 0, "\(flat.stderr)")
        #expect(Batch.files(dir.appendingPathComponent("flat")) == ["top.mp4.json"])
        let deep = try Batch.label(["--quiet", "--recursive", "-o", "deep/", "library"], cwd: dir)
        #expect(deep.status == 0, "\(deep.stderr)")
        #expect(Batch.files(dir.appendingPathComponent("deep")) == ["2024/day1/deep.mp4.json", "2024/other.mkv.json", "top.mp4.json"])
        let mkv = try Batch.label(["--quiet", "--recursive", "--glob", "*.mkv", "-o", "mkv/", "library"], cwd: dir)
        #expect(Batch.files(dir.appendingPathComponent("mkv")) == ["2024/other.mkv.json"], "\(mkv.stderr)")
        let none = try Batch.label(["--glob", "*.webm", "library"], cwd: dir)
        #expect(none.status == ExitCode.noInput.rawValue && none.stderr.contains("no files matching *.webm"), "\(none.stderr)")
    }

    @Test func theFormatFollowsTheOutputsExtension() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let srt = dir.appendingPathComponent("out.srt").path
        #expect(try Batch.label(["--quiet", "-o", srt, try Batch.video("h264.mp4")]).status == 0)
        let text = try String(contentsOfFile: srt, encoding: .utf8)
        #expect(text.hasPrefix("1\n00:00:00,000 --> "), "\(text.prefix(80))")
        let forced = dir.appendingPathComponent("out.txt").path
        #expect(try Batch.label(["--quiet", "--format", "vtt", "-o", forced, try Batch.video("h264.mp4")]).status == 0)
        #expect(try String(contentsOfFile: forced, encoding: .utf8).hasPrefix("WEBVTT"))
    }

    @Test func severalInputsOnStdoutAreOneValidStream() throws {
        let inputs = [try Batch.video("h264.mp4"), try Batch.video("short.mp4")]
        let json = try Batch.label(["--quiet"] + inputs)
        #expect(json.status == 0, "\(json.stderr)")
        let array = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(array.map { ($0["source"] as? [String: Any])?["path"] as? String } == inputs)
        let jsonl = try Batch.label(["--quiet", "--format", "jsonl"] + inputs)
        let sources = try jsonl.stdout.split(separator: "\n").map {
            try #require((try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["source"] as? String)
        }
        #expect(Set(sources) == Set(inputs) && sources.first == inputs[0])
        let csv = try Batch.label(["--quiet", "--format", "csv"] + inputs).stdout.split(separator: "\n")
        #expect(csv.filter { $0.hasPrefix("source,") }.count == 1, "one header")
        #expect(Set(csv.dropFirst().map { String($0.split(separator: ",")[0]) }) == Set(inputs))
        let srt = try Batch.label(["--format", "srt"] + inputs)
        #expect(srt.status == 64 && srt.stderr.contains("-o DIR/"), "\(srt.stderr)")
    }

    @Test func exitCodesSayWhatHappened() throws {
        let good = try Batch.video("h264.mp4"), broken = try Batch.video("not_media.mp4")
        let missing = good.replacingOccurrences(of: "h264.mp4", with: "missing.mp4")
        #expect(try Batch.label(["--quiet", good]).status == 0)
        #expect(try Batch.label(["--quiet", broken]).status == ExitCode.dataError.rawValue)
        #expect(try Batch.label(["--quiet", missing]).status == ExitCode.noInput.rawValue)
        let allFailed = try Batch.label(["--quiet", missing, broken])
        #expect(allFailed.status == ExitCode.noInput.rawValue, "every input failed: the first failure's code")
        #expect(allFailed.stderrLines.last == "vidar: 0 labelled, 2 failed, 0 warnings")
        let some = try Batch.label(["--quiet", good, broken])
        #expect(some.status == ExitCode.partialFailure.rawValue)
        let unwritable = try Batch.label(["--quiet", "-o", "/proc/vidar.json", good])
        #expect(unwritable.status == ExitCode.cannotCreate.rawValue, "\(unwritable.stderr)")
    }

    /// SIGTERM (schedulers, `docker stop`) and SIGHUP write the processed part, as SIGINT does, and exit 128 + N.
    @Test(arguments: [SIGTERM, SIGHUP])
    func stopSignalsWriteThePartialTimeline(_ sig: Int32) throws {
        let code = 128 + sig
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("long.json").path
        let child = try ChildProcess(CLI.binary, ["label", "--model", try Batch.model, "--backend", "reference", "--progress", "json",
                                                  "-o", out, try Batch.video("bikes.mp4")])
        let seen = child.stderr.read(until: { $0.contains("\"progress\"") }, seconds: 60)
        #expect(seen.contains("\"progress\""), "no progress line before the signal: \(seen)")
        child.signal(sig)
        #expect(child.wait(timeout: 60) == code)
        let t = try Label.timeline(out)
        #expect(t["complete"] as? Bool == false)
        #expect(try Label.schemaProblems(out).isEmpty)
    }
}
