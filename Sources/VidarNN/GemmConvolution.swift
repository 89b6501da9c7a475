// Conv3d as vol2col + OpenBLAS sgemm, one output time step at a time so the column matrix stays small
// (layer1's whole-clip column matrix would be ~350 MB; one time step's is ~22 MB).
import COpenBLAS
import Foundation

public struct GemmConvolution: ConvolutionBackend {
    public init() {}

    public func convolve(_ conv: FoldedConv3d, _ x: Activation, residual: Activation?, relu: Bool,
                         workspace: Workspace) -> Activation {
        let g = conv.geometry
        guard let o = g.outputSize(t: x.t, h: x.h, w: x.w) else { preconditionFailure("input smaller than kernel") }
        precondition(x.c == g.inChannels)
        let (ci, co) = (g.inChannels, g.outChannels)
        let rows = o.h * o.w
        let tapsPerTime = g.kernel.h * g.kernel.w
        let pointwise = g.kernel == .all(1) && g.stride.h == 1 && g.stride.w == 1 && g.padding == .all(0)
        workspace.reserve(pointwise ? 0 : rows * g.kernel.t * tapsPerTime * ci)
        let columns = workspace.columns

        var out = [Float](unsafeUninitializedCapacity: x.n * o.t * rows * co) { buf, n in
            n = buf.count
        }
        x.data.withUnsafeBufferPointer { xb in
            conv.weights.withUnsafeBufferPointer { wb in
                out.withUnsafeMutableBufferPointer { yb in
                    let xp = xb.baseAddress!, wp = wb.baseAddress!, yp = yb.baseAddress!
                    for b in 0..<x.n {
                        for to in 0..<o.t {
                            let y = yp + (b * o.t + to) * rows * co
                            let tStart = to * g.stride.t - g.padding.t
                            // Taps that fall on temporal zero padding are skipped, not multiplied by zero.
                            let dtLo = max(0, -tStart), dtHi = min(g.kernel.t, x.t - tStart)
                            guard dtHi > dtLo else {
                                y.initialize(repeating: 0, count: rows * co)
                                continue
                            }
                            let a: UnsafePointer<Float>
                            let k: Int
                            if pointwise {
                                a = xp + ((b * x.t + tStart) * x.h * x.w) * ci
                                k = ci
                            } else {
                                k = (dtHi - dtLo) * tapsPerTime * ci
                                gather(x: xp, b: b, tStart: tStart, dt: dtLo..<dtHi, geometry: g, xShape: x, out: o,
                                       into: columns, rowLength: k)
                                a = UnsafePointer(columns)
                            }
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(co), Int32(k),
                                        1, a, Int32(k), wp + dtLo * tapsPerTime * ci * co, Int32(co), 0, y, Int32(co))
                        }
                    }
                }
            }
        }
        var y = Activation(n: x.n, t: o.t, h: o.h, w: o.w, c: co, data: out)
        applyEpilogue(&y, bias: conv.bias, residual: residual, relu: relu)
        return y
    }

    /// Copies one output time step's receptive fields into rows of `rowLength` floats, ordered (dt, dh, dw, ci)
    /// to match the packed weights; spatial padding becomes zeros.
    private func gather(x: UnsafePointer<Float>, b: Int, tStart: Int, dt: Range<Int>, geometry g: Conv3dGeometry,
                        xShape s: Activation, out o: Dims3, into col: UnsafeMutablePointer<Float>, rowLength: Int) {
        let ci = g.inChannels
        let (kh, kw) = (g.kernel.h, g.kernel.w)
        let runLength = kw * ci
        let fillRows = { (rowRange: Range<Int>) in
            for ho in rowRange {
                for wo in 0..<o.w {
                    var dst = col + (ho * o.w + wo) * rowLength
                    let w0 = wo * g.stride.w - g.padding.w
                    let wholeRun = w0 >= 0 && w0 + kw <= s.w
                    for kt in dt {
                        let plane = x + ((b * s.t + tStart + kt) * s.h) * s.w * ci
                        for dh in 0..<kh {
                            let hi = ho * g.stride.h - g.padding.h + dh
                            if hi < 0 || hi >= s.h {
                                dst.initialize(repeating: 0, count: runLength)
                            } else if wholeRun {
                                dst.update(from: plane + (hi * s.w + w0) * ci, count: runLength)
                            } else {
                                for dw in 0..<kw {
                                    let wi = w0 + dw
                                    let d = dst + dw * ci
                                    if wi < 0 || wi >= s.w { d.initialize(repeating: 0, count: ci) }
                                    else { d.update(from: plane + (hi * s.w + wi) * ci, count: ci) }
                                }
                            }
                            dst += runLength
                        }
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
