// `vidar watch INPUT`: a live camera or stream for hours, or a file or pipe watched as if live; segment events
// as JSON Lines as they happen, human-readable status on stderr.
import Foundation
import Vidar
import VidarService
import VidarStream
import VidarVideo

enum WatchCommand: Command {
    static let spec = CommandSpec(
        name: "watch",
        usage: ["vidar watch [options] [--] INPUT"],
        summary: """
            Watches INPUT and writes events as JSON Lines (schema vidar.events/1), flushed as they happen: \
            stream_started, segment_start, segment_update, segment_end, stream_lost, stream_restored, stats. \
            A network stream or device (rtsp://, http(s)://, udp://, tcp://, /dev/videoN with --input-format v4l2) \
            reconnects after EOF, errors and timeouts, with capped, jittered exponential backoff. A file plays in \
            real time and ends at its end (exit 0); pipe:0 (or -) ends at EOF. Errors that retrying cannot mend (no \
            such file, HTTP 4xx, unknown host or format) end at once. SIGINT/SIGTERM end open segments, flush, \
            exit 0; SIGHUP reopens file sinks (log rotation). Every event names its stream and carries seq and event_id \
            (docs/events.md: what is guaranteed).
            """,
        groups: [
            SharedOptions.model, SharedOptions.sampling, SharedOptions.segments, SharedOptions.compute,
            SharedOptions.input(decodeThreads: "1"),
            OptionGroup("live", [
                Option(["--max-retries"], value: "N", default: "retry forever", "give up after N failed reconnections in a row (exit 69)"),
                Option(["--no-realtime"], "a file: decode as fast as possible instead of at its own pace"),
                Option(["--loop"], "a file: start over at its end, forever"),
            ]),
            OptionGroup("events", [
                Option(["--sink"], value: "URL", default: "stdout", repeatable: true,
                       "where events go, repeatable: stdout (or -), file:PATH, mqtt://[user:pass@]host[:port][/prefix], mqtts://…, "
                       + "http(s)://… (webhook; ?secret_file=PATH signs each request); docs/events.md"),
                Option(["-o", "--output"], value: "FILE", aliases: ["--out"], default: "none",
                       "append events to FILE (the same as --sink file:FILE)"),
                Option(["--spool"], value: "DIR", default: "$XDG_STATE_HOME/vidar/spool/watch-NAME when a sink is MQTT or a webhook, else none",
                       "keep events no sink has delivered yet on disk, so a broker outage or a crash loses none"),
                Option(["--spool-max-bytes"], value: "N", default: "268435456", "past it, the oldest undelivered events are dropped and reported"),
                Option(["--flush-timeout"], value: "S", default: "5", "on SIGINT/SIGTERM, how long sinks may still deliver (the rest stays in the spool)"),
                Option(["--name"], value: "NAME", default: "derived from the input", "the stream's name in every event ([a-z0-9_-]+)"),
                Option(["--updates"], value: "SECONDS", default: "none", "segment_update for the open segment at most this often"),
                Option(["--stats-interval"], value: "S", default: "10", "seconds between stats events"),
                Option(["--quiet"], "no status lines on stderr (connecting, connected, lost, restored, ended)"),
            ]),
        ],
        footer: """
            Exit: 0 stopped by a signal, or a file or pipe ended; 69 retries used up or the source unreachable; \
            64 usage; 65/66 bad or missing model or input.
            """,
        renamed: SharedOptions.renamedInputOptions)

