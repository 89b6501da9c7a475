// Engine latency: one r3d_18 clip per backend, validated against torchvision, beside PyTorch eager and
// frozen TorchScript timed in the same run on the same checkpoint and input.
import Foundation
import Vidar

struct EngineOptions {
    var fixtures = ".fixtures"
    var model = "r3d_18"
    var threads = 2
    var runs = 10
    var warmup = 2
    var json = false
    var peers = true

    static let usage = """
        usage: vidar-bench [engine] [--fixtures DIR] [--model r3d_18|mc3_18|r2plus1d_18] [--threads N] [--runs N]
                           [--warmup N] [--no-peers] [--json]
        defaults: --fixtures .fixtures --model r3d_18 --threads 2 --runs 10 --warmup 2 (fixtures: `make fixtures`)
        """

    init(_ argv: [String]) {
        var i = 0
        func value() -> String {
            i += 1
            guard i < argv.count else { fail(EngineOptions.usage) }
            return argv[i]
        }
        func int() -> Int {
            let v = value()
            guard let n = Int(v), n > 0 else { fail("expected a positive integer, got '\(v)'\n" + EngineOptions.usage) }
            return n
        }
        while i < argv.count {
            switch argv[i] {
            case "--fixtures": fixtures = value()
            case "--model": model = value()
            case "--threads": threads = int()
            case "--runs": runs = int()
            case "--warmup": warmup = int()
            case "--json": json = true
            case "--no-peers": peers = false
            case "--help", "-h": print(EngineOptions.usage); exit(0)
            default: fail("unknown option \(argv[i])\n" + EngineOptions.usage)
            }
            i += 1
        }
    }
}


