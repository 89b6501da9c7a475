// Engine latency: one torchvision video ResNet per clip — vidar at fp32, bf16 and int8 (oneDNN), OpenVINO f32 and
// bf16, ONNX Runtime, PyTorch eager and frozen TorchScript — interleaved in rounds in one run, so that a noisy
// shared machine slows every engine alike. Each engine is validated against torchvision's logits first: a fast
// wrong answer is not a result. The peers run as long-lived processes (Benchmarks/peers/), set up by
// Benchmarks/peers/setup.sh (`make bench` does it).
import Foundation
import Vidar

struct EngineOptions {
    var fixtures = ".fixtures"
    var peers = ".peers"
    var model = "r3d_18"
    var threads = 2
    var runs = 5
    var rounds = 3
    var warmup = 2
    var batches = [1, 4]
    var json = false
    var withPeers = true
    var gemm = false

    static let usage = """
        usage: vidar-bench [engine] [--fixtures DIR] [--peers DIR] [--model r3d_18|mc3_18|r2plus1d_18] [--threads N]
                           [--batches 1,4] [--rounds N] [--runs N] [--warmup N] [--gemm] [--no-peers] [--json]
        defaults: --fixtures .fixtures --peers .peers --model r3d_18 --threads 2 --batches 1,4 --rounds 3 --runs 5
        (fixtures: `make fixtures`; peers: `bash Benchmarks/peers/setup.sh`, both done by `make bench`)
        --runs is per engine per round; --gemm adds the (slow) OpenBLAS backend
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
            case "--peers": peers = value()
            case "--model": model = value()
            case "--threads": threads = int()
            case "--runs": runs = int()
            case "--rounds": rounds = int()
            case "--warmup": warmup = int()
            case "--batches":
                batches = value().split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
                if batches.isEmpty { fail("--batches takes sizes like 1,4") }
            case "--json": json = true
            case "--no-peers": withPeers = false
            case "--gemm": gemm = true
            case "--help", "-h": print(EngineOptions.usage); exit(0)
            default: fail("unknown option \(argv[i])\n" + EngineOptions.usage)
            }
            i += 1
        }
    }
}

/// A peer engine process speaking Benchmarks/peers/'s line protocol: `run BATCH RUNS` → one JSON line of
/// per-call seconds by engine name.
final class PeerProcess {
    let name: String
    let ready: [String: Any]
    private let process = Process()
    private let input = Pipe(), output = Pipe()
    private var buffered = Data()

    init(name: String, _ executable: String, _ arguments: [String]) {
        self.name = name
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        do { try process.run() } catch { fail("\(name): cannot start \(executable): \(error)") }
        var first: [String: Any]?
        while first == nil {
            guard let line = Self.readLine(output.fileHandleForReading, &buffered) else {
                fail("\(name) peer ended before it was ready (run `bash Benchmarks/peers/setup.sh`)")
            }
            first = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
        ready = first!
    }

    func round(batch: Int, runs: Int) -> [String: [Double]] {
        input.fileHandleForWriting.write(Data("run \(batch) \(runs)\n".utf8))
        guard let line = Self.readLine(output.fileHandleForReading, &buffered),
              let answer = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: [Double]] else {
            fail("\(name) peer gave no timings")
        }
        return answer
    }

    func close() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    private static func readLine(_ handle: FileHandle, _ buffered: inout Data) -> String? {
        while true {
            if let nl = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[buffered.startIndex..<nl], as: UTF8.self)
                buffered = Data(buffered[(nl + 1)...])
                return line
            }
            let more = handle.availableData
            if more.isEmpty { return nil }
            buffered += more
        }
    }
}

func runEngineBench(_ argv: [String]) {
    let options = EngineOptions(argv)
    Backends.setThreads(options.threads)
    let fixture = ReferenceFixture(options.fixtures, model: options.model)
    let (network, input, reference) = (fixture.network, fixture.input, fixture.reference)
    let (checkpoint, inputPath, referencePath) = (fixture.checkpoint, fixture.inputPath, fixture.referencePath)
    let macs = VideoResNetLayout(network.config).multiplyAdds(t: 16, h: 112, w: 112)!
    var loadTimes: [Double] = []
    for _ in 0..<3 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = try? VideoResNet(contentsOf: checkpoint)
        loadTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }

    // vidar's engines, each validated: fp32 to 1e-4 of the largest logit, bf16 to 2e-2 and int8 (calibrated on real
    // footage, as a user would) to 5e-2, with the same top class.
    var engines: [(name: String, session: InferenceSession)] = []
    let onednn: ConvolutionBackend
    do { onednn = try Backends.named("onednn") } catch { fail("oneDNN: \(error)") }
    engines.append(("vidar-fp32", InferenceSession(network: network, backend: onednn, threads: options.threads)))
    if Precision.bf16.unavailableReason == nil {
        engines.append(("vidar-bf16", InferenceSession(network: network, backend: onednn, threads: options.threads, precision: .bf16)))
    }
    engines.append(("vidar-int8", InferenceSession(network: calibratedForInt8(checkpoint, fixtures: options.fixtures), backend: onednn,
                                                   threads: options.threads, precision: .int8)))
    if options.gemm { engines.append(("vidar-fp32-gemm", InferenceSession(network: network, backend: GemmConvolution(), threads: options.threads))) }
    var errors: [String: Double] = [:]
    let scale = reference.data.map(abs).max()!
    func top1(_ t: [Float]) -> Int { t.indices.max { t[$0] < t[$1] }! }
    for (name, session) in engines {
        guard let got = try? session.logits(input) else { fail("\(name): inference failed") }
        let error = zip(got.data, reference.data).map { abs($0 - $1) }.max()! / scale
        let tolerance: Float = [.fp32: 1e-4, .bf16: 2e-2, .int8: 5e-2][session.precision]!
        guard error <= tolerance, top1(got.data) == top1(reference.data) else {
            fail("\(name): logits differ from torchvision's by \(error) of the largest: not timing a wrong result")
        }
        errors[name] = Double(error)
    }
    let batched = Dictionary(uniqueKeysWithValues: options.batches.map { b in
        (b, repeated(input, batch: b))
    })

    var peers: [PeerProcess] = []
    var versions: [String: String] = [:]
    if options.withPeers {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("peers").path
        let torch = PeerProcess(name: "pytorch", "/usr/bin/python3", ["\(dir)/torch_video_resnet.py", "--arch", options.model,
                                "--checkpoint", checkpoint, "--input", inputPath, "--threads", "\(options.threads)", "--warmup", "\(options.warmup)"])
        versions["torch"] = torch.ready["torch"] as? String
        peers.append(torch)
        let (python, onnx) = peerPaths(options.peers, fixtures: options.fixtures, model: options.model)
        let ov = PeerProcess(name: "openvino/onnxruntime", python, ["\(dir)/openvino_onnxruntime.py", "--onnx", onnx, "--input", inputPath,
                             "--reference", referencePath, "--threads", "\(options.threads)", "--warmup", "\(options.warmup)"])
        versions["openvino"] = ov.ready["openvino"] as? String
        versions["onnxruntime"] = ov.ready["onnxruntime"] as? String
        for (name, e) in (ov.ready["relative_error"] as? [String: Double]) ?? [:] {
            let tolerance = name.hasSuffix("bf16") ? 2e-2 : 1e-4
            guard e <= tolerance else { fail("\(name): logits differ from torchvision's by \(e) of the largest: not timing a wrong result") }
            errors[name] = e
        }
        peers.append(ov)
    }

    // Rounds: every engine at every batch size, in turn.
    var seconds: [String: [Int: [Double]]] = [:]
    var order: [String] = []
    func record(_ name: String, _ batch: Int, _ times: [Double]) {
        if seconds[name] == nil { order.append(name) }
        seconds[name, default: [:]][batch, default: []] += times
    }
    var warmed = Set<String>()
    for round in 1...options.rounds {
        FileHandle.standardError.write(Data("round \(round)/\(options.rounds)\n".utf8))
        for batch in options.batches {
            for (name, session) in engines {
                let x = batched[batch]!
                if warmed.insert("\(name)/\(batch)").inserted { for _ in 0..<options.warmup { _ = try? session.logits(x) } }
                var times: [Double] = []
                for _ in 0..<options.runs {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    _ = try? session.logits(x)
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                }
                record(name, batch, times)
            }
            for peer in peers {
                for (name, times) in peer.round(batch: batch, runs: options.runs).sorted(by: { $0.key < $1.key }) { record(name, batch, times) }
            }
        }
    }
    peers.forEach { $0.close() }

    let (cpu, commit) = machineDescription()
    let flags = shell("grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\\n' | grep -E '^(avx512f|avx512_bf16|avx512_vnni|amx_bf16|amx_int8|avx2|fma)$' | tr '\\n' ' '")
    func perClip(_ name: String, _ batch: Int) -> Measurement? {
        seconds[name]?[batch].map { Measurement(name: name, seconds: $0.map { $0 / Double(batch) }) }
    }
    if options.json {
        struct Row: Encodable { let name: String; let batch: Int; let per_clip: Measurement; let clips_per_second: Double }
        struct Report: Encodable {
            let benchmark = "engine-latency"
            let commit: String, cpu: String, flags: String, onednn_isa: String, cores: Int, threads: Int, model: String
            let multiply_adds: Int, versions: [String: String], validation_relative_error: [String: Double]
            let rows: [Row]
        }
        let rows = options.batches.flatMap { b in order.compactMap { n in perClip(n, b).map { Row(name: n, batch: b, per_clip: $0, clips_per_second: 1 / $0.median) } } }
        let report = Report(commit: commit, cpu: cpu, flags: flags, onednn_isa: Precision.cpuISA, cores: ProcessInfo.processInfo.activeProcessorCount,
                            threads: options.threads, model: options.model, multiply_adds: macs, versions: versions,
                            validation_relative_error: errors, rows: rows)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try! encoder.encode(report), as: UTF8.self))
        return
    }
    print("vidar-bench engine-latency  commit \(commit)")
    print("machine: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores, flags \(flags); oneDNN ISA \(Precision.cpuISA); threads \(options.threads)")
    print("peers: " + (versions.isEmpty ? "skipped (--no-peers)" : versions.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
    print("model \(options.model), clip 3×16×112×112, " + String(format: "%.2f G multiply-adds; checkpoint load median %.0f ms", Double(macs) / 1e9, loadTimes.sorted()[1] * 1e3))
    print("validated vs torchvision (max |Δ| / max |logit|): " + errors.sorted { $0.key < $1.key }.map { String(format: "%@ %.1e", $0.key, $0.value) }.joined(separator: ", "))
    print("\(options.rounds) interleaved rounds × \(options.runs) runs per engine and batch size, after \(options.warmup) warm-up")
    let baselines = ["vidar-bf16", "vidar-fp32"].filter { seconds[$0] != nil }
    for batch in options.batches {
        print("")
        print("batch \(batch)".padding(toLength: 28, withPad: " ", startingAt: 0) + "ms/clip median    min      max   clips/s  GFLOP/s  "
              + baselines.map { "÷ \($0)".padding(toLength: 15, withPad: " ", startingAt: 0) }.joined())
        for name in order {
            guard let m = perClip(name, batch) else { continue }
            let ratios = baselines.map { b in String(format: "%-15.2f", m.median / perClip(b, batch)!.median) }.joined()
            print(name.padding(toLength: 28, withPad: " ", startingAt: 0)
                  + String(format: "%14.1f %7.1f %8.1f %9.2f %8.1f  ", m.median * 1e3, m.min * 1e3, m.max * 1e3, 1 / m.median,
                           2 * Double(macs) / m.median / 1e9) + ratios)
        }
    }
    print("(÷ columns: the row's time per clip over that vidar engine's; above 1 means vidar is faster)")
    print("")
    func ratio(_ a: String, _ b: String, batch: Int = 1) -> String {
        guard let x = perClip(a, batch), let y = perClip(b, batch) else { return "n/a" }
        return String(format: "%.2f", x.median / y.median)
    }
    print("targets (batch 1): vidar-bf16 ÷ openvino-bf16 \(ratio("vidar-bf16", "openvino-bf16")) (≤ 0.9); "
          + "vidar-fp32 ÷ openvino-f32 \(ratio("vidar-fp32", "openvino-f32")) (≤ 0.9); "
          + "vidar-int8 ÷ vidar-bf16 \(ratio("vidar-int8", "vidar-bf16")) (≤ 0.6)")
    if options.batches.contains(1), let b = options.batches.first(where: { $0 > 1 }) {
        for name in baselines + ["vidar-int8"] where seconds[name] != nil {
            print("\(name): batch \(b) gives \(ratio(name, name, batch: 1) == "n/a" ? "n/a" : String(format: "%.2f", perClip(name, 1)!.median / perClip(name, b)!.median))× the clips/s of batch 1 (≥ 1.1)")
        }
    }
}
