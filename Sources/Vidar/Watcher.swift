// `watch`: a live source for hours. A decode thread (re)connects with capped, jittered exponential backoff and
// feeds clips into a drop-oldest ring, so it never waits for inference; the inference thread always takes the
// oldest clip still there (the freshest complete ones survive), segments them incrementally and emits events.
import Foundation
import VidarNN
import VidarStream
import VidarVideo

public struct WatchOptions: Sendable {
    public var sampling: SamplingOptions
    public var aggregator: AggregatorOptions
    public var source = SourceOptions()
    /// nil: retry forever.
    public var maxRetries: Int?
    public var statsInterval: Double = 10
    /// Seconds between segment_update events for the open segment; nil: none.
    public var updateInterval: Double?
    /// Clips buffered between decode and inference; older ones are dropped when inference falls behind.
    public var ringCapacity = 2
    public var backoffBase = 0.5
    public var backoffCap = 30.0

    public init(sampling: SamplingOptions, aggregator: AggregatorOptions) {
        self.sampling = sampling
        self.aggregator = aggregator
    }
}

public final class Watcher: @unchecked Sendable {
    public static let schemaVersion = "vidar.events/1"

    enum Item {
        /// A clip in stream time, with the wall time its last frame arrived.
        case clip(Clip, Tensor, arrival: Double)
        case lost(at: Double, reason: String, retryIn: Double?)
        case restored(at: Double, gap: Double)
    }

    let model: LoadedModel
    let options: WatchOptions
    let backend: ConvolutionBackend
    let url: String
    private let emitter: @Sendable ([String: Any]) -> Void
    private let emitLock = NSLock()
    private let startWall = Date()
    private let stats = LockedBox(StatsWindow())
    private let stopToken = StopToken()

    struct StatsWindow {
        var frames = 0, clips = 0, reconnects = 0, connected = false
        var latencies: [Double] = []
        var lastFrames = 0, lastClips = 0
    }

    public init(url: String, model: LoadedModel, options: WatchOptions, backend: ConvolutionBackend,
                emit: @escaping @Sendable ([String: Any]) -> Void) {
        self.url = url
        self.model = model
        self.options = options
        self.backend = backend
        self.emitter = emit
    }

    /// Runs until `stop` is cancelled (returns .success) or the retries are used up (returns .unavailable).
    public func run(stop: CancellationFlag) -> ExitCode {
        let ring = FrameRing<Item>(capacity: options.ringCapacity, policy: .dropOldest, droppable: {
            if case .clip = $0 { return true } else { return false }
        })
        let gaveUp = LockedBox(false)
        let decodeDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread { [self] in
            defer { ring.close(); decodeDone.signal() }
            if !decodeLoop(ring: ring, stop: stop) { gaveUp.update { $0 = true } }
        }
        // Stop requests interrupt a blocking open or read at once instead of waiting for its timeout.
        let watchdog = Thread { [self] in
            while !stop.isCancelled && !ring.isClosed { usleep(50_000) }
            stopToken.stop()
            ring.close()
        }
        watchdog.start()
        // A dedicated thread, not a Dispatch timer: the thread count stays constant for hours.
        let statsDone = CancellationFlag()
        Thread.detachNewThread { [self] in
            var next = Date().addingTimeInterval(options.statsInterval)
            while !statsDone.isCancelled {
                usleep(50_000)
                if Date() >= next {
                    emitStats(dropped: ring.dropped)
                    next = next.addingTimeInterval(options.statsInterval)
                }
            }
        }

        var aggregator = Aggregator(options: options.aggregator, labels: model.labels ?? [], live: true)
        var open: (id: String, classIndex: Int?, start: Double)?
        var nextID = 1
        var lastUpdate = 0.0

        func endOpen(_ segments: [Segment], reason: String) {
            for s in segments where s.classIndex != nil {
                emit(["event": "segment_end", "id": open?.id ?? "?", "label": s.label, "start": s.start, "end": s.end,
                      "start_utc": utc(s.start), "end_utc": utc(s.end), "score": s.score, "peak": s.peak, "clips": s.clips,
                      "reason": reason])
            }
            open = nil
        }
        func noteOpen(_ at: Double) {
            guard let o = aggregator.openSegment else { return }
            if open == nil || open!.start != o.start || open!.classIndex != o.classIndex {
                guard o.classIndex != nil else { open = ("", nil, o.start); return }
                open = ("seg-\(nextID)", o.classIndex, o.start)
                nextID += 1
                lastUpdate = at
                emit(["event": "segment_start", "id": open!.id, "label": o.label, "start": o.start, "start_utc": utc(o.start),
                      "score": o.score])
            } else if let every = options.updateInterval, o.classIndex != nil, at - lastUpdate >= every {
                lastUpdate = at
                emit(["event": "segment_update", "id": open!.id, "label": o.label, "start": o.start, "time": at, "utc": utc(at),
                      "score": o.score, "peak": o.peak])
            }
        }

        while let item = ring.pop() {
            switch item {
            case .clip(let clip, let tensor, let arrival):
                let logits = model.network.logits(Tensor(shape: [1] + tensor.shape, data: tensor.data), backend: backend)
                let closed = aggregator.push(ClipScores(start: clip.start, end: clip.end, probabilities: softmax(logits.data)))
                if !closed.isEmpty { endOpen(closed, reason: "label_changed") }
                noteOpen(clip.end)
                let latency = Date().timeIntervalSince(startWall) - arrival
                stats.update { $0.clips += 1; $0.latencies.append(latency) }
            case .lost(let at, let reason, let retryIn):
                endOpen(aggregator.finish(), reason: "stream_lost")
                aggregator = Aggregator(options: options.aggregator, labels: model.labels ?? [], live: true)
                var e: [String: Any] = ["event": "stream_lost", "time": at, "utc": utc(at), "reason": reason]
                if let retryIn { e["retry_in"] = retryIn } else { e["giving_up"] = true }
                emit(e)
            case .restored(let at, let gap):
                emit(["event": "stream_restored", "time": at, "utc": utc(at), "gap_seconds": gap,
                      "reconnects": stats.value.reconnects])
            }
        }
        endOpen(aggregator.finish(), reason: gaveUp.value ? "stream_lost" : "shutdown")
        decodeDone.wait()
        statsDone.cancel()
        emitStats(dropped: ring.dropped)
        return gaveUp.value && !stop.isCancelled ? .unavailable : .success
    }

