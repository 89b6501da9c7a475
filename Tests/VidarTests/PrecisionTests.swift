// Reduced precision is tested by its measured agreement with fp32 (and with torchvision), on real footage and
// on the bundled model's own videos. A CPU that cannot run bf16 must refuse it with one clear reason instead.
import Foundation
import Testing
import TestSupport
import Vidar
import VidarStream

@Suite(.serialized) struct PrecisionTests {
    static let realFootage = ["videos/bikes.mp4", "videos/carphone_pristine.mp4"]

    /// Runs a bf16 check where the CPU can run bf16; elsewhere asserts that running it is refused with an error.
    static func bf16(_ check: () throws -> Void) throws {
        guard Precision.bf16.unavailableReason == nil else {
            #expect(throws: (any Error).self, "bf16 on \(Precision.cpuISA) must be refused, not run") { try check() }
            return
        }
        try check()
    }

    @Test func bf16IsAvailableOrRefusedWithAReason() throws {
        if let reason = Precision.bf16.unavailableReason {
            #expect(throws: InferenceError.self) { try Precision.named("bf16") }
            #expect(reason.contains("AVX-512"))
        } else {
            #expect(try Precision.named("bf16") == .bf16)
        }
        #expect(try Precision.named("auto") == (Precision.cpuHasNativeBF16 ? .bf16 : .fp32))
        #expect(throws: InferenceError.self) { try Precision.named("int4") }
    }

    /// torchvision's r3d_18 architecture on seeded weights, every clip of real camera footage (clips 8 sampled frames
    /// apart, one compute thread so that the suites running beside it keep a core): bf16 picks fp32's class on
    /// ≥ 99 % of clips and moves no probability by more than 0.02 (measured at stride 4: 47 clips, 100 %, 0.0057;
    /// `vidar-bench precision` covers ≥ 200 clips per model).
    @Test func bf16AgreesWithFP32OnRealFootage() throws {
        let model = try ModelLoader.load(try TestFixtures.path("r3d_18.pth"))
        let videos = try Self.realFootage.map { try TestFixtures.path($0) }
        try Self.bf16 {
            let a = try PrecisionAgreement.measure(model: model, videos: videos, precision: .bf16, stride: 8, threads: 1)
            #expect(a.clips >= 20, "\(a)")
            #expect(a.top1Agreement >= 0.99, "\(a)")
            #expect(a.maxProbabilityChange <= 0.02, "\(a)")
        }
    }

    /// The bundled model on a demo video: per-clip agreement, and the same segments after the aggregator.
    @Test func bf16KeepsTheBundledModelsSegments() throws {
        let model = try ModelLoader.load(ModelRegistry.bundledName)
        let video = TestFixtures.repositoryRoot.appendingPathComponent("clips/actions-101.mp4").path
        try Self.bf16 {
            let a = try PrecisionAgreement.measure(model: model, videos: [video], precision: .bf16)
            #expect(a.clips >= 20 && a.top1Agreement >= 0.99 && a.maxProbabilityChange <= 0.05, "\(a)")
        }
        guard Precision.bf16.unavailableReason == nil else { return }  // the refusal was asserted just above
        try Self.expectSameSegments(model, video, at: .bf16)
    }

    /// `video` labelled at fp32 and at `precision`: the same segment labels, each boundary within 0.6 s, and the
    /// precision in the provenance.
    static func expectSameSegments(_ model: LoadedModel, _ video: String, at precision: Precision,
                                   sourceLocation: SourceLocation = #_sourceLocation) throws {
        func segments(_ p: Precision) throws -> [Segment] {
            var options = LabelOptions(sampling: model.preprocessing.sampling, aggregator: AggregatorOptions())
            options.precision = p
            let timeline = try Labeller(model: model, options: options).label(video)
            #expect(timeline.provenance.precision == p.rawValue, sourceLocation: sourceLocation)
            return timeline.segments
        }
        let (fp32, reduced) = (try segments(.fp32), try segments(precision))
        #expect(fp32.map(\.label) == reduced.map(\.label), sourceLocation: sourceLocation)
        for (s, t) in zip(fp32, reduced) {
            #expect(abs(s.start - t.start) < 0.6 && abs(s.end - t.end) < 0.6, "\(s) vs \(t)", sourceLocation: sourceLocation)
        }
    }

