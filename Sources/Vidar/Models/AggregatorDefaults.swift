// The aggregator settings a model recommends, from its safetensors metadata: the bundled model's were tuned on
// videos of their own (Benchmarks/eval/tune_aggregator.py), so `vidar label` with no flags segments as measured.
// A user's flag or serve setting still wins; a model without the key (torchvision's) gets vidar's defaults.
import Foundation
import VidarStream

public struct AggregatorDefaults: Codable, Equatable, Sendable {
    public var smoothing: AggregatorOptions.Smoothing?
    public var threshold: Double?
    public var exitThreshold: Double?
    public var margin: Double?
    public var patience: Int?
    public var minDuration: Double?

    /// The safetensors metadata key: JSON such as {"smooth": "ma:2", "patience": 3}, in serve's setting names.
    public static let metadataKey = "vidar.aggregator"

    public init(smoothing: AggregatorOptions.Smoothing? = nil, threshold: Double? = nil, exitThreshold: Double? = nil,
                margin: Double? = nil, patience: Int? = nil, minDuration: Double? = nil) {
        (self.smoothing, self.threshold, self.exitThreshold) = (smoothing, threshold, exitThreshold)
        (self.margin, self.patience, self.minDuration) = (margin, patience, minDuration)
    }

    enum CodingKeys: String, CodingKey {
        case smooth, threshold, exitThreshold = "exit_threshold", margin, patience, minDuration = "min_duration"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try c.decodeIfPresent(String.self, forKey: .smooth) {
            guard let s = StreamSettings.smoothing(parsing: text) else {
                throw DecodingError.dataCorruptedError(forKey: .smooth, in: c, debugDescription: "smooth must be none, ma:K or ema:ALPHA, got '\(text)'")
            }
            smoothing = s
        }
        threshold = try c.decodeIfPresent(Double.self, forKey: .threshold)
        exitThreshold = try c.decodeIfPresent(Double.self, forKey: .exitThreshold)
        margin = try c.decodeIfPresent(Double.self, forKey: .margin)
        patience = try c.decodeIfPresent(Int.self, forKey: .patience)
        minDuration = try c.decodeIfPresent(Double.self, forKey: .minDuration)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(smoothing.map(Self.describe), forKey: .smooth)
        try c.encodeIfPresent(threshold, forKey: .threshold)
        try c.encodeIfPresent(exitThreshold, forKey: .exitThreshold)
        try c.encodeIfPresent(margin, forKey: .margin)
        try c.encodeIfPresent(patience, forKey: .patience)
        try c.encodeIfPresent(minDuration, forKey: .minDuration)
    }

    /// `none`, `ma:K` or `ema:ALPHA`: the spelling `--smooth` takes.
    public static func describe(_ s: AggregatorOptions.Smoothing) -> String {
        switch s {
        case .none: "none"
        case .movingAverage(let k): "ma:\(k)"
        case .exponential(let a): "ema:\(a)"
        }
    }

    /// Why these values cannot run; nil when they can (unset ones are not checked).
    public var validationError: String? {
        for (name, p) in [("threshold", threshold), ("exit threshold", exitThreshold), ("margin", margin)] {
            if let p, !(0...1).contains(p) { return "\(name) must be in 0...1, got \(p)" }
        }
        if let threshold, let exitThreshold, threshold < exitThreshold {
            return "the threshold (\(threshold)) must not be below the exit threshold (\(exitThreshold))"
        }
        if let patience, !(1...1000).contains(patience) { return "patience must be in 1...1000, got \(patience)" }
        if let minDuration, !(0...86400).contains(minDuration) { return "minimum duration must be in 0...86400 s, got \(minDuration)" }
        return nil
    }

    /// "smooth ma:2, patience 3", or "none (vidar's defaults)".
    public var summary: String {
        let parts = [smoothing.map { "smooth \(Self.describe($0))" }, threshold.map { "threshold \($0)" },
                     exitThreshold.map { "exit threshold \($0)" }, margin.map { "margin \($0)" },
                     patience.map { "patience \($0)" }, minDuration.map { "min duration \($0) s" }].compactMap { $0 }
        return parts.isEmpty ? "none (vidar's defaults)" : parts.joined(separator: ", ")
    }

    /// From a checkpoint's metadata; empty (vidar's defaults) when it has none.
    public static func resolve(metadata: [String: String], path: String) throws -> AggregatorDefaults {
        guard let json = metadata[metadataKey] else { return AggregatorDefaults() }
        func bad(_ reason: String) -> VidarError { VidarError(.invalidData, "\(path): metadata '\(metadataKey)': \(reason)") }
        let defaults: AggregatorDefaults
        do { defaults = try JSONDecoder().decode(AggregatorDefaults.self, from: Data(json.utf8)) } catch let DecodingError.dataCorrupted(context) {
            throw bad(context.debugDescription)
        } catch {
            throw bad("not a JSON object of aggregator settings (smooth, threshold, exit_threshold, margin, patience, min_duration)")
        }
        if let reason = defaults.validationError { throw bad(reason) }
        return defaults
    }
}
