// The options `label` and `watch` share: model, sampling, smoothing/segmentation, compute. Parsed once here.
import Foundation
import Vidar
import VidarStream
import VidarVideo

struct PipelineArguments {
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

    static var usage: String { """
        model and sampling:
          --model CKPT|NAME     checkpoint or registered name: vidar-actions (the bundled action model), or
                                r3d_18/mc3_18/r2plus1d_18 after `vidar models fetch` (default: vidar-actions)
          --labels FILE         class names, one per line (default: the checkpoint's, or Kinetics-400)
          --fps F               sampling rate (default: the model's, 15 for torchvision's)
          --clip-len L          frames per clip (default: the model's, 16)
          --stride S            sampled frames between clip starts (default: the clip length)
        smoothing and segments:
          --smooth MODE         none, ma:K (mean of the last K clips) or ema:ALPHA (default: none — with
                                overlapping clips it scored best on the action benchmark; ma/ema add lag)
          --threshold P         smoothed probability a label needs to start (default: 0.4)
          --class-threshold C=P start threshold for one class (name or index), repeatable (default: none)
          --exit-threshold P    below this the current label ends in no_action (default: 0.25)
          --margin M            a new label must beat the current one by M… (default: 0.1)
          --patience N          …for N consecutive clips (default: 2)
          --min-duration S      seconds a segment lasts at least (default: 1.0)
          --topk K              alternatives per segment, predictions per clip (default: 3)
        compute:
          --threads N           compute threads (default: \(ProcessInfo.processInfo.activeProcessorCount), the core count)
          --backend NAME        auto, onednn, gemm or reference (default: auto)
        """ }

    init(_ args: inout Arguments) throws {
        modelSpec = try args.option("--model") ?? ModelRegistry.bundledName
        labelsFile = try args.option("--labels")
        fps = try args.doubleOption("--fps", range: 0.01...1000)
        clipLength = try args.intOption("--clip-len", range: 1...1024)
        stride = try args.intOption("--stride", range: 1...4096)
        smoothing = try Self.parseSmoothing(try args.option("--smooth") ?? "none")
        threshold = try args.doubleOption("--threshold", range: 0...1) ?? 0.4
        exitThreshold = try args.doubleOption("--exit-threshold", range: 0...1) ?? 0.25
        classThresholdSpecs = try args.repeated("--class-threshold")
        margin = try args.doubleOption("--margin", range: 0...1) ?? 0.1
        patience = try args.intOption("--patience", range: 1...1000) ?? 2
        minDuration = try args.doubleOption("--min-duration", range: 0...86400) ?? 1.0
        topK = try args.intOption("--topk", range: 1...100) ?? 3
        threads = try args.intOption("--threads", range: 1...256) ?? ProcessInfo.processInfo.activeProcessorCount
        backendName = try args.option("--backend") ?? "auto"
        guard backendName == "auto" || Backends.names.contains(backendName) else { throw UsageError("unknown --backend '\(backendName)'") }
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

extension Arguments {
    /// The FFmpeg input options `probe` and `watch` share: --format, repeatable --option KEY=VALUE, --timeout.
    mutating func sourceOptions(maxTimeout: Double) throws -> SourceOptions {
        var options = SourceOptions()
        options.format = try option("--format")
        for kv in try repeated("--option") {
            guard let eq = kv.firstIndex(of: "="), eq != kv.startIndex else { throw UsageError("--option takes KEY=VALUE, got '\(kv)'") }
            options.ffmpegOptions[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
        }
        options.timeout = try doubleOption("--timeout", range: 0.1...maxTimeout) ?? 10
        return options
    }
}
