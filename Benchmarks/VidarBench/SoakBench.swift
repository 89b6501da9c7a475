// Soak: `vidar watch pipe:0` on a long generated stream fed faster than real time, with its resident memory,
// open file descriptors and thread count sampled every second; then a real-time 720p25 stream (ffmpeg -re)
// for latency percentiles and drops. Flat means within ±10 % of the median after warm-up.
import Foundation

func runSoakBench(_ argv: [String]) {
    var minutes = 30, realtimeSeconds = 60, fixtures = ".fixtures", json = false
    var i = 0
    while i < argv.count {
        switch argv[i] {
        case "--minutes": i += 1; minutes = Int(argv[safe: i] ?? "") ?? 30
        case "--realtime-seconds": i += 1; realtimeSeconds = Int(argv[safe: i] ?? "") ?? 60
        case "--fixtures": i += 1; fixtures = argv[safe: i] ?? fixtures
        case "--json": json = true
        default: fail("usage: vidar-bench soak [--minutes N (default 30)] [--realtime-seconds N (default 60)] [--fixtures DIR] [--json]")
        }
        i += 1
    }
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vidar").path
    let tiny = "\(fixtures)/tiny.pth", r3d = "\(fixtures)/r3d_18.pth"
    for f in [tiny, r3d] where !FileManager.default.fileExists(atPath: f) { fail("\(f) is missing: run `make fixtures`") }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidar-soak")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)

    // 1. Long stream, as fast as ffmpeg can make it, small model: does anything grow?
    let soakEvents = dir.appendingPathComponent("soak.jsonl").path
    try? FileManager.default.removeItem(atPath: soakEvents)
    let (samples, soakWall) = runPiped(
        feeder: ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "\(minutes * 60)", "-c:v", "mpeg2video", "-q:v", "5", "-f", "mpegts", "-"],
        watch: [binary, "watch", "--model", tiny, "--threshold", "0.3", "--stats-interval", "5", "--out", soakEvents, "pipe:0"], sample: true)
    let warm = samples.dropFirst(samples.count / 5)
    func flatness(_ key: KeyPath<ProcSample, Double>) -> (median: Double, lo: Double, hi: Double) {
        let v = warm.map { $0[keyPath: key] }.sorted()
        guard !v.isEmpty else { return (0, 0, 0) }
        let m = v[v.count / 2]
        return (m, (v.first! - m) / m * 100, (v.last! - m) / m * 100)
    }
    let rss = flatness(\.rssMB), fds = flatness(\.fds), threads = flatness(\.threads)
    // Growth shows as a trend: the mean of the last third after warm-up against the first third's.
    func trend(_ key: KeyPath<ProcSample, Double>) -> Double {
        let v = warm.map { $0[keyPath: key] }
        guard v.count >= 3 else { return 0 }
        let third = v.count / 3
        let first = v.prefix(third).reduce(0, +) / Double(third), last = v.suffix(third).reduce(0, +) / Double(third)
        return (last - first) / first * 100
    }
    let soakStats = lastStats(soakEvents)

    // 2. Real-time 720p25 with r3d_18: latency and drops.
    let rtEvents = dir.appendingPathComponent("realtime.jsonl").path
    try? FileManager.default.removeItem(atPath: rtEvents)
    _ = runPiped(
        feeder: ["-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-t", "\(realtimeSeconds)", "-c:v", "libx264",
                 "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-f", "mpegts", "-"],
        watch: [binary, "watch", "--model", r3d, "--stats-interval", "\(realtimeSeconds * 2)", "--out", rtEvents, "pipe:0"], sample: false)
    let rt = allLatencies(rtEvents)
    let rtStats = lastStats(rtEvents)
    let (cpu, commit) = machineDescription()

    if json {
        let o: [String: Any] = [
            "benchmark": "watch-soak", "commit": commit, "cpu": cpu,
            "soak": ["stream_minutes": minutes, "wall_seconds": soakWall, "samples": samples.count,
                     "rss_mb": ["median": rss.median, "min_pct": rss.lo, "max_pct": rss.hi, "trend_pct": trend(\.rssMB)],
                     "fds": ["median": fds.median, "min_pct": fds.lo, "max_pct": fds.hi],
                     "threads": ["median": threads.median, "min_pct": threads.lo, "max_pct": threads.hi],
                     "final_stats": soakStats],
            "realtime_720p25_r3d_18": ["seconds": realtimeSeconds, "final_stats": rtStats, "latency_ms": rt],
        ]
        print(String(decoding: try! JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self))
        return
    }
    print("vidar-bench watch-soak  commit \(commit)")
    print("machine: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores")
    print("")
    print("soak: \(minutes) min of 320×240 MPEG-TS through pipe:0 (fed faster than real time), tiny model, sampled every 1 s")
    print(String(format: "  wall %.0f s, %d samples; after warm-up (first 20 %% dropped), spread around the median:", soakWall, samples.count))
    print(String(format: "  resident memory %6.1f MB   %+5.1f %% … %+5.1f %%   trend (last third vs first) %+.1f %%",
                 rss.median, rss.lo, rss.hi, trend(\.rssMB)))
    print(String(format: "  open fds        %6.0f      %+5.1f %% … %+5.1f %%", fds.median, fds.lo, fds.hi))
    print(String(format: "  threads         %6.0f      %+5.1f %% … %+5.1f %%", threads.median, threads.lo, threads.hi))
    print("  final stats: frames \(soakStats["frames_decoded"] ?? "?"), clips \(soakStats["clips"] ?? "?"), dropped \(soakStats["dropped_clips"] ?? "?")")
    print("")
    print("real time: \(realtimeSeconds) s of 720p25 H.264 (ffmpeg -re) through pipe:0, r3d_18, 2 threads")
    print("  frame arrival → event latency ms: \(rt)")
    print("  dropped clips: \(rtStats["dropped_clips"] ?? "?"), clips: \(rtStats["clips"] ?? "?"), decoded frames: \(rtStats["frames_decoded"] ?? "?")")
}

