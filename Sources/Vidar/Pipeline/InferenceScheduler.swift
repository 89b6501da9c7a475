// Many streams, one network (DeepStream's nvstreammux idea): an inference thread takes ready clips from every
// stream in turn (round-robin, at most one per stream per pass, so a busy stream cannot starve another),
// batches up to `maxBatch` of them, waiting at most `batchWait` for a batch to fill, runs them through one
// session and hands each result back to its own stream. Streams never wait on each other: each has its own
// decode thread and drop-oldest ring; a dead, stalled or garbage stream simply has nothing ready.
// With `workers` > 1, that many inference threads share the cores (threads / workers each) and the one model;
// a stream is claimed by one worker from its first clip taken to its results delivered, so its clips and
// markers stay in order. Where a batch costs as much per clip as a single clip (bf16 here), two one-thread
// workers overlap what one two-thread worker does in turn. So with several workers a batch holds one stream's
// ready clips and does not wait to fill: a worker that claimed several streams' clips would leave the others
// nothing to take, and the service would run at one worker's speed exactly when it is behind. (A batch of
// several streams' clips costs as much per clip as single clips, measured for both r3d_18 and the bundled model.)
import Foundation
import Synchronization
import VidarNN
import VidarStream

public final class InferenceScheduler: Sendable {
    public struct Options: Sendable {
        public var maxBatch = 4
        /// Seconds a partial batch may wait for more clips.
        public var batchWait = 0.02
        public var threads = ProcessInfo.processInfo.activeProcessorCount
        /// Inference threads, each with threads / workers compute threads (at least 1).
        public var workers = 1
        public var precision = Precision.fp32
        public init() {}
    }

    /// What happened to a stream the scheduler finished serving (its decode thread ended and its clips are done).
    public typealias Finished = @Sendable (ClipStream, Result<ClipStream.Outcome, any Error>) -> Void

    public let options: Options
    public let metrics: SchedulerMetrics
    private let model: LoadedModel
    private let backend: ConvolutionBackend
    private let streams = Mutex<[ClipStream]>([])
    private let doorbell = DispatchSemaphore(value: 0)
    private let running = Atomic<Bool>(false)
    /// Each worker's last sign of life (uptime nanoseconds).
    private let heartbeats: Mutex<[UInt64]>
    private let stopped = DispatchSemaphore(value: 0)
    /// Streams a worker has clips of in flight: no other worker takes from them until those are delivered.
    private let claimed = Mutex<Set<ObjectIdentifier>>([])
    private let finished: Finished
    /// Fault injection for tests of liveness (`VIDAR_FAULT_INFERENCE_STALL=SECONDS@BATCH`): the given batch sleeps.
    private let fault: (seconds: Double, batch: Int)?

    public init(model: LoadedModel, backend: ConvolutionBackend, options: Options, finished: @escaping Finished) {
        self.model = model
        self.backend = backend
        self.options = options
        self.finished = finished
        let workers = max(1, options.workers)
        metrics = SchedulerMetrics(workers: workers)
        heartbeats = Mutex(Array(repeating: DispatchTime.now().uptimeNanoseconds, count: workers))
        let spec = ProcessInfo.processInfo.environment["VIDAR_FAULT_INFERENCE_STALL"]?.split(separator: "@").map(String.init) ?? []
        if spec.count == 2, let seconds = Double(spec[0]), let batch = Int(spec[1]) { fault = (seconds, batch) } else { fault = nil }
    }

    /// Wakes the inference thread: a stream has work (pass this as the streams' `onReady`).
    public func ring() { doorbell.signal() }

    /// Starts serving `stream` (its decode thread starts too).
    public func add(_ stream: ClipStream) {
        streams.withLock { $0.append(stream) }
        stream.start()
        ring()
    }

    public var streamCount: Int { streams.withLock { $0.count } }

    /// Seconds since the least recently alive inference thread showed it was alive (between batches, and at least
    /// twice a second while idle): one stuck network call makes this grow, however many workers there are.
    public var secondsSinceHeartbeat: Double {
        let oldest = heartbeats.withLock { $0.min() ?? 0 }
        return Double(DispatchTime.now().uptimeNanoseconds &- oldest) / 1e9
    }

    private var workerCount: Int { max(1, options.workers) }

    public func start() {
        guard !running.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let threads = max(1, options.threads / workerCount)
        for worker in 0..<workerCount {
            Thread.detachNewThread { [self] in
                defer { stopped.signal() }
                let session = InferenceSession(network: model.network, backend: backend, threads: threads,
                                               precision: options.precision)
                session.releasesFoldedWeights = true
                var cursor = worker
                var batches = 0
                while running.load(ordering: .acquiring) {
                    beat(worker)
                    let batch = gather(&cursor, worker: worker)
                    guard !batch.isEmpty else { continue }
                    batches += 1
                    if let fault, worker == 0, batches == fault.batch { Thread.sleep(forTimeInterval: fault.seconds) }
                    infer(batch, session: session, worker: worker)
                    release(batch.map(\.0))
                }
            }
        }
    }