    /// The three torchvision architectures at bf16 against torchvision's fp32 logits: within 2 % of the largest
    /// logit (an 8-bit mantissa through 18 layers; measured 0.3 % on r3d_18), same top class.
    @Test(arguments: ["r3d_18", "mc3_18", "r2plus1d_18"])
    func bf16LogitsStayCloseToTorchvision(model: String) throws {
        let net = try VideoResNet(contentsOf: try TestFixtures.path("\(model).pth"))
        let x = try NPY.decode(Data(contentsOf: URL(fileURLWithPath: try TestFixtures.path("\(model)_2x16x112x112_input.npy"))))
        let want = try NPY.decode(Data(contentsOf: URL(fileURLWithPath: try TestFixtures.path("\(model)_2x16x112x112_logits.npy"))))
        let session = InferenceSession(network: net, backend: try Backends.named("onednn"), precision: .bf16)
        var result: Tensor?
        try Self.bf16 { result = try session.logits(x) }
        guard let got = result else { return }  // refused, as asserted
        Self.expectClose(got, to: want, within: 0.02)
    }

    /// Every logit within `share` of torchvision's largest |logit|, and each clip's top class the same.
    static func expectClose(_ got: Tensor, to want: Tensor, within share: Float, sourceLocation: SourceLocation = #_sourceLocation) {
        let scale = want.data.map(abs).max()!
        let worst = zip(got.data, want.data).map { abs($0 - $1) }.max()!
        #expect(worst <= share * scale, "max |Δ| \(worst) vs max |logit| \(scale)", sourceLocation: sourceLocation)
        for b in 0..<want.shape[0] {
            let (g, w) = (got.batchItem(b).data, want.batchItem(b).data)
            #expect(g.indices.max { g[$0] < g[$1] } == w.indices.max { w[$0] < w[$1] }, "top-1 of clip \(b)", sourceLocation: sourceLocation)
        }
    }

    @Test func reducedPrecisionNeedsOneDNN() throws {
        let net = try VideoResNet(contentsOf: try TestFixtures.path("tiny.pth"))
        let x = try NPY.decode(Data(contentsOf: URL(fileURLWithPath: try TestFixtures.path("tiny_2x8x32x40_input.npy"))))
        #expect { _ = try InferenceSession(network: net, backend: GemmConvolution(), precision: .bf16).logits(x) } throws: {
            "\($0)".contains("needs the onednn backend")
        }
    }

    /// A session that releases the folded weights keeps giving the same logits — also for a batch, which runs one
    /// clip per thread on plans compiled after the release, from oneDNN's own copies — and the other backends then
    /// refuse the network with a reason.
    @Test func releasedFoldedWeightsLeaveOneDNNExactAndOthersRefusing() throws {
        let path = try TestFixtures.path("tiny.pth")
        let (kept, released) = (try VideoResNet(contentsOf: path), try VideoResNet(contentsOf: path))
        let x = try NPY.decode(Data(contentsOf: URL(fileURLWithPath: try TestFixtures.path("tiny_2x8x32x40_input.npy"))))
        let one = x.batchItem(0)
        let backend = try Backends.named("onednn")
        let reference = InferenceSession(network: kept, backend: backend)
        let session = InferenceSession(network: released, backend: backend)
        session.releasesFoldedWeights = true
        #expect(try session.logits(one).data == reference.logits(one).data)
        #expect(try session.logits(x).data == reference.logits(x).data)
        #expect { _ = try InferenceSession(network: released, backend: GemmConvolution()).logits(x) } throws: {
            "\($0)".contains("released")
        }
        #expect(try InferenceSession(network: kept, backend: GemmConvolution()).logits(x).count == reference.logits(x).count)
    }
}
