// int8 is tested like bf16: by its measured agreement with fp32 and with torchvision — after a calibration on
// other clips than the ones measured, since calibrating on the test clips would flatter it. A model without a
// calibration is refused with one line saying how to make one.
import Foundation
import Testing
import TestSupport
import Vidar
import VidarStream

@Suite(.serialized) struct Int8Tests {
    static func calibrated(_ model: LoadedModel, on videos: [String], stride: Int = 8) throws -> LoadedModel {
        try model.calibrated(try ModelCalibration.calibrate(model: model, videos: videos, stride: stride, threads: 1))
    }

    static func tensor(_ name: String) throws -> Tensor {
        try NPY.decode(Data(contentsOf: URL(fileURLWithPath: try TestFixtures.path(name))))
    }

    /// r3d_18 on seeded weights, calibrated on one real video and measured on every clip of both (measured: 25
    /// clips, 100 % top-1, max |Δp| 0.015; `vidar-bench precision` covers ≥ 200 clips per model).
    @Test func int8AgreesWithFP32OnRealFootage() throws {
        let videos = try PrecisionTests.realFootage.map { try TestFixtures.path($0) }
        let model = try Self.calibrated(try ModelLoader.load(try TestFixtures.path("r3d_18.pth")), on: [videos[0]])
        let a = try PrecisionAgreement.measure(model: model, videos: videos, precision: .int8, stride: 8, threads: 1)
        #expect(a.clips >= 20, "\(a)")
        #expect(a.top1Agreement >= 0.99, "\(a)")
        #expect(a.maxProbabilityChange <= 0.05, "\(a)")
    }

    /// The three torchvision architectures at int8 against torchvision's fp32 logits, calibrated on another input
    /// than the two clips compared: within 3 % of the largest logit (measured 1.1–1.3 %), same top class.
    @Test(arguments: ["r3d_18", "mc3_18", "r2plus1d_18"])
    func int8LogitsStayCloseToTorchvision(model: String) throws {
        let net = try VideoResNet(contentsOf: try TestFixtures.path("\(model).pth"))
        let backend = try Backends.named("onednn")
        let recorder = CalibrationRecorder()
        let calibrating = InferenceSession(network: net, backend: backend, threads: 1)
        calibrating.activationObserver = { recorder.observe($0, $1) }
        _ = try calibrating.logits(try Self.tensor("\(model)_1x16x112x112_input.npy"))
        recorder.ranClips(1)
        let session = InferenceSession(network: try net.calibrated(recorder.calibration), backend: backend, threads: 1, precision: .int8)
        let got = try session.logits(try Self.tensor("\(model)_2x16x112x112_input.npy"))
        PrecisionTests.expectClose(got, to: try Self.tensor("\(model)_2x16x112x112_logits.npy"), within: 0.03)
    }

    /// The bundled model calibrated on two demo videos and measured on the third: per-clip agreement, and the same
    /// segments after the aggregator. A clip may change class only where fp32 itself hardly decides (its top two
    /// within 0.02 of each other) — measured on the current weights (version 3): 74 clips, none flipped, max |Δp|
    /// 0.011; version 2 flipped one (top-2 gap 0.0074, max |Δp| 0.021). Its 8-channel first stage stays fp32 between int8
    /// layers, so this also covers quantizing and dequantizing inside the plan.
    @Test func int8KeepsTheBundledModelsSegments() throws {
        let clips = TestFixtures.repositoryRoot.appendingPathComponent("clips")
        let video = clips.appendingPathComponent("actions-101.mp4").path
        let model = try Self.calibrated(try ModelLoader.load(ModelRegistry.bundledName),
                                        on: ["actions-102.mp4", "actions-103.mp4"].map { clips.appendingPathComponent($0).path })
        let a = try PrecisionAgreement.measure(model: model, videos: [video], precision: .int8)
        #expect(a.clips >= 20 && a.top1Agreement >= 0.98 && a.maxProbabilityChange <= 0.05, "\(a)")
        #expect(a.widestFlippedMargin <= 0.02, "a clip fp32 decided clearly changed class: \(a)")
        try PrecisionTests.expectSameSegments(model, video, at: .int8)
    }

    @Test func int8WithoutACalibrationIsRefused() throws {
        let net = try VideoResNet(contentsOf: try TestFixtures.path("tiny.pth"))
        #expect(net.calibration == nil)
        #expect(Precision.int8.unsupportedReason(for: net)?.contains("vidar models calibrate") == true)
        let x = try Self.tensor("tiny_2x8x32x40_input.npy")
        #expect { _ = try InferenceSession(network: net, backend: try Backends.named("onednn"), precision: .int8).logits(x) } throws: {
            "\($0)".contains("vidar models calibrate")
        }
        #expect { _ = try InferenceSession(network: net, backend: GemmConvolution(), precision: .int8).logits(x) } throws: {
            "\($0)".contains("needs the onednn backend")
        }
    }

    /// The calibration a checkpoint carries is checked like the rest of its metadata: every layer named, no
    /// stranger, finite ranges — one error naming the key and what is wrong.
    @Test func calibrationMetadataIsChecked() throws {
        let layers = ["stem.0", "layer1.0.conv1.0"]
        let good = Calibration(clips: 3, ranges: ["stem.0": 2.5, "layer1.0.conv1.0": 0])
        #expect(try Calibration.decode(good.json(), convolutions: layers, path: "m") == good)
        let bad: [(String, String)] = [
            ("{", "not a calibration object"),
            (#"{"version":2,"method":"max","clips":1,"ranges":{}}"#, "version 2"),
            (#"{"version":1,"method":"max","clips":0,"ranges":{"stem.0":1,"layer1.0.conv1.0":1}}"#, "no clips"),
            (#"{"version":1,"method":"max","clips":1,"ranges":{"stem.0":1}}"#, "no range for 'layer1.0.conv1.0'"),
            (#"{"version":1,"method":"max","clips":1,"ranges":{"stem.0":1,"layer1.0.conv1.0":1,"fc":1}}"#, "'fc'"),
            (#"{"version":1,"method":"max","clips":1,"ranges":{"stem.0":-1,"layer1.0.conv1.0":1}}"#, "finite number"),
        ]
        for (json, reason) in bad {
            #expect { _ = try Calibration.decode(json, convolutions: layers, path: "m.safetensors") } throws: {
                "\($0)".contains("vidar.calibration") && "\($0)".contains(reason) && "\($0)".contains("m.safetensors")
            }
        }
    }
}
