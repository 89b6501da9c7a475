// torchvision's VideoClassification preset as data: resize (bilinear, no antialiasing, uint8 result),
// centre crop, scale to [0, 1], normalise, C×T×H×W. The numbers belong to the model, not to the decoder.
import Foundation
import VidarNN
import VidarVideo

public struct ClipTransform: Sendable, Codable, Equatable {
    /// (height, width) after resizing, and of the centre crop.
    public var resize: [Int]
    public var crop: [Int]
    public var mean: [Float]
    public var std: [Float]

    /// `VideoClassification(crop_size=(112, 112), resize_size=(128, 171))`, used by torchvision's R3D-18, MC3-18
    /// and R(2+1)D-18 weights.
    public static let kinetics = ClipTransform(resize: [128, 171], crop: [112, 112],
                                               mean: [0.43216, 0.394666, 0.37645], std: [0.22803, 0.22145, 0.216989])

    public init(resize: [Int], crop: [Int], mean: [Float], std: [Float]) {
        (self.resize, self.crop, self.mean, self.std) = (resize, crop, mean, std)
    }

    /// The resize `apply` starts with, for the decoder to run as frames arrive (reading swscale's rows in place):
    /// frames already at `resize` then pass through `apply` unchanged.
    public var frameResize: FrameResize {
        let (oh, ow) = (resize[0], resize[1])
        return FrameResize(width: ow, height: oh) { pixels, width, height, rowBytes in
            Self.resizeBilinear(pixels, width: width, height: height, rowBytes: rowBytes, toWidth: ow, toHeight: oh)
        }
    }

    /// Frames (each H×W×3 RGB24, same size) → a (3, T, cropH, cropW) tensor.
    public func apply(_ frames: [VideoFrame]) -> Tensor {
        let (ch, cw) = (crop[0], crop[1])
        let t = frames.count
        var out = [Float](repeating: 0, count: 3 * t * ch * cw)
        for (i, f) in frames.enumerated() {
            // Resizing to the same size is the identity (every tap has weight 1 on its own pixel): skipped.
            let resized = f.width == resize[1] && f.height == resize[0]
                ? f.rgb : Self.resizeBilinear(f.rgb, width: f.width, height: f.height, toWidth: resize[1], toHeight: resize[0])
            // torchvision's center_crop: top = round((H − h) / 2), left = round((W − w) / 2), half to even.
            let top = Int((Double(resize[0] - ch) / 2).rounded(.toNearestOrEven))
            let left = Int((Double(resize[1] - cw) / 2).rounded(.toNearestOrEven))
            for c in 0..<3 {
                let scale = 1 / std[c]
                for y in 0..<ch {
                    for x in 0..<cw {
                        let v = Float(resized[((top + y) * resize[1] + left + x) * 3 + c]) / 255
                        out[((c * t + i) * ch + y) * cw + x] = (v - mean[c]) * scale
                    }
                }
            }
        }
        return Tensor(shape: [3, t, ch, cw], data: out)
    }

    /// PyTorch's upsample_bilinear2d (align_corners=False, no antialias) on a uint8 image cast to float32,
    /// rounded half-to-even back to uint8 as torchvision's resize does for uint8 tensors.
    static func resizeBilinear(_ src: [UInt8], width: Int, height: Int, toWidth ow: Int, toHeight oh: Int) -> [UInt8] {
        src.withUnsafeBufferPointer { resizeBilinear($0.baseAddress!, width: width, height: height, rowBytes: width * 3, toWidth: ow, toHeight: oh) }
    }

    /// The same, reading rows `rowBytes` apart (an aligned buffer).
    static func resizeBilinear(_ s: UnsafePointer<UInt8>, width: Int, height: Int, rowBytes: Int, toWidth ow: Int, toHeight oh: Int) -> [UInt8] {
        struct Tap { let i0: Int, i1: Int, w0: Float, w1: Float }
        // ATen's precisions, matched on purpose: the scale is float32, the source index and the lambdas are
        // computed in double (its accumulate type), the weights stored as float32. Plain float32 index math
        // differs by up to 4e-3 at the right edge of a 320-pixel row, enough to flip a rounded uint8.
        func taps(_ input: Int, _ output: Int) -> [Tap] {
            let scale = Double(Float(input) / Float(output))
            return (0..<output).map { i in
                var real = scale * (Double(i) + 0.5) - 0.5
                if real < 0 { real = 0 }
                let i0 = Int(real)
                let i1 = i0 + (i0 < input - 1 ? 1 : 0)
                let l1 = real - Double(i0)
                return Tap(i0: i0, i1: i1, w0: Float(1 - l1), w1: Float(l1))
            }
        }
        let ys = taps(height, oh), xs = taps(width, ow)
        var out = [UInt8](repeating: 0, count: ow * oh * 3)
        for (y, ty) in ys.enumerated() {
            for (x, tx) in xs.enumerated() {
                for c in 0..<3 {
                    func p(_ r: Int, _ q: Int) -> Float { Float(s[r * rowBytes + q * 3 + c]) }
                    // Same association as ATen's separable interpolate: width first, then height.
                    let top = p(ty.i0, tx.i0) * tx.w0 + p(ty.i0, tx.i1) * tx.w1
                    let bottom = p(ty.i1, tx.i0) * tx.w0 + p(ty.i1, tx.i1) * tx.w1
                    let v = top * ty.w0 + bottom * ty.w1
                    out[(y * ow + x) * 3 + c] = UInt8(min(max(v.rounded(.toNearestOrEven), 0), 255))
                }
            }
        }
        return out
    }
}
