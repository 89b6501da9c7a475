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
    public var reconnect = Reconnect()
    public var statsInterval: Double = 10
    /// Seconds between segment_update events for the open segment; nil: none.
    public var updateInterval: Double?
    /// Clips buffered between decode and inference; older ones are dropped when inference falls behind.
    public var ringCapacity = 2

    public init(sampling: SamplingOptions, aggregator: AggregatorOptions) {
        self.sampling = sampling
        self.aggregator = aggregator
    }
}

public final class Watcher {
    public let stream: ClipStream
    public let options: WatchOptions
    private let session: InferenceSession
    private let emit: @Sendable (StreamEvent) -> Void

    /// `emit` receives every event, one call at a time, in order.
    public init(url: String, model: LoadedModel, options: WatchOptions, backend: ConvolutionBackend = Backends.standard,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                emit: @escaping @Sendable (StreamEvent) -> Void) throws {
        let serial = Mutex(())
        let ordered: @Sendable (StreamEvent) -> Void = { event in serial.withLock { _ in emit(event) } }
        var streamOptions = ClipStreamOptions(sampling: options.sampling, aggregator: options.aggregator)
        streamOptions.source = options.source
        streamOptions.ringCapacity = options.ringCapacity
        streamOptions.updateInterval = options.updateInterval
        stream = try ClipStream(input: .live(url, options.reconnect), model: model, options: streamOptions) { output in
            if case .event(let e) = output { ordered(e) }
        }
        self.options = options
        self.emit = ordered
        session = InferenceSession(network: model.network, backend: backend, threads: threads)
    }

    /// Runs until `stop()` (returns .finished) or until the reconnection attempts are used up (.gaveUp).
    public func run() throws -> ClipStream.Outcome {
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
