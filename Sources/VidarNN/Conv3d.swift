// Conv3d geometry and a convolution with its BatchNorm folded in: the unit every VideoResNet layer is built from.
import Foundation
import Synchronization

/// A 3D kernel extent, stride or padding, in (time, height, width) order.
public struct Dims3: Equatable, Sendable, CustomStringConvertible {
    public var t: Int, h: Int, w: Int
    public init(_ t: Int, _ h: Int, _ w: Int) { (self.t, self.h, self.w) = (t, h, w) }
    public static func all(_ v: Int) -> Dims3 { Dims3(v, v, v) }
    public var description: String { "\(t)×\(h)×\(w)" }
}

/// The shape of a bias-free `nn.Conv3d`.
public struct Conv3dGeometry: Equatable, Sendable {
    public var inChannels: Int
    public var outChannels: Int
    public var kernel: Dims3
    public var stride: Dims3
    public var padding: Dims3

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Dims3, stride: Dims3 = .all(1), padding: Dims3 = .all(0)) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    /// PyTorch's weight shape (out, in, kt, kh, kw).
    public var torchWeightShape: [Int] { [outChannels, inChannels, kernel.t, kernel.h, kernel.w] }

    public var taps: Int { kernel.t * kernel.h * kernel.w }

    /// Where PyTorch's weight[output][input][tap] (tap = (dt·kh + dh)·kw + dw) sits in `FoldedConv3d.foldedWeights()`.
    @inline(__always)
    public func weightIndex(tap: Int, input: Int, output: Int) -> Int {
        let spatial = kernel.h * kernel.w
        let (dt, hw) = tap.quotientAndRemainder(dividingBy: spatial)
        return (hw * inChannels + input) * (kernel.t * outChannels) + dt * outChannels + output
    }

    /// Output extent for an input extent; nil when the input is too small for the kernel.
    public func outputSize(t: Int, h: Int, w: Int) -> Dims3? {
        func out(_ x: Int, _ k: Int, _ s: Int, _ p: Int) -> Int { (x + 2 * p - k) / s + 1 }
        guard t + 2 * padding.t >= kernel.t, h + 2 * padding.h >= kernel.h, w + 2 * padding.w >= kernel.w else { return nil }
        return Dims3(out(t, kernel.t, stride.t, padding.t), out(h, kernel.h, stride.h, padding.h),
                     out(w, kernel.w, stride.w, padding.w))
    }

    /// The output extent for an activation, or an error when its channels or extent do not fit this layer.
    func checkedOutputSize(_ x: Activation) throws -> Dims3 {
        guard x.c == inChannels else {
            throw InferenceError(description: "a \(inChannels)-channel convolution was given \(x.c) channels")
        }
        guard let o = outputSize(t: x.t, h: x.h, w: x.w) else {
            throw InferenceError(description: "input \(x.t)×\(x.h)×\(x.w) is smaller than the \(kernel) kernel")
        }
        return o
    }
}

/// A layer's folded weights, which a process that runs only oneDNN drops once they are packed: one copy of the
/// weights in memory instead of two.
final class WeightStore: Sendable {
    private let values: Mutex<[Float]?>
    /// Set by `VideoResNet.releaseFoldedWeightsOncePacked()`: oneDNN drops the weights as soon as it has packed them.
    let releaseWhenPacked = Atomic<Bool>(false)
    init(_ weights: [Float]) { values = Mutex(weights) }
    var weights: [Float]? { values.withLock { $0 } }
    func release() { values.withLock { $0 = nil } }
}

/// Layer ids, unique for the life of the process.
private let nextLayerID = Atomic<Int>(0)

/// A convolution with eval-mode BatchNorm folded in: y = conv(x, W·s) + (β − μ·s), s = γ / √(σ² + ε).
public struct FoldedConv3d: Sendable {
    /// Unique per layer for the life of the process: backends that compile per layer key their caches on it.
    public let id: Int
    public let geometry: Conv3dGeometry
    /// The folded weights, until oneDNN has packed them after `VideoResNet.releaseFoldedWeightsOncePacked()`.
    let store: WeightStore
    /// (out)
    public let bias: [Float]
    /// The checkpoint's name for the convolution (e.g. "layer1.0.conv1.0"): what calibration ranges are keyed by.
    public let name: String
    /// The largest |weight| of each output channel, kept for int8's per-channel weight scales once the folded
    /// weights are released.
    let weightAbsMax: [Float]

    public init(geometry: Conv3dGeometry, weights: [Float], bias: [Float], name: String = "") {
        precondition(weights.count == geometry.taps * geometry.inChannels * geometry.outChannels)
        precondition(bias.count == geometry.outChannels)
        id = nextLayerID.add(1, ordering: .relaxed).newValue
        self.geometry = geometry
        store = WeightStore(weights)
        self.bias = bias
        self.name = name
        // Folded order puts the output channel innermost (see Conv3dGeometry.weightIndex): rows of `outChannels`.
        let oc = geometry.outChannels
        weightAbsMax = [Float](unsafeUninitializedCapacity: oc) { absMax, initialized in
            absMax.initialize(repeating: 0)
            weights.withUnsafeBufferPointer { w in
                for row in stride(from: 0, to: w.count, by: max(oc, 1)) {
                    for o in 0..<oc { absMax[o] = max(absMax[o], abs(w[row + o])) }
                }
            }
            initialized = oc
        }
    }

    /// (kh, kw, in) rows × (kt, out) columns: one input plane's vol2col rows times every temporal tap at once,
    /// so a plane is packed by sgemm once however many output steps read it.
    public func foldedWeights() throws -> [Float] {
        guard let w = store.weights else {
            throw InferenceError(description: "this model's folded weights were released once oneDNN had packed them; "
                                 + "only the oneDNN backend can run it now")
        }
        return w
    }

    public static let batchNormEpsilon: Float = 1e-5

    /// Folds BatchNorm into a PyTorch-layout weight (out, in, kt, kh, kw).
    /// Folding in Double keeps the rounding below float32's own, so folded and unfolded agree to ~1 ulp.
    public init(geometry g: Conv3dGeometry, torchWeight w: [Float], gamma: [Float], beta: [Float],
                runningMean: [Float], runningVar: [Float], name: String = "") {
        let co = g.outChannels, ci = g.inChannels, taps = g.taps
        precondition(w.count == co * ci * taps)
        var scale = [Double](repeating: 0, count: co)
        var bias = [Float](repeating: 0, count: co)
        for o in 0..<co {
            scale[o] = Double(gamma[o]) / (Double(runningVar[o]) + Double(Self.batchNormEpsilon)).squareRoot()
            bias[o] = Float(Double(beta[o]) - Double(runningMean[o]) * scale[o])
        }
        var packed = [Float](repeating: 0, count: w.count)
        w.withUnsafeBufferPointer { src in
            packed.withUnsafeMutableBufferPointer { dst in
                for o in 0..<co {
                    for i in 0..<ci {
                        for k in 0..<taps {
                            dst[g.weightIndex(tap: k, input: i, output: o)] = Float(Double(src[(o * ci + i) * taps + k]) * scale[o])
                        }
                    }
                }
            }
        }
        self.init(geometry: g, weights: packed, bias: bias, name: name)
    }
}
