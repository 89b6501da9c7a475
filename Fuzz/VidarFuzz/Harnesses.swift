// Every parser of untrusted bytes, as a fuzz harness. Built normally, this is a replayer (`vidar-fuzz replay`
// runs the seed corpus and every input that ever crashed, as `make test` does); built by `make fuzz` with
// -sanitize=fuzzer,address -DFUZZING, the same functions are libFuzzer's target (VIDAR_FUZZ_HARNESS names one).
import Foundation
import TestSupport
import Vidar
import VidarNN
import VidarService
import VidarStream

enum Harnesses {
    /// name → what to do with one input. Errors are the expected outcome; only a crash, a leak or a sanitizer
    /// report is a finding.
    static let all: [(name: String, run: @Sendable (Data) -> Void)] = [
        ("zip", { _ = try? Checkpoint.read($0, path: "fuzz.pth") }),
        ("pickle", { _ = try? Checkpoint.read(HostileTorchFile.checkpoint(pickle: [UInt8]($0)), path: "fuzz.pth") }),
        ("safetensors", { _ = try? Checkpoint.read($0, path: "fuzz.safetensors") }),
        ("npy", { _ = try? NPY.decode($0) }),
        ("metadata", { data in
            let text = String(decoding: data, as: UTF8.self)
            for key in [VideoResNetConfig.metadataKey, Preprocessing.metadataKey, Labels.metadataKey, AggregatorDefaults.metadataKey] {
                let metadata = [key: text]
                _ = try? VideoResNetConfig.recognise(StateDict(tensors: [:], format: "safetensors", metadata: metadata), path: "fuzz")
                _ = try? Preprocessing.resolve(metadata: metadata, path: "fuzz")
                _ = try? AggregatorDefaults.resolve(metadata: metadata, path: "fuzz")
                _ = try? Labels.resolve(numClasses: 7, labelsFile: nil, metadata: metadata)
            }
            _ = try? Calibration.decode(text, convolutions: ["stem.0", "layer1.0.conv1.0"], path: "fuzz")
        }),
        ("serve-config", { _ = try? ServeConfig.parse(String(decoding: $0, as: UTF8.self), path: "fuzz.yaml") }),
        ("api-stream", { _ = try? ServeConfig.stream(json: $0, defaults: ServeConfig()) }),
        ("timeline", { _ = try? TimelineFormat.decodeJSON($0) }),
        ("event-record", { _ = try? EventRecord.decode(jsonLine: $0) }),
    ]

    static func named(_ name: String) -> (@Sendable (Data) -> Void)? { all.first { $0.name == name }?.run }
}

#if FUZZING
nonisolated(unsafe) private var selected: (@Sendable (Data) -> Void)?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    if selected == nil {
        let name = ProcessInfo.processInfo.environment["VIDAR_FUZZ_HARNESS"] ?? ""
        guard let h = Harnesses.named(name) else {
            FileHandle.standardError.write(Data("VIDAR_FUZZ_HARNESS must be one of: \(Harnesses.all.map(\.name).joined(separator: ", "))\n".utf8))
            exit(64)
        }
        selected = h
    }
    selected!(Data(bytes: bytes, count: count))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                       _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// SwiftPM links an executable's `main` to `<target>_main`: here that hands the process to libFuzzer's driver.
@_cdecl("vidar_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc, argv = argv
    return runDriver(&argc, &argv) { fuzzOneInput($0, $1) }
}
#else
@main struct Replay {
    /// `vidar-fuzz replay DIR`: DIR/HARNESS/* for every harness (the seed corpus, the regressions), each input once.
    static func main() {
        let args = CommandLine.arguments.dropFirst()
        guard args.first == "replay", args.count >= 2 else {
            FileHandle.standardError.write(Data("usage: vidar-fuzz replay DIR… (each DIR holds one folder per harness: \(Harnesses.all.map(\.name).joined(separator: ", ")))\n".utf8))
            exit(64)
        }
        var replayed = 0
        for dir in args.dropFirst() {
            for (name, run) in Harnesses.all {
                let folder = URL(fileURLWithPath: dir).appendingPathComponent(name)
                let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
                for file in files.sorted() where !file.hasPrefix(".") {
                    guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(file).path) else { continue }
                    run(data)
                    replayed += 1
                }
            }
        }
        print("vidar-fuzz: \(replayed) inputs replayed through \(Harnesses.all.count) harnesses, no crash")
    }
}
#endif
