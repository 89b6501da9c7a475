// Per-layer breakdown of one clip through vidar's oneDNN plan: time, GFLOP/s, share of the measured peak of its
// number format (Peak.swift) and share of the whole for every convolution and reorder, from oneDNN's own verbose
// timing (ONEDNN_VERBOSE=1 in a child run of this tool).
import Foundation
import Vidar

func runLayersBench(_ argv: [String]) {
    var fixtures = ".fixtures", model = "r3d_18", precision = "fp32", batch = 1, runs = 5, threads = 2
    var child = false
    var i = 0
    while i < argv.count {
        func value() -> String { i += 1; guard i < argv.count else { fail("\(argv[i - 1]) needs a value") }; return argv[i] }
        switch argv[i] {
        case "--fixtures": fixtures = value()
        case "--model": model = value()
        case "--precision": precision = value()
        case "--batch": batch = Int(value()) ?? 1
        case "--runs": runs = Int(value()) ?? 5
        case "--threads": threads = Int(value()) ?? 2
        case "--child": child = true
        case "--help", "-h":
            print("usage: vidar-bench layers [--model r3d_18] [--precision fp32|bf16|int8] [--batch N] [--runs N] [--threads N] [--fixtures DIR]")
            exit(0)
        default: fail("unknown option \(argv[i])")
        }
        i += 1
    }
    let checkpoint = "\(fixtures)/\(model).pth", inputPath = "\(fixtures)/\(model)_1x16x112x112_input.npy"
    guard let p = try? Precision.named(precision) else { fail("unknown or unavailable precision \(precision)") }
    if child {
        // Timed runs only: a marker line separates the warm-up (compilation, first touch) from them.
        Backends.setThreads(threads)
        guard var net = try? VideoResNet(contentsOf: checkpoint),
              let x = try? NPY.decode(Data(contentsOf: URL(fileURLWithPath: inputPath))) else { fail("run `make fixtures` first") }
        if p == .int8 { net = calibratedForInt8(checkpoint, fixtures: fixtures) }
        let clips = repeated(x, batch: batch)
        let session = InferenceSession(network: net, backend: Backends.standard, threads: threads, precision: p)
        for _ in 0..<2 { _ = try? session.logits(clips) }
        print("vidar-layers-timed")  // through the same stdio buffer as oneDNN's lines, so in order
        for _ in 0..<runs { _ = try? session.logits(clips) }
        return
    }
    let me = CommandLine.arguments[0]
    let command = "ONEDNN_VERBOSE=1 \(me) layers --child --fixtures \(fixtures) --model \(model) --precision \(precision) "
        + "--batch \(batch) --runs \(runs) --threads \(threads)"
    let lines = shell(command).split(separator: "\n").map(String.init)
    guard let marker = lines.firstIndex(of: "vidar-layers-timed") else { fail("the child run failed: \(command)") }
    struct Layer {
        var kind: String, impl: String, problem: String, format: String?, ms: Double = 0, count = 0, flops: Double = 0, needed: Double = 0
        /// Giga-operations per second of `operations` per call over this layer's calls in `runs` runs.
        func rate(_ operations: Double, runs: Int) -> Double { operations * Double(count / runs) / (ms / Double(runs) / 1e3) / 1e9 }
    }
    var layers: [Layer] = []
    var index: [String: Int] = [:]
    for line in lines[(marker + 1)...] where line.hasPrefix("onednn_verbose,exec,") {
        let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard f.count >= 11, let ms = Double(f[f.count - 1]) else { continue }
        let (kind, impl, problem) = (f[3], f[4], f[f.count - 2])
        let key = "\(kind)|\(impl)|\(problem)|\(f[6])|\(f[7])"
        if index[key] == nil {
            index[key] = layers.count
            layers.append(Layer(kind: kind, impl: impl, problem: problem, format: weightFormat(f[6]), flops: convolutionFlops(problem),
                                needed: convolutionFlops(problem, excludingPadding: true)))
        }
        layers[index[key]!].ms += ms
        layers[index[key]!].count += 1
    }
    let total = layers.reduce(0) { $0 + $1.ms } / Double(runs)
    // Measured after the child has exited, on as many threads as it ran: nothing else competes for the cores.
    let peaks = measuredPeaks(threads: threads)
    let (cpu, commit) = machineDescription()
    print("vidar-bench layers  commit \(commit)")
    print("machine: \(cpu), oneDNN ISA \(Precision.cpuISA); \(model) \(precision), batch \(batch), \(threads) threads, mean of \(runs) runs")
    print("peak of \(threads) threads, measured (AVX-512 multiply-add loops): "
          + peaks.sorted { $0.value < $1.value }.map { String(format: "%@ %.0f G%@/s", $0.key, $0.value, $0.key == "s8" ? "OP" : "FLOP") }
            .joined(separator: ", ")
          + (Precision.cpuISA == "avx512_core_amx" ? " (AMX tiles go beyond these: % peak is of AVX-512's)" : ""))
    print("GFLOP/s counts every kernel tap (as the model's multiply-adds do); % peak counts only the taps inside the input")
    print("")
    print("kind          implementation                       problem                                        calls  ms/clip   GFLOP/s  % peak  share")
    for l in layers {
        let perRun = l.ms / Double(runs)
        let gflops = l.flops > 0 ? String(format: "%8.0f", l.rate(l.flops, runs: runs)) : "       -"
        let ofPeak = l.needed > 0 ? l.format.flatMap { peaks[$0] }.map { String(format: "%5.1f", 100 * l.rate(l.needed, runs: runs) / $0) } ?? "    -" : "    -"
        print(l.kind.padding(toLength: 14, withPad: " ", startingAt: 0) + l.impl.padding(toLength: 37, withPad: " ", startingAt: 0)
              + String(l.problem.prefix(46)).padding(toLength: 47, withPad: " ", startingAt: 0)
              + String(format: "%5d %8.2f  %@   %@  %4.1f %%", l.count / runs, perRun / Double(batch), gflops, ofPeak, 100 * perRun / total))
    }
    print(String(format: "\ntotal in oneDNN primitives: %.1f ms per call, %.1f ms per clip", total, total / Double(batch)))
    // The whole clip against the hardware: how long its convolutions would take at the peak of each one's format.
    let convolutions = layers.compactMap { l in l.needed > 0 ? l.format.flatMap { peaks[$0] }.map { (layer: l, peak: $0) } : nil }
    // A layer's time at peak is its time now scaled by its share of the peak.
    let convolutionMs = convolutions.reduce(0.0) { $0 + $1.layer.ms } / Double(runs)
    let atPeak = convolutions.reduce(0.0) { $0 + $1.layer.ms / Double(runs) * $1.layer.rate($1.layer.needed, runs: runs) / $1.peak }
    if !convolutions.isEmpty {
        print(String(format: "convolutions: %.1f ms per call, %.1f ms at the measured peak of their formats (%.1f %% of peak)",
                     convolutionMs, atPeak, 100 * atPeak / convolutionMs))
    }
}

