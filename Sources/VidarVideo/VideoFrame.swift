// A decoded picture: packed RGB24 at its display orientation, with its presentation time.

public struct VideoFrame: Sendable {
    public let width: Int
    public let height: Int
    /// width × height × 3 bytes, row-major, no padding.
    public var rgb: [UInt8]
    /// Presentation time in seconds from the stream's start.
    public let time: Double
    /// Position among the decoded frames of the stream (0-based).
    public let index: Int

    public init(width: Int, height: Int, rgb: [UInt8], time: Double, index: Int) {
        precondition(rgb.count == width * height * 3)
        (self.width, self.height, self.rgb, self.time, self.index) = (width, height, rgb, time, index)
    }
}

/// A frame the decoder produced but nobody has converted yet: enough to decide whether it is sampled.
public struct DecodedFrame: Sendable, Equatable {
    /// Presentation time in seconds from the stream's start.
    public let time: Double
    /// Position among the decoded frames of the stream (0-based).
    public let index: Int
}

/// The display transform a stream's rotation metadata asks for, as ffmpeg's CLI applies it (autorotate).
public enum Orientation: String, Sendable, Codable {
    case identity, clockwise, counterClockwise, upsideDown, counterClockwiseFlip, clockwiseFlip, hflip, vflip

    /// Degrees the picture is turned clockwise for display (0, 90, 180, 270).
    public var degrees: Int {
        switch self {
        case .identity, .hflip, .vflip: return 0
        case .clockwise, .counterClockwiseFlip: return 90
        case .upsideDown: return 180
        case .counterClockwise, .clockwiseFlip: return 270
        }
    }

    public var swapsAxes: Bool { degrees == 90 || degrees == 270 }

    /// Applies the transform to packed RGB24.
    public func apply(_ f: VideoFrame) -> VideoFrame {
        guard self != .identity else { return f }
        let (w, h) = (f.width, f.height)
        let (ow, oh) = swapsAxes ? (h, w) : (w, h)
        var out = [UInt8](repeating: 0, count: f.rgb.count)
        f.rgb.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for r in 0..<oh {
                    for c in 0..<ow {
                        let (sr, sc): (Int, Int)
                        switch self {
                        case .identity: (sr, sc) = (r, c)
                        case .clockwise: (sr, sc) = (h - 1 - c, r)               // transpose=clock
                        case .counterClockwise: (sr, sc) = (c, w - 1 - r)        // transpose=cclock
                        case .counterClockwiseFlip: (sr, sc) = (c, r)            // transpose=cclock_flip
                        case .clockwiseFlip: (sr, sc) = (h - 1 - c, w - 1 - r)   // transpose=clock_flip
                        case .upsideDown: (sr, sc) = (h - 1 - r, w - 1 - c)      // hflip + vflip
                        case .hflip: (sr, sc) = (r, w - 1 - c)
                        case .vflip: (sr, sc) = (h - 1 - r, c)
                        }
                        let s = (sr * w + sc) * 3, d = (r * ow + c) * 3
                        dst[d] = src[s]; dst[d + 1] = src[s + 1]; dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return VideoFrame(width: ow, height: oh, rgb: out, time: f.time, index: f.index)
    }

    /// ffmpeg 5.1's autorotate rule (fftools/ffmpeg_filter.c) for a display matrix.
    public static func from(displayMatrix m: [Int32]) -> Orientation {
        let raw = -Foundation.round(displayRotation(m))
        let theta = raw - 360 * Foundation.floor(raw / 360 + 0.9 / 360)
        if abs(theta - 90) < 1 { return m[3] > 0 ? .counterClockwiseFlip : .clockwise }
        if abs(theta - 180) < 1 {
            switch (m[0] < 0, m[4] < 0) {
            case (true, true): return .upsideDown
            case (true, false): return .hflip
            case (false, true): return .vflip
            default: return .identity
            }
        }
        if abs(theta - 270) < 1 { return m[3] < 0 ? .clockwiseFlip : .counterClockwise }
        return .identity
    }

    /// libavutil's av_display_rotation_get: counter-clockwise degrees of the matrix's rotation.
    static func displayRotation(_ m: [Int32]) -> Double {
        func fixed(_ v: Int32) -> Double { Double(v) / Double(1 << 16) }
        let scale0 = (fixed(m[0]) * fixed(m[0]) + fixed(m[3]) * fixed(m[3])).squareRoot()
        let scale1 = (fixed(m[1]) * fixed(m[1]) + fixed(m[4]) * fixed(m[4])).squareRoot()
        guard scale0 != 0, scale1 != 0 else { return .nan }
        let rotation = atan2(fixed(m[1]) / scale1, fixed(m[0]) / scale0) * 180 / Double.pi
        return -rotation
    }
}

import Foundation
