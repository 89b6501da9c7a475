// Capacity: N live 720p25 H.264 cameras published in real time on loopback (ffmpeg -re … -listen), served by one
// `vidar serve` beside N separate `vidar watch` processes, in the same run. For each model, the largest N with zero
// dropped clips over the measuring window, per-stream event latency (p50/p99) and resident memory; then, at that N,
// the p99 of the live streams with one extra dead and one extra stalled camera.
import Foundation

struct ServeBenchOptions {
    var fixtures = ".fixtures"
    var warmup = 15.0
    var window = 30.0
    var maxStreams = ["vidar-actions": 16, "r3d_18": 6]
    var precision = "fp32"
    /// Extra top-level serve settings (`--serve-option inference_workers=2`), and which modes to run.
    var serveSettings: [(String, String)] = []
    var modes = ["serve", "separate"]
}

func runServeBench(_ argv: [String]) {
    var o = ServeBenchOptions()
    var models = ["vidar-actions", "r3d_18"]
    var i = 0
    while i < argv.count {
        switch argv[i] {
        case "--fixtures": i += 1; o.fixtures = argv[safe: i] ?? o.fixtures
        case "--window": i += 1; o.window = Double(argv[safe: i] ?? "") ?? o.window
        case "--warmup": i += 1; o.warmup = Double(argv[safe: i] ?? "") ?? o.warmup
        case "--model": i += 1; models = [argv[safe: i] ?? "vidar-actions"]
        case "--precision": i += 1; o.precision = argv[safe: i] ?? "fp32"
        case "--serve-option":
            i += 1
            let kv = (argv[safe: i] ?? "").split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { fail("--serve-option takes KEY=VALUE (a top-level serve setting, e.g. inference_workers=2)") }
            o.serveSettings.append((kv[0], kv[1]))
        case "--modes": i += 1; o.modes = (argv[safe: i] ?? "").split(separator: ",").map(String.init)
        case "--max-streams":
            i += 1
            guard let n = Int(argv[safe: i] ?? ""), n >= 1 else { fail("--max-streams takes a count ≥ 1") }
            for model in o.maxStreams.keys { o.maxStreams[model] = n }
        default: fail("usage: vidar-bench serve [--fixtures DIR] [--model vidar-actions|r3d_18] [--precision fp32|bf16] [--warmup S (15)] "
                      + "[--window S (30)] [--serve-option KEY=VALUE]… [--modes serve,separate] [--max-streams N (16; r3d_18 6)]")
        }
        i += 1
    }
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vidar").path
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidar-serve-bench")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let video = dir.appendingPathComponent("720p25.ts").path
    if !FileManager.default.fileExists(atPath: video) {
        _ = shell("/usr/bin/ffmpeg -v error -f lavfi -i testsrc2=size=1280x720:rate=25 -t 60 -c:v libx264 -preset veryfast -g 50 "
                  + "-pix_fmt yuv420p -f mpegts \(video)")
    }
    let (cpu, commit) = machineDescription()
    say("vidar-bench serve-capacity  commit \(commit)")
    say("machine: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores; 720p25 H.264 cameras (ffmpeg -re, MPEG-TS over HTTP on "
          + "loopback); \(Int(o.warmup)) s warm-up, \(Int(o.window)) s measured; keeping up = no clip dropped and ≥ 95 % of N × one stream's decoded frames/s")
    for model in models {
        let spec = model == "r3d_18" ? "\(o.fixtures)/r3d_18.pth" : model
        if model == "r3d_18" && !FileManager.default.fileExists(atPath: spec) { fail("\(spec) is missing: run `make fixtures`") }
        say("")
        say("model \(model), precision \(o.precision)" + o.serveSettings.map { ", serve \($0.0): \($0.1)" }.joined() + ":")
        say("  mode                 streams  dropped  clips/s  frames/s   p50 ms   p99 ms   RSS MB")
        var best: [String: Trial] = [:]
        var perStream = 0.0
        for mode in o.modes {
            var n = 1
            while n <= o.maxStreams[model, default: 8] {
                let t = trial(mode: mode, streams: n, model: spec, video: video, binary: binary, dir: dir, options: o)
                say(t.row(mode))
                // Keeping up: no clip dropped, and every stream decoding at its camera's rate (a saturated machine also
                // shows as decoding falling behind the cameras, fewer frames with no drop). Frames, not clips: over a
                // 20 s window a stream's clip count is ±1 of 19 (±5 %, the whole tolerance), its frame count ±1 of 500.
                if n == 1 { perStream = t.framesPerSecond }
                guard t.dropped == 0 && t.connected == n && t.framesPerSecond >= 0.95 * Double(n) * perStream else { break }
                best[mode] = t
                n += 1
            }
        }
        let s = best["serve"]?.streams ?? 0, p = best["separate"]?.streams ?? 0
        if o.modes.count == 2 {
            say(String(format: "  largest N without drops: serve %d, separate processes %d (%.2f×)", s, p, p > 0 ? Double(s) / Double(p) : 0))
        } else {
            say("  largest N without drops: " + (o.modes == ["serve"] ? "serve \(s)" : "separate processes \(p)"))
        }
        if let base = best["serve"] {
            let broken = trial(mode: "serve", streams: base.streams, model: spec, video: video, binary: binary, dir: dir, options: o,
                               brokenExtras: true)
            say(broken.row("serve +dead +stalled"))
            say(String(format: "  p99 of the live streams with a dead and a stalled camera added: %.0f ms vs %.0f ms (%+.0f %%)",
                         broken.p99, base.p99, (broken.p99 / max(base.p99, 1e-9) - 1) * 100))
        }
    }
}

