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
    static func label(_ path: String, _ model: LoadedModel, backend: ConvolutionBackend, threads: Int) throws -> Recorder {
        let recorder = Recorder()
        let stream = try ClipStream(input: .file(path), model: model, options: options(model)) { recorder.record($0) }
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
