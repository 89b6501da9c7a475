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
        guard let p = try? JSONDecoder().decode(Preprocessing.self, from: Data(json.utf8)),
              p.transform.resize.count == 2, p.transform.crop.count == 2, p.transform.mean.count == 3, p.transform.std.count == 3,
              p.transform.std.allSatisfy({ $0 > 0 }), p.transform.crop[0] <= p.transform.resize[0], p.transform.crop[1] <= p.transform.resize[1],
              (p.transform.crop + p.transform.resize).allSatisfy({ $0 >= 1 }), p.sampling.validationError == nil
        else {
            throw VidarError(.invalidData, "\(path): metadata '\(metadataKey)' is not a valid preprocessing description")
        }
        return p
    }

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
