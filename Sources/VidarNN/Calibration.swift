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
        func bad(_ reason: String) -> CheckpointError {
            CheckpointError(.badFormat, path, "metadata '\(metadataKey)': \(reason) (rerun `vidar models calibrate`)")
        }
        guard json.utf8.count <= 1 << 20 else { throw bad("larger than 1 MiB") }
        let c: Calibration
        do { c = try JSONDecoder().decode(Calibration.self, from: Data(json.utf8)) } catch {
            throw bad("not a calibration object (version, method, clips, ranges)")
        }
        guard c.version == currentVersion else { throw bad("version \(c.version), this vidar reads \(currentVersion)") }
        guard c.clips >= 1 else { throw bad("no clips") }
        if let missing = convolutions.first(where: { c.ranges[$0] == nil }) { throw bad("no range for '\(missing)'") }
        if let unknown = c.ranges.keys.sorted().first(where: { !convolutions.contains($0) }) {
            throw bad("a range for '\(unknown)', which this network does not have")
        }
        if let (name, _) = c.ranges.first(where: { !($0.value.isFinite && $0.value >= 0) }) {
            throw bad("range of '\(name)' is not a finite number ≥ 0")
        }
        return c
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

    public var calibration: Calibration { Calibration(clips: clipCount.load(ordering: .relaxed), ranges: ranges.withLock { $0 }) }
}
