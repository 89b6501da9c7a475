// vidar's logits against torchvision's own, on seeded random weights and inputs (Tests/Fixtures/make_fixtures.py).
import Foundation
import Testing
import TestSupport
import VidarNN

/// max |Δlogit| ≤ 1e-4 · max |logit|, and the same top-5 for every clip.
func expectMatches(_ ours: Tensor, _ reference: Tensor, relativeTolerance: Float = 1e-4,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(ours.shape == reference.shape, sourceLocation: sourceLocation)
    guard ours.shape == reference.shape else { return }
    let scale = reference.data.map(abs).max()!
    let worst = zip(ours.data, reference.data).map { abs($0 - $1) }.max()!
    #expect(worst <= relativeTolerance * scale, "max |Δ| \(worst) vs max |logit| \(scale)", sourceLocation: sourceLocation)
    let classes = reference.shape[1]
    for b in 0..<reference.shape[0] {
        func top5(_ t: Tensor) -> [Int] {
            Array((0..<classes).sorted { t.data[b * classes + $0] > t.data[b * classes + $1] }.prefix(5))
        }
        #expect(top5(ours) == top5(reference), "top-5 of clip \(b)", sourceLocation: sourceLocation)
    }
}

@Suite(.serialized) struct FidelityTests {
    static let cases = ["1x16x112x112", "2x8x112x112", "2x16x112x112", "1x8x97x123", "1x1x64x64"]

    /// Every case through every fast backend.
    @Test(arguments: ["r3d_18", "mc3_18", "r2plus1d_18"], ["onednn", "gemm"])
    func logitsMatchTorchvision(model: String, backend: String) throws {
        let net = try VideoResNet(contentsOf: try Fixtures.path("\(model).pth"))
        #expect(net.config.torchvisionName == model)
        let b = try Backends.named(backend)
        for c in Self.cases {
            let x = try Fixtures.npy("\(model)_\(c)_input.npy")
            expectMatches(try InferenceSession(network: net, backend: b).logits(x), try Fixtures.npy("\(model)_\(c)_logits.npy"))
        }
    }

    @Test(arguments: ["r3d_18", "mc3_18", "r2plus1d_18"])
    func safetensorsCheckpointsMatchToo(model: String) throws {
        let st = try VideoResNet(contentsOf: try Fixtures.path("\(model).safetensors"))
        #expect(st.config.torchvisionName == model)
        let x = try Fixtures.npy("\(model)_1x16x112x112_input.npy")
        expectMatches(try InferenceSession(network: st).logits(x), try Fixtures.npy("\(model)_1x16x112x112_logits.npy"))
    }

    @Test(arguments: ["f16", "bf16"], ["pth", "safetensors"])
    func reducedPrecisionCheckpointsMatch(dtype: String, format: String) throws {
        let net = try VideoResNet(contentsOf: try Fixtures.path("mc3_18_\(dtype).\(format)"))
        let x = try Fixtures.npy("mc3_18_\(dtype)_1x16x112x112_input.npy")
        // The reference ran the same rounded weights in float32, so the fp32 tolerance applies.
        expectMatches(try InferenceSession(network: net).logits(x), try Fixtures.npy("mc3_18_\(dtype)_1x16x112x112_logits.npy"))
    }
}

/// The bundled action model, loaded through the generic configuration path, against PyTorch on its own weights.
struct BundledModelFidelityTests {
    @Test func bundledModelMatchesPyTorch() throws {
        let path = TestFixtures.repositoryRoot.appendingPathComponent("Sources/Vidar/Resources/vidar-actions.safetensors").path
        let net = try VideoResNet(contentsOf: path)
        #expect(net.config.torchvisionName == nil)
        #expect(net.config.widths == [8, 16, 32, 64] && net.config.numClasses == 8)
        for backend in ["onednn", "gemm"] {
            expectMatches(try InferenceSession(network: net, backend: try Backends.named(backend)).logits(try Fixtures.npy("vidar_actions_input.npy")),
                          try Fixtures.npy("vidar_actions_logits.npy"))
        }
    }
}

/// A batch runs as one clip per thread (InferenceSession.clipParallelLogits): each clip's logits must be those it gets
/// alone (measured here: identical to the bit), at every precision this CPU runs (int8 calibrated on the clips
/// themselves), and at fp32 torchvision's.
struct BatchedInferenceTests {
    @Test(arguments: Precision.allCases)
    func aBatchOnTwoThreadsGivesEachClipItsOwnLogits(precision: Precision) throws {
        guard precision.unavailableReason == nil else { return }
        var net = try VideoResNet(contentsOf: try Fixtures.path("r3d_18.pth"))
        let batch = try Fixtures.npy("r3d_18_2x8x112x112_input.npy")
        let clips = (0..<2).map { batch.batchItem($0) }
        if precision == .int8 {
            let recorder = CalibrationRecorder()
            let observing = InferenceSession(network: net, backend: try Backends.named("onednn"), threads: 2)
            observing.activationObserver = recorder.observe
            for clip in clips { _ = try observing.logits(clip); recorder.ranClips(1) }
            net = try net.calibrated(recorder.calibration)
        }
        let session = InferenceSession(network: net, backend: try Backends.named("onednn"), threads: 2, precision: precision)
        let together = try session.logits(batch)
        let alone = try clips.map { try session.logits($0) }
        for (b, one) in alone.enumerated() {
            let row = together.batchItem(b).data
            let worst = zip(row, one.data).map { abs($0 - $1) }.max()!
            let scale = one.data.map(abs).max()!
            #expect(worst <= 1e-5 * scale, "\(precision) clip \(b): max |Δ| \(worst) of max |logit| \(scale)")
        }
        if precision == .fp32 { expectMatches(together, try Fixtures.npy("r3d_18_2x8x112x112_logits.npy")) }
    }
}
