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

        model and sampling:
          --model CKPT|NAME     checkpoint or registered name (default: r3d_18, see `vidar models fetch`)
          --labels FILE         class names, one per line (default: the checkpoint's, or Kinetics-400)
          --fps F               sampling rate (default: the model's, 15 for torchvision's)
          --clip-len L          frames per clip (default: the model's, 16)
          --stride S            sampled frames between clip starts (default: the clip length)
          --batch N             clips per network call (default: 1)
        smoothing and segments:
          --smooth MODE         none, ma:K (mean of the last K clips) or ema:ALPHA (default: ma:3)
          --threshold P         smoothed probability a label needs to start (default: 0.4)
          --class-threshold C=P start threshold for one class (name or index), repeatable (default: none)
          --exit-threshold P    below this the current label ends in no_action (default: 0.25)
          --margin M            a new label must beat the current one by M… (default: 0.1)
          --patience N          …for N consecutive clips (default: 2)
          --min-duration S      seconds a segment lasts at least (default: 1.0)
          --topk K              alternatives per segment, predictions per clip (default: 3)
        output:
          --format F            json, jsonl, srt, vtt or csv (default: json)
          -o PATH               output file (one input) or directory (several)
          --clips               include every clip's top-k predictions (json)
          --progress MODE       auto (a bar when stderr is a terminal), json (progress lines on stderr), none
                                (default: auto)
          --quiet               no summary on stderr
          --threads N           compute threads (default: \(ProcessInfo.processInfo.activeProcessorCount), the core count)
          --backend NAME        auto, onednn, gemm or reference (default: auto)

        Exit: 0 all inputs labelled, 1 some failed (the others' outputs are complete), 64 usage, 130 interrupted.
        """ }

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        if args.flag("--help") || args.flag("-h") { print(usage); return .success }
        let modelSpec = try args.option("--model") ?? "r3d_18"
        let labelsFile = try args.option("--labels")
        let fps = try args.doubleOption("--fps", range: 0.01...1000)
        let clipLength = try args.intOption("--clip-len", range: 1...1024)
        let stride = try args.intOption("--stride", range: 1...4096)
        let batch = try args.intOption("--batch", range: 1...64) ?? 1
        let smoothing = try parseSmoothing(try args.option("--smooth") ?? "ma:3")
        let threshold = try args.doubleOption("--threshold", range: 0...1) ?? 0.4
        let exitThreshold = try args.doubleOption("--exit-threshold", range: 0...1) ?? 0.25
        let classThresholdSpecs = try args.repeated("--class-threshold")
        let margin = try args.doubleOption("--margin", range: 0...1) ?? 0.1
        let patience = try args.intOption("--patience", range: 1...1000) ?? 2
        let minDuration = try args.doubleOption("--min-duration", range: 0...86400) ?? 1.0
        let topK = try args.intOption("--topk", range: 1...100) ?? 3
        let formatName = try args.option("--format") ?? "json"
        guard let format = TimelineFormat(rawValue: formatName) else {
            throw UsageError("--format must be one of \(TimelineFormat.allCases.map(\.rawValue).joined(separator: ", ")); got '\(formatName)'")
        }
        let output = try args.option("-o") ?? args.option("--output")
        let keepClips = args.flag("--clips")
        let quiet = args.flag("--quiet")
        let progressMode = try args.option("--progress") ?? "auto"
        guard ["auto", "json", "none"].contains(progressMode) else { throw UsageError("--progress must be auto, json or none") }
        let threads = try args.intOption("--threads", range: 1...256) ?? ProcessInfo.processInfo.activeProcessorCount
        let backendName = try args.option("--backend") ?? "auto"
        guard backendName == "auto" || Backends.names.contains(backendName) else { throw UsageError("unknown --backend '\(backendName)'") }
        let inputs = try args.positionals()
        guard !inputs.isEmpty else { throw UsageError("no input files") }
        guard threshold >= exitThreshold else { throw UsageError("--threshold must not be below --exit-threshold") }

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

        Backends.setThreads(threads)
        let backend: ConvolutionBackend
        do { backend = try Backends.named(backendName) } catch { throw VidarError(.unavailable, "backend \(backendName): \(error)") }
        let model = try ModelLoader.load(modelSpec, labelsFile: labelsFile)
        var classThresholds: [String: Double] = [:]
        for spec in classThresholdSpecs {
            guard let eq = spec.lastIndex(of: "="), let p = Double(spec[spec.index(after: eq)...]), (0...1).contains(p) else {
                throw UsageError("--class-threshold takes CLASS=P with P in 0...1, got '\(spec)'")
            }
            let name = String(spec[..<eq])
            guard let index = model.labels?.firstIndex(of: name) ?? Int(name), (0..<model.network.config.numClasses).contains(index) else {
                throw UsageError("--class-threshold: '\(name)' is not a class of this model (a label name or an index)")
            }
            classThresholds[String(index)] = p
        }
        var sampling = model.preprocessing.sampling
        if let fps { sampling.fps = fps }
        if let clipLength { sampling.clipLength = clipLength; sampling.stride = clipLength }
        if let stride { sampling.stride = stride }
        var options = LabelOptions(sampling: sampling, aggregator: AggregatorOptions(
            smoothing: smoothing, enterThreshold: threshold, classEnterThresholds: classThresholds, exitThreshold: exitThreshold, margin: margin,
            patience: patience, minDuration: minDuration, topK: topK))
        options.batch = batch
        options.keepClips = keepClips
        options.topK = topK
        let labeller = Labeller(model: model, options: options, backend: backend)

        let cancel = CancellationFlag()
        let interrupts = installInterruptHandler(cancel)
        defer { interrupts.cancel() }
        let showBar = progressMode == "auto" && isatty(STDERR_FILENO) == 1
        var failures = 0
        for input in inputs {
            if cancel.isCancelled { break }
            do {
                let timeline = try labeller.label(input, progress: { p in
                    if progressMode == "json" { printProgressLine(p) } else if showBar { printBar(p) }
                }, cancelled: { cancel.isCancelled })
                if showBar { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                let data = format.encode(timeline)
                if let path = destination(input) { try AtomicFile.write(data, to: path) } else { FileHandle.standardOutput.write(data) }
                if !quiet { summarize(timeline, to: destination(input)) }
            } catch let e as VidarError {
                if showBar { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                FileHandle.standardError.write(Data("vidar: \(e.message)\n".utf8))
                failures += 1
            }
        }
        if cancel.isCancelled { return .interrupted }
        return failures == 0 ? .success : .partialFailure
    }

    static func parseSmoothing(_ text: String) throws -> AggregatorOptions.Smoothing {
        if text == "none" { return .none }
        let parts = text.split(separator: ":")
        if parts.count == 2, parts[0] == "ma", let k = Int(parts[1]), k >= 1 { return .movingAverage(clips: k) }
        if parts.count == 2, parts[0] == "ema", let a = Double(parts[1]), a > 0, a <= 1 { return .exponential(alpha: a) }
        throw UsageError("--smooth must be none, ma:K (K ≥ 1) or ema:ALPHA (0 < ALPHA ≤ 1); got '\(text)'")
    }

    /// First SIGINT: finish the current file's timeline as incomplete. Second: leave at once.
    static func installInterruptHandler(_ cancel: CancellationFlag) -> DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            if cancel.isCancelled { exit(ExitCode.interrupted.rawValue) }
            cancel.cancel()
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
