// `watch`'s policy over ClipStream: one live source for hours. The stream reconnects and drops the oldest clip
// when inference falls behind; the watcher turns its lifecycle events and a periodic stats event into one
// ordered event stream.
import Foundation
import Synchronization
import VidarNN
import VidarStream
import VidarVideo

public struct WatchOptions: Sendable {
    public var sampling: SamplingOptions
    public var aggregator: AggregatorOptions
    public var source = SourceOptions()
    public var live = LiveOptions()
    public var statsInterval: Double = 10
    /// Seconds between segment_update events for the open segment; nil: none.
    public var updateInterval: Double?
    /// Clips buffered between decode and inference; older ones are dropped when inference falls behind.
    public var ringCapacity = 2
    /// The number format the network runs in.
    public var precision = Precision.fp32

    public init(sampling: SamplingOptions, aggregator: AggregatorOptions) {
        self.sampling = sampling
        self.aggregator = aggregator
    }
}

/// What a watch shows a person: its source's state changes and outages.
public enum WatchStatus: Sendable {
    case source(SourceStatus)
    case event(StreamEvent)
}

public final class Watcher {
    public let stream: ClipStream
    public let options: WatchOptions
    public let name: String
    private let session: InferenceSession
    private let emit: @Sendable (StreamEvent) -> Void
    private let started: StreamEvent
    private let owed: [StreamEvent]

    /// `emit` receives every event as a record of stream `name` (numbered, with ids unique to this run), one call at
    /// a time, in order; `status`, source state changes and outages.
    /// `firstSeq` continues a stream's numbering (from a spool that survived a restart); `owed` are events to send
    /// first (segment ends a killed run could not send).
    public init(url: String, name: String, model: LoadedModel, options: WatchOptions, backend: ConvolutionBackend = Backends.standard,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount, firstSeq: Int = 1, owed: [StreamEvent] = [],
                emit: @escaping @Sendable (EventRecord) -> Void, status: (@Sendable (WatchStatus) -> Void)? = nil) throws {
        let run = RunID.current
        let numbering = Mutex(EventNumbering(stream: name, run: run, startingAt: firstSeq))
        let ordered: @Sendable (StreamEvent) -> Void = { event in numbering.withLock { emit($0.record(event)) } }
        var streamOptions = ClipStreamOptions(sampling: options.sampling, aggregator: options.aggregator)
        streamOptions.source = options.source
        streamOptions.ringCapacity = options.ringCapacity
        streamOptions.updateInterval = options.updateInterval
        stream = try ClipStream(input: .live(url, options.live), model: model, options: streamOptions,
                                segmentIDPrefix: "\(run)-\(name)-seg-") { output in
            switch output {
            case .event(let e):
                ordered(e)
                if case .streamLost = e { status?(.event(e)) }
                if case .streamRestored = e { status?(.event(e)) }
            case .source(let s): status?(.source(s))
            case .clip, .segment: break
            }
        }
        self.options = options
        self.name = name
        self.emit = ordered
        self.owed = owed
        session = InferenceSession(network: model.network, backend: backend, threads: threads, precision: options.precision)
        session.releasesFoldedWeights = true
        let sha = (try? SHA256.hex(ofFile: model.path)).map { String($0.prefix(16)) } ?? "unknown"
        started = .streamStarted(.init(source: Redaction.redact(url), utc: utcString(Date()), vidarVersion: Installation.version,
                                       model: model.network.config.name, modelSha256Prefix: sha,
                                       samplingFps: options.sampling.fps, clipLength: options.sampling.clipLength,
                                       stride: options.sampling.stride, aggregator: options.aggregator,
                                       precision: options.precision.rawValue))
    }

    /// Runs until `stop()` (returns .finished) or until the reconnection attempts are used up (.gaveUp).
    public func run() throws -> ClipStream.Outcome {
        owed.forEach(emit)
        emit(started)
        // A dedicated thread, not a Dispatch timer: the thread count stays constant for hours.
        let statsDone = Atomic<Bool>(false)
        let statsFinished = DispatchSemaphore(value: 0)
        let (stream, interval, emit) = (self.stream, options.statsInterval, self.emit)
        Thread.detachNewThread {
            defer { statsFinished.signal() }
            var next = Date().addingTimeInterval(interval)
            while !statsDone.load(ordering: .relaxed) {
                usleep(50_000)
                if Date() >= next {
                    emit(stream.statsEvent(interval: interval))
                    next = next.addingTimeInterval(interval)
                }
            }
        }
        defer {
            statsDone.store(true, ordering: .relaxed)
            statsFinished.wait()
            emit(stream.statsEvent(interval: interval))
        }
        return try stream.run(session: session)
    }

    /// Ends the watch: blocking reads return at once, open segments end with reason `shutdown`. Safe from any
    /// thread (through `stream`).
    public func stop() { stream.stop() }
}
