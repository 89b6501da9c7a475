// `label`'s policy over ClipStream: each file is read once, nothing dropped, and its closed segments and clips
// become a timeline. Memory stays flat in video length: at most `2 × batch` clips are in flight.
import Foundation
import Synchronization
import VidarNN
import VidarStream
import VidarVideo

public struct LabelOptions: Sendable {
    public var sampling: SamplingOptions
    public var aggregator: AggregatorOptions
    /// Clips per network call.
    public var batch: Int = 1
    /// FFmpeg decoder threads.
    public var decodeThreads: Int = 1
    /// Keep each clip's top-k predictions in the timeline.
    public var keepClips: Bool = false
    public var topK: Int = 3
    public var source = SourceOptions()
    /// Only the clips that start in this range (`--start`/`--end`); the timeline then carries what `merge` needs.
    public var range: TimeRange?
    /// Record each input's full SHA-256 besides its fast hash.
    public var fullHash = false
    /// The convolution backend's name, for the settings fingerprint (backends differ in the last bits).
    public var backendName = "auto"
    /// The number format the network runs in.
    public var precision = Precision.fp32

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

/// Stops the file being labelled (its timeline comes back marked incomplete) and every later one. Safe to use
/// from a signal handler's queue.
public final class LabelCancellation: Sendable {
    private let state = Mutex<(cancelled: Bool, current: ClipStream?)>((false, nil))

    public init() {}

    public func cancel() {
        let stream = state.withLock { s -> ClipStream? in s.cancelled = true; return s.current }
        stream?.stop()
    }

    public var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Makes `stream` the one `cancel` stops; false when cancelled already.
    func attach(_ stream: ClipStream?) -> Bool {
        state.withLock { s in s.current = stream; return !s.cancelled }
    }
}

public final class Labeller {
    public let model: LoadedModel
    public let options: LabelOptions
    public let cancellation = LabelCancellation()
    private let session: InferenceSession
    /// SHA-256 of the model file, and of every setting that changes the result.
    public let modelSHA256: String
    public let settingsSHA256: String

    public init(model: LoadedModel, options: LabelOptions, backend: ConvolutionBackend = Backends.standard,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.model = model
        self.options = options
        session = InferenceSession(network: model.network, backend: backend, threads: threads, precision: options.precision)
        session.releasesFoldedWeights = true
        modelSHA256 = (try? SHA256.hex(ofFile: model.path)) ?? "unknown"
        settingsSHA256 = SettingsFingerprint(modelSha256: modelSHA256, labels: model.labels ?? [], sampling: options.sampling,
                                             transform: model.preprocessing.transform, aggregator: options.aggregator,
                                             backend: options.backendName,
                                             precision: options.precision == .fp32 ? nil : options.precision.rawValue, topK: options.topK, clips: options.keepClips).sha256
    }

    /// What a timeline of `path` labelled now would record as its provenance (`--resume` compares it).
    public func provenance(of path: String) throws -> Timeline.Provenance {
        Timeline.Provenance(vidarVersion: Installation.version, input: try Timeline.InputIdentity.of(file: path, fullHash: options.fullHash),
                            modelSha256: modelSHA256, settingsSha256: settingsSHA256,
                            precision: options.precision.rawValue)
    }