    /// Connect, read, lose, back off, reconnect. Returns false when the retries are used up.
    private func decodeLoop(ring: FrameRing<Item>, stop: CancellationFlag) -> Bool {
        var failures = 0
        var lostAt: Double?
        var lastStreamTime = 0.0
        while !stop.isCancelled {
            var reason = "end of stream"
            do {
                var sourceOptions = options.source
                sourceOptions.stopToken = stopToken
                let source = try MediaSource(url: url, options: sourceOptions)
                if stop.isCancelled { return true }
                var builder = ClipBuilder(options: options.sampling)
                var offset: Double?   // stream time = wall time of this connection's first frame + PTS elapsed
                var firstPTS = 0.0
                while let frame = try source.nextFrame() {
                    let now = Date().timeIntervalSince(startWall)
                    if offset == nil {
                        offset = max(now, lastStreamTime)
                        firstPTS = frame.time
                        if let lost = lostAt { ring.push(.restored(at: offset!, gap: offset! - lost)) }
                        lostAt = nil
                        failures = 0
                        stats.update { $0.connected = true }
                    }
                    let t = offset! + frame.time - firstPTS
                    lastStreamTime = t
                    stats.update { $0.frames += 1 }
                    let timed = VideoFrame(width: frame.width, height: frame.height, rgb: frame.rgb, time: t, index: frame.index)
                    for clip in builder.push(timed) {
                        guard ring.push(.clip(clip, model.preprocessing.transform.apply(clip.frames), arrival: now)) else { return true }
                    }
                }
            } catch let e as VideoError {
                reason = e.reason
            } catch {
                reason = "\(error)"
            }
            if stop.isCancelled { return true }
            failures += 1
            let at = max(Date().timeIntervalSince(startWall), lastStreamTime)
            if lostAt == nil { lostAt = at }
            stats.update { $0.connected = false; $0.reconnects += 1 }
            if let max = options.maxRetries, failures > max {
                ring.push(.lost(at: at, reason: reason + "; giving up after \(max) retries", retryIn: nil))
                return false
            }
            // Capped exponential backoff with jitter (0.5–1×), so many clients do not retry in step.
            let delay = min(options.backoffCap, options.backoffBase * pow(2, Double(failures - 1))) * Double.random(in: 0.5...1)
            // One stream_lost per outage: failed reconnections during it are not news.
            if failures == 1 { ring.push(.lost(at: at, reason: reason, retryIn: delay)) }
            let until = Date().addingTimeInterval(delay)
            while Date() < until && !stop.isCancelled { usleep(20_000) }
        }
        return true
    }

    private func emitStats(dropped: Int) {
        let now = Date().timeIntervalSince(startWall)
        var snapshot = StatsWindow()
        stats.update { s in snapshot = s; s.latencies.removeAll(); s.lastFrames = s.frames; s.lastClips = s.clips }
        let window = options.statsInterval
        let sorted = snapshot.latencies.sorted()
        func pct(_ p: Double) -> Any { sorted.isEmpty ? NSNull() : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] * 1000 }
        emit(["event": "stats", "uptime": now, "utc": Self.formatterLock.withLock { Self.formatter.string(from: Date()) },
              "connected": snapshot.connected,
              "decoded_fps": Double(snapshot.frames - snapshot.lastFrames) / window,
              "clips_per_second": Double(snapshot.clips - snapshot.lastClips) / window,
              "frames_decoded": snapshot.frames, "clips": snapshot.clips, "dropped_clips": dropped, "reconnects": snapshot.reconnects,
              "latency_ms": ["p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": sorted.last.map { $0 * 1000 } ?? NSNull()]])
    }

    private func emit(_ event: [String: Any]) {
        var e = event
        e["schema"] = Self.schemaVersion
        emitLock.withLock { emitter(e) }
    }

    private static let formatter: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()

    private static let formatterLock = NSLock()

    private func utc(_ streamTime: Double) -> String {
        Self.formatterLock.withLock { Self.formatter.string(from: startWall.addingTimeInterval(streamTime)) }
    }
}
