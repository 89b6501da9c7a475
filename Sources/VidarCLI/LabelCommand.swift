// `vidar label INPUT...`: each video → a per-segment timeline. Nothing is lost in a batch: a failing input gets
// one line on stderr and the others go on; outputs never collide and are written atomically; a stop signal
// writes what the current input has, marked incomplete.
import Foundation
import Synchronization
import Vidar
import VidarStream
import VidarVideo

enum LabelCommand: Command {
    static let spec = CommandSpec(
        name: "label",
        usage: ["vidar label [options] [--] INPUT..."],
        summary: """
            Labels each video: what happens, and when. INPUT is a video file, a directory (its video files), or a \
            URL FFmpeg reads. Writes one timeline per input (schema vidar.timeline/1, docs/timeline.schema.json): \
            to stdout (several inputs: one JSON array, or JSONL/CSV records that name their source), to -o FILE, \
            or into -o DIR/ (created; each input's path relative to the inputs' common directory, plus the format's \
            extension). A summary goes to stderr.
            """,
        groups: [
            SharedOptions.model, SharedOptions.sampling, SharedOptions.segments, SharedOptions.compute,
            OptionGroup("batching", [
                Option(["--batch"], value: "N", default: "1", "clips per network call"),
            ]),
            SharedOptions.input(decodeThreads: "1"),
            OptionGroup("inputs and outputs", [
                Option(["--from"], value: "LIST", default: "none", "also label the inputs listed in LIST, one per line (- for stdin; # comments)"),
                Option(["--recursive"], "a directory input includes its subdirectories"),
                Option(["--glob"], value: "PATTERN", default: "common video extensions", repeatable: true,
                       "file names a directory input includes (e.g. '*.mp4'), repeatable"),
                Option(["-o", "--output"], value: "PATH", default: "stdout",
                       "output file (one input), or directory: a trailing slash, an existing directory, or several inputs"),
                Option(["--format"], value: "F", default: "-o's extension, else json", "json, jsonl, srt, vtt or csv"),
                Option(["--clips"], "include every clip's top-k predictions (json)"),
                Option(["--progress"], value: "MODE", default: "auto",
                       "auto (a bar when stderr is a terminal), json (progress lines on stderr) or none"),
                Option(["--quiet"], "no summaries or warnings on stderr (errors still are; warnings stay in the timelines)"),
            ]),
            OptionGroup("archives (README: Labelling an archive)", [
                Option(["--shard"], value: "K/N", default: "all inputs",
                       "label only shard K of N (0 ≤ K < N; by a stable hash of each input); auto: a Kubernetes Indexed Job's "
                       + "JOB_COMPLETION_INDEX of JOB_COMPLETIONS"),
                Option(["--resume"], "skip inputs whose output is complete and made from the same input content, model, settings "
                       + "and vidar version; redo the others"),
                Option(["--full-hash"], "record each input's full SHA-256 (besides the fast hash of its size and three samples)"),
                Option(["--start"], value: "TIME", default: "0", "label only the clips that start at or after TIME (seconds or [HH:]MM:SS)"),
                Option(["--end"], value: "TIME", default: "the end", "… and before TIME; `vidar merge` joins such parts exactly"),
            ]),
        ],
        footer: """
            With -o DIR/, every input started, finished or failed is appended to DIR/INDEX.jsonl (`vidar report DIR`). \
            Exit: 0 all inputs labelled (or up to date with --resume); 1 some failed (the others' outputs are complete); with one input, or when \
            every input failed, the failure's own code (65 bad data, 66 missing, 69 unavailable, 73 cannot create; \
            the first failure's when they differ); 64 usage; 128+N stopped by signal N (130 SIGINT, 143 SIGTERM, \
            129 SIGHUP), with the current input's timeline written, marked incomplete.
            """,
        renamed: SharedOptions.renamedInputOptions.filter { $0.key != "--format" })