struct Trial {
    var streams: Int
    var connected = 0
    var dropped = 0
    var clipsPerSecond = 0.0
    /// Decoded frames per second, summed over the live streams: keeping up with the cameras, 25× finer than clips.
    var framesPerSecond = 0.0
    var p50 = 0.0, p99 = 0.0
    var rssMB = 0.0

    func row(_ mode: String) -> String {
        mode.padding(toLength: 20, withPad: " ", startingAt: 0)
            + String(format: " %7d  %7d  %7.2f  %7.1f  %7.0f  %7.0f  %7.0f", streams, dropped, clipsPerSecond, framesPerSecond, p50, p99, rssMB)
    }
}

/// Seconds between the stats events a trial reads its figures from.
private let statsInterval = 5.0

/// One measurement: N cameras, served by one process or by N watch processes.
private func trial(mode: String, streams n: Int, model: String, video: String, binary: String, dir: URL, options o: ServeBenchOptions,
                   brokenExtras: Bool = false) -> Trial {
    let ports = (0..<n).map { _ in benchFreePort() }
    // A camera serves one client at a time and comes back when that client goes (ffmpeg -listen 1 in a loop).
    func camera(_ port: Int) -> Process {
        launch("/bin/sh", ["-c", "while true; do /usr/bin/ffmpeg -v error -re -stream_loop -1 -i '\(video)' -c copy -f mpegts "
                           + "-listen 1 http://127.0.0.1:\(port); done"])
    }
    var cameras = ports.map(camera)
    var stalledCamera: Process?
    let stalledPort = benchFreePort()
    if brokenExtras {
        // A single ffmpeg (no loop), frozen with SIGSTOP once connected: the socket stays open, nothing arrives.
        stalledCamera = launch("/usr/bin/ffmpeg", ["-v", "error", "-re", "-stream_loop", "-1", "-i", video, "-c", "copy", "-f", "mpegts",
                                                   "-listen", "1", "http://127.0.0.1:\(stalledPort)"])
        cameras.append(stalledCamera!)
    }
    usleep(500_000)
    var vidars: [Process] = []
    var eventFiles: [String] = []
    if mode == "serve" {
        let events = dir.appendingPathComponent("serve-\(n).jsonl").path
        try? FileManager.default.removeItem(atPath: events)
        var yaml = "model: \(model)\nprecision: \(o.precision)\nlisten: 127.0.0.1:\(benchFreePort())\nstats_interval: \(Int(statsInterval))\n"
            + "events: [\"file:\(events)\"]\n"
            + "update_interval: null\nstall_timeout: 5\n" + o.serveSettings.map { "\($0.0): \($0.1)\n" }.joined() + "streams:\n"
        for (k, port) in ports.enumerated() { yaml += "  cam\(k):\n    url: http://127.0.0.1:\(port)\n" }
        if brokenExtras {
            yaml += "  dead:\n    url: http://127.0.0.1:\(benchFreePort())/none.ts\n  stalled:\n    url: http://127.0.0.1:\(stalledPort)\n"
        }
        let config = dir.appendingPathComponent("serve-\(n).yaml").path
        try? yaml.write(toFile: config, atomically: true, encoding: .utf8)
        vidars = [launch(binary, ["serve", "--config", config])]
        eventFiles = [events]
    } else {
        for (k, port) in ports.enumerated() {
            let events = dir.appendingPathComponent("watch-\(n)-\(k).jsonl").path
            try? FileManager.default.removeItem(atPath: events)
            vidars.append(launch(binary, ["watch", "--model", model, "--precision", o.precision, "--quiet",
                                          "--stats-interval", "\(Int(statsInterval))", "-o", events, "http://127.0.0.1:\(port)"]))
            eventFiles.append(events)
        }
    }
    // The stalled camera freezes (SIGSTOP) once connected: its socket stays open, nothing more arrives.
    if let stalledCamera { usleep(UInt32(o.warmup / 2 * 1e6)); kill(stalledCamera.processIdentifier, SIGSTOP) }
    usleep(UInt32((brokenExtras ? o.warmup / 2 : o.warmup) * 1e6))
    // Stats events every 5 s carry each interval's drops, rate and latency. The window runs from each stream's first
    // stats event after the warm-up (its counters are the baseline: the interval it reports is partly warm-up, when
    // the stalled camera was still live) through the `window` seconds of intervals after it.
    var peak = 0.0
    let windowStart = Date()
    let windowEnd = windowStart.addingTimeInterval(o.window + statsInterval)
    while Date() < windowEnd.addingTimeInterval(1) {
        peak = max(peak, vidars.reduce(0.0) { $0 + (procSample($1.processIdentifier)?.rssMB ?? 0) })
        usleep(1_000_000)
    }
    for v in vidars { kill(v.processIdentifier, SIGTERM) }
    for v in vidars { reap(v) }
    if let stalledCamera { kill(stalledCamera.processIdentifier, SIGCONT) }
    for c in cameras {
        // The shell loops first, then the ffmpegs they started.
        kill(c.processIdentifier, SIGKILL)
        reap(c)
    }
    for port in ports { _ = shell("pkill -KILL -f 'http://127.0.0.1:\(port)$'") }

    var t = Trial(streams: n)
    t.rssMB = peak
    var latencies: [(p50: Double, p99: Double)] = []
    let parse = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    for file in eventFiles {
        var byStream: [String: [(Date, [String: Any])]] = [:]
        for e in events(file) where e["event"] as? String == "stats" {
            guard let utc = (e["utc"] as? String).flatMap({ try? parse.parse($0) }) else { continue }
            byStream[e["stream"] as! String, default: []].append((utc, e))
        }
        for (stream, stats) in byStream where stream != "dead" && stream != "stalled" {
            guard let (from, before) = stats.first(where: { $0.0 >= windowStart }) else { continue }
            let inside = stats.filter { $0.0 > from && $0.0 <= from.addingTimeInterval(o.window + 1) }.map(\.1)
            guard let last = inside.last else { continue }
            t.dropped += (last["dropped_clips"] as? Int ?? 0) - (before["dropped_clips"] as? Int ?? 0)
            t.clipsPerSecond += inside.compactMap { $0["clips_per_second"] as? Double }.reduce(0, +) / Double(inside.count)
            t.framesPerSecond += inside.compactMap { ($0["decoded_fps"] as? NSNumber)?.doubleValue }.reduce(0, +) / Double(inside.count)
            if last["connected"] as? Bool == true { t.connected += 1 }
            for s in inside {
                let l = s["latency_ms"] as? [String: Any] ?? [:]
                if let p50 = l["p50"] as? Double, let p99 = l["p99"] as? Double { latencies.append((p50, p99)) }
            }
        }
    }
    if !latencies.isEmpty {
        t.p50 = latencies.map(\.p50).sorted()[latencies.count / 2]
        t.p99 = latencies.map(\.p99).max()!
    }
    return t
}

private func launch(_ path: String, _ args: [String]) -> Process {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { fail("cannot start \(path): \(error)") }
    return p
}

/// Waits for a child with waitpid (Foundation's waitUntilExit can miss a SIGKILLed child's exit here).
private func reap(_ p: Process) {
    var status: Int32 = 0
    while waitpid(p.processIdentifier, &status, 0) < 0 && errno == EINTR {}
}
