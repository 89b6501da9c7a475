// The pipeline core: one model shared by streams that each own their inference state. Two streams running at
// the same time on two threads give exactly what each gives alone; file streams report their failures.
import Foundation
import Synchronization
import Testing
import TestSupport
import Vidar
import VidarStream
import VidarVideo

/// Everything a stream published, in order.
final class Recorder: Sendable {
    private let outputs = Mutex<[StreamOutput]>([])
    func record(_ o: StreamOutput) { outputs.withLock { $0.append(o) } }
    var clips: [ClipResult] { outputs.withLock { $0.compactMap { if case .clip(let c) = $0 { c } else { nil } } } }
    var segments: [Segment] { outputs.withLock { $0.compactMap { if case .segment(let s) = $0 { s } else { nil } } } }
}

@Suite(.serialized) struct ClipStreamTests {
    static func model() throws -> LoadedModel { try ModelLoader.load(ModelRegistry.bundledName) }

    static func options(_ model: LoadedModel) -> ClipStreamOptions {
        var o = ClipStreamOptions(sampling: model.preprocessing.sampling, aggregator: AggregatorOptions(smoothing: .none))
        o.batch = 2
        return o
    }

    /// Runs one file stream to its end on the calling thread with a fresh session of `threads` threads.
    static func label(_ path: String, _ model: LoadedModel, backend: ConvolutionBackend, threads: Int, batch: Int = 2) throws -> Recorder {
        let recorder = Recorder()
        var options = options(model)
        options.batch = batch
        let stream = try ClipStream(input: .file(path), model: model, options: options) { recorder.record($0) }
        let outcome = try stream.run(session: InferenceSession(network: model.network, backend: backend, threads: threads))
        #expect(outcome == .finished)
        return recorder
    }

