// The labelling pipeline: decode thread → bounded ring (block policy) → batched inference → aggregator.
// Memory stays flat in video length: at most `2 × batch` clips are in flight and only segments accumulate.
import Foundation
import VidarNN
import VidarStream
import VidarVideo

public struct LabelOptions: Sendable {
    public var sampling: SamplingOptions
    public var aggregator: AggregatorOptions
    /// Clips per network call.
    public var batch: Int = 1
    /// FFmpeg decoder threads (the compute threads are set by the caller with Backends.setThreads).
    public var decodeThreads: Int = 1
    /// Keep each clip's top-k predictions in the timeline.
    public var keepClips: Bool = false
    public var topK: Int = 3
    public var source = SourceOptions()

    public init(sampling: SamplingOptions, aggregator: AggregatorOptions) {
        self.sampling = sampling
        self.aggregator = aggregator
    }
}

/// Where a run is, for progress displays.
public struct LabelProgress: Sendable {
    public var path: String
    public var framesDecoded: Int
    public var clips: Int
    /// Seconds of video processed (end of the last labelled clip) and the video's duration if known.
    public var videoSeconds: Double
    public var duration: Double?
    public var elapsed: Double
}

public final class Labeller: @unchecked Sendable {
    public let model: LoadedModel
    public let options: LabelOptions
    public let backend: ConvolutionBackend
    private let modelSHA: String

    public init(model: LoadedModel, options: LabelOptions, backend: ConvolutionBackend = Backends.standard) {
        self.model = model
        self.options = options
        self.backend = backend
        modelSHA = (try? SHA256.hex(ofFile: model.path)).map { String($0.prefix(16)) } ?? "unknown"
    }

    /// Labels one input. `cancelled` is polled between clips; when it turns true the run stops and the
    /// timeline covers what was processed, marked incomplete. Errors are VidarError with a one-line message.
    public func label(_ path: String, progress: ((LabelProgress) -> Void)? = nil,
                      cancelled: @escaping @Sendable () -> Bool = { false }) throws -> Timeline {
        let started = Date()
        let source: MediaSource
        var sourceOptions = options.source
        sourceOptions.decodeThreads = options.decodeThreads
        do { source = try MediaSource(url: path, options: sourceOptions) } catch let e as VideoError { throw VidarError(e) }
        let info = source.info
        let transform = model.preprocessing.transform
        let ring = FrameRing<(Clip, Tensor)>(capacity: max(2, 2 * options.batch), policy: .block)
        let decoded = LockedBox(DecodeState())

        // Decode thread: frames → clips → tensors, into the ring; never more than the ring holds.
        let finished = DispatchSemaphore(value: 0)
        let sampling = options.sampling
        Thread.detachNewThread {
            defer { ring.close(); finished.signal() }
            var builder = ClipBuilder(options: sampling)
            do {
                while !cancelled(), let frame = try source.nextFrame() {
                    decoded.update { $0.frames = source.framesDecoded; $0.corrupt = source.corruptFrames }
                    for clip in builder.push(frame) where !cancelled() {
                        guard ring.push((clip, transform.apply(clip.frames))) else { return }
                    }
                }
                decoded.update { $0.frames = source.framesDecoded; $0.corrupt = source.corruptFrames }
                guard !cancelled() else { return }
                for clip in builder.finish() {
                    decoded.update { $0.padded = $0.padded || clip.padded }
                    guard ring.push((clip, transform.apply(clip.frames))) else { return }
                }
            } catch let e as VideoError {
                decoded.update { $0.error = VidarError(e) }
            } catch {
                decoded.update { $0.error = VidarError(.ioError, "\(path): \(error)") }
            }
        }

        // Inference on this thread: batches of clips → softmax → aggregator.
        var aggregator = Aggregator(options: options.aggregator, labels: model.labels ?? [])
        var segments: [Segment] = []
        var predictions: [Timeline.ClipPrediction] = []
        var clipCount = 0
        var processedEnd = 0.0
        while !cancelled() {
            var batch: [(Clip, Tensor)] = []
            while batch.count < options.batch, let item = ring.pop() { batch.append(item) }
            if batch.isEmpty { break }
            let probabilities = classify(batch.map(\.1))
            for ((clip, _), p) in zip(batch, probabilities) {
                // A clip ends one sampling period after its last frame, but never after the video does.
                let end = min(clip.end, info.duration ?? .infinity)
                segments += aggregator.push(ClipScores(start: clip.start, end: end, probabilities: p))
                if options.keepClips { predictions.append(prediction(clip, p, end: end)) }
                clipCount += 1
                processedEnd = end
            }
            let state = decoded.value
            progress?(LabelProgress(path: path, framesDecoded: state.frames, clips: clipCount, videoSeconds: processedEnd,
                                    duration: info.duration, elapsed: Date().timeIntervalSince(started)))
        }
        let interrupted = cancelled()
        if interrupted { ring.close(); while ring.pop() != nil {} }
        finished.wait()
        let state = decoded.value
        if let error = state.error, !interrupted { throw error }
        segments += aggregator.finish()
        let wall = Date().timeIntervalSince(started)
        return Timeline(
            complete: !interrupted,
            source: .init(path: path, container: info.container, codec: info.codec, duration: info.duration,
                          frameRate: info.frameRate, width: info.width, height: info.height, rotation: info.rotation),
            model: .init(name: model.network.config.name, path: model.path, sha256Prefix: modelSHA,
                         classes: model.network.config.numClasses, clipLength: options.sampling.clipLength,
                         samplingFps: options.sampling.fps, stride: options.sampling.stride,
                         resize: transform.resize, crop: transform.crop, mean: transform.mean, std: transform.std),
            aggregator: options.aggregator, segments: segments, clips: options.keepClips ? predictions : nil,
            stats: .init(framesDecoded: state.frames, corruptFramesSkipped: state.corrupt, clips: clipCount, paddedClip: state.padded,
                         wallSeconds: wall, realtimeFactor: wall > 0 ? processedEnd / wall : 0))
    }

    /// Stacks (3, T, H, W) clips into one batch and returns each clip's softmax probabilities.
    private func classify(_ clips: [Tensor]) -> [[Float]] {
        let per = clips[0].count
        var data = [Float]()
        data.reserveCapacity(per * clips.count)
        for c in clips { data += c.data }
        let input = Tensor(shape: [clips.count] + clips[0].shape, data: data)
        let logits = model.network.logits(input, backend: backend)
        let classes = logits.shape[1]
        return (0..<clips.count).map { softmax(Array(logits.data[($0 * classes)..<(($0 + 1) * classes)])) }
    }

    private func prediction(_ clip: Clip, _ p: [Float], end: Double) -> Timeline.ClipPrediction {
        let best = p.indices.sorted { p[$0] > p[$1] }.prefix(options.topK)
        return .init(start: clip.start, end: end, top: best.map {
            .init(label: model.labels?[$0] ?? "class \($0)", probability: Double(p[$0]))
        })
    }
}

public func softmax(_ x: [Float]) -> [Float] {
    let m = x.max() ?? 0
    let e = x.map { Foundation.exp(Double($0 - m)) }
    let s = e.reduce(0, +)
    return e.map { Float($0 / s) }
}

struct DecodeState {
    var frames = 0
    var corrupt = 0
    var padded = false
    var error: VidarError?
}

/// A value shared between the decode thread and the caller.
final class LockedBox<T>: @unchecked Sendable {
    private var stored: T
    private let lock = NSLock()
    init(_ value: T) { stored = value }
    var value: T { lock.withLock { stored } }
    func update(_ body: (inout T) -> Void) { lock.withLock { body(&stored) } }
}
