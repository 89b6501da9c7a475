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
