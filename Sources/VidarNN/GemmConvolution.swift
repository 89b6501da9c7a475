// Conv3d as vol2col + OpenBLAS sgemm. Each input time plane is gathered once into a (H'·W') × (kh·kw·Cin)
// column matrix and multiplied by every temporal tap that reads it, accumulating into the output steps.
// That gathers each plane once instead of kt times and keeps the column buffer small (~7 MB in layer1,
// where a whole-clip column matrix would be ~350 MB); taps on temporal zero padding are never computed.
import COpenBLAS
import Foundation

public struct GemmConvolution: ConvolutionBackend {
    public init() {}

    public func convolve(_ conv: FoldedConv3d, _ x: Activation, residual: Activation?, relu: Bool,
                         workspace: Workspace) throws -> Activation {
        let g = conv.geometry
        let o = try g.checkedOutputSize(x)
        let (ci, co, kt) = (g.inChannels, g.outChannels, g.kernel.t)
        let rows = o.h * o.w
        let k = g.kernel.h * g.kernel.w * ci
        // A 1×1 spatial footprint with unit stride reads the input plane as it is: no gather needed.
        let direct = g.kernel.h == 1 && g.kernel.w == 1 && g.stride.h == 1 && g.stride.w == 1
            && g.padding.h == 0 && g.padding.w == 0
        let columns = direct ? nil : workspace.columns.reserve(rows * k)
        let products = kt > 1 ? workspace.products.reserve(rows * kt * co) : nil

        let weights = try conv.foldedWeights()
        var out = [Float](unsafeUninitializedCapacity: x.n * o.t * rows * co) { buf, n in n = buf.count }
        let stepSize = rows * co
        withOptionalPointer(residual?.data) { rp in
            x.data.withUnsafeBufferPointer { xb in
                weights.withUnsafeBufferPointer { wb in
                    conv.bias.withUnsafeBufferPointer { bb in
                        out.withUnsafeMutableBufferPointer { yb in
                            let xp = xb.baseAddress!, wp = wb.baseAddress!, yp = yb.baseAddress!
                            for b in 0..<x.n {
                                let step = { (to: Int) in yp + (b * o.t + to) * stepSize }
                                let finish = { (to: Int) in
                                    Finish(bias: bb.baseAddress!, residual: rp.map { $0 + (b * o.t + to) * stepSize }, relu: relu)
                                }
                                // Planes still to be added into each output step; the last one applies the epilogue.
                                var remaining = (0..<o.t).map { to in
                                    (0..<kt).filter { (0..<x.t).contains(to * g.stride.t - g.padding.t + $0) }.count
                                }
                                var written = [Bool](repeating: false, count: o.t)
                                for ti in 0..<x.t {
                                    // Output steps whose window covers plane ti, with the tap dt that reads it.
                                    let readers = (0..<o.t).compactMap { to -> (to: Int, dt: Int)? in
                                        let dt = ti - (to * g.stride.t - g.padding.t)
                                        return dt >= 0 && dt < kt ? (to, dt) : nil
                                    }
                                    guard let dtLo = readers.map(\.dt).min(), let dtHi = readers.map(\.dt).max() else { continue }
                                    let plane = xp + (b * x.t + ti) * x.h * x.w * ci
                                    let a: UnsafePointer<Float>
                                    if let columns {
                                        gather(plane: plane, geometry: g, input: x, out: o, into: columns)
                                        a = UnsafePointer(columns)
                                    } else {
                                        a = plane
                                    }
                                    guard let products else {
                                        // kt = 1: the product is the output step itself, finished in place.
                                        let to = readers[0].to
                                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(co), Int32(k),
                                                    1, a, Int32(k), wp, Int32(co), 0, step(to), Int32(co))
                                        update(step(to), from: nil, stride: 0, rows: rows, channels: co, overwrite: false,
                                               finish: finish(to))
                                        written[to] = true
                                        continue
                                    }
                                    // One sgemm for every tap that reads this plane: (rows × k) · (k × taps·co).
                                    let width = (dtHi - dtLo + 1) * co
                                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(width), Int32(k),
                                                1, a, Int32(k), wp + dtLo * co, Int32(kt * co), 0, products, Int32(width))
                                    for (to, dt) in readers {
                                        remaining[to] -= 1
                                        update(step(to), from: products + (dt - dtLo) * co, stride: width, rows: rows,
                                               channels: co, overwrite: !written[to], finish: remaining[to] == 0 ? finish(to) : nil)
                                        written[to] = true
                                    }
                                }
                                // Only reachable with more temporal padding than kernel: such steps see zeros alone.
                                for to in 0..<o.t where !written[to] {
                                    update(step(to), from: nil, stride: 0, rows: rows, channels: co, overwrite: true, finish: finish(to))
                                }
                            }
                        }
                    }
                }
            }
        }
        return Activation(n: x.n, t: o.t, h: o.h, w: o.w, c: co, data: out)
    }

    /// The epilogue applied with an output step's last contribution: + bias (+ residual), then ReLU if asked.
    struct Finish {
        let bias: UnsafePointer<Float>
        let residual: UnsafePointer<Float>?
        let relu: Bool
    }

    /// y[r] = (overwrite ? 0 : y[r]) + p[r·stride] (if p), then the epilogue if `finish`, for rows × channels;
    /// split across cores when large, since the BLAS threads are idle meanwhile.
    private func update(_ y: UnsafeMutablePointer<Float>, from p: UnsafePointer<Float>?, stride: Int, rows: Int,
                        channels: Int, overwrite: Bool, finish: Finish?) {
        // Branches are hoisted out of the channel loops so that each loop is a plain vectorisable stream.
        let run = { (range: Range<Int>) in
            for r in range {
                let dst = y + r * channels
                if let src = p.map({ $0 + r * stride }) {
                    if overwrite { dst.update(from: src, count: channels) } else { for j in 0..<channels { dst[j] += src[j] } }
                } else if overwrite {
                    dst.initialize(repeating: 0, count: channels)
                }
                guard let finish else { continue }
                let bias = finish.bias
                if let res = finish.residual.map({ $0 + r * channels }) {
                    if finish.relu { for j in 0..<channels { dst[j] = max(dst[j] + bias[j] + res[j], 0) } }
                    else { for j in 0..<channels { dst[j] = dst[j] + bias[j] + res[j] } }
                } else {
                    if finish.relu { for j in 0..<channels { dst[j] = max(dst[j] + bias[j], 0) } }
                    else { for j in 0..<channels { dst[j] = dst[j] + bias[j] } }
                }
            }
        }
        parallelRows(rows, work: rows * channels, run)
    }

    /// Copies one input plane's receptive fields into rows of kh·kw·Cin floats, ordered (dh, dw, ci) to match
    /// the packed weights; spatial padding becomes zeros.
    private func gather(plane: UnsafePointer<Float>, geometry g: Conv3dGeometry, input s: Activation, out o: Dims3,
                        into col: UnsafeMutablePointer<Float>) {
        let ci = g.inChannels
        let (kh, kw) = (g.kernel.h, g.kernel.w)
        let run = kw * ci, rowLength = kh * run
        let fillRows = { (rowRange: Range<Int>) in
            for ho in rowRange {
                for wo in 0..<o.w {
                    var dst = col + (ho * o.w + wo) * rowLength
                    let w0 = wo * g.stride.w - g.padding.w
                    let wholeRun = w0 >= 0 && w0 + kw <= s.w
                    for dh in 0..<kh {
                        let hi = ho * g.stride.h - g.padding.h + dh
                        if hi < 0 || hi >= s.h {
                            dst.initialize(repeating: 0, count: run)
                        } else if wholeRun {
                            dst.update(from: plane + (hi * s.w + w0) * ci, count: run)
                        } else {
                            for dw in 0..<kw {
                                let wi = w0 + dw
                                let d = dst + dw * ci
                                if wi < 0 || wi >= s.w { d.initialize(repeating: 0, count: ci) }
                                else { d.update(from: plane + (hi * s.w + wi) * ci, count: ci) }
                            }
                        }
                        dst += run
                    }
                }
            }
        }
        parallelRows(o.h, work: o.h * o.w * rowLength, fillRows)
    }
}

private let cores = ProcessInfo.processInfo.activeProcessorCount

/// Runs `body` over 0..<count, split into one chunk per core when the work is large enough to pay for it.
private func parallelRows(_ count: Int, work: Int, _ body: (Range<Int>) -> Void) {
    let chunks = min(cores, count)
    guard chunks > 1 && work >= 1 << 15 else { return body(0..<count) }
    // The chunks write disjoint row ranges, and concurrentPerform returns only after every chunk has finished,
    // so the pointers `body` captures are never used concurrently on the same rows nor after this call.
    nonisolated(unsafe) let body = body
    DispatchQueue.concurrentPerform(iterations: chunks) { i in body((count * i / chunks)..<(count * (i + 1) / chunks)) }
}

/// Calls `body` with a pointer to the array's elements, or nil for a nil array.
private func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress!) }
}