    @Test func twoStreamsOnTwoThreadsEqualEachStreamAlone() throws {
        let model = try Self.model()
        let backend = try Backends.named("onednn")   // one backend: its compiled primitives and packed weights are shared
        let videos = [TestFixtures.repositoryRoot.appendingPathComponent("clips/actions-101.mp4").path,
                      TestFixtures.repositoryRoot.appendingPathComponent("clips/actions-102.mp4").path]
        let alone = try videos.map { try Self.label($0, model, backend: backend, threads: 1) }

        let together = Mutex<[Int: Recorder]>([:])
        let failures = Mutex<[String]>([])
        let done = DispatchGroup()
        for (i, video) in videos.enumerated() {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                do {
                    let r = try Self.label(video, model, backend: backend, threads: 1)
                    together.withLock { $0[i] = r }
                } catch {
                    failures.withLock { $0.append("\(video): \(error)") }
                }
            }
        }
        #expect(done.wait(timeout: .now() + 120) == .success, "both streams finish")
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        for (i, single) in alone.enumerated() {
            let concurrent = try #require(together.withLock { $0[i] })
            #expect(single.clips.count > 20, "a demo clip yields many clips")
            #expect(concurrent.clips.count == single.clips.count)
            for (a, b) in zip(concurrent.clips, single.clips) {
                #expect(a.start == b.start && a.end == b.end)
                #expect(a.probabilities == b.probabilities, "bit-identical probabilities at \(a.start) s")
            }
            #expect(concurrent.segments == single.segments)
        }
    }

    /// Runs `videos` as file streams through one scheduler until every stream has finished. With `backlog`, the
    /// scheduler starts only once every stream has filled its ring: a backlog like a live service's after a hiccup.
    static func schedule(_ videos: [String], _ model: LoadedModel, backend: ConvolutionBackend, options: InferenceScheduler.Options,
                         backlog: Bool = false)
        throws -> (recorders: [Recorder], outcomes: [Result<ClipStream.Outcome, any Error>], metrics: SchedulerMetrics)
    {
        let outcomes = Mutex<[ObjectIdentifier: Result<ClipStream.Outcome, any Error>]>([:])
        let done = DispatchSemaphore(value: 0)
        let scheduler = InferenceScheduler(model: model, backend: backend, options: options) { stream, result in
            outcomes.withLock { $0[ObjectIdentifier(stream)] = result }
            done.signal()
        }
        defer { scheduler.stop() }
        let recorders = videos.map { _ in Recorder() }
        let handedOver = Mutex(Array(repeating: 0, count: videos.count))
        var streams: [ClipStream] = []
        for (k, (video, recorder)) in zip(videos, recorders).enumerated() {
            let stream = try ClipStream(input: .file(video), model: model, options: Self.options(model),
                                        onReady: { handedOver.withLock { $0[k] += 1 }; scheduler.ring() }) { recorder.record($0) }
            streams.append(stream)
            scheduler.add(stream)
        }
        // A file stream's ring holds 2 × batch clips; its decode thread waits once the ring is full.
        let full = 2 * Self.options(model).batch
        let deadline = Date().addingTimeInterval(30)
        while backlog && handedOver.withLock({ $0.min()! }) < full && Date() < deadline { usleep(10_000) }
        if backlog { try #require(handedOver.withLock { $0.min()! } >= full, "every stream fills its ring: \(handedOver.withLock { $0 })") }
        scheduler.start()
        for _ in videos { try #require(done.wait(timeout: .now() + 300) == .success, "every stream finishes") }
        let results = try streams.map { stream in try #require(outcomes.withLock { $0[ObjectIdentifier(stream)] }) }
        return (recorders, results, scheduler.metrics)
    }

    static func twoWorkers(maxBatch: Int) -> InferenceScheduler.Options {
        var options = InferenceScheduler.Options()
        options.workers = 2
        options.threads = 2
        options.maxBatch = maxBatch
        return options
    }

    /// Four streams (one video twice) through a scheduler with two inference workers (one thread each): each stream's clips come
    /// back in its own order, bit for bit what the stream gives alone, though the two workers interleave streams.
    @Test func twoInferenceWorkersKeepEachStreamInOrderAndExact() throws {
        let model = try Self.model()
        let backend = try Backends.named("onednn")
        let videos = [101, 102, 103, 101].map { TestFixtures.repositoryRoot.appendingPathComponent("clips/actions-\($0).mp4").path }
        // One clip per network call on both sides: batch sizes pick different kernels (last-bit differences).
        let alone = try videos.map { try Self.label($0, model, backend: backend, threads: 1, batch: 1) }
        let served = try Self.schedule(videos, model, backend: backend, options: Self.twoWorkers(maxBatch: 1))
        for k in videos.indices {
            #expect(try served.outcomes[k].get() == .finished)
            let clips = served.recorders[k].clips, single = alone[k].clips
            #expect(clips.count == single.count && single.count > 20, "\(clips.count) vs \(single.count) clips")
            for (a, b) in zip(clips, single) {
                #expect(a.start == b.start && a.end == b.end, "stream \(k): clip at \(a.start) s where \(b.start) s was due")
                #expect(a.probabilities == b.probabilities, "stream \(k): bit-identical probabilities at \(a.start) s")
            }
            #expect(served.recorders[k].segments == alone[k].segments)
        }
    }

    /// Two streams with a backlog (files decode far ahead of the network) and batches of up to four on two workers: the
    /// workers share the work. A worker that batched both streams' clips while the other was idle would leave that one
    /// nothing to take (a stream stays with the worker holding its clips): one core's throughput, as a live service saw
    /// at its capacity edge.
    @Test func twoInferenceWorkersShareTheWorkOfTwoBackloggedStreams() throws {
        let model = try Self.model()
        let backend = try Backends.named("onednn")
        let video = TestFixtures.repositoryRoot.appendingPathComponent("clips/actions-101.mp4").path
        // Which worker reaches the clips first is a race; three rounds give it three chances to go wrong.
        for round in 1...3 {
            let served = try Self.schedule([video, video], model, backend: backend, options: Self.twoWorkers(maxBatch: 4), backlog: true)
            for outcome in served.outcomes { #expect(try outcome.get() == .finished) }
            #expect(served.recorders[0].clips.count == served.recorders[1].clips.count)
            let busy = served.metrics.snapshot.busySeconds
            let total = busy.reduce(0, +)
            try #require(busy.count == 2 && total > 0)
            #expect(busy.min()! >= 0.35 * total, "round \(round): each worker's seconds in network calls: \(busy)")
        }
    }

    @Test func aFileThatCannotBeDecodedThrowsItsOwnError() throws {
        let model = try Self.model()
        let stream = try ClipStream(input: .file(try TestFixtures.path("videos/not_media.mp4")), model: model,
                                    options: Self.options(model)) { _ in }
        #expect { _ = try stream.run(session: InferenceSession(network: model.network)) } throws: {
            ($0 as? VideoError)?.kind == .notMedia
        }
    }

    @Test func samplingThatCannotSampleIsRefusedBeforeAnythingRuns() throws {
        let model = try Self.model()
        var options = Self.options(model)
        options.sampling.clipLength = 0
        #expect { _ = try ClipStream(input: .file("x.mp4"), model: model, options: options) { _ in } } throws: {
            ($0 as? VidarError)?.kind == .invalidRequest
        }
    }
}
