// The sgemm convolution against the naive reference on seeded random tensors, over many geometries.
import Testing
import VidarNN

/// Deterministic uniform values in [-1, 1) (SplitMix64), so failures reproduce.
struct SeededValues {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> Float {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return Float((z ^ (z >> 31)) >> 40) / Float(1 << 23) - 1
    }
    mutating func array(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
}

/// Normalised mean squared error: Σ(a−b)² / Σb².
func nmse(_ a: [Float], _ b: [Float]) -> Double {
    let num = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
    let den = b.reduce(0.0) { $0 + Double($1) * Double($1) }
    return num / max(den, 1e-30)
}

struct ConvolutionTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let geometry: Conv3dGeometry
        let input: (n: Int, t: Int, h: Int, w: Int)
        var testDescription: String {
            let g = geometry
            return "\(g.inChannels)→\(g.outChannels) k\(g.kernel) s\(g.stride) p\(g.padding) on \(input)"
        }
    }

    static let cases: [Case] = [
        Case(geometry: Conv3dGeometry(3, 8, kernel: Dims3(3, 7, 7), stride: Dims3(1, 2, 2), padding: Dims3(1, 3, 3)), input: (1, 5, 17, 13)),
        Case(geometry: Conv3dGeometry(8, 8, kernel: .all(3), padding: .all(1)), input: (2, 4, 9, 11)),
        Case(geometry: Conv3dGeometry(8, 16, kernel: .all(3), stride: .all(2), padding: .all(1)), input: (1, 5, 9, 7)),
        Case(geometry: Conv3dGeometry(8, 16, kernel: .all(1), stride: .all(2)), input: (2, 5, 9, 7)),
        Case(geometry: Conv3dGeometry(8, 16, kernel: .all(1), stride: Dims3(1, 2, 2)), input: (1, 3, 6, 6)),
        Case(geometry: Conv3dGeometry(8, 12, kernel: .all(1)), input: (1, 3, 5, 4)),
        Case(geometry: Conv3dGeometry(6, 10, kernel: Dims3(1, 3, 3), stride: Dims3(1, 2, 2), padding: Dims3(0, 1, 1)), input: (1, 3, 8, 9)),
        Case(geometry: Conv3dGeometry(10, 6, kernel: Dims3(3, 1, 1), stride: Dims3(2, 1, 1), padding: Dims3(1, 0, 0)), input: (2, 7, 4, 5)),
        Case(geometry: Conv3dGeometry(4, 4, kernel: .all(3), padding: .all(1)), input: (1, 1, 1, 1)),
        Case(geometry: Conv3dGeometry(5, 7, kernel: .all(3), stride: .all(2), padding: .all(1)), input: (1, 2, 3, 2)),
        Case(geometry: Conv3dGeometry(3, 4, kernel: .all(3), padding: .all(2)), input: (1, 2, 4, 4)),
    ]

    static let backends: [(String, ConvolutionBackend)] = [("gemm", GemmConvolution()), ("onednn", try! OneDNNConvolution())]

    @Test(arguments: ["gemm", "onednn"], cases)
    func backendMatchesReference(_ backendName: String, _ c: Case) throws {
        let backend = Self.backends.first { $0.0 == backendName }!.1
        var rng = SeededValues(seed: UInt64(c.geometry.inChannels * 1000 + c.input.t))
        let g = c.geometry
        let conv = FoldedConv3d(geometry: g, weights: rng.array(g.taps * g.inChannels * g.outChannels),
                                bias: rng.array(g.outChannels))
        let x = Activation(n: c.input.n, t: c.input.t, h: c.input.h, w: c.input.w, c: g.inChannels,
                           data: rng.array(c.input.n * c.input.t * c.input.h * c.input.w * g.inChannels))
        let o = g.outputSize(t: x.t, h: x.h, w: x.w)!
        let residual = Activation(n: x.n, t: o.t, h: o.h, w: o.w, c: g.outChannels,
                                  data: rng.array(x.n * o.t * o.h * o.w * g.outChannels))
        for (res, relu) in [(nil, false), (residual, true)] as [(Activation?, Bool)] {
            let want = try ReferenceConvolution().convolve(conv, x, residual: res, relu: relu, workspace: Workspace())
            let got = try backend.convolve(conv, x, residual: res, relu: relu, workspace: Workspace())
            #expect((got.t, got.h, got.w, got.c) == (o.t, o.h, o.w, g.outChannels))
            #expect(nmse(got.data, want.data) < 1e-12, "NMSE \(nmse(got.data, want.data))")
        }
    }

    @Test func workspaceIsReusedAcrossLayersOfDifferentSizes() throws {
        var rng = SeededValues(seed: 7)
        let ws = Workspace()
        for c in Self.cases.prefix(4) {
            let g = c.geometry
            let conv = FoldedConv3d(geometry: g, weights: rng.array(g.taps * g.inChannels * g.outChannels), bias: rng.array(g.outChannels))
            let x = Activation(n: 1, t: c.input.t, h: c.input.h, w: c.input.w, c: g.inChannels,
                               data: rng.array(c.input.t * c.input.h * c.input.w * g.inChannels))
            let shared = try GemmConvolution().convolve(conv, x, residual: nil, relu: true, workspace: ws)
            let fresh = try GemmConvolution().convolve(conv, x, residual: nil, relu: true, workspace: Workspace())
            #expect(shared.data == fresh.data)
        }
    }

    @Test func oneDNNCacheStaysBoundedAcrossManyInputShapes() throws {
        var rng = SeededValues(seed: 11)
        let g = Conv3dGeometry(3, 4, kernel: .all(3), padding: .all(1))
        let conv = FoldedConv3d(geometry: g, weights: rng.array(g.taps * 12), bias: rng.array(4))
        let backend = try OneDNNConvolution()
        for width in 1...(OneDNNConvolution.maxCompiled + 20) {
            let x = Activation(n: 1, t: 2, h: 3, w: width, c: 3, data: rng.array(2 * 3 * width * 3))
            let got = try backend.convolve(conv, x, residual: nil, relu: true, workspace: Workspace())
            if width % 50 == 0 || width > OneDNNConvolution.maxCompiled {
                let want = try ReferenceConvolution().convolve(conv, x, residual: nil, relu: true, workspace: Workspace())
                #expect(nmse(got.data, want.data) < 1e-12)
            }
            #expect(backend.compiledCount <= OneDNNConvolution.maxCompiled)
        }
    }

    /// Folding must equal conv → BatchNorm(eval) computed separately (here on a 1×1×1 conv, by hand).
    @Test func batchNormFoldingEqualsConvThenBatchNorm() throws {
        let g = Conv3dGeometry(2, 2, kernel: .all(1))
        let w: [Float] = [0.5, -1, 2, 0.25]  // (out, in)
        let (gamma, beta, mean, variance): ([Float], [Float], [Float], [Float]) = ([1.5, 0.5], [0.1, -0.2], [0.3, -0.4], [2, 0.5])
        let folded = FoldedConv3d(geometry: g, torchWeight: w, gamma: gamma, beta: beta, runningMean: mean, runningVar: variance)
        let x = Activation(n: 1, t: 1, h: 1, w: 1, c: 2, data: [0.7, -1.3])
        let y = try ReferenceConvolution().convolve(folded, x, residual: nil, relu: false, workspace: Workspace())
        for o in 0..<2 {
            let conv = Double(w[o * 2]) * 0.7 + Double(w[o * 2 + 1]) * -1.3
            let bn = (conv - Double(mean[o])) / (Double(variance[o]) + 1e-5).squareRoot() * Double(gamma[o]) + Double(beta[o])
            #expect(abs(Double(y.data[o]) - bn) < 1e-6)
        }
    }
}
