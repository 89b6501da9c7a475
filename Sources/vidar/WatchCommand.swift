// `vidar watch URL`: a live camera or stream, for hours; segment events as JSON Lines as they happen.
import Foundation
import Vidar
import VidarVideo

enum WatchCommand {
    static var usage: String { """
        usage: vidar watch URL [options]

        Watches a live source (rtsp://, http(s):// MPEG-TS or MJPEG, udp://, tcp://, pipe:0, /dev/videoN with
        --format v4l2) and writes events as JSON Lines (schema vidar.events/1), one per line, flushed at once:
        segment_start, segment_update, segment_end, stream_lost, stream_restored, stats. Reconnects on EOF, error
        or timeout with capped, jittered exponential backoff. SIGINT/SIGTERM end open segments, flush, exit 0.

        \(PipelineArguments.usage)
        source:
          --format NAME         force FFmpeg's input format (e.g. v4l2, mpegts, mjpeg)
          --option K=V          an FFmpeg input option, repeatable (e.g. rtsp_transport=tcp)
          --timeout SECONDS     bound on every blocking read; a silent source counts as lost (default: 10)
          --max-retries N       give up after N failed reconnections in a row (default: retry forever)
        events:
          --out FILE            write events to FILE instead of stdout (appended, flushed per line)
          --updates SECONDS     segment_update for the open segment at most this often (default: none)
          --stats-interval S    seconds between stats events (default: 10)

        Exit: 0 stopped by SIGINT/SIGTERM, 69 retries used up, 64 usage, 65/66 bad model.
        """ }

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        if args.flag("--help") || args.flag("-h") { print(usage); return .success }
        let pipeline = try PipelineArguments(&args)
        var source = try args.sourceOptions(maxTimeout: 3600)
        source.decodeThreads = 1
        let maxRetries = try args.intOption("--max-retries", range: 0...1_000_000)
        let outPath = try args.option("--out")
        let updates = try args.doubleOption("--updates", range: 0.1...3600)
        let statsInterval = try args.doubleOption("--stats-interval", range: 0.1...86400) ?? 10
        let urls = try args.positionals()
        guard urls.count == 1 else { throw UsageError("watch takes one URL") }

        let out: FileHandle
        if let outPath {
            if !FileManager.default.fileExists(atPath: outPath) { _ = FileManager.default.createFile(atPath: outPath, contents: nil) }
            guard let h = FileHandle(forWritingAtPath: outPath) else {
                throw VidarError(.cannotCreate, "\(outPath): cannot open the events file for writing")
            }
            h.seekToEndOfFile()
            out = h
        } else {
            out = FileHandle.standardOutput
        }
        let (model, backend, sampling, aggregator) = try pipeline.load()
        var options = WatchOptions(sampling: sampling, aggregator: aggregator)
        options.source = source
        options.reconnect = Reconnect(maxRetries: maxRetries)
        options.updateInterval = updates
        options.statsInterval = statsInterval

        let watcher = try Watcher(url: urls[0], model: model, options: options, backend: backend, threads: pipeline.threads) { event in
            out.write(event.jsonLine() + Data("\n".utf8))
        }
        let stream = watcher.stream
        var handlers: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { stream.stop() }
            s.resume()
            handlers.append(s)
        }
        defer { handlers.forEach { $0.cancel() } }
        return try watcher.run() == .gaveUp ? .unavailable : .success
    }
}
