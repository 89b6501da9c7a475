// Frames → fixed-length clips: resampled to a target frame rate by timestamp, L frames per clip, a new clip
// every S sampled frames. Works incrementally, one decoded frame at a time, for files and live streams alike.

/// A run of sampled frames ready for the network.
public struct Clip: Sendable {
    public let frames: [VideoFrame]
    /// Time of the first sampled frame, and of the last one plus one sampling period (seconds).
    public let start: Double
    public let end: Double
    /// The decoded-frame indices the clip's frames came from (repeats where frames were duplicated).
    public var sourceIndices: [Int] { frames.map(\.index) }
    /// How many times the last frame was repeated to fill the clip: the video was shorter than one clip, or this
    /// is its tail, after the last full clip. 0 for a full clip.
    public let repeatedFrames: Int
    public var padded: Bool { repeatedFrames > 0 }
}

public struct SamplingOptions: Sendable, Equatable, Codable {
    /// Target frames per second; nil keeps every decoded frame.
    public var fps: Double?
    public var clipLength: Int
    public var stride: Int

    /// torchvision evaluated its Kinetics video ResNets at 15 fps with 16-frame clips.
    public init(fps: Double? = 15, clipLength: Int = 16, stride: Int? = nil) {
        self.fps = fps
        self.clipLength = clipLength
        self.stride = stride ?? clipLength
    }

    /// Bounds far above any model's (torchvision's use 16 frames, 15 fps): a clip is held in memory whole.
    public static let maxClipLength = 1024, maxStride = 100_000, maxFPS = 1000.0

    /// Why these options cannot sample a video (they may come from a model's metadata); nil when they can.
    public var validationError: String? {
        if clipLength < 1 || clipLength > Self.maxClipLength { return "clip length \(clipLength) is not between 1 and \(Self.maxClipLength)" }
        if stride < 1 || stride > Self.maxStride { return "stride \(stride) is not between 1 and \(Self.maxStride)" }
        if let fps, !(fps > 0 && fps <= Self.maxFPS) { return "sampling rate \(fps) fps is not a number above 0 and at most \(Int(Self.maxFPS))" }
        return nil
    }
}

/// The sampling times t_k = t_0 + k / fps, by timestamps alone: how many of them take a frame, decided when the
/// next frame's time is known. FrameResampler holds frames with it; SampledFrames decides on frames not yet
/// converted, so both pick the very same frames.
public struct SamplingGrid: Sendable {
    public let fps: Double
    private var origin: Double?
    private var k = 0
    /// Float slack so that a frame exactly on a sampling time is taken despite rounding in its timestamp.
    static let epsilon = 1e-6

    /// A grid whose origin is the first frame's time.
    public init(fps: Double) { self.fps = fps }

    /// The grid of a full pass from `origin`, continued from sampling index `k`: a time range labelled alone
    /// samples the very frames a full pass would.
    public init(fps: Double, origin: Double, from k: Int) {
        self.fps = fps
        self.origin = origin
        self.k = k
    }

    private var nextTime: Double { origin! + Double(k) / fps }

    /// A frame at `time` arrives: how many sampling times before it take the frame held until now (0 when
    /// nothing is held). The first frame's time is the origin.
    public mutating func ticks(before time: Double, holding: Bool) -> Int {
        if origin == nil { origin = time }
        guard holding else { return 0 }
        var n = 0
        while nextTime < time - Self.epsilon { n += 1; k += 1 }
        return n
    }

    /// Whether a sampling time t (earlier, already passed ones included) has `from` ≤ t < `before`, computed as
    /// `ticks` computes them; nil before the origin is known.
    func hasTime(from: Double, before: Double) -> Bool? {
        guard let origin else { return nil }
        var k = max(0, ((from - origin) * fps).rounded(.down) - 1)
        while origin + k / fps < before {
            if origin + k / fps >= from { return true }
            k += 1
        }
        return false
    }

    /// At the end of the stream: how many sampling times up to the held frame's `time` it takes.
    public mutating func ticks(through time: Double) -> Int {
        guard origin != nil else { return 0 }
        var n = 0
        while nextTime <= time + Self.epsilon { n += 1; k += 1 }
        return n
    }
}

/// Picks, for each sampling time t_k = t_0 + k / fps, the last decoded frame whose time is ≤ t_k. Deterministic
/// for a given frame sequence; frames repeat when the target rate exceeds the source's, and are skipped below it.
public struct FrameResampler {
    private var grid: SamplingGrid?
    private var previous: VideoFrame?

    public init(fps: Double?) { grid = fps.map { SamplingGrid(fps: $0) } }

    public var fps: Double? { grid?.fps }

