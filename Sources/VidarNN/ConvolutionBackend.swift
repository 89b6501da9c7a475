// The convolution backend interface, and the plain reference every fast backend is tested against.
import Foundation

/// Runs y = relu?(conv(x) + bias + residual?) for a folded convolution.
/// A backend owns no weights: the network hands it each layer, so a faster backend can be swapped in
/// without touching the network code.
public protocol ConvolutionBackend: Sendable {
    /// `x` (N, T, H, W, Cin) → (N, T', H', W', Cout); `residual`, when given, has the output's shape.
    func convolve(_ conv: FoldedConv3d, _ x: Activation, residual: Activation?, relu: Bool,
                  workspace: Workspace) throws -> Activation
}

/// Scratch memory reused across layers and clips: one per stream (an `InferenceSession` owns one), used by one
/// thread at a time.
public final class Workspace {
    /// Grows to the largest size asked for, then stays: after the first clip nothing is allocated here.
    final class Buffer {
        private(set) var pointer = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        private(set) var capacity = 1
        func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
            if count > capacity {
                pointer.deallocate()
                pointer = .allocate(capacity: count)
                capacity = count
            }
            return pointer
        }
        deinit { pointer.deallocate() }
    }

    /// vol2col rows of one input plane.
    let columns = Buffer()
    /// One plane's products with every temporal tap, before they are added into the output steps.
    let products = Buffer()
    /// oneDNN's stream and scratchpad for this workspace, made by the first oneDNN convolution run with it.
    var onednn: OneDNNConvolution.StreamState?
    /// The buffers of the whole-network oneDNN plan this workspace last ran.
    var plan: OneDNNConvolution.PlanState?

    public init() {}
}

/// The obviously-correct convolution: seven nested loops, Double accumulation. Slow; for tests only.
public struct ReferenceConvolution: ConvolutionBackend {
    public init() {}

    public func convolve(_ conv: FoldedConv3d, _ x: Activation, residual: Activation?, relu: Bool,
                         workspace: Workspace) throws -> Activation {
        let g = conv.geometry
        let o = try g.checkedOutputSize(x)
        let (ci, co) = (g.inChannels, g.outChannels)
        let weights = try conv.foldedWeights()
        var y = Activation(n: x.n, t: o.t, h: o.h, w: o.w, c: co)
        for b in 0..<x.n {
            for to in 0..<o.t { for ho in 0..<o.h { for wo in 0..<o.w {
                let outBase = (((b * o.t + to) * o.h + ho) * o.w + wo) * co
                for oc in 0..<co {
                    var acc = Double(conv.bias[oc])
                    for kt in 0..<g.kernel.t {
                        let ti = to * g.stride.t - g.padding.t + kt
                        guard ti >= 0 && ti < x.t else { continue }
                        for kh in 0..<g.kernel.h {
                            let hi = ho * g.stride.h - g.padding.h + kh
                            guard hi >= 0 && hi < x.h else { continue }
                            for kw in 0..<g.kernel.w {
                                let wi = wo * g.stride.w - g.padding.w + kw
                                guard wi >= 0 && wi < x.w else { continue }
                                let inBase = (((b * x.t + ti) * x.h + hi) * x.w + wi) * ci
                                let tap = (kt * g.kernel.h + kh) * g.kernel.w + kw
                                for ic in 0..<ci {
                                    acc += Double(x.data[inBase + ic]) * Double(weights[g.weightIndex(tap: tap, input: ic, output: oc)])
                                }
                            }
                        }
                    }
                    if let r = residual { acc += Double(r.data[outBase + oc]) }
                    y.data[outBase + oc] = Float(relu ? max(0, acc) : acc)
                }
            }}}
        }
        return y
    }
}
