// One video stream through the whole pipeline, the unit `label`, `watch` and `serve` are built from:
// source → decode thread (frames → clips → the model's transform) → bounded ring → batched inference →
// aggregator → typed outputs. The model is shared and immutable; everything mutable here belongs to this stream.
import Foundation
import Synchronization
import VidarNN
import VidarStream
import VidarVideo

/// What a stream reads, and so how it treats its source.
public enum StreamInput: Sendable {
    /// A file or other finite input, read once as fast as it decodes. Nothing is dropped: decoding waits for
    /// inference (block ring), times are the video's own, and the tail is padded into a last clip.
    case file(String)
    /// A live source (or a file or pipe watched as one): decoding never waits for inference (drop-oldest ring,
    /// so the network always gets the freshest complete clip), times follow the wall clock, segments are events.
    case live(String, LiveOptions)

    public var url: String {
        switch self { case .file(let u), .live(let u, _): return u }
    }

    var isLive: Bool { if case .live = self { return true } else { return false } }
}

/// How a live stream treats its source.
public struct LiveOptions: Sendable {
    /// What the end of the input means.
    public enum AtEnd: Sendable {
        /// A network stream that ended has dropped: reconnect with backoff.
        case reconnect
        /// A file or pipe has ended: the stream finishes.
        case finish
        /// Start the input over, continuing the stream's time (`watch --loop`).
        case loop
    }

    public var reconnect = Reconnect()
    public var atEnd = AtEnd.reconnect
    /// Deliver frames no faster than their timestamps, as a camera would (a file watched as if live).
    public var realtime = false
    /// An error that retrying cannot mend, met before the first frame, ends the stream (`watch`: a typo is
    /// reported at once). A service keeps retrying instead: its API shows the error, the stream may be fixed.
    public var failFast = true

    public init(reconnect: Reconnect = Reconnect(), atEnd: AtEnd = .reconnect, realtime: Bool = false, failFast: Bool = true) {
        (self.reconnect, self.atEnd, self.realtime, self.failFast) = (reconnect, atEnd, realtime, failFast)
    }
}

/// Capped, jittered exponential backoff between reconnection attempts.
public struct Reconnect: Sendable {
    /// Give up after this many failed attempts in a row; nil: never.
    public var maxRetries: Int?
    public var backoffBase = 0.5
    public var backoffCap = 30.0

    public init(maxRetries: Int? = nil) { self.maxRetries = maxRetries }

    /// Seconds to wait after the n-th failure in a row (n ≥ 1): 0.5–1 × min(cap, base · 2ⁿ⁻¹), so many clients
    /// do not retry in step.
    func delay(afterFailures n: Int) -> Double {
        min(backoffCap, backoffBase * pow(2, Double(n - 1))) * Double.random(in: 0.5...1)
    }
}

/// A part of a video, in seconds of its own time: the clips that start in [start, end) (end nil: to the end).
public struct TimeRange: Sendable, Codable, Equatable {
    public var start: Double
    public var end: Double?
    public init(start: Double, end: Double?) { (self.start, self.end) = (start, end) }
}

public struct ClipStreamOptions: Sendable {
    public var sampling: SamplingOptions
    public var aggregator: AggregatorOptions
    public var source = SourceOptions()
    /// Clips per network call. A file stream waits to fill a batch; a live one takes what is ready.
    public var batch = 1
    /// Clips between decode and inference; nil: 2 × batch for files, 2 for live sources.
    public var ringCapacity: Int?
    /// Seconds between segment_update events of a live stream's open segment; nil: none.
    public var updateInterval: Double?
    /// A file stream: only the clips of a full pass that start in this range.
    public var range: TimeRange?

    public init(sampling: SamplingOptions, aggregator: AggregatorOptions) {
        self.sampling = sampling
        self.aggregator = aggregator
    }
}

/// What a stream produces, in order.
public enum StreamOutput: Sendable {
    /// One inferred clip's softmax probabilities (not smoothed).
    case clip(ClipResult)
    /// A segment the aggregator closed: the material of a timeline.
    case segment(Segment)
    /// A live stream's lifecycle event (segments with ids, source lost and restored).
    case event(StreamEvent)
    /// What a live stream's source is doing, for status displays.
    case source(SourceStatus)
}

