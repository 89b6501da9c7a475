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
        Option(["--smooth"], value: "MODE", default: "the model's, else none",
               "none, ma:K (mean of the last K clips) or ema:ALPHA"),
        Option(["--threshold"], value: "P", default: "the model's, else 0.4", "smoothed probability a label needs to start"),
        Option(["--class-threshold"], value: "C=P", default: "none", repeatable: true,
               "start threshold for one class (name or index), repeatable"),
        Option(["--exit-threshold"], value: "P", default: "the model's, else 0.25", "below this the current label ends in no_action"),
        Option(["--margin"], value: "M", default: "the model's, else 0.1", "a new label must beat the current one by M…"),
        Option(["--patience"], value: "N", default: "the model's, else 2", "…for N consecutive clips"),
        Option(["--min-duration"], value: "S", default: "the model's, else 1.0", "seconds a segment lasts at least"),
        Option(["--topk"], value: "K", default: "3", "alternatives per segment, predictions per clip"),
    ])

    static let compute = OptionGroup("compute", [
        Option(["--threads"], value: "N", default: "\(cores), the core count", "compute threads (oneDNN's and OpenBLAS's)"),
        Option(["--backend"], value: "NAME", default: "auto",
               "auto (oneDNN, else OpenBLAS), onednn, gemm (vol2col + OpenBLAS sgemm) or reference (naive loops, slow)"),
        Option(["--precision"], value: "P", default: "fp32",
               "fp32, bf16 (oneDNN; about 2× faster where the CPU has AVX512_BF16 or AMX, top-1 agreeing with fp32 on "
               + "≥ 99 % of clips), int8 (oneDNN, VNNI or AMX; needs a checkpoint from `vidar models calibrate`) "
               + "or auto (bf16 where the CPU computes it natively, else fp32)"),
    ])

    /// `--backend` and `--precision` (auto → what this CPU does best), checked as everywhere (ComputeChoice).
    static func compute(backend: String, precision: String) throws -> (ConvolutionBackend, Precision) {
        try ComputeChoice.resolve(backend: backend, precision: precision, setting: "--precision") { UsageError($0) }
    }

    /// int8 on a model without calibration: refused before any video is opened.
    static func check(_ precision: Precision, model: LoadedModel) throws {
        try ComputeChoice.check(precision, model: model, setting: "--precision") { UsageError($0) }
    }

    /// The FFmpeg input options of probe, label and watch.
    static func input(decodeThreads: String) -> OptionGroup {
        OptionGroup("input", [
            Option(["--input-format"], value: "NAME", default: "detected", "force FFmpeg's input format (e.g. v4l2, mpegts, mjpeg, lavfi)"),
            Option(["--input-option"], value: "K=V", aliases: ["--option"], default: "none", repeatable: true,
                   "an FFmpeg input option, repeatable (e.g. rtsp_transport=tcp, framerate=30)"),
            Option(["--stream"], value: "N", default: "the best video stream", "decode stream N"),
            Option(["--timeout"], value: "SECONDS", default: "10", "bound on every blocking open or read"),
            Option(["--decode-threads"], value: "N", default: decodeThreads, "FFmpeg decoder threads (0: FFmpeg's choice)"),
            Option(["--max-resolution"], value: "WxH", default: "8192x8192",
                   "refuse frames of more pixels than W×H before decoding them (a pixel bomb costs nothing)"),
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
        if let text = args.string("--max-resolution") {
            let parts = text.lowercased().split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, parts.allSatisfy({ (16...65536).contains($0) }) else {
                throw UsageError("--max-resolution takes WIDTHxHEIGHT (16–65536 each), got '\(text)'")
            }
            options.maxPixels = parts[0] * parts[1]
        }
        return options
    }
}

/// The model, sampling, segment and compute settings of `label` and `watch`, read from their options.
struct PipelineSettings {
    var modelSpec: String
    var labelsFile: String?
    var stream = StreamSettings()
    var threads: Int
    var backendName: String
    /// fp32, bf16 or auto; resolved by `load()`, against the backend.
    var precisionName: String
    var topK: Int { stream.topK }

    init(_ args: ParsedArguments) throws {
        modelSpec = args.string("--model") ?? ModelRegistry.bundledName
        labelsFile = args.string("--labels")
        stream.fps = try args.double("--fps", in: 0.01...1000)
        stream.clipLength = try args.int("--clip-len", in: 1...1024)
        stream.stride = try args.int("--stride", in: 1...4096)
        if let smooth = args.string("--smooth") {
            guard let smoothing = StreamSettings.smoothing(parsing: smooth) else {
                throw UsageError("--smooth must be none, ma:K (K ≥ 1) or ema:ALPHA (0 < ALPHA ≤ 1); got '\(smooth)'")
            }
            stream.smoothing = smoothing
        }
        stream.threshold = try args.double("--threshold", in: 0...1)
        stream.exitThreshold = try args.double("--exit-threshold", in: 0...1)
        for spec in args.strings("--class-threshold") {
            guard let eq = spec.lastIndex(of: "="), let p = Double(spec[spec.index(after: eq)...]), (0...1).contains(p) else {
                throw UsageError("--class-threshold takes CLASS=P with P in 0...1, got '\(spec)'")
            }
            stream.classThresholds[String(spec[..<eq])] = p
        }
        stream.margin = try args.double("--margin", in: 0...1)
        stream.patience = try args.int("--patience", in: 1...1000)
        stream.minDuration = try args.double("--min-duration", in: 0...86400)
        stream.topK = try args.int("--topk", in: 1...100) ?? 3
        threads = try args.int("--threads", in: 1...256) ?? SharedOptions.cores
        backendName = try args.choice("--backend", in: ["auto"] + Backends.names) ?? "auto"
        precisionName = try args.choice("--precision", in: Precision.choices) ?? "fp32"
        // Both given: checked here; one given, it is checked against the model's other when the model loads.
        if let t = stream.threshold, let e = stream.exitThreshold, t < e { throw UsageError("--threshold must not be below --exit-threshold") }
    }

    /// Loads the model and settles every default from it.
    func load() throws -> (LoadedModel, ConvolutionBackend, Precision, SamplingOptions, AggregatorOptions) {
        Backends.setThreads(threads)
        let (backend, precision) = try SharedOptions.compute(backend: backendName, precision: precisionName)
        let model = try ModelLoader.load(modelSpec, labelsFile: labelsFile)
        try SharedOptions.check(precision, model: model)
        let (sampling, aggregator) = try stream.resolve(for: model)
        return (model, backend, precision, sampling, aggregator)
    }
}
