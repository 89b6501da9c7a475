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
    /// The aggregator's knobs; nil keeps the model's recommendation (`AggregatorDefaults`), else the defaults below.
    public var smoothing: AggregatorOptions.Smoothing?
    public var threshold: Double?
    public var exitThreshold: Double?
    /// Start thresholds per class, by label name or index.
    public var classThresholds: [String: Double] = [:]
    public var margin: Double?
    public var patience: Int?
    public var minDuration: Double?
    public var topK = 3

    /// What applies when neither the user nor the model sets a knob.
    public static let defaults = AggregatorOptions(smoothing: .none, enterThreshold: 0.4, exitThreshold: 0.25, margin: 0.1, patience: 2,
                                                   minDuration: 1.0)

    public init() {}

    /// Why these settings cannot run; nil when they can.
    public var validationError: String? {
        if let fps, !(fps > 0 && fps <= 1000) { return "fps must be in (0, 1000], got \(fps)" }
        if let clipLength, !(1...1024).contains(clipLength) { return "clip length must be in 1...1024, got \(clipLength)" }
        if let stride, !(1...4096).contains(stride) { return "stride must be in 1...4096, got \(stride)" }
        if let problem = AggregatorDefaults(smoothing: smoothing, threshold: threshold, exitThreshold: exitThreshold, margin: margin,
                                            patience: patience, minDuration: minDuration).validationError { return problem }
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
        // Each knob: the user's, else the model's, else the default; the pair of thresholds is checked as it resolved.
        let model = model.aggregatorDefaults, d = Self.defaults
        let threshold = threshold ?? model.threshold ?? d.enterThreshold, exitThreshold = exitThreshold ?? model.exitThreshold ?? d.exitThreshold
        if threshold < exitThreshold {
            throw VidarError(.invalidRequest, "the threshold (\(threshold)) must not be below the exit threshold (\(exitThreshold))")
        }
        let aggregator = AggregatorOptions(smoothing: smoothing ?? model.smoothing ?? d.smoothing, enterThreshold: threshold,
                                           classEnterThresholds: byIndex, exitThreshold: exitThreshold,
                                           margin: margin ?? model.margin ?? d.margin, patience: patience ?? model.patience ?? d.patience,
                                           minDuration: minDuration ?? model.minDuration ?? d.minDuration, topK: topK)
        return (sampling, aggregator)
    }
}
