// Labelling an archive with several workers: shards that cover every input once, a run index, --resume after a
// worker is SIGKILLed, `vidar report`, time ranges merged into the single pass, and the deployment files (the
// Indexed Job's command line run as its pods would, the container's runtime libraries).
import Foundation
import Testing
import TestSupport
import Vidar

enum Archive {
    static var model: String { get throws { try TestFixtures.path("tiny.pth") } }

    /// ≥ 30 inputs in nested directories: 24 good (copies of fixture videos in eight codecs and containers) and 6
    /// broken (not media, truncated, empty, missing). Returns the manifest's path and the good and broken inputs.
    static func corpus(in dir: URL) throws -> (manifest: String, good: [String], broken: [String]) {
        let sources = ["h264.mp4", "bikes.mp4", "gray.mkv", "hevc.mkv", "mpeg4.avi", "mjpeg.avi", "portrait.mp4", "hd_640x360.mp4"]
        var good: [String] = [], broken: [String] = []
        for copy in 0..<3 {
            let sub = dir.appendingPathComponent("videos/batch\(copy)")
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            for name in sources {
                let path = sub.appendingPathComponent("\(copy)-\(name)").path
                try FileManager.default.copyItem(atPath: try TestFixtures.path("videos/\(name)"), toPath: path)
                good.append(path)
            }
        }
        let bad = dir.appendingPathComponent("videos/bad")
        try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
        for k in 0..<3 {
            let path = bad.appendingPathComponent("not-media-\(k).mp4").path
            try FileManager.default.copyItem(atPath: try TestFixtures.path("videos/not_media.mp4"), toPath: path)
            broken.append(path)
        }
        let truncated = bad.appendingPathComponent("truncated.mp4").path
        try Data(try Data(contentsOf: URL(fileURLWithPath: try TestFixtures.path("videos/h264.mp4"))).prefix(1500)).write(to: URL(fileURLWithPath: truncated))
        let empty = bad.appendingPathComponent("empty.mp4").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        broken += [truncated, empty, bad.appendingPathComponent("missing.mp4").path]
        let manifest = dir.appendingPathComponent("manifest.txt").path
        try (["# the archive", ""] + good + broken).joined(separator: "\n").write(toFile: manifest, atomically: true, encoding: .utf8)
        return (manifest, good, broken)
    }

