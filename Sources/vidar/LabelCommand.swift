// `vidar label FILE...`: each video → a smoothed, per-segment timeline. A failing file gets one line on stderr
// and the others go on; outputs are written atomically; SIGINT writes what the current file has, incomplete.
import Foundation
import Vidar
import VidarStream
import VidarVideo

enum LabelCommand {
    static var usage: String { """
        usage: vidar label [options] FILE...

        Labels each video file: what happens, and when. Writes one timeline per input (schema vidar.timeline/1,
        see docs/timeline.schema.json) to stdout, to -o FILE (one input) or into -o DIR (named INPUT.FORMAT).

        \(PipelineArguments.usage)
        batching:
          --batch N             clips per network call (default: 1)
        output:
          --format F            json, jsonl, srt, vtt or csv (default: json)
          -o PATH               output file (one input) or directory (several)
          --clips               include every clip's top-k predictions (json)
          --progress MODE       auto (a bar when stderr is a terminal), json (progress lines on stderr), none
                                (default: auto)
          --quiet               no summary on stderr

        Exit: 0 all inputs labelled, 1 some failed (the others' outputs are complete), 64 usage, 130 interrupted.
        """ }

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        if args.flag("--help") || args.flag("-h") { print(usage); return .success }
        let pipeline = try PipelineArguments(&args)
        let batch = try args.intOption("--batch", range: 1...64) ?? 1
        let formatName = try args.option("--format") ?? "json"
        guard let format = TimelineFormat(rawValue: formatName) else {
            throw UsageError("--format must be one of \(TimelineFormat.allCases.map(\.rawValue).joined(separator: ", ")); got '\(formatName)'")
        }
        let output = try args.option("-o") ?? args.option("--output")
        let keepClips = args.flag("--clips")
        let quiet = args.flag("--quiet")
        let progressMode = try args.option("--progress") ?? "auto"
        guard ["auto", "json", "none"].contains(progressMode) else { throw UsageError("--progress must be auto, json or none") }
        let inputs = try args.positionals()
        guard !inputs.isEmpty else { throw UsageError("no input files") }

        // Where each input's timeline goes.
        var isDirectory: ObjCBool = false
        let outputIsDirectory = output.map { FileManager.default.fileExists(atPath: $0, isDirectory: &isDirectory) && isDirectory.boolValue } ?? false
        if inputs.count > 1, let output, !outputIsDirectory {
            throw UsageError("-o \(output) must be an existing directory when labelling several files")
        }
        func destination(_ input: String) -> String? {
            guard let output else { return nil }
            guard outputIsDirectory else { return output }
            return URL(fileURLWithPath: output).appendingPathComponent(URL(fileURLWithPath: input).lastPathComponent + "." + format.fileExtension).path
        }

        let (model, backend, sampling, aggregator) = try pipeline.load()
        var options = LabelOptions(sampling: sampling, aggregator: aggregator)
        options.batch = batch
        options.keepClips = keepClips
        options.topK = pipeline.topK
        let labeller = Labeller(model: model, options: options, backend: backend, threads: pipeline.threads)

        let cancellation = labeller.cancellation
        let interrupts = installInterruptHandler(cancellation)
        defer { interrupts.cancel() }
        let showBar = progressMode == "auto" && isatty(STDERR_FILENO) == 1
        var failures = 0
        for input in inputs {
            if cancellation.isCancelled { break }
            do {
                let timeline = try labeller.label(input, progress: { p in
                    if progressMode == "json" { printProgressLine(p) } else if showBar { printBar(p) }
                })
                if showBar { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                let data = format.encode(timeline)
                if let path = destination(input) { try AtomicFile.write(data, to: path) } else { FileHandle.standardOutput.write(data) }
                if !quiet { summarize(timeline, to: destination(input)) }
            } catch {
                if showBar { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                if cancellation.isCancelled { break }
                FileHandle.standardError.write(Data("vidar: \(error)\n".utf8))
                failures += 1
            }
        }
        if cancellation.isCancelled { return .interrupted }
        return failures == 0 ? .success : .partialFailure
    }

    /// First SIGINT: finish the current file's timeline as incomplete. Second: leave at once.
    static func installInterruptHandler(_ cancellation: LabelCancellation) -> DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            if cancellation.isCancelled { exit(ExitCode.interrupted.rawValue) }
            cancellation.cancel()
        }
        source.resume()
        return source
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
        if let data = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) {
            FileHandle.standardError.write(data + Data("\n".utf8))
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
