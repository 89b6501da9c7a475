// Decoded frames → the frames the sampling grid takes, decided from timestamps before any pixel is converted.
// A frame is sampled when a sampling time falls between it and the next frame, so each decoded frame waits,
// unconverted, until the next one is decoded; only then is it converted and resized, or dropped. At 15 fps from
// 25–60 fps video most frames never reach swscale. The frames chosen are FrameResampler's, exactly, except across
// a timestamp jump (below), where repeating one frame for the whole gap would be unbounded work.

public struct SampledFrames {
    /// Two consecutive frames further apart than this (either way) are a discontinuity, not a frame shown for the
    /// whole gap: a 100 KB file whose timestamps jump by 50,000 s would otherwise sample 750,000 copies of one frame.
    public static let maxFrameGap = 60.0

    /// Where the timestamps jumped: the held frame's time and the next frame's.
    public struct Jump: Sendable, Equatable {
        public let from: Double, to: Double
    }

    public let source: MediaSource
    /// The last discontinuity `take` met, for the caller to act on (end a file there, re-anchor a live stream).
    public private(set) var jump: Jump?
    private var grid: SamplingGrid?
    /// Time of the frame the source holds (the candidate for the next sampling times), and its conversion once made.
    private var heldTime: Double?
    private var converted: VideoFrame?

    /// `grid` nil keeps every decoded frame.
    public init(source: MediaSource, grid: SamplingGrid?) {
        self.source = source
        self.grid = grid
    }

    /// Every frame sampled at `options.fps` on a grid starting at the first frame.
    public init(source: MediaSource, options: SamplingOptions) {
        self.init(source: source, grid: options.fps.map { SamplingGrid(fps: $0) })
    }

    /// Decodes one frame: what was decoded and the sampled frames its arrival settles (usually 0 or 1); nil at
    /// the end of the stream, after which `finish` gives the last ones.
    public mutating func next() throws -> (decoded: DecodedFrame, sampled: [VideoFrame])? {
        guard let decoded = try source.decodeNext() else { return nil }
        return (decoded, try take(decoded))
    }

    /// The sampled frames that `decoded`, the source's latest `decodeNext`, settles.
    /// After a jump (`jump` set), the frames returned are the held frame's last ones, and sampling starts over with
    /// `decoded` as a first frame on a grid of its own.
    public mutating func take(_ decoded: DecodedFrame) throws -> [VideoFrame] {
        defer { source.skip.grid = grid }
        jump = nil
        guard grid != nil else {
            source.hold()
            return [try source.convertHeld()]
        }
        if let heldTime, abs(decoded.time - heldTime) > Self.maxFrameGap {
            jump = Jump(from: heldTime, to: decoded.time)
            let last = try finish()
            grid = SamplingGrid(fps: grid!.fps, origin: decoded.time, from: 0)
            source.hold()
            self.heldTime = decoded.time
            return last
        }
        let n = grid!.ticks(before: decoded.time, holding: heldTime != nil)
        let out = n > 0 ? Array(repeating: try heldConverted(), count: n) : []
        // As FrameResampler: a frame earlier than the held one (out-of-order timestamps) never becomes the candidate.
        if decoded.time >= (heldTime ?? -.infinity) {
            source.hold()
            heldTime = decoded.time
            converted = nil
        }
        return out
    }

    /// At the end of the stream: the sampling times up to the last frame's.
    public mutating func finish() throws -> [VideoFrame] {
        guard grid != nil, let heldTime else { return [] }
        let n = grid!.ticks(through: heldTime)
        let out = n > 0 ? Array(repeating: try heldConverted(), count: n) : []
        self.heldTime = nil
        converted = nil
        return out
    }

    private mutating func heldConverted() throws -> VideoFrame {
        if let converted { return converted }
        let frame = try source.convertHeld()
        converted = frame
        return frame
    }
}