    static func index(_ dir: URL) -> [[String: Any]] {
        ((try? String(contentsOf: dir.appendingPathComponent("INDEX.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// Timeline files under `dir` (relative paths), excluding the index.
    static func timelines(_ dir: URL) -> [String] {
        (FileManager.default.enumerator(atPath: dir.path)?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".json") }.sorted()
    }

    static func segments(_ path: String) throws -> [[String: AnyHashable]] {
        let t = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        return (t["segments"] as? [[String: Any]] ?? []).map { s in
            ["start": s["start"] as? Double, "end": s["end"] as? Double, "label": s["label"] as? String, "score": s["score"] as? Double]
        }
    }

    /// The summary line of `label --progress json`.
    static func summary(_ stderr: String) throws -> [String: Any] {
        try #require(stderr.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .last { $0["event"] as? String == "summary" }, "no summary line in: \(stderr.suffix(500))")
    }

    static func report(_ dir: URL, extra: [String] = []) throws -> (status: Int32, json: [String: Any]) {
        let r = try CLI.run(["report", "--json"] + extra + [dir.path])
        return (r.status, try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stderr)"))
    }
}

@Suite(.serialized) struct ArchiveTests {
    @Test func threeWorkersOneKilledThenResumedLabelEveryInputExactlyOnce() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (manifest, good, broken) = try Archive.corpus(in: dir)
        let reference = dir.appendingPathComponent("reference")
        let single = try CLI.run(["label", "--model", try Archive.model, "--quiet", "--from", manifest, "-o", reference.path + "/"])
        #expect(single.status == 1, "some inputs are broken: \(single.stderr)")
        #expect(Archive.timelines(reference).count == good.count)

        // Three workers on one output directory; worker 1 is killed while it labels an input.
        let out = dir.appendingPathComponent("out")
        let binary = CLI.binary
        func worker(_ k: Int, resume: Bool = false) throws -> ChildProcess {
            try ChildProcess(binary, ["label", "--model", try Archive.model, "--quiet", "--from", manifest, "--shard", "\(k)/3",
                                      "-o", out.path + "/"] + (resume ? ["--resume"] : []))
        }
        let workers = try (0..<3).map { try worker($0) }
        var killedDuring: String?
        let deadline = Date().addingTimeInterval(120)
        func progress() -> (done: Int, busy: String?) {
            let mine = Archive.index(out).filter { ($0["worker"] as? String)?.hasSuffix(":\(workers[1].pid)") == true }
            var open: [String: Bool] = [:]
            for r in mine { open[r["input"] as! String] = r["status"] as? String == "started" }
            return (mine.filter { $0["status"] as? String != "started" }.count, open.first { $0.value }?.key)
        }
        while killedDuring == nil, workers[1].poll() == nil, Date() < deadline {
            // Once it has finished two inputs, kill it while it works on the next. It is frozen (SIGSTOP) before its
            // index lines are read, so what they say still holds when the kill lands; between inputs, it goes on.
            if progress().done >= 2 {
                workers[1].signal(SIGSTOP)
                usleep(20_000)
                if let busy = progress().busy {
                    workers[1].signal(SIGKILL)
                    killedDuring = busy
                } else {
                    workers[1].signal(SIGCONT)
                }
            }
            usleep(2_000)
        }
        try #require(killedDuring != nil, "worker 1 (pid \(workers[1].pid)) was not caught mid-input: it finished first")
        for (k, w) in workers.enumerated() where k != 1 { #expect(w.wait(timeout: 300) != nil) }
        _ = workers[1].wait(timeout: 10)
        let firstRound = Archive.index(out)
        let before = try Archive.report(out, extra: ["--from", manifest])
        #expect(before.status == 1 && (before.json["pending"] as? Int ?? 0) >= 1, "the killed worker's inputs are pending: \(before.json)")
        #expect((before.json["pending_inputs"] as? [[String: Any]])?.contains { $0["input"] as? String == killedDuring } == true)

        // The same three commands with --resume finish the set without redoing finished work.
        let finishedBefore = Set(firstRound.filter { $0["status"] as? String == "ok" }.map { $0["input"] as! String })
        let resumed = try (0..<3).map { try worker($0, resume: true) }
        for w in resumed { #expect(w.wait(timeout: 300) != nil) }
        let secondRound = Array(Archive.index(out).dropFirst(firstRound.count))
        let redone = secondRound.filter { $0["status"] as? String == "ok" }.map { $0["input"] as! String }
        let skipped = Set(secondRound.filter { $0["status"] as? String == "skipped" }.map { $0["input"] as! String })
        #expect(skipped == finishedBefore, "everything finished before the kill is skipped")
        #expect(Set(redone) == Set(good).subtracting(finishedBefore) && redone.count == Set(redone).count)

        // Every good input: exactly one output, with the single-process run's segments; the broken ones failed.
        #expect(Archive.timelines(out) == Archive.timelines(reference))
        for name in Archive.timelines(reference) {
            #expect(try Archive.segments(out.appendingPathComponent(name).path) == Archive.segments(reference.appendingPathComponent(name).path), "\(name)")
        }
        let leftovers = (FileManager.default.enumerator(atPath: out.path)?.allObjects as? [String] ?? []).filter { $0.contains(".partial-") }
        #expect(leftovers.isEmpty, "a killed worker leaves a complete output or none: \(leftovers)")
        let after = try Archive.report(out, extra: ["--from", manifest])
        #expect(after.status == 1, "failed inputs remain")
        #expect(after.json["done"] as? Int == good.count && after.json["failed"] as? Int == broken.count && after.json["pending"] as? Int == 0,
                "\(after.json)")
        #expect(Set((after.json["failures"] as? [[String: Any]] ?? []).map { $0["input"] as! String }) == Set(broken))
        #expect((after.json["labels"] as? [[String: Any]])?.isEmpty == false, "time per label from the timelines")
        let table = try CLI.run(["report", out.path])
        #expect(table.stdout.contains("\(good.count + broken.count) inputs: \(good.count) done, \(broken.count) failed, 0 pending"), "\(table.stdout)")
        FileHandle.standardError.write(Data(("archive: \(good.count + broken.count) inputs, 3 workers, worker 1 killed during \(URL(fileURLWithPath: killedDuring!).lastPathComponent); "
            + "resume skipped \(skipped.count), relabelled \(redone.count), \(broken.count) failed both times, 0 lost, 0 duplicated\n").utf8))
    }

    @Test func resumeRedoesWhatAModelSettingOrInputChangeAffects() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var inputs: [String] = []
        for name in ["h264.mp4", "gray.mkv", "hevc.mkv"] {
            let path = dir.appendingPathComponent(name).path
            try FileManager.default.copyItem(atPath: try TestFixtures.path("videos/\(name)"), toPath: path)
            inputs.append(path)
        }
        for format in ["json", "csv"] {
            let out = dir.appendingPathComponent("out-\(format)").path + "/"
            func run(_ extra: [String], model: String? = nil) throws -> [Int] {
                let r = try CLI.run(["label", "--model", try model ?? Archive.model, "--format", format, "--resume", "--progress", "json",
                                     "-o", out] + extra + inputs)
                #expect(r.status == 0, "\(r.stderr)")
                let summary = try Archive.summary(r.stderr)
                return [summary["labelled"] as? Int ?? -1, summary["skipped"] as? Int ?? -1]
            }
            #expect(try run([]) == [3, 0])
            #expect(try run([]) == [0, 3], "\(format): nothing changed, nothing redone")
            #expect(try run(["--threshold", "0.55"]) == [3, 0], "\(format): a setting that changes the result")
            #expect(try run(["--threshold", "0.55", "--threads", "1", "--batch", "2"]) == [0, 3], "\(format): threads and batch change nothing")
            #expect(try run(["--threshold", "0.55"], model: try TestFixtures.path("tiny.safetensors")) == [3, 0], "\(format): another model file")
            // New content under the same name and size: only that input.
            let replaced = inputs[1]
            try FileManager.default.removeItem(atPath: replaced)
            try FileManager.default.copyItem(atPath: try TestFixtures.path("videos/gray.mkv"), toPath: replaced)
            let mtime = try FileManager.default.attributesOfItem(atPath: replaced)[.modificationDate] as! Date
            var bytes = try Data(contentsOf: URL(fileURLWithPath: replaced))
            bytes[bytes.count - 1] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: replaced))
            // Same size, same mtime: only the content hash can tell.
            try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: replaced)
            #expect(try run(["--threshold", "0.55"], model: try TestFixtures.path("tiny.safetensors")) == [1, 2], "\(format): the changed input alone")
        }
    }

