// How a model wants its clips: torchvision's transform numbers and the sampling it was evaluated with.
// Carried by the model (safetensors metadata), never hard-wired into the decoder.
import Foundation
import VidarVideo

public struct Preprocessing: Codable, Equatable, Sendable {
    public var transform: ClipTransform
    public var sampling: SamplingOptions

    /// torchvision's Kinetics-400 video ResNets: VideoClassification(112, 128×171), 16 frames at 15 fps.
    public static let kinetics = Preprocessing(transform: .kinetics, sampling: SamplingOptions(fps: 15, clipLength: 16))

    /// The safetensors metadata key holding a model's preprocessing as JSON.
    public static let metadataKey = "vidar.preprocessing"

    public init(transform: ClipTransform, sampling: SamplingOptions) {
        self.transform = transform
        self.sampling = sampling
    }

    /// From a checkpoint's metadata, or the Kinetics preset for checkpoints that carry none (torchvision's).
    public static func resolve(metadata: [String: String], path: String) throws -> Preprocessing {
        guard let json = metadata[metadataKey] else { return .kinetics }
        func bad(_ reason: String) -> VidarError { VidarError(.invalidData, "\(path): metadata '\(metadataKey)': \(reason)") }
        guard let p = try? JSONDecoder().decode(Preprocessing.self, from: Data(json.utf8)) else {
            throw bad("not a valid preprocessing description (JSON with transform and sampling)")
        }
        let t = p.transform
        guard t.resize.count == 2, t.crop.count == 2, t.mean.count == 3, t.std.count == 3 else {
            throw bad("resize and crop need 2 sizes, mean and std 3 values")
        }
        guard (t.crop + t.resize).allSatisfy({ (1...maxSide).contains($0) }) else {
            throw bad("resize \(t.resize) and crop \(t.crop) must be between 1 and \(maxSide) pixels")
        }
        guard t.crop[0] <= t.resize[0], t.crop[1] <= t.resize[1] else { throw bad("crop \(t.crop) is larger than resize \(t.resize)") }
        guard t.mean.allSatisfy(\.isFinite), t.std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw bad("mean must be finite and std finite and positive")
        }
        if let reason = p.sampling.validationError { throw bad(reason) }
        return p
    }

    /// The largest resize or crop side a model may ask for (torchvision's video models use 128×171 → 112).
    public static let maxSide = 4096

    /// "resize 128×171, crop 112×112, mean …, std …".
    public var transformSummary: String {
        let t = transform
        func list(_ v: [Float]) -> String { v.map { String(format: "%g", $0) }.joined(separator: ", ") }
        return "resize \(t.resize[0])×\(t.resize[1]), crop \(t.crop[0])×\(t.crop[1]), mean [\(list(t.mean))], std [\(list(t.std))]"
    }

    /// "16-frame clips at 15 fps, a new clip every 8 sampled frames (overlapping)".
    public var samplingSummary: String {
        let s = sampling
        let fps = s.fps.map { String(format: "%g fps", $0) } ?? "every decoded frame"
        let overlap = s.stride < s.clipLength ? " (overlapping)" : s.stride > s.clipLength ? " (with gaps)" : ""
        return "\(s.clipLength)-frame clips at \(fps), a new clip every \(s.stride) sampled frames\(overlap)"
    }
}