    /// Labels one input. After `cancellation.cancel()` the run stops and the timeline covers what was processed,
    /// marked incomplete. Errors are typed (VideoError, InferenceError…) with a one-line message.
    public func label(_ path: String, progress: ((LabelProgress) -> Void)? = nil) throws -> Timeline {
        let started = Date()
        let provenance = try provenance(of: path)
        var streamOptions = ClipStreamOptions(sampling: options.sampling, aggregator: options.aggregator)
        streamOptions.source = options.source
        streamOptions.source.decodeThreads = options.decodeThreads
        streamOptions.batch = options.batch
        streamOptions.range = options.range
        let collected = Mutex(Collected())
        let keepClips = options.keepClips, topK = options.topK, labels = model.labels, keepScores = options.range != nil
        let stream = try ClipStream(input: .file(path), model: model, options: streamOptions) { output in
            collected.withLock { c in
                switch output {
                case .segment(let s): c.segments.append(s)
                case .clip(let r):
                    c.clips += 1
                    c.processedEnd = r.end
                    if keepClips { c.predictions.append(Self.prediction(r, topK: topK, labels: labels)) }
                    if keepScores { c.scores.append(.init(start: r.start, end: r.end, probabilities: r.probabilities)) }
                case .event, .source: break
                }
            }
        }
        guard cancellation.attach(stream) else { stream.stop(); throw Self.interruptedBeforeOpening(path) }
        defer { _ = cancellation.attach(nil) }
        let outcome = try stream.run(session: session) { stream in
            let c = collected.withLock { ($0.clips, $0.processedEnd) }
            progress?(LabelProgress(path: path, framesDecoded: stream.statistics.snapshot.framesDecoded, clips: c.0,
                                    videoSeconds: c.1, duration: stream.info?.duration,
                                    elapsed: Date().timeIntervalSince(started)))
        }
        guard let info = stream.info else { throw Self.interruptedBeforeOpening(path) }
        let result = collected.withLock { $0 }
        let stats = stream.statistics.snapshot
        let transform = model.preprocessing.transform
        let wall = Date().timeIntervalSince(started)
        let complete = outcome == .finished
        return Timeline(
            complete: complete,
            provenance: provenance,
            source: .init(path: path, container: info.container, codec: info.codec, duration: info.duration,
                          frameRate: info.frameRate, width: info.width, height: info.height, rotation: info.rotation),
            model: .init(name: model.network.config.name, path: model.path, sha256Prefix: String(modelSHA256.prefix(16)),
                         classes: model.network.config.numClasses, clipLength: options.sampling.clipLength,
                         samplingFps: options.sampling.fps, stride: options.sampling.stride,
                         resize: transform.resize, crop: transform.crop, mean: transform.mean, std: transform.std,
                         notice: model.notice),
            aggregator: options.aggregator, segments: result.segments,
            clips: keepClips ? result.predictions : nil,
            stats: .init(framesDecoded: stats.framesDecoded, corruptFramesSkipped: stats.corruptFrames, clips: result.clips,
                         paddedClip: stats.paddedClip, wallSeconds: wall,
                         realtimeFactor: wall > 0 ? result.processedEnd / wall : 0),
            warnings: complete ? Self.warnings(info: info, stats: stats, clips: result.clips, rangeEnded: stream.stoppedAtRangeEnd) : [],
            part: options.range.map { r in
                .init(start: r.start, end: r.end, labels: model.labels ?? [], clipScores: result.scores,
                      videoEnd: stream.stoppedAtRangeEnd ? nil : stream.videoEnd)
            })
    }

    /// Share of frames that may be skipped as corrupt before the timeline says so.
    public static let corruptShareWarning = 0.01

    /// What the run could not see: a decode that stopped short of the container's duration, many corrupt frames,
    /// a stretch labelled from a padded clip.
    static func warnings(info: StreamInfo, stats: StreamStatistics.Snapshot, clips: Int, rangeEnded: Bool = false) -> [Timeline.Warning] {
        var out: [Timeline.Warning] = []
        if let jump = stats.timestampJump {
            out.append(.init(.timestampJump, String(format: "the timestamps jump from %.2f s to %.2f s (damaged, or recordings joined?): "
                                                    + "decoding ended there and the rest is not labelled", jump.from, jump.to)))
        } else if !rangeEnded, let duration = info.duration, let last = stats.lastFrameTime {
            // A damaged stream's last timestamp can lie before its start: never report a negative time.
            let seen = max(0, last + 1 / (info.frameRate ?? 25))
            if duration - seen > max(0.5, 0.02 * duration) {
                out.append(.init(.endedEarly, String(format: "decoding ended at %.2f s of a %.2f s video (truncated or damaged?): "
                                                     + "the rest is not labelled", seen, duration)))
            }
        }
        let total = stats.framesDecoded + stats.corruptFrames
        if total > 0, Double(stats.corruptFrames) > corruptShareWarning * Double(total) {
            out.append(.init(.corruptFrames, String(format: "%d of %d frames (%.1f %%) could not be decoded and were skipped",
                                                    stats.corruptFrames, total, 100 * Double(stats.corruptFrames) / Double(total))))
        }
        if let p = stats.padding {
            out.append(clips == 1
                ? .init(.shorterThanOneClip, String(format: "the video is shorter than one clip: its %.2f s were labelled from a clip "
                                                   + "padded with %d repeats of the last frame", p.end - p.start, p.repeatedFrames))
                : .init(.paddedTail, String(format: "the last %.2f s (%.2f–%.2f s) were labelled from a clip padded with %d repeats "
                                            + "of the last frame", p.end - p.start, p.start, p.end, p.repeatedFrames)))
        }
        return out
    }

    private struct Collected {
        var segments: [Segment] = []
        var predictions: [Timeline.ClipPrediction] = []
        var scores: [Timeline.ClipScore] = []
        var clips = 0
        var processedEnd = 0.0
    }

    private static func interruptedBeforeOpening(_ path: String) -> VidarError {
        VidarError(.ioFailed, "\(path): interrupted before the video was opened")
    }

    private static func prediction(_ r: ClipResult, topK: Int, labels: [String]?) -> Timeline.ClipPrediction {
        let p = r.probabilities
        let best = p.indices.sorted { p[$0] > p[$1] }.prefix(topK)
        return .init(start: r.start, end: r.end, top: best.map {
            .init(label: labels?[$0] ?? "class \($0)", probability: Double(p[$0]))
        })
    }
}