func runEngineBench(_ argv: [String]) {
    let options = EngineOptions(argv)
    let checkpoint = "\(options.fixtures)/\(options.model).pth"
    let inputPath = "\(options.fixtures)/\(options.model)_1x16x112x112_input.npy"
    let referencePath = "\(options.fixtures)/\(options.model)_1x16x112x112_logits.npy"
    for path in [checkpoint, inputPath, referencePath] where !FileManager.default.fileExists(atPath: path) {
        fail("\(path) is missing: run `make fixtures` first")
    }

    Backends.setThreads(options.threads)
    let network: VideoResNet
    let input: Tensor, reference: Tensor
    do {
        network = try VideoResNet(contentsOf: checkpoint)
        input = try NPY.decode(Data(contentsOf: URL(fileURLWithPath: inputPath)))
        reference = try NPY.decode(Data(contentsOf: URL(fileURLWithPath: referencePath)))
    } catch {
        fail("\(error)")
    }
    let checkpointBytes = ((try? FileManager.default.attributesOfItem(atPath: checkpoint))?[.size] as? Int) ?? 0
    let macs = VideoResNetLayout(network.config).multiplyAdds(t: 16, h: 112, w: 112)!
    let flops = 2.0 * Double(macs)

    // Loading: parse, strict checks and BatchNorm folding of the whole checkpoint file.
    var loadTimes: [Double] = []
    for _ in 0..<5 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = try? VideoResNet(contentsOf: checkpoint)
        loadTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    let load = Measurement(name: "vidar-load-checkpoint", seconds: loadTimes)

    var results: [Measurement] = []
    // Each backend is validated against torchvision before it is timed: a fast wrong answer is not a result.
    // fp32 must match torchvision to 1e-4 of the largest logit; bf16 (an 8-bit mantissa) to 5e-2 with the same
    // top class — its agreement over many clips is measured by the precision tests, not here.
    var backends: [(String, ConvolutionBackend, Precision)] = [("vidar-gemm-openblas", GemmConvolution(), .fp32)]
    if let dnnl = try? OneDNNConvolution() {
        backends.insert(contentsOf: [("vidar-onednn-fp32", dnnl, .fp32), ("vidar-onednn-bf16", dnnl, .bf16)], at: 0)
    }
    var relativeError: Float = 0
    for (name, backend, precision) in backends {
        let session = InferenceSession(network: network, backend: backend, threads: options.threads, precision: precision)
        guard let check = try? session.logits(input) else { fail("\(name): inference failed") }
        let scale = reference.data.map(abs).max()!
        let error = zip(check.data, reference.data).map { abs($0 - $1) }.max()! / scale
        let tolerance: Float = precision == .fp32 ? 1e-4 : 5e-2
        let top1 = { (t: [Float]) in t.indices.max { t[$0] < t[$1] }! }
        guard error <= tolerance, top1(check.data) == top1(reference.data) else {
            fail("\(name): logits differ from torchvision's by \(error) (relative): not timing a wrong result")
        }
        if precision == .fp32 { relativeError = max(relativeError, error) }
        print("\(name): max |Δ|/max|logit| vs torchvision \(error)")
        for _ in 0..<options.warmup { _ = try? session.logits(input) }
        var times: [Double] = []
        for _ in 0..<options.runs {
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try? session.logits(input)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        results.append(Measurement(name: name, seconds: times))
    }

    var torchVersion = "not run"
    var peerNote = ""
    if options.peers {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("peers/torch_video_resnet.py").path
        let output = shell("/usr/bin/python3 \(script) --arch \(options.model) --checkpoint \(checkpoint) --input \(inputPath) "
                           + "--threads \(options.threads) --runs \(options.runs) --warmup \(options.warmup)")
        if let data = output.split(separator: "\n").last.map({ Data($0.utf8) }),
           let peer = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let eager = peer["eager_seconds"] as? [Double], let frozen = peer["frozen_seconds"] as? [Double] {
            torchVersion = peer["torch"] as? String ?? "?"
            results.append(Measurement(name: "pytorch-eager", seconds: eager))
            results.append(Measurement(name: "pytorch-frozen-torchscript", seconds: frozen))
        } else {
            fail("the PyTorch peer failed (is python3-torch installed? run `make deps`): \(output)")
        }
    } else {
        peerNote = " (peers skipped with --no-peers)"
    }

    let (cpu, commit) = machineDescription()
    let coretype = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset (autodetected)"
    /// Row time ÷ the time of a vidar backend: above 1 means vidar is faster.
    func ratio(_ r: Measurement, to name: String) -> Double? {
        results.first { $0.name == name }.map { r.median / $0.median }
    }

    if options.json {
        struct Report: Encodable {
            let benchmark = "engine-latency"
            let commit: String, cpu: String, cores: Int, threads: Int, openblas_core: String, openblas_coretype_env: String
            let model: String, input: [Int], multiply_adds: Int, torch: String
            let validation_max_relative_error: Float
            let checkpoint_bytes: Int
            let load: Measurement
            let results: [Measurement]
            let peer_time_over_vidar_time: [String: Double]
        }
        var ratios: [String: Double] = [:]
        for r in results where !r.name.hasPrefix("vidar") {
            for (b, _, _) in backends { ratios["\(r.name)/\(b)"] = ratio(r, to: b) }
        }
        let report = Report(commit: commit, cpu: cpu, cores: ProcessInfo.processInfo.activeProcessorCount, threads: options.threads,
                            openblas_core: BLAS.coreName, openblas_coretype_env: coretype, model: options.model,
                            input: input.shape, multiply_adds: macs, torch: torchVersion,
                            validation_max_relative_error: relativeError, checkpoint_bytes: checkpointBytes, load: load, results: results, peer_time_over_vidar_time: ratios)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try! encoder.encode(report), as: UTF8.self))
    } else {
        print("vidar-bench engine-latency  commit \(commit)")
        print("machine: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores; threads \(options.threads); "
              + "OpenBLAS core \(BLAS.coreName) (OPENBLAS_CORETYPE=\(coretype)); torch \(torchVersion)\(peerNote)")
        print("model \(options.model), input \(input.shape.map(String.init).joined(separator: "×")), "
              + String(format: "%.2f G multiply-adds; validated vs torchvision: max |Δ|/max|logit| = %.1e", Double(macs) / 1e9, relativeError))
        print(String(format: "checkpoint load (%.0f MB: parse, strict checks, BatchNorm folding): median %.0f ms over 5",
                     Double(checkpointBytes) / 1e6, load.median * 1e3))
        print("per-clip runs: \(options.runs) after \(options.warmup) warm-up")
        print("")
        let columns = backends.map { "÷ \($0.0)" }
        print("name".padding(toLength: 28, withPad: " ", startingAt: 0) + "median ms    min ms    max ms   GFLOP/s   "
              + columns.map { $0.padding(toLength: 22, withPad: " ", startingAt: 0) }.joined())
        for r in results {
            let ratios = backends.map { String(format: "%-22.2f", ratio(r, to: $0.0)!) }.joined()
            print(r.name.padding(toLength: 28, withPad: " ", startingAt: 0)
                  + String(format: "%9.1f %9.1f %9.1f %9.1f   ", r.median * 1e3, r.min * 1e3, r.max * 1e3, flops / r.median / 1e9) + ratios)
        }
        print("(÷ columns: the row's median time over that vidar backend's; above 1 means vidar is faster)")
    }
}