    static func run(_ args: ParsedArguments) throws -> ExitCode {
        let settings = try PipelineSettings(args)
        var source = try SharedOptions.sourceOptions(args, maxTimeout: 3600, decodeThreads: 1)
        let maxRetries = try args.int("--max-retries", in: 0...1_000_000)
        let updates = try args.double("--updates", in: 0.1...3600)
        let statsInterval = try args.double("--stats-interval", in: 0.1...86400) ?? 10
        let quiet = args.flag("--quiet")
        guard args.positionals.count == 1 else {
            throw UsageError(args.positionals.isEmpty ? "no input to watch" : "watch takes one input, got \(args.positionals.count)")
        }
        let url = args.positionals[0] == "-" ? "pipe:0" : args.positionals[0]
        let name = args.string("--name") ?? RunID.streamName(for: url)
        guard RunID.isValidStreamName(name) else { throw UsageError("--name must match [a-z0-9_-]+ (at most 64), got '\(name)'") }
        let isPipe = url.hasPrefix("pipe:")
        let isFile = !isPipe && !url.contains("://") && !url.hasPrefix("/dev/") && source.format == nil
        if args.flag("--loop") && !isFile { throw UsageError("--loop repeats a file; \(url) is a stream") }
        var live = LiveOptions(reconnect: Reconnect(maxRetries: maxRetries))
        live.atEnd = isFile ? (args.flag("--loop") ? .loop : .finish) : (isPipe ? .finish : .reconnect)
        live.realtime = isFile && !args.flag("--no-realtime")
        // A network source that keeps its socket open but yields no picture for --timeout counts as lost (stalled).
        if !isFile && !isPipe { source.frameTimeout = source.timeout }

        var sinks = args.strings("--sink") + (args.string("--output").map { ["file:" + $0] } ?? [])
        if sinks.isEmpty { sinks = ["stdout"] }
        let flushTimeout = try args.double("--flush-timeout", in: 0...300) ?? 5
        let remote = sinks.contains { !($0 == "stdout" || $0 == "-" || $0.hasPrefix("file:")) }
        var spool = args.string("--spool").map { SpoolSettings(directory: URL(fileURLWithPath: $0)) }
            ?? (remote ? SpoolSettings(directory: SpoolSettings.defaultDirectory("watch-\(name)")) : nil)
        if let maxBytes = try args.int("--spool-max-bytes", in: 1 << 14...(1 << 40)) { spool?.maxBytes = maxBytes }
        let (model, backend, precision, sampling, aggregator) = try settings.load()
        var options = WatchOptions(sampling: sampling, aggregator: aggregator)
        options.source = source
        options.live = live
        options.updateInterval = updates
        options.statsInterval = statsInterval
        options.precision = precision
        let shown = Redaction.redact(url)
        if let notice = model.notice, !quiet { LabelCommand.printNote(notice) }
        let show: @Sendable (WatchStatus) -> Void = { status($0, url: shown) }
        let showStatus = quiet ? nil : show
        let log: @Sendable (String) -> Void = { text in if !quiet { FileHandle.standardError.write(Data("vidar: \(text)\n".utf8)) } }
        let hub = try EventHub.make(sinks: sinks, spool: spool, run: RunID.current, model: model.network.config.name, log: log)
        let emit: @Sendable (EventRecord) -> Void = { hub.publish($0) }
        let watcher = try Watcher(url: url, name: name, model: model, options: options, backend: backend, threads: settings.threads,
                                  firstSeq: hub.nextSeq(for: name), owed: hub.unterminatedSegments(name), emit: emit, status: showStatus)
        let stream = watcher.stream
        let signals = StopSignals([SIGINT, SIGTERM]) { stream.stop() }
        // SIGHUP is log rotation: file sinks reopen their paths.
        signal(SIGHUP, SIG_IGN)
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hup.setEventHandler { hub.reopenSinks() }
        hup.resume()
        defer { signals.cancel(); hup.cancel() }
        let outcome = try watcher.run()
        hub.close(deadline: flushTimeout)
        return outcome == .gaveUp ? .unavailable : .success
    }

    static func status(_ event: WatchStatus, url: String) {
        let text: String
        switch event {
        case .source(.connecting(let attempt)):
            text = attempt == 1 ? "connecting to \(url)" : "connecting to \(url) (attempt \(attempt))"
        case .source(.connected(let i)):
            let fps = i.frameRate.map { String(format: " %.3g fps", $0) } ?? ""
            text = "connected to \(url): \(i.codec) \(i.width)×\(i.height)\(fps)"
        case .source(.ended):
            text = "\(url) ended"
        case .event(.streamLost(let e)):
            text = "lost \(url): \(e.reason)" + (e.retryIn.map { String(format: "; retrying in %.1f s", $0) } ?? "")
        case .event(.streamRestored(let e)):
            text = String(format: "restored \(url) after %.1f s", e.gapSeconds)
        case .event:
            return
        }
        FileHandle.standardError.write(Data("vidar: \(text)\n".utf8))
    }
}
