// The option groups several commands share, declared once: the model, sampling, segments, compute, and the
// FFmpeg input. One flag, one meaning, in every command.
import Foundation
import Vidar
import VidarStream
import VidarVideo

enum SharedOptions {
    static let cores = ProcessInfo.processInfo.activeProcessorCount

    static let model = OptionGroup("model", [
        Option(["--model"], value: "CKPT|NAME", default: "vidar-actions",
               "a checkpoint (.pth from torch.save, or .safetensors) or a name: vidar-actions (bundled, trained on "
               + "synthetic stick figures), r3d_18, mc3_18, r2plus1d_18 (torchvision's Kinetics-400, after `vidar models fetch`)"),
        Option(["--labels"], value: "FILE", default: "the checkpoint's, or Kinetics-400", "class names, one per line"),
    ])

    static let sampling = OptionGroup("sampling", [
        Option(["--fps"], value: "F", default: "the model's, 15 for torchvision's", "frames per second sampled from the video"),
        Option(["--clip-len"], value: "L", default: "the model's, 16", "frames per clip"),
        Option(["--stride"], value: "S", default: "the model's, else the clip length", "sampled frames between clip starts"),
    ])

    static let segments = OptionGroup("smoothing and segments", [
        Option(["--smooth"], value: "MODE", default: "none",
               "none, ma:K (mean of the last K clips) or ema:ALPHA; with overlapping clips none scored best on the action benchmark"),
        Option(["--threshold"], value: "P", default: "0.4", "smoothed probability a label needs to start"),
        Option(["--class-threshold"], value: "C=P", default: "none", repeatable: true,
               "start threshold for one class (name or index), repeatable"),
        Option(["--exit-threshold"], value: "P", default: "0.25", "below this the current label ends in no_action"),
        Option(["--margin"], value: "M", default: "0.1", "a new label must beat the current one by M…"),
        Option(["--patience"], value: "N", default: "2", "…for N consecutive clips"),
        Option(["--min-duration"], value: "S", default: "1.0", "seconds a segment lasts at least"),
        Option(["--topk"], value: "K", default: "3", "alternatives per segment, predictions per clip"),
    ])

    static let compute = OptionGroup("compute", [
        Option(["--threads"], value: "N", default: "\(cores), the core count", "compute threads (oneDNN's and OpenBLAS's)"),
        Option(["--backend"], value: "NAME", default: "auto",
               "auto (oneDNN, else OpenBLAS), onednn, gemm (vol2col + OpenBLAS sgemm) or reference (naive loops, slow)"),
    ])

    /// The FFmpeg input options of probe, label and watch.
    static func input(decodeThreads: String) -> OptionGroup {
        OptionGroup("input", [
            Option(["--input-format"], value: "NAME", default: "detected", "force FFmpeg's input format (e.g. v4l2, mpegts, mjpeg, lavfi)"),
            Option(["--input-option"], value: "K=V", aliases: ["--option"], default: "none", repeatable: true,
                   "an FFmpeg input option, repeatable (e.g. rtsp_transport=tcp, framerate=30)"),
            Option(["--stream"], value: "N", default: "the best video stream", "decode stream N"),
            Option(["--timeout"], value: "SECONDS", default: "10", "bound on every blocking open or read"),
            Option(["--decode-threads"], value: "N", default: decodeThreads, "FFmpeg decoder threads (0: FFmpeg's choice)"),
        ])
    }

    /// The spellings whose meaning changed, with the hint a user of the old one needs.
    static let renamedInputOptions = [
        "--format": "FFmpeg's input format is --input-format (--format names an output format)",
    ]

    static func sourceOptions(_ args: ParsedArguments, maxTimeout: Double, decodeThreads: Int) throws -> SourceOptions {
        var options = SourceOptions()
        options.format = args.string("--input-format")
        for kv in args.strings("--input-option") {
            guard let eq = kv.firstIndex(of: "="), eq != kv.startIndex else { throw UsageError("--input-option takes KEY=VALUE, got '\(kv)'") }
            options.ffmpegOptions[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
        }
        options.streamIndex = try args.int("--stream", in: 0...1000)
        options.timeout = try args.double("--timeout", in: 0.1...maxTimeout) ?? 10
        options.decodeThreads = try args.int("--decode-threads", in: 0...64) ?? decodeThreads
        return options
    }
}

/// The model, sampling, segment and compute settings of `label` and `watch`, read from their options.
struct PipelineSettings {
    var modelSpec: String
    var labelsFile: String?
    var fps: Double?
    var clipLength: Int?
    var stride: Int?
    var smoothing: AggregatorOptions.Smoothing
    var threshold: Double
    var exitThreshold: Double
    var classThresholdSpecs: [String]
    var margin: Double
    var patience: Int
    var minDuration: Double
    var topK: Int
    var threads: Int
    var backendName: String

    init(_ args: ParsedArguments) throws {
        modelSpec = args.string("--model") ?? ModelRegistry.bundledName
        labelsFile = args.string("--labels")
        fps = try args.double("--fps", in: 0.01...1000)
        clipLength = try args.int("--clip-len", in: 1...1024)
        stride = try args.int("--stride", in: 1...4096)
        smoothing = try Self.parseSmoothing(args.string("--smooth") ?? "none")
        threshold = try args.double("--threshold", in: 0...1) ?? 0.4
        exitThreshold = try args.double("--exit-threshold", in: 0...1) ?? 0.25
        classThresholdSpecs = args.strings("--class-threshold")
        margin = try args.double("--margin", in: 0...1) ?? 0.1
        patience = try args.int("--patience", in: 1...1000) ?? 2
        minDuration = try args.double("--min-duration", in: 0...86400) ?? 1.0
        topK = try args.int("--topk", in: 1...100) ?? 3
        threads = try args.int("--threads", in: 1...256) ?? SharedOptions.cores
        backendName = try args.choice("--backend", in: ["auto"] + Backends.names) ?? "auto"
        guard threshold >= exitThreshold else { throw UsageError("--threshold must not be below --exit-threshold") }
    }

    /// Loads the model and settles every default from it.
    func load() throws -> (LoadedModel, ConvolutionBackend, SamplingOptions, AggregatorOptions) {
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
        let aggregator = AggregatorOptions(smoothing: smoothing, enterThreshold: threshold, classEnterThresholds: classThresholds,
                                           exitThreshold: exitThreshold, margin: margin, patience: patience,
                                           minDuration: minDuration, topK: topK)
        return (model, backend, sampling, aggregator)
    }

    static func parseSmoothing(_ text: String) throws -> AggregatorOptions.Smoothing {
        if text == "none" { return .none }
        let parts = text.split(separator: ":")
        if parts.count == 2, parts[0] == "ma", let k = Int(parts[1]), k >= 1 { return .movingAverage(clips: k) }
        if parts.count == 2, parts[0] == "ema", let a = Double(parts[1]), a > 0, a <= 1 { return .exponential(alpha: a) }
        throw UsageError("--smooth must be none, ma:K (K ≥ 1) or ema:ALPHA (0 < ALPHA ≤ 1); got '\(text)'")
    }
}