/// 2 × MACs of a convolution from oneDNN's problem string (mb1_ic64oc64_id16od16kd3sd1dd0pd1_ih56oh56kh3sh1dh0ph1…):
/// all of the kernel's taps (the nominal count, as "40.7 G multiply-adds" counts them), or with `excludingPadding`
/// only the taps that land inside the input, the arithmetic a kernel cannot skip — what a share of the peak is of.
func convolutionFlops(_ problem: String, excludingPadding: Bool = false) -> Double {
    func value(_ key: String) -> Int? {
        guard let r = problem.range(of: key) else { return nil }
        return Int(problem[r.upperBound...].prefix { $0.isNumber })
    }
    /// Output positions × taps along one dimension (input i, output o, kernel k, stride s, dilation d as oneDNN
    /// writes it: 0 for none, padding p); a 2D problem has no depth, which counts as size `missing`.
    func taps(_ dim: String, default missing: Int?) -> Double? {
        guard let o = value("o\(dim)") ?? missing, let k = value("k\(dim)") ?? missing else { return nil }
        guard excludingPadding, let i = value("i\(dim)") else { return Double(o * k) }
        let s = value("s\(dim)") ?? 1, d = (value("d\(dim)") ?? 0) + 1, p = value("p\(dim)") ?? 0
        var inside = 0
        for out in 0..<o { for tap in 0..<k where (0..<i).contains(out * s + tap * d - p) { inside += 1 } }
        return Double(inside)
    }
    guard let mb = value("mb"), let ic = value("ic"), let oc = value("oc"),
          let depth = taps("d", default: 1), let height = taps("h", default: nil), let width = taps("w", default: nil) else { return 0 }
    return 2 * Double(mb * ic * oc) * depth * height * width
}