    static func run(_ args: ParsedArguments) throws -> ExitCode {
        let settings = try PipelineSettings(args)
        let batch = try args.int("--batch", in: 1...64) ?? 1
        let format = try args.choice("--format", in: TimelineFormat.allCases.map(\.rawValue)).flatMap(TimelineFormat.init(rawValue:))
        let progressMode = try args.choice("--progress", in: ["auto", "json", "none"]) ?? "auto"
        let quiet = args.flag("--quiet")
        let source = try SharedOptions.sourceOptions(args, maxTimeout: 86400, decodeThreads: 1)
        var inputs = args.positionals
        if let list = args.string("--from") { inputs += try Manifest.read(list) }
        guard !inputs.isEmpty else { throw UsageError("no inputs (files, directories, URLs, or --from LIST)") }
        let shard = try args.string("--shard").map { try Shard(parsing: $0) }
        let range = try timeRange(args)
        let resume = args.flag("--resume")
        let plan = try LabelPlan(inputs: inputs, output: args.string("--output"), format: format,
                                 recursive: args.flag("--recursive"), globs: args.strings("--glob"),
                                 nameSuffix: range.map(rangeSuffix), shard: shard)
        if resume && plan.items.contains(where: { $0.output == nil }) {
            throw UsageError("--resume compares existing outputs: write them to files (-o DIR/)")
        }

        let (model, backend, precision, sampling, aggregator) = try settings.load()
        var options = LabelOptions(sampling: sampling, aggregator: aggregator)
        options.batch = batch
        options.keepClips = args.flag("--clips")
        options.topK = settings.topK
        options.source = source
        options.decodeThreads = source.decodeThreads
        options.range = range
        options.fullHash = args.flag("--full-hash")
        options.backendName = settings.backendName
        options.precision = precision
        let labeller = Labeller(model: model, options: options, backend: backend, threads: settings.threads)
        let cancellation = labeller.cancellation
        let signals = StopSignals { cancellation.cancel() }
        defer { signals.cancel() }
        if let notice = model.notice, !quiet { printNote(notice) }

        let showBar = progressMode == "auto" && isatty(STDERR_FILENO) == 1
        let clearBar = { if showBar { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) } }
        var stdoutStream = plan.items.count + plan.unusable.count > 1 && plan.items.contains { $0.output == nil }
            ? TimelineStream(format: plan.format) { FileHandle.standardOutput.write($0) } : nil
        var failures: [ExitCode] = []
        var labelled = 0, warnings = 0, skipped = 0
        let index = try plan.directory.map { try RunIndex(directory: $0, shard: shard) }
        let lastOK = resume && plan.format != .json ? plan.directory.map(ResumeCheck.lastOK(in:)) ?? [:] : [:]
        for (input, error) in plan.unusable {
            printError(error.message)
            failures.append(ExitCode(for: error))
            try index?.failed(input, output: nil, error: error, code: ExitCode(for: error))
        }
        for item in plan.items {
            if cancellation.isCancelled { break }
            if resume, let out = item.output, let expected = try? labeller.provenance(of: item.input),
               ResumeCheck.upToDate(output: out, input: item.input, expected: expected, range: range, format: plan.format, index: lastOK) {
                skipped += 1
                try index?.skipped(item.input, output: out)
                continue
            }
            if let out = item.output { try index?.started(item.input, output: out) }
            do {
                let timeline = try labeller.label(item.input, progress: { p in
                    if progressMode == "json" { printProgressLine(p) } else if showBar { printBar(p) }
                })
                clearBar()
                let data = plan.format.encode(timeline)
                if let path = item.output {
                    if plan.directory != nil { try createParent(of: path) }
                    try AtomicFile.write(data, to: path)
                } else if stdoutStream != nil {
                    stdoutStream!.append(timeline)
                } else {
                    FileHandle.standardOutput.write(data)
                }
                labelled += 1
                warnings += timeline.warnings.count
                if let out = item.output, timeline.complete { try index?.finished(item.input, output: out, timeline: timeline) }
                if progressMode == "json" {
                    for w in timeline.warnings { printJSONLine(["event": "warning", "path": item.input, "code": w.code.rawValue, "message": w.message]) }
                } else if !quiet {
                    for w in timeline.warnings { printError("warning: \(item.input): \(w.message)") }
                    summarize(timeline, to: item.output)
                }
            } catch {
                clearBar()
                if cancellation.isCancelled { break }
                printError("\(error)")
                failures.append(ExitCode(for: error))
                try index?.failed(item.input, output: item.output, error: error, code: ExitCode(for: error))
            }
        }
        stdoutStream?.finish()
        let total = plan.items.count + plan.unusable.count
        let notStarted = total - labelled - failures.count - skipped
        if progressMode == "json" {
            printJSONLine(["event": "summary", "labelled": labelled, "failed": failures.count, "warnings": warnings, "not_started": notStarted,
                           "skipped": skipped])
        } else if !quiet || !failures.isEmpty {
            var line = "\(labelled) labelled, \(failures.count) failed, \(warnings) warning\(warnings == 1 ? "" : "s")"
            if resume { line += ", \(skipped) up to date (skipped)" }
            if let shard { line += " (shard \(shard) of \(plan.shardedFrom) inputs)" }
            if notStarted > 0 { line += ", \(notStarted) not started" }
            FileHandle.standardError.write(Data("vidar: \(line)\n".utf8))
        }
        if let stopped = signals.exitCode { return stopped }
        if failures.isEmpty { return .success }
        return failures.count == total ? failures[0] : .partialFailure
    }

    /// --start/--end as a range (nil: the whole video).
    static func timeRange(_ args: ParsedArguments) throws -> TimeRange? {
        let start = try args.string("--start").map { try parseTime($0, option: "--start") }
        let end = try args.string("--end").map { try parseTime($0, option: "--end") }
        guard start != nil || end != nil else { return nil }
        if let end, end <= (start ?? 0) { throw UsageError("--end \(end) s is not after --start \(start ?? 0) s") }
        return TimeRange(start: start ?? 0, end: end)
    }

    /// Seconds ("90", "90.5") or [HH:]MM:SS[.fff].
    static func parseTime(_ text: String, option: String) throws -> Double {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let numbers = parts.map { Double($0) }
        guard (1...3).contains(parts.count), numbers.allSatisfy({ $0 != nil && $0! >= 0 && $0!.isFinite }),
              parts.count == 1 || numbers.dropFirst().allSatisfy({ $0! < 60 }) else {
            throw UsageError("\(option) takes seconds or [HH:]MM:SS, not '\(text)'")
        }
        let seconds = numbers.reduce(0) { $0 * 60 + $1! }
        guard seconds < 1e9 else { throw UsageError("\(option) \(text) is too far") }
        return seconds
    }

    /// Output names of a time range's timeline: clip.mp4.120-240.json, clip.mp4.480-end.json.
    static func rangeSuffix(_ r: TimeRange) -> String {
        ".\(format(r.start))-\(r.end.map(format) ?? "end")"
    }

    private static func format(_ t: Double) -> String { t == t.rounded() ? String(Int(t)) : String(format: "%.3f", t) }

    static func printNote(_ text: String) {
        FileHandle.standardError.write(Data("vidar: note: \(text)\n".utf8))
    }

    static func printBar(_ p: LabelProgress) {
        let fps = p.elapsed > 0 ? Double(p.framesDecoded) / p.elapsed : 0
        var text = "\r\u{1B}[K\(URL(fileURLWithPath: p.path).lastPathComponent)  \(p.framesDecoded) frames  \(p.clips) clips  \(Int(fps)) fps"
        if let d = p.duration, d > 0, p.videoSeconds > 0 {
            let fraction = min(1, p.videoSeconds / d)
            let filled = Int(fraction * 20)
            let eta = p.elapsed / fraction - p.elapsed
            text += String(format: "  [%@%@] %3.0f%%  ETA %.0fs", String(repeating: "#", count: filled),
                           String(repeating: " ", count: 20 - filled), fraction * 100, eta)
        }
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func printProgressLine(_ p: LabelProgress) {
        var o: [String: Any] = ["event": "progress", "path": p.path, "frames": p.framesDecoded, "clips": p.clips,
                                "video_seconds": p.videoSeconds, "elapsed": p.elapsed]
        if let d = p.duration { o["duration"] = d }
        printJSONLine(o)
    }

    /// One JSON object on stderr (`--progress json`: everything on stderr but errors is machine-readable).
    static func printJSONLine(_ o: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes]) {
            FileHandle.standardError.write(data + Data("\n".utf8))
        }
    }

    /// Outputs named after nested input paths go into subdirectories of the output directory.
    static func createParent(of path: String) throws {
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard !FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory) else { return }
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw VidarError(.cannotCreate, "\(parent): cannot create the output directory (\(FileErrors.describe(error)))")
        }
    }

    static func summarize(_ t: Timeline, to path: String?) {
        var lines = ["\(t.source.path): \(t.segments.count) segments, \(t.stats.clips) clips, "
                     + String(format: "%.1f× real time", t.stats.realtimeFactor) + (t.complete ? "" : " (interrupted: incomplete)")
                     + (path.map { " → \($0)" } ?? "")]
        for s in t.segments {
            lines.append(String(format: "  %7.2f – %7.2f s  %@  (score %.2f, peak %.2f)", s.start, s.end, s.label, s.score, s.peak))
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
