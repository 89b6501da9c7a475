// int8's activation ranges: the largest |value| each convolution's output (after its ReLU) reached at fp32 over a
// user's clips. `vidar models calibrate` records them in the checkpoint's metadata; the int8 plan turns each into
// the scale of that activation (255/range for u8 after a ReLU, 127/range for s8 without one). Weights need no
// calibration: their scales are per output channel, from the weights themselves.
import Foundation
import Synchronization

public struct Calibration: Codable, Hashable, Sendable {
    public static let metadataKey = "vidar.calibration"
    public static let currentVersion = 1

    public var version: Int
    /// How a range was taken from the observed values: "max" (the largest |value| over every clip).
    public var method: String
    /// How many clips were run.
    public var clips: Int
    /// Convolution name (the checkpoint's, e.g. "layer1.0.conv1.0") → largest |output|.
    public var ranges: [String: Float]

    public init(method: String = "max", clips: Int, ranges: [String: Float]) {
        (version, self.method, self.clips, self.ranges) = (Self.currentVersion, method, clips, ranges)
    }

    /// Reads and checks the metadata value against the network's convolutions; the error names what is wrong.
    public static func decode(_ json: String, convolutions: [String], path: String) throws -> Calibration {
        guard json.utf8.count <= 1 << 20 else { throw invalid("larger than 1 MiB", path) }
        let c: Calibration
        do { c = try JSONDecoder().decode(Calibration.self, from: Data(json.utf8)) } catch {
            throw invalid("not a calibration object (version, method, clips, ranges)", path)
        }
        try c.check(convolutions: convolutions, path: path)
        return c
    }

    /// Throws when this calibration does not fit a network of these convolutions.
    func check(convolutions: [String], path: String) throws {
        guard version == Self.currentVersion else { throw Self.invalid("version \(version), this vidar reads \(Self.currentVersion)", path) }
        guard clips >= 1 else { throw Self.invalid("no clips", path) }
        if let missing = convolutions.first(where: { ranges[$0] == nil }) { throw Self.invalid("no range for '\(missing)'", path) }
        if let unknown = ranges.keys.sorted().first(where: { !convolutions.contains($0) }) {
            throw Self.invalid("a range for '\(unknown)', which this network does not have", path)
        }
        if let (name, _) = ranges.first(where: { !($0.value.isFinite && $0.value >= 0) }) {
            throw Self.invalid("range of '\(name)' is not a finite number ≥ 0", path)
        }
    }

    private static func invalid(_ reason: String, _ path: String) -> CheckpointError {
        CheckpointError(.badFormat, path, "metadata '\(metadataKey)': \(reason) (rerun `vidar models calibrate`)")
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// The quantization scale of a convolution's output: u8 after a ReLU, s8 without one. A range of 0 (an output
    /// that never left zero) gets scale 1, so it stays 0.
    func scale(of conv: FoldedConv3d, relu: Bool) -> Float {
        let range = ranges[conv.name] ?? 0
        return range > 0 ? (relu ? 255 : 127) / range : 1
    }
}

/// Collects the ranges as clips run: give `observe` to a session's `activationObserver`.
public final class CalibrationRecorder: Sendable {
    private let ranges = Mutex<[String: Float]>([:])
    private let clipCount = Atomic<Int>(0)

    public init() {}

    public func observe(_ conv: FoldedConv3d, _ output: Activation) {
        let m = output.data.withUnsafeBufferPointer { $0.reduce(Float(0)) { max($0, abs($1)) } }
        ranges.withLock { $0[conv.name] = max($0[conv.name] ?? 0, m) }
    }

    /// Counts clips run (the recorder cannot tell a batch's clips from layers).
    public func ranClips(_ n: Int) { clipCount.add(n, ordering: .relaxed) }

    public var clips: Int { clipCount.load(ordering: .relaxed) }

    public var calibration: Calibration { Calibration(clips: clips, ranges: ranges.withLock { $0 }) }
}
