// Archive throughput, one worker: files/hour and real-time factor of `vidar label --from LIST -o DIR/` on a mixed
// corpus (sizes, codecs, lengths), and what `--resume` costs on a finished run of many inputs (it reads each
// output's provenance and samples each input: it should take seconds for thousands).
import Foundation

func runArchiveBench(_ argv: [String]) {
    var model = "vidar-actions"
    var small = 2000
    var i = 0
    while i < argv.count {
        switch argv[i] {
        case "--model": i += 1; model = argv[safe: i] ?? model
        case "--inputs": i += 1; small = Int(argv[safe: i] ?? "") ?? small
        default: fail("usage: vidar-bench archive [--model NAME|PATH (vidar-actions)] [--inputs N (2000): the resume run's size]")
        }
        i += 1
    }
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vidar").path
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidar-archive-bench")
    try? FileManager.default.removeItem(at: dir)
    try? FileManager.default.createDirectory(at: dir.appendingPathComponent("corpus"), withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let (cpu, commit) = machineDescription()
    say("vidar-bench archive  commit \(commit)")
    say("machine: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores; model \(model); one worker (all cores)")

    // A mixed corpus: what an archive holds.
    let kinds: [(name: String, size: String, seconds: Int, codec: [String])] = [
        ("480p-h264", "854x480", 60, ["-c:v", "libx264", "-preset", "veryfast"]),
        ("720p-h264", "1280x720", 60, ["-c:v", "libx264", "-preset", "veryfast"]),
        ("1080p-h264", "1920x1080", 30, ["-c:v", "libx264", "-preset", "veryfast"]),
        ("720p-hevc", "1280x720", 30, ["-c:v", "libx265", "-preset", "veryfast", "-x265-params", "log-level=error"]),
        ("360p-mjpeg", "640x360", 30, ["-c:v", "mjpeg", "-q:v", "5"]),
        ("240p-mpeg4", "320x240", 120, ["-c:v", "mpeg4", "-q:v", "5"]),
    ]
    var corpus: [String] = []
    var seconds = 0
    for (k, kind) in kinds.enumerated() {
        for copy in 0..<2 {
            let path = dir.appendingPathComponent("corpus/\(kind.name)-\(copy).\(kind.codec[1] == "mjpeg" || kind.codec[1] == "mpeg4" ? "avi" : "mp4")").path
            let source = ["testsrc2", "mandelbrot", "smptebars", "life"][(k + copy) % 4]
            _ = shell("/usr/bin/ffmpeg -v error -f lavfi -i \(source)=size=\(kind.size):rate=25 -t \(kind.seconds) "
                      + kind.codec.joined(separator: " ") + " -pix_fmt yuv420p '\(path)'")
            guard FileManager.default.fileExists(atPath: path) else { fail("could not make \(path) with ffmpeg") }
            corpus.append(path)
            seconds += kind.seconds
        }
    }
    let list = dir.appendingPathComponent("corpus.txt").path
    try? corpus.joined(separator: "\n").write(toFile: list, atomically: true, encoding: .utf8)
    say("")
    say("mixed corpus: \(corpus.count) files, \(seconds / 60) min of video (" + kinds.map { "2× \($0.name) \($0.seconds) s" }.joined(separator: ", ") + ")")
    let out = dir.appendingPathComponent("timelines").path + "/"
    let first = timed(binary, ["label", "--model", model, "--quiet", "--from", list, "-o", out])
    say(String(format: "  label:             %7.1f s wall   %6.0f files/hour   %5.2f× real time", first, Double(corpus.count) / first * 3600,
               Double(seconds) / first))
    let again = timed(binary, ["label", "--model", model, "--quiet", "--resume", "--from", list, "-o", out])
    say(String(format: "  label --resume:    %7.2f s wall   (all %d up to date)", again, corpus.count))

    // Many small inputs: the cost of --resume per input once the run is done.
    let smallDir = dir.appendingPathComponent("small")
    try? FileManager.default.createDirectory(at: smallDir, withIntermediateDirectories: true)
    let seed = smallDir.appendingPathComponent("seed.mp4").path
    _ = shell("/usr/bin/ffmpeg -v error -f lavfi -i testsrc2=size=320x240:rate=25 -t 1.2 -c:v libx264 -preset veryfast -pix_fmt yuv420p '\(seed)'")
    var names: [String] = []
    for k in 0..<small {
        let path = smallDir.appendingPathComponent(String(format: "d%02d/clip-%05d.mp4", k / 100, k)).path
        try? FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? FileManager.default.copyItem(atPath: seed, toPath: path)
        names.append(path)
    }
    let smallList = dir.appendingPathComponent("small.txt").path
    try? names.joined(separator: "\n").write(toFile: smallList, atomically: true, encoding: .utf8)
    let smallOut = dir.appendingPathComponent("small-timelines").path + "/"
    let labelled = timed(binary, ["label", "--model", model, "--quiet", "--from", smallList, "-o", smallOut])
    let resumed = timed(binary, ["label", "--model", model, "--quiet", "--resume", "--from", smallList, "-o", smallOut])
    let report = timed(binary, ["report", "--from", smallList, String(smallOut.dropLast())], allowFailure: true)
    say("")
    say("\(small) inputs of 1.2 s (320×240 H.264):")
    say(String(format: "  label:             %7.1f s wall   %6.0f files/hour", labelled, Double(small) / labelled * 3600))
    say(String(format: "  label --resume:    %7.2f s wall   %.2f ms per input (model loading included)", resumed, resumed / Double(small) * 1000))
    say(String(format: "  report:            %7.2f s wall", report))
}

/// Wall seconds of one vidar run; a failure ends the benchmark.
private func timed(_ binary: String, _ args: [String], allowFailure: Bool = false) -> Double {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    let err = Pipe()
    p.standardError = err
    let start = Date()
    do { try p.run() } catch { fail("cannot start \(binary): \(error)") }
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let seconds = Date().timeIntervalSince(start)
    if p.terminationStatus != 0 && !allowFailure {
        fail("vidar \(args.joined(separator: " ")) exited \(p.terminationStatus): \(String(decoding: stderr.suffix(400), as: UTF8.self))")
    }
    return seconds
}
