// What a user sets per stream, whether from command-line flags or serve's configuration: sampling overrides and
// the aggregator's knobs, resolved against the model they run with. Parsed and checked in one place.
import Foundation
import VidarStream
import VidarVideo

public struct StreamSettings: Sendable, Equatable {
    /// Sampling overrides; nil keeps the model's.
    public var fps: Double?
    public var clipLength: Int?
    public var stride: Int?
    public var smoothing: AggregatorOptions.Smoothing = .none
    public var threshold = 0.4
    public var exitThreshold = 0.25
    /// Start thresholds per class, by label name or index.
    public var classThresholds: [String: Double] = [:]
    public var margin = 0.1
    public var patience = 2
    public var minDuration = 1.0
    public var topK = 3

    public init() {}

    /// Why these settings cannot run; nil when they can.
    public var validationError: String? {
        if let fps, !(fps > 0 && fps <= 1000) { return "fps must be in (0, 1000], got \(fps)" }
        if let clipLength, !(1...1024).contains(clipLength) { return "clip length must be in 1...1024, got \(clipLength)" }
        if let stride, !(1...4096).contains(stride) { return "stride must be in 1...4096, got \(stride)" }
        for (name, p) in [("threshold", threshold), ("exit threshold", exitThreshold), ("margin", margin)] where !(0...1).contains(p) {
            return "\(name) must be in 0...1, got \(p)"
        }
        if threshold < exitThreshold { return "the threshold (\(threshold)) must not be below the exit threshold (\(exitThreshold))" }
        if !(1...1000).contains(patience) { return "patience must be in 1...1000, got \(patience)" }
        if !(0...86400).contains(minDuration) { return "minimum duration must be in 0...86400 s, got \(minDuration)" }
        if !(1...100).contains(topK) { return "top-k must be in 1...100, got \(topK)" }
        if let bad = classThresholds.first(where: { !(0...1).contains($0.value) }) { return "class threshold for '\(bad.key)' must be in 0...1" }
        return nil
    }

    /// `none`, `ma:K` (moving average of K clips) or `ema:ALPHA`; nil for anything else.
    public static func smoothing(parsing text: String) -> AggregatorOptions.Smoothing? {
        if text == "none" { return AggregatorOptions.Smoothing.none }
        let parts = text.split(separator: ":")
        if parts.count == 2, parts[0] == "ma", let k = Int(parts[1]), (1...1000).contains(k) { return .movingAverage(clips: k) }
        if parts.count == 2, parts[0] == "ema", let a = Double(parts[1]), a > 0, a <= 1 { return .exponential(alpha: a) }
        return nil
    }

    /// The model's sampling with these overrides, and the aggregator options with class names resolved to indices.
    public func resolve(for model: LoadedModel) throws -> (SamplingOptions, AggregatorOptions) {
        if let problem = validationError { throw VidarError(.invalidRequest, problem) }
        var byIndex: [String: Double] = [:]
        for (name, p) in classThresholds {
            guard let index = model.labels?.firstIndex(of: name) ?? Int(name), (0..<model.network.config.numClasses).contains(index) else {
                throw VidarError(.invalidRequest, "class threshold: '\(name)' is not a class of this model (a label name or an index)")
            }
            byIndex[String(index)] = p
        }
        var sampling = model.preprocessing.sampling
        if let fps { sampling.fps = fps }
        if let clipLength { sampling.clipLength = clipLength; sampling.stride = clipLength }
        if let stride { sampling.stride = stride }
        let aggregator = AggregatorOptions(smoothing: smoothing, enterThreshold: threshold, classEnterThresholds: byIndex,
                                           exitThreshold: exitThreshold, margin: margin, patience: patience,
                                           minDuration: minDuration, topK: topK)
        return (sampling, aggregator)
    }
}