struct ProcSample { var rssMB: Double; var fds: Double; var threads: Double }

/// `ffmpeg FEEDER | vidar watch …`, SIGINT to vidar when the feeder is done; samples vidar's /proc entries.
func runPiped(feeder: [String], watch: [String], sample: Bool) -> ([ProcSample], Double) {
    let pipe = Pipe()
    let ffmpeg = Process()
    ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
    ffmpeg.arguments = ["-v", "error"] + feeder
    ffmpeg.standardOutput = pipe
    let vidar = Process()
    vidar.executableURL = URL(fileURLWithPath: watch[0])
    vidar.arguments = Array(watch.dropFirst())
    vidar.standardInput = pipe
    let t0 = Date()
    do { try vidar.run(); try ffmpeg.run() } catch { fail("cannot start the soak pipeline: \(error)") }
    var samples: [ProcSample] = []
    while ffmpeg.isRunning {
        if sample, let s = procSample(vidar.processIdentifier) { samples.append(s) }
        usleep(1_000_000)
    }
    usleep(3_000_000)  // let the last clips through, then stop cleanly
    kill(vidar.processIdentifier, SIGINT)
    vidar.waitUntilExit()
    return (samples, Date().timeIntervalSince(t0))
}

func procSample(_ pid: Int32) -> ProcSample? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    func field(_ name: String) -> Double? {
        status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            .flatMap { Double($0.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]) }
    }
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    guard let rss = field("VmRSS"), let threads = field("Threads") else { return nil }
    return ProcSample(rssMB: rss / 1024, fds: Double(fds), threads: threads)
}

func events(_ path: String) -> [[String: Any]] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n")
        .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
}

func lastStats(_ path: String) -> [String: Any] { events(path).last { $0["event"] as? String == "stats" } ?? [:] }

/// Latency percentiles over the whole run, from the final stats event's window (the interval spans the run).
func allLatencies(_ path: String) -> [String: Any] { lastStats(path)["latency_ms"] as? [String: Any] ?? [:] }