    @Test func aTenMinuteVideoInFourRangesMergesIntoTheSinglePass() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The bundled demo clips (a stick figure changing actions) looped to 10 minutes, keyframes every 4 s.
        let video = dir.appendingPathComponent("long.mp4").path
        let clips = ["101", "102", "103"].map { TestFixtures.repositoryRoot.appendingPathComponent("clips/actions-\($0).mp4").path }
        let list = dir.appendingPathComponent("list.txt").path
        try (0..<5).flatMap { _ in clips.map { "file '\($0)'" } }.joined(separator: "\n").write(toFile: list, atomically: true, encoding: .utf8)
        let make = try runProcess("/usr/bin/ffmpeg", ["-v", "error", "-f", "concat", "-safe", "0", "-i", list, "-t", "600", "-vf", "scale=342:256", "-c:v", "libx264",
                                                      "-preset", "ultrafast", "-g", "60", "-pix_fmt", "yuv420p", video], timeout: 300)
        try #require(make.status == 0, "\(make.stderr)")
        let whole = dir.appendingPathComponent("whole.json").path
        let single = try CLI.run(["label", "--quiet", "-o", whole, video])
        try #require(single.status == 0, "\(single.stderr)")
        let ranges = [("0", "150"), ("150", "300"), ("300", "7:30"), ("450", nil)]
        var parts: [String] = []
        for (start, end) in ranges {
            let out = dir.appendingPathComponent("part-\(start).json").path
            let r = try CLI.run(["label", "--quiet", "--start", start, "-o", out] + (end.map { ["--end", $0] } ?? []) + [video])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try Label.schemaProblems(out).isEmpty)
            parts.append(out)
        }
        let merged = dir.appendingPathComponent("merged.json").path
        let m = try CLI.run(["merge", "-o", merged] + parts.reversed())
        try #require(m.status == 0, "\(m.stderr)")
        #expect(try Label.schemaProblems(merged).isEmpty)
        let a = try Archive.segments(whole), b = try Archive.segments(merged)
        #expect(a.count > 20, "the demo's actions change often: \(a.count) segments")
        #expect(a == b, "the merged timeline equals the single pass: same segments, same boundaries, same scores")
        let t = try Label.timeline(merged), w = try Label.timeline(whole)
        let clipsMerged = (t["stats"] as? [String: Any])?["clips"] as? Int, clipsWhole = (w["stats"] as? [String: Any])?["clips"] as? Int
        #expect(clipsMerged == clipsWhole && t["part"] == nil)
        // Each part sought to its range instead of decoding from the start.
        let decoded = try parts.map { try ((Label.timeline($0)["stats"] as? [String: Any])?["frames_decoded"] as? Int) ?? 0 }.reduce(0, +)
        let decodedWhole = (w["stats"] as? [String: Any])?["frames_decoded"] as? Int ?? 0
        #expect(decoded < decodedWhole * 11 / 10, "parts decoded \(decoded) frames, the single pass \(decodedWhole)")

        // Parts that do not tile the video are refused with the reason.
        let gap = try CLI.run(["merge", parts[0], parts[2], parts[3]])
        #expect(gap.status == 65 && gap.stderr.contains("ends at 150.0 s but") && gap.stderrLines.count == 1, "\(gap.stderr)")
        let whole2 = try CLI.run(["merge", whole, parts[1]])
        #expect(whole2.status == 65 && whole2.stderr.contains("not a part"), "\(whole2.stderr)")
    }

    @Test func shardsCoverEveryInputExactlyOnce() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (manifest, good, broken) = try Archive.corpus(in: dir)
        var seen: [String: Int] = [:]
        for k in 0..<4 {
            // --shard auto as a Kubernetes Indexed Job sets it.
            let out = dir.appendingPathComponent("out").path + "/"
            let r = try runProcess(CLI.binary, ["label", "--model", try Archive.model, "--quiet", "--from", manifest, "--shard", "auto", "-o", out],
                                   environment: ProcessInfo.processInfo.environment.merging(["JOB_COMPLETION_INDEX": "\(k)", "JOB_COMPLETIONS": "4"]) { $1 })
            #expect([0, 1].contains(r.status), "\(r.stderr)")
        }
        for r in Archive.index(dir.appendingPathComponent("out")) where r["status"] as? String != "started" {
            seen[r["input"] as! String, default: 0] += 1
            #expect(["0/4", "1/4", "2/4", "3/4"].contains(r["shard"] as? String ?? ""))
        }
        #expect(Set(seen.keys) == Set(good + broken) && seen.values.allSatisfy { $0 == 1 }, "\(seen)")
        let noEnv = try CLI.run(["label", "--model", try Archive.model, "--from", manifest, "--shard", "auto", "-o", dir.path + "/x/"])
        #expect(noEnv.status == 64 && noEnv.stderr.contains("JOB_COMPLETION_INDEX"))
        let bad = try CLI.run(["label", "--model", try Archive.model, "--from", manifest, "--shard", "4/4"])
        #expect(bad.status == 64 && bad.stderr.contains("0 ≤ K < N"))
    }

    /// The Indexed Job's exact command line, run once per index with JOB_COMPLETION_INDEX set as the pods would be
    /// (the volume's mount path replaced by a directory here, the image's binary by the installed one).
    @Test func theIndexedJobRunsAsItsPodsWould() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let job = TestFixtures.repositoryRoot.appendingPathComponent("deploy/label-job.yaml").path
        let parsed = try runProcess("/usr/bin/python3", ["-c", """
            import json, sys, yaml
            docs = list(yaml.safe_load_all(open(sys.argv[1])))
            assert len(docs) == 1, "one document"
            j = docs[0]
            assert j["apiVersion"] == "batch/v1" and j["kind"] == "Job", "a batch/v1 Job"
            s = j["spec"]
            assert s["completionMode"] == "Indexed", "Indexed"
            assert isinstance(s["backoffLimitPerIndex"], int) and s["backoffLimitPerIndex"] >= 1, "per-index retries"
            c = s["template"]["spec"]["containers"][0]
            env = {e["name"]: e["value"] for e in c["env"]}
            assert int(env["JOB_COMPLETIONS"]) == s["completions"], "JOB_COMPLETIONS == completions"
            assert s["template"]["spec"]["restartPolicy"] == "Never"
            assert s["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
            print(json.dumps({"completions": s["completions"], "command": c["command"] + c["args"], "env": env,
                              "mount": c["volumeMounts"][0]["mountPath"]}))
            """, job])
        try #require(parsed.status == 0, "deploy/label-job.yaml: \(parsed.stderr)")
        let spec = try #require(try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [String: Any])
        let completions = spec["completions"] as! Int, mount = spec["mount"] as! String
        // The pod's environment: the manifest's env, and the index Kubernetes adds.
        let podEnvironment = ProcessInfo.processInfo.environment.merging(spec["env"] as! [String: String]) { $1 }
        var command = spec["command"] as! [String]
        #expect(command.contains("--resume") && command.contains("auto"))
        // The archive volume: the manifest, the videos, the model.
        let archive = dir.appendingPathComponent("archive")
        try FileManager.default.createDirectory(at: archive, withIntermediateDirectories: true)
        let (manifest, good, broken) = try Archive.corpus(in: archive)
        #expect(command.contains(manifest.replacingOccurrences(of: archive.path, with: mount)), "the Job reads \(mount)/manifest.txt")
        let modelIndex = try #require(command.firstIndex(of: "--model")) + 1
        try FileManager.default.createDirectory(at: archive.appendingPathComponent("models"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try Archive.model, toPath: command[modelIndex].replacingOccurrences(of: mount, with: archive.path))
        command = command.map { $0.replacingOccurrences(of: mount, with: archive.path) }
        command[0] = try TestFixtures.path("prefix/bin/vidar")
        for index in 0..<completions {
            let r = try runProcess(command[0], Array(command.dropFirst()), environment: podEnvironment.merging(
                ["JOB_COMPLETION_INDEX": "\(index)"]) { $1 })
            #expect([0, 1].contains(r.status), "pod \(index): \(r.stderr.suffix(500))")
        }
        let out = archive.appendingPathComponent("timelines")
        let report = try Archive.report(out)
        #expect(report.json["done"] as? Int == good.count && report.json["failed"] as? Int == broken.count && report.json["pending"] as? Int == 0,
                "\(report.json)")
        // A pod replaced after a failure (same index, same command): everything of its shard is up to date.
        let again = try runProcess(command[0], Array(command.dropFirst()), environment: podEnvironment.merging(
            ["JOB_COMPLETION_INDEX": "0"]) { $1 })
        let summary = try Archive.summary(again.stderr)
        #expect(summary["labelled"] as? Int == 0 && (summary["skipped"] as? Int ?? 0) > 0, "\(summary)")
    }

    /// The container's runtime stage installs a Debian package for every shared library the installed vidar needs.
    @Test func theContainerRuntimeHasEveryLibraryVidarLoads() throws {
        let dockerfile = try String(contentsOf: TestFixtures.repositoryRoot.appendingPathComponent("deploy/Dockerfile"), encoding: .utf8)
        let stages = dockerfile.components(separatedBy: "\nFROM ")
        #expect(stages.count == 3 && dockerfile.hasPrefix("#") && stages[1].hasPrefix("debian:12 AS builder"), "comments, a builder, a runtime")
        let runtime = try #require(stages.last)
        #expect(runtime.hasPrefix("debian:12-slim") && runtime.contains("USER 10001") && !runtime.contains("/opt/swift") && !runtime.contains("install-deps"))
        let binary = try TestFixtures.path("prefix/bin/vidar")
        let needed = try runProcess("/usr/bin/objdump", ["-p", binary])
        try #require(needed.status == 0, "run `make test` (it installs vidar into the fixtures' prefix): \(needed.stderr)")
        let base: Set<String> = ["libc.so.6", "libm.so.6", "libgcc_s.so.1", "ld-linux-x86-64.so.2", "libstdc++.so.6", "libz.so.1"]
        let libraries = needed.stdout.split(separator: "\n").filter { $0.contains("NEEDED") }.compactMap { $0.split(separator: " ").last.map(String.init) }
        #expect(libraries.contains("libdnnl.so.2") && libraries.contains("libavcodec.so.59"))
        for lib in libraries where !base.contains(lib) {
            let found = try runProcess("/bin/sh", ["-c", "dpkg -S \"$(readlink -f \"$(ldconfig -p | awk -v l=\(lib) '$1==l{print $NF; exit}')\")\" | cut -d: -f1"])
            let package = found.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!package.isEmpty && (runtime.contains(" \(package) ") || runtime.contains(" \(package)\n")),
                    "\(lib) (\(package)) is not installed by the runtime stage")
        }
    }
}
