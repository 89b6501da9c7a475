// What every vidar-bench benchmark shares: failing loudly, timing results, the machine header.
import Foundation
import Vidar

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("vidar-bench: \(message)\n".utf8))
    exit(64)
}

struct Measurement: Encodable {
    let name: String
    let seconds: [Double]
    var median: Double { seconds.sorted()[seconds.count / 2] }
    var min: Double { seconds.min()! }
    var max: Double { seconds.max()! }

    enum CodingKeys: String, CodingKey { case name, seconds, median, min, max }
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(median, forKey: .median)
        try c.encode(min, forKey: .min)
        try c.encode(max, forKey: .max)
    }
}

/// `model`'s seeded checkpoint from `make fixtures`, its 1×16×112×112 input and torchvision's logits for it.
struct ReferenceFixture {
    let checkpoint, inputPath, referencePath: String
    let network: VideoResNet
    let input, reference: Tensor

    /// Loads all three; fails naming a missing file and the command that makes it.
    init(_ fixtures: String, model: String) {
        checkpoint = "\(fixtures)/\(model).pth"
        inputPath = "\(fixtures)/\(model)_1x16x112x112_input.npy"
        referencePath = "\(fixtures)/\(model)_1x16x112x112_logits.npy"
        for path in [checkpoint, inputPath, referencePath] where !FileManager.default.fileExists(atPath: path) {
            fail("\(path) is missing: run `make fixtures` first")
        }
        do {
            network = try VideoResNet(contentsOf: checkpoint)
            input = try NPY.decode(Data(contentsOf: URL(fileURLWithPath: inputPath)))
            reference = try NPY.decode(Data(contentsOf: URL(fileURLWithPath: referencePath)))
        } catch {
            fail("\(error)")
        }
    }
}

/// The peers' venv interpreter and `model`'s ONNX export (Benchmarks/peers/setup.sh makes both); fails naming the
/// command when either is missing.
func peerPaths(_ peers: String, fixtures: String, model: String) -> (python: String, onnx: String) {
    let python = "\(peers)/venv/bin/python", onnx = "\(peers)/\(model).onnx"
    guard FileManager.default.isExecutableFile(atPath: python), FileManager.default.fileExists(atPath: onnx) else {
        fail("\(python) or \(onnx) is missing: run `bash Benchmarks/peers/setup.sh \(fixtures) \(model)` (or pass --no-peers)")
    }
    return (python, onnx)
}

func shell(_ command: String) -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    guard (try? p.run()) != nil else { return "" }
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// One line naming the machine, for every report's header.
func machineDescription() -> (cpu: String, commit: String) {
    let cpu = shell("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2")
    let commit = shell("git -C \(URL(fileURLWithPath: #filePath).deletingLastPathComponent().path) rev-parse --short HEAD")
    return (cpu, commit)
}

/// One line on stdout at once (not buffered until exit): some benchmarks run for many minutes.
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

/// A TCP port free on 127.0.0.1 right now.
func benchFreePort() -> Int {
    let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(s) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// A batch of `batch` copies of the clips in `x` (N×C×T×H×W → batch·N×C×T×H×W): what the engine benchmarks time.
func repeated(_ x: Tensor, batch: Int) -> Tensor {
    Tensor(shape: [batch * x.shape[0]] + x.shape.dropFirst(), data: Array(repeating: x.data, count: batch).flatMap { $0 })
}

/// `network` with int8 ranges from the fixtures' real footage (bikes.mp4, a clip every 8 sampled frames, 24 clips
/// at most): what a user's `vidar models calibrate` would give, made on the spot so int8 can be benchmarked.
func calibratedForInt8(_ checkpoint: String, fixtures: String) -> VideoResNet {
    do {
        let model = try ModelLoader.load(checkpoint)
        let c = try ModelCalibration.calibrate(model: model, videos: ["\(fixtures)/videos/bikes.mp4"], stride: 8, maxClips: 24)
        return try model.network.calibrated(c)
    } catch { fail("calibrating \(checkpoint) for int8: \(error)") }
}