    /// Returns the sampled frames that `frame`'s arrival settles (usually 0 or 1).
    public mutating func push(_ frame: VideoFrame) -> [VideoFrame] {
        guard grid != nil else { return [frame] }
        let n = grid!.ticks(before: frame.time, holding: previous != nil)
        let out = previous.map { Array(repeating: $0, count: n) } ?? []
        if frame.time >= (previous?.time ?? -.infinity) { previous = frame }
        return out
    }

    /// At the end of the stream: the sampling times up to the last frame's.
    public mutating func finish() -> [VideoFrame] {
        guard grid != nil, let previous else { return [] }
        self.previous = nil
        return Array(repeating: previous, count: grid!.ticks(through: previous.time))
    }

    /// The sampling period in seconds (nil without resampling).
    public var period: Double? { fps.map { 1 / $0 } }
}

/// Groups sampled frames into clips of `clipLength`, starting a new clip every `stride` frames (overlap when
/// stride < length). Keeps at most one clip's frames.
public struct ClipBuilder {
    public let options: SamplingOptions
    private var resampler: FrameResampler
    private var window: [VideoFrame] = []
    /// Frames of `window` that no emitted clip covers yet.
    private var fresh = 0
    private var untilNextStart = 0
    public private(set) var clipsEmitted = 0
    /// Source frame period estimate, for clip end times when no resampling is done.
    private var lastGap: Double = 0

    public init(options: SamplingOptions) {
        self.options = options
        resampler = FrameResampler(fps: options.fps)
    }

    /// The sampling grid of a full pass from `origin`, from clip `firstClip` on (needs a sampling rate): clip k
    /// starts at origin + k · stride / fps. SampledFrames on it, feeding `push(sampled:)`, label a time range with
    /// the very frames a full pass would.
    public static func grid(options: SamplingOptions, origin: Double, firstClip: Int) -> SamplingGrid {
        precondition(options.fps != nil, "a clip grid needs a sampling rate")
        return SamplingGrid(fps: options.fps!, origin: origin, from: firstClip * options.stride)
    }

    /// Start time of clip `k` on the grid of a full pass from `origin`.
    public static func clipStart(_ k: Int, origin: Double, options: SamplingOptions) -> Double? {
        options.fps.map { origin + Double(k * options.stride) / $0 }
    }

    /// The first clip whose start is at or after `time` on the grid from `origin`.
    public static func firstClip(atOrAfter time: Double, origin: Double, options: SamplingOptions) -> Int? {
        guard let fps = options.fps else { return nil }
        let k = ((time - origin) * fps / Double(options.stride) - 1e-9).rounded(.up)
        guard k.isFinite, k < 1e12 else { return nil }
        return max(0, Int(k))
    }

    public mutating func push(_ frame: VideoFrame) -> [Clip] {
        var clips: [Clip] = []
        for sampled in resampler.push(frame) { if let c = add(sampled) { clips.append(c) } }
        return clips
    }

    /// A frame already sampled on this builder's grid (by SampledFrames): the clip it completes, if any.
    public mutating func push(sampled frame: VideoFrame) -> Clip? { add(frame) }

    /// Flushes the resampler. Frames no clip covers yet (a video shorter than one clip, or the tail after the last
    /// full clip) become one last clip, the next window padded with its last frame, so the whole video is labelled.
    public mutating func finish() -> [Clip] {
        var clips: [Clip] = []
        for sampled in resampler.finish() { if let c = add(sampled) { clips.append(c) } }
        if fresh > 0, let last = window.last {
            let repeats = options.clipLength - window.count
            clips.append(makeClip(window + Array(repeating: last, count: repeats), repeatedFrames: repeats))
            clipsEmitted += 1
        }
        window.removeAll()
        fresh = 0
        return clips
    }

    private mutating func add(_ frame: VideoFrame) -> Clip? {
        if let previous = window.last, frame.time > previous.time { lastGap = frame.time - previous.time }
        if untilNextStart > 0 {
            // Between clips when stride > length: this frame belongs to no clip.
            untilNextStart -= 1
            return nil
        }
        window.append(frame)
        fresh += 1
        guard window.count == options.clipLength else { return nil }
        let clip = makeClip(window, repeatedFrames: 0)
        clipsEmitted += 1
        fresh = 0
        if options.stride >= options.clipLength {
            untilNextStart = options.stride - options.clipLength
            window.removeAll(keepingCapacity: true)
        } else {
            window.removeFirst(options.stride)
        }
        return clip
    }

    private func makeClip(_ frames: [VideoFrame], repeatedFrames: Int) -> Clip {
        let period = resampler.period ?? lastGap
        // A padded clip ends with the last real frame's period: the repeats stand for no time.
        let lastReal = frames[frames.count - 1 - repeatedFrames]
        return Clip(frames: frames, start: frames.first!.time, end: lastReal.time + period, repeatedFrames: repeatedFrames)
    }
}