public enum SourceStatus: Sendable {
    /// Opening the input (attempt 1, 2, … in a row).
    case connecting(attempt: Int)
    /// The first frame of a connection arrived.
    case connected(StreamInfo)
    /// The input ended and the stream finishes (a file or a pipe).
    case ended
}

public struct ClipResult: Sendable {
    /// Stream seconds; a file clip's end never passes the video's duration.
    public let start: Double
    public let end: Double
    public let probabilities: [Float]
    /// The video was shorter than this clip: its last frame was repeated.
    public let padded: Bool
    /// Repeats of the last frame in a padded clip.
    public let repeatedFrames: Int
}

public final class ClipStream: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// The file ended, or the live stream was stopped.
        case finished
        /// A file stream stopped before its end: what was processed is reported.
        case interrupted
        /// A live stream used up its reconnection attempts.
        case gaveUp
    }

    public let input: StreamInput
    public let model: LoadedModel
    public let options: ClipStreamOptions
    public let statistics = StreamStatistics()
    /// Stops every blocking FFmpeg call of this stream at once, even a connect in progress.
    let stopToken = StopToken()
    let ring: FrameRing<Item>
    /// When the stream started: live stream times count from it, and UTC stamps are derived from it.
    let startWall = Date()
    /// Stream time → when it arrived, for the UTC stamps of events.
    let clock = WallClockMap()
    let output: @Sendable (StreamOutput) -> Void
    private let consumer: Mutex<Consumer>
    let producer = Mutex(ProducerState())
    private let producerDone = DispatchSemaphore(value: 0)
    private let producerFinished = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)

    /// Between the decode thread and inference. `wall` is seconds since `startWall` when it happened.
    enum Item: Sendable {
        case clip(PreparedClip)
        case lost(at: Double, wall: Double, reason: String, retryIn: Double?)
        case restored(at: Double, wall: Double, gap: Double)
    }

    /// A clip transformed for the network, in stream time, with the wall times (seconds since `startWall`) its
    /// first and last frames arrived.
    struct PreparedClip: Sendable {
        let start: Double, end: Double
        let repeatedFrames: Int
        /// (3, T, H, W)
        let tensor: [Float]
        let startArrival: Double, arrival: Double
    }

    /// What the decode thread learns: the source's description, and how it ended.
    struct ProducerState {
        var info: StreamInfo?
        var failure: (any Error)?
        var gaveUp = false
        var endedAtEOF = false
        /// Where a file's video ends: its last frame's time plus one frame, within the stated duration.
        var videoEnd: Double?
        /// A time range's last clip was read before the video's end.
        var stoppedAtRangeEnd = false
    }

    /// The inference side's state, touched by the thread that runs inference.
    struct Consumer {
        var aggregator: Aggregator
        var tracker: SegmentTracker
    }

    /// `segmentIDPrefix` starts every segment id (a service makes them unique across streams and restarts);
    /// `onReady` is called whenever the decode thread hands over work (a scheduler serving many streams).
    public init(input: StreamInput, model: LoadedModel, options: ClipStreamOptions, segmentIDPrefix: String = "seg-",
                onReady: (@Sendable () -> Void)? = nil, output: @escaping @Sendable (StreamOutput) -> Void) throws {
        if let problem = options.sampling.validationError { throw VidarError(.invalidRequest, "sampling: \(problem)") }
        self.input = input
        self.model = model
        self.options = options
        self.output = output
        let live = input.isLive
        let capacity = max(2, options.ringCapacity ?? (live ? 2 : 2 * options.batch))
        ring = FrameRing(capacity: capacity, policy: live ? .dropOldest : .block, droppable: {
            if case .clip = $0 { return true } else { return false }  // markers are never dropped
        }, notify: onReady)
        consumer = Mutex(Consumer(aggregator: Aggregator(options: options.aggregator, labels: model.labels ?? [], live: live),
                                  tracker: SegmentTracker(updateInterval: options.updateInterval, idPrefix: segmentIDPrefix)))
    }

    /// The source's description, once the decode thread has opened it.
    public var info: StreamInfo? { producer.withLock { $0.info } }

    /// Where the file's video ends (its last frame plus one frame period), once the decode thread reached it.
    public var videoEnd: Double? { producer.withLock { $0.videoEnd } }

    /// True when a time range ended before the video did (so not reaching the video's end is no warning).
    public var stoppedAtRangeEnd: Bool { producer.withLock { $0.stoppedAtRangeEnd } }

    public var isStopped: Bool { stopToken.isStopped }

    /// Clips dropped because inference fell behind (live streams).
    public var droppedClips: Int { ring.dropped }

    /// Ends the stream: blocking reads return at once, the ring closes, inference finishes what it took. A live
    /// stream's open segment ends with `reason` (removed from a service, reloaded, shut down).
    public func stop(reason: StreamEvent.SegmentEnd.Reason = .shutdown) {
        stopReason.withLock { if $0 == nil { $0 = reason } }
        stopToken.stop()
        ring.close()
    }

    private let stopReason = Mutex<StreamEvent.SegmentEnd.Reason?>(nil)
    /// A marker a scheduler took but could not handle yet (clips of this stream before it were still in flight).
    private let held = Mutex<Item?>(nil)

    // MARK: running

    /// Starts the decode thread (once).
    public func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Thread.detachNewThread { [self] in
            defer { producerFinished.store(true, ordering: .releasing); ring.close(); producerDone.signal() }
            switch input {
            case .file(let path): readFile(path)
            case .live(let url, let live): readLive(url, live)
            }
        }
    }

    /// Runs the stream to its end on the calling thread with `session` for inference: the one-stream form
    /// used by `label` and `watch`. A file stream whose source fails throws that error. `afterBatch` is called on
    /// this thread after each network call (progress displays).
    public func run(session: InferenceSession, afterBatch: (ClipStream) -> Void = { _ in }) throws -> Outcome {
        start()
        var inferenceFailure: (any Error)?
        do {
            while !isStopped, let batch = nextBatch() {
                try infer(batch.clips, session: session)
                if let marker = batch.marker { handle(marker) }
                afterBatch(self)
            }
        } catch {
            inferenceFailure = error
        }
        let interrupted = isStopped
        stop()
        producerDone.wait()
        if let inferenceFailure { throw inferenceFailure }
        return try conclude(interrupted: interrupted)
    }

    /// After the decode thread has ended and every clip was delivered: the last segments, and how it ended.
    func conclude(interrupted: Bool) throws -> Outcome {
        let state = producer.withLock { $0 }
        if let failure = state.failure, !interrupted { throw failure }
        let stopped = stopReason.withLock { $0 } ?? .shutdown
        finish(reason: state.gaveUp ? .streamLost : state.endedAtEOF && !interrupted ? .endOfStream : stopped,
               through: interrupted ? nil : state.videoEnd)
        if state.gaveUp && !interrupted { return .gaveUp }
        return interrupted && !input.isLive ? .interrupted : .finished
    }

    // MARK: serving from a scheduler

    /// The next item without waiting: a clip, or a marker when `markers` (no clip of this stream is in flight, so
    /// order is kept); nil when there is none to give now.
    func takeReady(markers: Bool) -> Item? {
        held.withLock { held -> Item? in
            if let h = held {
                guard markers else { return nil }
                held = nil
                return h
            }
            guard let item = ring.pop(wait: false) else { return nil }
            if case .clip = item { return item }
            guard markers else { held = item; return nil }
            return item
        }
    }

    /// True once the decode thread has ended and everything it produced was taken.
    var isDrained: Bool {
        producerFinished.load(ordering: .acquiring) && held.withLock { $0 == nil } && ring.buffered == 0
    }

    /// The next clips to infer (up to `options.batch`) and a marker that followed them; nil at the end.
    func nextBatch() -> (clips: [PreparedClip], marker: Item?)? {
        var clips: [PreparedClip] = []
        while clips.count < options.batch {
            // A file stream waits to fill its batch; a live one does not keep a ready clip waiting.
            guard let item = ring.pop(wait: clips.isEmpty || !input.isLive) else { break }
            guard case .clip(let c) = item else { return (clips, item) }
            clips.append(c)
        }
        return clips.isEmpty ? nil : (clips, nil)
    }

    /// Runs the network on `clips` and feeds the aggregator; publishes what they produce.
    func infer(_ clips: [PreparedClip], session: InferenceSession) throws {
        guard !clips.isEmpty else { return }
        let crop = model.preprocessing.transform.crop
        let probabilities = try session.probabilities(clips.map(\.tensor),
                                                      clipShape: [3, options.sampling.clipLength, crop[0], crop[1]])
        deliver(zip(clips, probabilities).map { ($0, $1) })
    }

    /// Feeds inferred clips (in order) to the aggregator and publishes the results.
    func deliver(_ results: [(PreparedClip, [Float])]) {
        let duration = input.isLive ? nil : info?.duration
        for (clip, _) in results {
            clock.record(clip.start, arrived: clip.startArrival)
            clock.record(clip.end, arrived: clip.arrival)
        }
        let utc = self.utc
        let outputs: [StreamOutput] = consumer.withLock { c in
            var out: [StreamOutput] = []
            for (clip, p) in results {
                // A clip ends one sampling period after its last frame, but never after the video does.
                let end = min(clip.end, duration ?? .infinity)
                let closed = c.aggregator.push(ClipScores(start: clip.start, end: end, probabilities: p))
                out.append(.clip(ClipResult(start: clip.start, end: end, probabilities: p, padded: clip.repeatedFrames > 0,
                                            repeatedFrames: clip.repeatedFrames)))
                out += closed.map(StreamOutput.segment)
                if input.isLive {
                    out += c.tracker.closed(closed, reason: .labelChanged, utc: utc).map(StreamOutput.event)
                    out += c.tracker.observe(c.aggregator.openSegment, at: end, utc: utc).map(StreamOutput.event)
                }
            }
            return out
        }
        outputs.forEach(output)
        let now = Date().timeIntervalSince(startWall)
        for (clip, _) in results { statistics.clipInferred(latency: now - clip.arrival) }
    }

    /// A source marker: the open segment ends at a loss, and the outage is reported.
    func handle(_ marker: Item) {
        switch marker {
        case .clip: break
        case .lost(let at, let wall, let reason, let retryIn):
            finish(reason: .streamLost)
            consumer.withLock { $0.aggregator = Aggregator(options: options.aggregator, labels: model.labels ?? [], live: true) }
            output(.event(.streamLost(.init(time: at, utc: utcString(startWall.addingTimeInterval(wall)), reason: reason,
                                            retryIn: retryIn, givingUp: retryIn == nil ? true : nil))))
        case .restored(let at, let wall, let gap):
            output(.event(.streamRestored(.init(time: at, utc: utcString(startWall.addingTimeInterval(wall)), gapSeconds: gap,
                                                reconnects: statistics.snapshot.reconnects))))
        }
    }

    /// Closes the open segment and publishes every segment not yet published.
    func finish(reason: StreamEvent.SegmentEnd.Reason, through videoEnd: Double? = nil) {
        let utc = self.utc
        let outputs: [StreamOutput] = consumer.withLock { c in
            let closed = c.aggregator.finish(through: videoEnd)
            var out = closed.map(StreamOutput.segment)
            if input.isLive { out += c.tracker.closed(closed, reason: reason, utc: utc).map(StreamOutput.event) }
            return out
        }
        outputs.forEach(output)
    }

    /// The stats event for the interval since the last one (`interval` seconds).
    public func statsEvent(interval: Double) -> StreamEvent {
        statistics.takeInterval(interval: interval, uptime: Date().timeIntervalSince(startWall), dropped: ring.dropped)
    }

    /// A stream time as the UTC time its frame arrived (not the time its timestamp claims: a file decoded flat
    /// out runs ahead of the clock).
    var utc: @Sendable (Double) -> String {
        let (start, clock) = (startWall, self.clock)
        return { utcString(start.addingTimeInterval(clock.arrival(of: $0))) }
    }
}
