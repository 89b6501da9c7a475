// Frames the sampler will not take, never decoded: FFmpeg's H.264 decoder skips a packet sent with
// `skip_frame = AVDISCARD_NONREF` when its picture is a non-reference one (nal_ref_idc 0), which no other picture
// is predicted from, so every other frame decodes to the same pixels. A packet is sent that way only when no
// sampling time can fall between its presentation time and the next frame's, judged from timestamps of packets
// already sent: a B-frame's later reference is sent before it, so that next time is known, or bounded from above.
// The frames the sampler takes are then exactly those of a full decode (UnsampledFrameSkipTests), given what
// FFmpeg does with a well-formed stream: frames come out in presentation order, timed by their packets' pts. (In a
// damaged stream whose later frame never comes out, a skipped frame could have been sampled: best effort, as the
// rest of a damaged stream is.) Live cameras rarely send B-frames; files and re-encoded streams often do.

struct UnsampledFrameSkip {
    /// The sampling grid of the SampledFrames reading the source; nil turns skipping off.
    var grid: SamplingGrid?
    /// Frames the decoder skipped, known when the next frame comes out.
    private(set) var skipped = 0
    /// Presentation times of packets sent whose frame has not come out yet, and those sent as skippable.
    private var inFlight: [Double] = []
    private var marked: [Double] = []

    /// Neighbours further apart than this are not judged: no timestamp jump (SampledFrames.maxFrameGap) can then
    /// lie in the window, so the grid the decision used is the one the sampler will use.
    static let window = 2.0
    /// A frame covers the sampling times from its own time (less the grid's 1e-6 s) up to the next frame's (less
    /// the same): judged from a millisecond before its time, and exactly as the grid does at the next frame's.
    static let slack = 1e-3
    private static let maxInFlight = 256

    /// A packet with presentation time `time` is about to be sent, the last frame out being at `lastOutput`:
    /// whether the decoder may skip it should it be a non-reference picture.
    mutating func sending(_ time: Double?, lastOutput: Double?) -> Bool {
        guard let time else { return false }
        defer {
            inFlight.append(time)
            if inFlight.count > Self.maxInFlight { inFlight.removeFirst(inFlight.count - Self.maxInFlight) }
        }
        guard let grid, let lastOutput, time > lastOutput + Self.slack, time - lastOutput <= Self.window,
              let next = inFlight.lazy.filter({ $0 > time + Self.slack }).min(), next - time <= Self.window,
              grid.hasTime(from: time - Self.slack, before: next - SamplingGrid.epsilon) == false else { return false }
        marked.append(time)
        return true
    }

    /// A frame came out at `time`: how many skippable frames before it never came out (the decoder skipped them).
    mutating func output(_ time: Double) -> Int {
        let gone = marked.reduce(0) { $0 + ($1 < time - Self.slack ? 1 : 0) }
        marked.removeAll { $0 <= time + Self.slack }
        inFlight.removeAll { $0 <= time + Self.slack }
        skipped += gone
        return gone
    }

    /// The decoder refused the packet sent at `time` (damaged data): it was not skipped.
    mutating func refused(_ time: Double) {
        if let i = marked.lastIndex(of: time) { marked.remove(at: i) }
    }

    /// After a seek: nothing in flight.
    mutating func reset() {
        inFlight.removeAll()
        marked.removeAll()
    }
}
