// End-to-end real-time factor of `vidar label` on a 720p25 H.264 file with r3d_18 (seeded weights), beside a
// Python pipeline doing the same work (ffmpeg decode, torchvision transform, torch model, same clip schedule),
// in the same run; with the peak resident memory of both.
import Foundation
import Vidar

func runLabelBench(_ argv: [String]) {
    var seconds = 60, threads = 2, fixtures = ".fixtures", json = false, peers = true
    var i = 0
    while i < argv.count {
        switch argv[i] {
        case "--seconds": i += 1; seconds = Int(argv[safe: i] ?? "") ?? 60
        case "--threads": i += 1; threads = Int(argv[safe: i] ?? "") ?? 2
        case "--fixtures": i += 1; fixtures = argv[safe: i] ?? fixtures
        case "--json": json = true
        case "--no-peers": peers = false
        default: fail("usage: vidar-bench label [--seconds N (default 60)] [--threads N (default 2)] [--fixtures DIR] [--no-peers] [--json]")
        }
        i += 1
    }
    let checkpoint = "\(fixtures)/r3d_18.pth"
    guard FileManager.default.fileExists(atPath: checkpoint) else { fail("\(checkpoint) is missing: run `make fixtures` first") }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidar-label-bench")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let video = dir.appendingPathComponent("720p25-\(seconds)s.mp4").path
    if !FileManager.default.fileExists(atPath: video) {
        _ = shell("ffmpeg -v error -y -f lavfi -i testsrc2=size=1280x720:rate=25 -t \(seconds) -c:v libx264 -preset veryfast -pix_fmt yuv420p \(video)")
    }
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vidar").path
    guard FileManager.default.isExecutableFile(atPath: binary) else { fail("\(binary) not built: run `swift build -c release`") }

    // int8 runs the checkpoint calibrated as a user would, on other footage (the fixtures' bikes), made here.
    let calibrated = dir.appendingPathComponent("r3d_18-int8.safetensors").path
    let (calibrationStatus, _) = spawnMeasured(binary, ["models", "calibrate", checkpoint, "\(fixtures)/videos/bikes.mp4",
                                                        "--max-clips", "24", "-o", calibrated])
    guard calibrationStatus == 0 else { fail("vidar models calibrate failed (\(calibrationStatus))") }

    // vidar at each precision this CPU runs: its own peak RSS from wait4's rusage.
    struct Run { let precision: String, wall: Double, rtf: Double, clips: Int, rss: Double }
    var runs: [Run] = []
    for precision in ["fp32", "bf16", "int8"] where precision != "bf16" || Precision.bf16.unavailableReason == nil {
        let out = dir.appendingPathComponent("timeline-\(precision).json").path
        let t0 = DispatchTime.now().uptimeNanoseconds
        let model = precision == "int8" ? calibrated : checkpoint
        let (status, rss) = spawnMeasured(binary, ["label", "--model", model, "--threads", "\(threads)", "--precision", precision,
                                                   "--quiet", "-o", out, video])
        let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        guard status == 0, let data = FileManager.default.contents(atPath: out),
              let timeline = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let stats = timeline["stats"] as? [String: Any], let clips = stats["clips"] as? Int else { fail("vidar label failed (\(status))") }
        runs.append(Run(precision: precision, wall: wall, rtf: Double(seconds) / wall, clips: clips, rss: rss))
    }
    let vidarRTF = runs[0].rtf

    var peer: [String: Any] = [:]
    if peers {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("peers/torch_label_pipeline.py").path
        let text = shell("/usr/bin/python3 \(script) --checkpoint \(checkpoint) --video \(video) --threads \(threads)")
        guard let p = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else { fail("python peer failed: \(text)") }
        peer = p
    }
    let (cpu, commit) = machineDescription()
    let peerRTF = peer["realtime_factor"] as? Double
    if json {
        var o: [String: Any] = ["benchmark": "label-end-to-end", "commit": commit, "cpu": cpu, "threads": threads, "video": "720p25 H.264 \(seconds) s",
                                "vidar": Dictionary(uniqueKeysWithValues: runs.map { ($0.precision, ["wall_seconds": $0.wall, "realtime_factor": $0.rtf,
                                                                                                      "clips": $0.clips, "peak_rss_mb": $0.rss]) })]
        if peers { o["python"] = peer; o["vidar_over_python_realtime_factor"] = vidarRTF / (peerRTF ?? .nan) }
        print(String(decoding: try! JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self))
        return
    }
    print("vidar-bench label-end-to-end  commit \(commit)")
    print("machine: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores; \(threads) compute threads; 720p25 H.264, \(seconds) s; "
          + "r3d_18 seeded weights; 16-frame clips at 15 fps")
    print("")
    print("pipeline                         clips   wall s   real-time factor   peak RSS MB")
    for r in runs {
        print(String(format: "vidar label (oneDNN %@)        %6d %8.1f %18.2f %13.0f", r.precision, r.clips, r.wall, r.rtf, r.rss))
    }
    if peers, let c = peer["clips"] as? Int, let w = peer["wall_seconds"] as? Double, let m = peer["peak_rss_mb"] as? Double {
        print(String(format: "python: ffmpeg+torchvision+torch %5d %8.1f %18.2f %13.0f", c, w, peerRTF ?? 0, m))
        for r in runs { print(String(format: "\nvidar %@ / python real-time factor: %.2f", r.precision, r.rtf / (peerRTF ?? .nan))) }
    }
}

/// Runs a program and returns its exit status and peak resident memory (MB) from wait4's rusage.
func spawnMeasured(_ path: String, _ args: [String]) -> (Int32, Double) {
    var pid: pid_t = 0
    let argv = ([path] + args).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    guard posix_spawn(&pid, path, nil, nil, argv, environ) == 0 else { return (-1, 0) }
    var status: Int32 = 0
    var usage = rusage()
    wait4(pid, &status, 0, &usage)
    return ((status >> 8) & 0xff, Double(usage.ru_maxrss) / 1024)
}
