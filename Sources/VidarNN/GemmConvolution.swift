// Conv3d as vol2col + OpenBLAS sgemm. Each input time plane is gathered once into a (H'·W') × (kh·kw·Cin)
// column matrix and multiplied by every temporal tap that reads it, accumulating into the output steps.
// That gathers each plane once instead of kt times and keeps the column buffer small (~7 MB in layer1,
// where a whole-clip column matrix would be ~350 MB); taps on temporal zero padding are never computed.
import COpenBLAS
import Foundation

public struct GemmConvolution: ConvolutionBackend {
    public init() {}

    public func convolve(_ conv: FoldedConv3d, _ x: Activation, residual: Activation?, relu: Bool,
                         workspace: Workspace) -> Activation {
        let g = conv.geometry
        guard let o = g.outputSize(t: x.t, h: x.h, w: x.w) else { preconditionFailure("input smaller than kernel") }
        precondition(x.c == g.inChannels)
        let (ci, co, kt) = (g.inChannels, g.outChannels, g.kernel.t)
        let rows = o.h * o.w
        let k = g.kernel.h * g.kernel.w * ci
        // A 1×1 spatial footprint with unit stride reads the input plane as it is: no gather needed.
        let direct = g.kernel.h == 1 && g.kernel.w == 1 && g.stride.h == 1 && g.stride.w == 1
            && g.padding.h == 0 && g.padding.w == 0
        let columns = direct ? nil : workspace.columns.reserve(rows * k)
        let products = kt > 1 ? workspace.products.reserve(rows * kt * co) : nil

        var out = [Float](unsafeUninitializedCapacity: x.n * o.t * rows * co) { buf, n in n = buf.count }
        x.data.withUnsafeBufferPointer { xb in
            conv.weights.withUnsafeBufferPointer { wb in
                out.withUnsafeMutableBufferPointer { yb in
                    let xp = xb.baseAddress!, wp = wb.baseAddress!, yp = yb.baseAddress!
                    for b in 0..<x.n {
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
                            let step = { (to: Int) in yp + (b * o.t + to) * rows * co }
                            guard let products else {
                                // kt = 1: the product is the output step itself.
                                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(co), Int32(k),
                                            1, a, Int32(k), wp, Int32(co), 0, step(readers[0].to), Int32(co))
                                written[readers[0].to] = true
                                continue
                            }
                            // One sgemm for every tap that reads this plane: (rows × k) · (k × taps·co).
                            let width = (dtHi - dtLo + 1) * co
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(width), Int32(k),
                                        1, a, Int32(k), wp + dtLo * co, Int32(kt * co), 0, products, Int32(width))
                            for (to, dt) in readers {
                                accumulate(products + (dt - dtLo) * co, stride: width, into: step(to), rows: rows,
                                           channels: co, overwrite: !written[to])
                                written[to] = true
                            }
                        }
                        // Only reachable with more temporal padding than kernel: such steps see zeros alone.
                        for to in 0..<o.t where !written[to] {
                            (yp + (b * o.t + to) * rows * co).initialize(repeating: 0, count: rows * co)
                        }
                    }
                }
            }
        }
        var y = Activation(n: x.n, t: o.t, h: o.h, w: o.w, c: co, data: out)
        applyEpilogue(&y, bias: conv.bias, residual: residual, relu: relu)
        return y
    }

    /// y[r, 0..<channels] (=|+=) p[r·stride + 0..<channels] for every row r.
    private func accumulate(_ p: UnsafePointer<Float>, stride: Int, into y: UnsafeMutablePointer<Float>, rows: Int,
                            channels: Int, overwrite: Bool) {
        for r in 0..<rows {
            let src = p + r * stride, dst = y + r * channels
            if overwrite {
                dst.update(from: src, count: channels)
            } else {
                for j in 0..<channels { dst[j] += src[j] }
            }
        }
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
        let chunks = min(ProcessInfo.processInfo.activeProcessorCount, o.h)
        if chunks > 1 && o.h * o.w * rowLength > 1 << 16 {
            DispatchQueue.concurrentPerform(iterations: chunks) { i in
                fillRows((o.h * i / chunks)..<(o.h * (i + 1) / chunks))
            }
        } else {
            fillRows(0..<o.h)
        }
    }
}

/// y = relu?(y + bias + residual?), in place, per channel-last row.
func applyEpilogue(_ y: inout Activation, bias: [Float], residual: Activation?, relu: Bool) {
    let c = y.c
    let positions = y.data.count / c
    precondition(residual == nil || residual!.data.count == y.data.count)
    y.data.withUnsafeMutableBufferPointer { yb in
        bias.withUnsafeBufferPointer { bb in
            let yp = yb.baseAddress!, bp = bb.baseAddress!
            func run(_ r: UnsafePointer<Float>?) {
                for p in 0..<positions {
                    let row = yp + p * c
                    let rrow = r.map { $0 + p * c }
                    for j in 0..<c {
                        var v = row[j] + bp[j]
                        if let rrow { v += rrow[j] }
                        row[j] = relu ? max(v, 0) : v
                    }
                }
            }
            if let residual {
                residual.data.withUnsafeBufferPointer { run($0.baseAddress!) }
            } else {
                run(nil)
            }
        }
    }
}
