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
    /// A file or other finite input, read once. Nothing is dropped: decoding waits for inference (block ring),
    /// times are the video's own, and a short tail is padded into a last clip.
    case file(String)
    /// A live source: reconnects after EOF, errors and timeouts; decoding never waits for inference (drop-oldest
    /// ring, so the network always gets the freshest complete clip); times follow the wall clock.
    case live(String, Reconnect)

    public var url: String {
        switch self { case .file(let u), .live(let u, _): return u }
    }

    var isLive: Bool { if case .live = self { return true } else { return false } }
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
}

public struct ClipResult: Sendable {
    /// Stream seconds; a file clip's end never passes the video's duration.
    public let start: Double
    public let end: Double
    public let probabilities: [Float]
    /// The video was shorter than this clip: its last frame was repeated.
    public let padded: Bool
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
    private let output: @Sendable (StreamOutput) -> Void
    private let consumer: Mutex<Consumer>
    private let producer = Mutex(ProducerState())
    private let producerDone = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)

    /// Between the decode thread and inference.
    enum Item: Sendable {
        case clip(PreparedClip)
        case lost(at: Double, reason: String, retryIn: Double?)
        case restored(at: Double, gap: Double)
    }

    /// A clip transformed for the network, in stream time, with the wall time its last frame arrived.
    struct PreparedClip: Sendable {
        let start: Double, end: Double
        let padded: Bool
        /// (3, T, H, W)
        let tensor: [Float]
        let arrival: Double
    }

    /// What the decode thread learns: the source's description, and why it ended if it failed.
    struct ProducerState {
        var info: StreamInfo?
        var failure: (any Error)?
        var gaveUp = false
    }

    /// The inference side's state, touched by the thread that runs inference.
    struct Consumer {
        var aggregator: Aggregator
        var tracker: SegmentTracker
    }

    public init(input: StreamInput, model: LoadedModel, options: ClipStreamOptions,
                output: @escaping @Sendable (StreamOutput) -> Void) throws {
        if let problem = options.sampling.validationError { throw VidarError(.invalidRequest, "sampling: \(problem)") }
        self.input = input
        self.model = model
        self.options = options
        self.output = output
        let live = input.isLive
        let capacity = max(2, options.ringCapacity ?? (live ? 2 : 2 * options.batch))
        ring = FrameRing(capacity: capacity, policy: live ? .dropOldest : .block, droppable: {
            if case .clip = $0 { return true } else { return false }  // markers are never dropped
        })
        consumer = Mutex(Consumer(aggregator: Aggregator(options: options.aggregator, labels: model.labels ?? [], live: live),
                                  tracker: SegmentTracker(updateInterval: options.updateInterval)))
    }

    /// The source's description, once the decode thread has opened it.
    public var info: StreamInfo? { producer.withLock { $0.info } }

    public var isStopped: Bool { stopToken.isStopped }

    /// Ends the stream: blocking reads return at once, the ring closes, inference finishes what it took.
    public func stop() {
        stopToken.stop()
        ring.close()
    }

    // MARK: running

    /// Starts the decode thread (once).
    public func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Thread.detachNewThread { [self] in
            defer { ring.close(); producerDone.signal() }
            switch input {
            case .file(let path): readFile(path)
            case .live(let url, let reconnect): readLive(url, reconnect)
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
        let state = producer.withLock { ($0.failure, $0.gaveUp) }
        if let failure = state.0, !interrupted, !input.isLive { throw failure }
        finish(reason: state.1 ? .streamLost : .shutdown)
        if state.1 && !interrupted { return .gaveUp }
        return interrupted && !input.isLive ? .interrupted : .finished
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
        let utc = self.utc
        let outputs: [StreamOutput] = consumer.withLock { c in
            var out: [StreamOutput] = []
            for (clip, p) in results {
                // A clip ends one sampling period after its last frame, but never after the video does.
                let end = min(clip.end, duration ?? .infinity)
                let closed = c.aggregator.push(ClipScores(start: clip.start, end: end, probabilities: p))
                out.append(.clip(ClipResult(start: clip.start, end: end, probabilities: p, padded: clip.padded)))
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
        case .lost(let at, let reason, let retryIn):
            finish(reason: .streamLost)
            consumer.withLock { $0.aggregator = Aggregator(options: options.aggregator, labels: model.labels ?? [], live: true) }
            output(.event(.streamLost(.init(time: at, utc: utc(at), reason: reason, retryIn: retryIn,
                                            givingUp: retryIn == nil ? true : nil))))
        case .restored(let at, let gap):
            output(.event(.streamRestored(.init(time: at, utc: utc(at), gapSeconds: gap,
                                                reconnects: statistics.snapshot.reconnects))))
        }
    }

    /// Closes the open segment and publishes every segment not yet published.
    func finish(reason: StreamEvent.SegmentEnd.Reason) {
        let utc = self.utc
        let outputs: [StreamOutput] = consumer.withLock { c in
            let closed = c.aggregator.finish()
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

    /// A stream time as a UTC timestamp.
    var utc: @Sendable (Double) -> String {
        let start = startWall
        return { utcString(start.addingTimeInterval($0)) }
    }

    // MARK: the decode thread

    /// A file: open, decode every frame, pad the tail; a failure ends the stream and is reported by `run`.
    private func readFile(_ path: String) {
        var sourceOptions = options.source
        sourceOptions.stopToken = stopToken
        do {
            let source = try MediaSource(url: path, options: sourceOptions)
            producer.withLock { $0.info = source.info }
            var builder = ClipBuilder(options: options.sampling)
            while !isStopped, let frame = try source.nextFrame() {
                statistics.decoded(frames: source.framesDecoded, corrupt: source.corruptFrames)
                for clip in builder.push(frame) where !isStopped {
                    guard ring.push(.clip(prepare(clip, arrival: 0))) else { return }
                }
            }
            statistics.decoded(frames: source.framesDecoded, corrupt: source.corruptFrames)
            guard !isStopped else { return }
            for clip in builder.finish() {
                if clip.padded { statistics.paddedClip() }
                guard ring.push(.clip(prepare(clip, arrival: 0))) else { return }
            }
        } catch {
            if !isStopped { producer.withLock { $0.failure = error } }
        }
    }

    /// A live source: connect, read, lose, back off, reconnect, until stopped or out of retries. Stream time is
    /// the wall time of a connection's first frame plus the PTS elapsed since, so an outage shows as a jump.
    private func readLive(_ url: String, _ reconnect: Reconnect) {
        var failures = 0
        var lostAt: Double?
        var lastStreamTime = 0.0
        var sourceOptions = options.source
        sourceOptions.stopToken = stopToken
        while !isStopped {
            var reason = "end of stream"
            do {
                let source = try MediaSource(url: url, options: sourceOptions)
                if isStopped { return }
                producer.withLock { $0.info = source.info }
                var builder = ClipBuilder(options: options.sampling)
                var offset: Double?
                var firstPTS = 0.0
                while let frame = try source.nextFrame() {
                    let now = Date().timeIntervalSince(startWall)
                    if offset == nil {
                        offset = max(now, lastStreamTime)
                        firstPTS = frame.time
                        if let lost = lostAt { ring.push(.restored(at: offset!, gap: offset! - lost)) }
                        lostAt = nil
                        failures = 0
                        statistics.connected(true)
                    }
                    let t = offset! + frame.time - firstPTS
                    lastStreamTime = t
                    statistics.frameArrived()
                    let timed = VideoFrame(width: frame.width, height: frame.height, rgb: frame.rgb, time: t, index: frame.index)
                    for clip in builder.push(timed) {
                        guard ring.push(.clip(prepare(clip, arrival: now))) else { return }
                    }
                }
            } catch let e as VideoError {
                reason = e.reason
            } catch {
                reason = "\(error)"
            }
            if isStopped { return }
            failures += 1
            let at = max(Date().timeIntervalSince(startWall), lastStreamTime)
            if lostAt == nil { lostAt = at }
            statistics.disconnected()
            if let max = reconnect.maxRetries, failures > max {
                producer.withLock { $0.gaveUp = true }
                ring.push(.lost(at: at, reason: reason + "; giving up after \(max) retries", retryIn: nil))
                return
            }
            let delay = reconnect.delay(afterFailures: failures)
            // One stream_lost per outage: failed reconnections during it are not news.
            if failures == 1 { ring.push(.lost(at: at, reason: reason, retryIn: delay)) }
            let until = Date().addingTimeInterval(delay)
            while Date() < until && !isStopped { usleep(20_000) }
        }
    }

    private func prepare(_ clip: Clip, arrival: Double) -> PreparedClip {
        PreparedClip(start: clip.start, end: clip.end, padded: clip.padded,
                     tensor: model.preprocessing.transform.apply(clip.frames).data, arrival: arrival)
    }
}