    /// Stops the inference threads after their current batches. Streams still registered are left as they are.
    public func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        for _ in 0..<workerCount { ring() }
        for _ in 0..<workerCount { stopped.wait() }
    }

    private func beat(_ worker: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        heartbeats.withLock { $0[worker] = now }
    }

    /// Claims `stream` for this worker's batch; false when another worker has clips of it in flight.
    private func claim(_ stream: ClipStream) -> Bool {
        claimed.withLock { $0.insert(ObjectIdentifier(stream)).inserted }
    }

    /// Lets other workers take from `streams` again (their clips were delivered, or none was taken).
    private func release(_ streams: [ClipStream]) {
        claimed.withLock { $0.subtract(streams.map(ObjectIdentifier.init)) }
    }

    /// Ready clips from the streams in turn, up to `maxBatch`; markers are handled as they come (in order with
    /// their stream's clips); finished streams are concluded and dropped.
    private func gather(_ cursor: inout Int, worker: Int) -> [(ClipStream, ClipStream.PreparedClip)] {
        var batch: [(ClipStream, ClipStream.PreparedClip)] = []
        var deadline: DispatchTime?
        while running.load(ordering: .acquiring) {
            let current = streams.withLock { $0 }
            var progressed = false
            for k in 0..<current.count where batch.count < options.maxBatch {
                let stream = current[(cursor + k) % current.count]
                let inFlight = batch.contains { $0.0 === stream }
                // Another stream's clips are another worker's to run, at the same time as this batch.
                if workerCount > 1 && !batch.isEmpty && !inFlight { continue }
                // A stream another worker holds is skipped; one this worker holds gives clips, not markers.
                guard inFlight || claim(stream) else { continue }
                var taken = false
                if let item = stream.takeReady(markers: !inFlight) {
                    progressed = true
                    if case .clip(let clip) = item { batch.append((stream, clip)); taken = true } else { stream.handle(item) }
                } else if !inFlight && stream.isDrained {
                    conclude(stream)
                }
                if !inFlight && !taken { release([stream]) }
            }
            cursor += 1
            if batch.count >= options.maxBatch { return batch }
            if progressed { continue }
            if batch.isEmpty {
                _ = doorbell.wait(timeout: .now() + 0.5)
                beat(worker)
                continue
            }
            if workerCount > 1 { return batch }
            let until = deadline ?? .now() + options.batchWait
            deadline = until
            if doorbell.wait(timeout: until) == .timedOut { return batch }
        }
        return batch
    }

    private func infer(_ batch: [(ClipStream, ClipStream.PreparedClip)], session: InferenceSession, worker: Int) {
        // Streams may sample different clip lengths: one network call per shape.
        var groups: [Int: [(ClipStream, ClipStream.PreparedClip)]] = [:]
        for item in batch { groups[item.1.tensor.count, default: []].append(item) }
        for group in groups.values {
            let stream = group[0].0
            let crop = model.preprocessing.transform.crop
            let shape = [3, stream.options.sampling.clipLength, crop[0], crop[1]]
            let t0 = DispatchTime.now().uptimeNanoseconds
            do {
                let probabilities = try session.probabilities(group.map(\.1.tensor), clipShape: shape)
                metrics.recordBatch(size: group.count, seconds: Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, worker: worker)
                // Each stream gets its own results, in its own order.
                var byStream: [ObjectIdentifier: (ClipStream, [(ClipStream.PreparedClip, [Float])])] = [:]
                for ((s, clip), p) in zip(group, probabilities) {
                    byStream[ObjectIdentifier(s), default: (s, [])].1.append((clip, p))
                }
                for (s, results) in byStream.values { s.deliver(results) }
            } catch {
                // A network call that fails (out of memory) loses these clips, counted; the streams go on.
                metrics.recordFailure()
            }
            beat(worker)
        }
    }

    private func conclude(_ stream: ClipStream) {
        let removed = streams.withLock { list -> Bool in
            guard let i = list.firstIndex(where: { $0 === stream }) else { return false }
            list.remove(at: i)
            return true
        }
        guard removed else { return }
        finished(stream, Result { try stream.conclude(interrupted: false) })
    }
}

/// The scheduler's figures for the service's metrics: batch sizes and inference times as histograms.
public final class SchedulerMetrics: Sendable {
    public static let batchBuckets: [Double] = [1, 2, 3, 4, 6, 8, 12, 16]
    public static let secondsBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public struct Histogram: Sendable {
        public let buckets: [Double]
        /// Cumulative counts per bucket (le), then +Inf = count.
        public var counts: [Int]
        public var count = 0
        public var sum = 0.0
        init(_ buckets: [Double]) { self.buckets = buckets; counts = Array(repeating: 0, count: buckets.count) }
        mutating func observe(_ v: Double) {
            for (i, b) in buckets.enumerated() where v <= b { counts[i] += 1 }
            count += 1
            sum += v
        }
    }

    private let state: Mutex<(batch: Histogram, seconds: Histogram, failures: Int, busy: [Double])>

    init(workers: Int) {
        state = Mutex((Histogram(Self.batchBuckets), Histogram(Self.secondsBuckets), 0, Array(repeating: 0, count: workers)))
    }

    func recordBatch(size: Int, seconds: Double, worker: Int) {
        state.withLock { $0.batch.observe(Double(size)); $0.seconds.observe(seconds); $0.busy[worker] += seconds }
    }

    func recordFailure() { state.withLock { $0.failures += 1 } }

    /// `busySeconds[w]`: seconds inference worker `w` spent in network calls (how evenly the workers share the work).
    public var snapshot: (batchSize: Histogram, inferenceSeconds: Histogram, failures: Int, busySeconds: [Double]) {
        state.withLock { ($0.batch, $0.seconds, $0.failures, $0.busy) }
    }
}
