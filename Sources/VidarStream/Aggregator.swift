// Per-clip class probabilities → smoothed probabilities → segments, one clip at a time. Independent of FFmpeg
// and of the network: tests drive it with synthetic score sequences, `label` with a file, `watch` with a stream.

/// One clip's softmax probabilities and the stretch of time it stands for.
public struct ClipScores: Sendable {
    public let start: Double
    public let end: Double
    public let probabilities: [Float]

    public init(start: Double, end: Double, probabilities: [Float]) {
        (self.start, self.end, self.probabilities) = (start, end, probabilities)
    }
}

public struct AggregatorOptions: Codable, Equatable, Sendable {
    public enum Smoothing: Codable, Equatable, Sendable {
        case none
        /// Mean of the last K clips' probabilities.
        case movingAverage(clips: Int)
        /// s ← α·p + (1 − α)·s.
        case exponential(alpha: Double)
    }

    public var smoothing: Smoothing
    /// A label may start only when its smoothed probability is at least this (per class when given).
    public var enterThreshold: Double
    /// Per-class enter thresholds, keyed by class index (as a string, so the JSON is an object).
    public var classEnterThresholds: [String: Double]
    /// The current label ends (to no_action) when its smoothed probability falls below this.
    public var exitThreshold: Double
    /// A new label takes over only when its smoothed probability beats the current one's by this much…
    public var margin: Double
    /// …for this many consecutive clips. The change is dated back to the first of them.
    public var patience: Int
    /// Seconds a segment lasts at least before another may replace it; a shorter last segment joins its neighbour.
    public var minDuration: Double
    /// Alternatives listed per segment.
    public var topK: Int

    public init(smoothing: Smoothing = .movingAverage(clips: 3), enterThreshold: Double = 0.4,
                classEnterThresholds: [String: Double] = [:], exitThreshold: Double = 0.25, margin: Double = 0.1,
                patience: Int = 2, minDuration: Double = 1.0, topK: Int = 3) {
        self.smoothing = smoothing
        self.enterThreshold = enterThreshold
        self.classEnterThresholds = classEnterThresholds
        self.exitThreshold = exitThreshold
        self.margin = margin
        self.patience = patience
        self.minDuration = minDuration
        self.topK = topK
    }

    func enter(_ c: Int) -> Double { classEnterThresholds[String(c)] ?? enterThreshold }
}

/// A stretch of time with one label (or none).
public struct Segment: Codable, Equatable, Sendable {
    public struct Alternative: Codable, Equatable, Sendable {
        public let label: String
        public let score: Double
    }

    public var start: Double
    public var end: Double
    /// The class index, or nil for no_action.
    public var classIndex: Int?
    public var label: String
    /// Mean smoothed probability of the label over the segment's clips (for no_action: mean of 1 − top probability).
    public var score: Double
    /// Highest smoothed probability of the label within the segment.
    public var peak: Double
    public var clips: Int
    public var alternatives: [Alternative]

    public static let noActionLabel = "no_action"
}

/// The streaming segmenter. Feed clips in time order with `push`; closed segments come back as they close.
/// `finish` closes the last one. Segments are contiguous, never overlap, and cover [first start, last end].
public struct Aggregator: Sendable {
    public let options: AggregatorOptions
    public let labels: [String]

    private var history: [[Float]] = []          // last K probability vectors (moving average)
    private var ema: [Double]?
    // The open segment: its label, first clip start, and per-class sums of smoothed probabilities.
    private var current: Int?                    // nil = no_action
    private var openStart: Double?
    private var sums: [Double] = []
    private var peak: Double = 0
    private var peaks: [Double] = []             // per class, over the open segment
    private var noActionSum: Double = 0
    private var count = 0
    // A challenger must hold for `patience` clips; its streak's clips are kept to be moved into the new segment.
    private var challenger: Int??                // .some(nil) = no_action challenging
    private var streak: [(start: Double, smoothed: [Double])] = []
    private var lastEnd: Double?
    private var closed: [Segment] = []           // held back by one so a short final segment can be absorbed

    /// Live mode (`watch`): closed segments are returned at once instead of one late, and a short last segment
    /// is not folded into its predecessor (whose end was already reported).
    public let live: Bool

    /// A model's background class: a label named `no_action` (the bundled model has one). It is never a segment's
    /// label nor an alternative; it ends the current label by outscoring it by the margin, and no label starts
    /// while it is the most probable class.
    public let background: Int?

    public init(options: AggregatorOptions, labels: [String], live: Bool = false) {
        self.options = options
        self.labels = labels
        self.live = live
        self.background = labels.firstIndex(of: Segment.noActionLabel)
    }

    /// The segment in progress: label (nil = no_action), start, and its mean and peak smoothed probability so far.
    public struct OpenSegment: Sendable, Equatable {
        public let classIndex: Int?
        public let label: String
        public let start: Double
        public let score: Double
        public let peak: Double
    }

    public var openSegment: OpenSegment? {
        guard let begin = openStart else { return nil }
        let n = Double(max(count, 1))
        let score = current.map { sums.isEmpty ? 0 : sums[$0] / n } ?? noActionSum / n
        return OpenSegment(classIndex: current, label: current.map(name) ?? Segment.noActionLabel, start: begin, score: score, peak: peak)
    }

    /// Adds one clip; returns the segments this clip closed (in order).
    public mutating func push(_ clip: ClipScores) -> [Segment] {
        let s = smooth(clip.probabilities)
        lastEnd = clip.end
        if openStart == nil { start(at: clip.start, label: entering(s)) }
        let wanted: Int?? = proposal(s)
        var emitted: [Segment] = []
        if let wanted, Self.differs(wanted, current) {
            if challenger.map({ !Self.differs($0, wanted) }) != true {
                flushStreak()  // a different challenger: the previous one's clips stay with the current label
                challenger = wanted
            }
            streak.append((clip.start, s))
            // The open segment keeps at least minDuration: earlier streak clips stay in it.
            while let first = streak.first, first.start - openStart! < options.minDuration {
                add(streak.removeFirst().smoothed)
            }
            if streak.count >= options.patience {
                emitted += switchTo(wanted, at: streak[0].start)
            }
        } else {
            flushStreak()
            add(s)
        }
        return emitted
    }

    /// Closes the open segment at the last clip's end and returns every segment not yet returned.
    /// `through`, when later than the last clip's end, extends the last segment to it: a video's last frame shows
    /// until the video ends, a little after the last sampled frame's period.
    public mutating func finish(through videoEnd: Double? = nil) -> [Segment] {
        guard let clipsEnd = lastEnd, openStart != nil else { return drainClosed(all: true) }
        flushStreak()
        closeOpen(at: max(clipsEnd, videoEnd ?? clipsEnd))
        // A final segment shorter than the minimum joins its neighbour.
        if !live, closed.count >= 2, closed[closed.count - 1].end - closed[closed.count - 1].start < options.minDuration {
            let last = closed.removeLast()
            closed[closed.count - 1].end = last.end
            closed[closed.count - 1].clips += last.clips
        }
        openStart = nil
        return drainClosed(all: true)
    }

    // MARK: internals

    private func proposal(_ s: [Double]) -> Int?? {
        switch current {
        case nil:
            return entering(s).map { .some($0) }
        case let c?:
            let top = topAction(s)
            if let t = top, t != c, s[t] >= options.enter(t), s[t] >= s[c] + options.margin, s[t] >= backgroundScore(s) {
                return .some(t)
            }
            if s[c] < options.exitThreshold || backgroundScore(s) >= s[c] + options.margin { return .some(nil) }
            return nil
        }
    }

    private static func differs(_ a: Int?, _ b: Int?) -> Bool { a != b }

    /// The label that starts from no_action on these probabilities, if any.
    private func entering(_ s: [Double]) -> Int? {
        guard let t = topAction(s), s[t] >= options.enter(t), s[t] >= backgroundScore(s) else { return nil }
        return t
    }

    /// The most probable class that is an action (not the background class).
    private func topAction(_ s: [Double]) -> Int? {
        s.indices.filter { $0 != background }.max { s[$0] < s[$1] }
    }

    private func backgroundScore(_ s: [Double]) -> Double { background.map { $0 < s.count ? s[$0] : 0 } ?? 0 }

    private mutating func smooth(_ p: [Float]) -> [Double] {
        switch options.smoothing {
        case .none:
            return p.map(Double.init)
        case .movingAverage(let k):
            history.append(p)
            if history.count > max(1, k) { history.removeFirst() }
            var mean = [Double](repeating: 0, count: p.count)
            for h in history { for i in mean.indices { mean[i] += Double(h[i]) } }
            return mean.map { $0 / Double(history.count) }
        case .exponential(let alpha):
            if let e = ema { ema = zip(p, e).map { alpha * Double($0) + (1 - alpha) * $1 } } else { ema = p.map(Double.init) }
            return ema!
        }
    }

    private mutating func start(at time: Double, label: Int?) {
        current = label
        openStart = time
        sums = []
        peak = 0
        peaks = []
        noActionSum = 0
        count = 0
    }

    private mutating func add(_ s: [Double]) {
        if sums.isEmpty { sums = [Double](repeating: 0, count: s.count) }
        for i in s.indices { sums[i] += s[i] }
        let top = topAction(s).map { s[$0] } ?? 0
        noActionSum += 1 - top
        peak = max(peak, current.map { s[$0] } ?? (1 - top))
        if peaks.isEmpty { peaks = [Double](repeating: 0, count: s.count) }
        for i in s.indices { peaks[i] = max(peaks[i], s[i]) }
        count += 1
    }

    private mutating func flushStreak() {
        for (_, s) in streak { add(s) }
        streak.removeAll()
        challenger = nil
    }

    private mutating func switchTo(_ label: Int?, at time: Double) -> [Segment] {
        let moved = streak
        streak.removeAll()
        challenger = nil
        closeOpen(at: time)
        start(at: time, label: label)
        for (_, s) in moved { add(s) }
        return drainClosed(all: false)
    }

    private mutating func closeOpen(at end: Double) {
        guard let begin = openStart, end > begin || count > 0 else { return }
        let n = Double(max(count, 1))
        let means = sums.map { $0 / n }
        // The hysteresis decides where a segment starts and ends; its label is the class it scored best over
        // its whole span, so a label never scores below one of its own alternatives.
        var label = current
        if let c = current, let best = topAction(means), means[best] > means[c] { label = best }
        let score = label.map { means.isEmpty ? 0 : means[$0] } ?? noActionSum / n
        let alternatives = means.indices.filter { $0 != label && $0 != background }.sorted { means[$0] > means[$1] }.prefix(options.topK)
            .map { Segment.Alternative(label: name($0), score: means[$0]) }
        let segmentPeak = label.flatMap { $0 < peaks.count ? peaks[$0] : nil } ?? peak
        let segment = Segment(start: begin, end: end, classIndex: label, label: label.map(name) ?? Segment.noActionLabel,
                              score: score, peak: segmentPeak, clips: count, alternatives: Array(alternatives))
        if let last = closed.last, last.classIndex == segment.classIndex {
            // Adjacent segments with the same label merge (score weighted by clips).
            var merged = last
            let total = Double(last.clips + segment.clips)
            merged.score = (last.score * Double(last.clips) + segment.score * Double(segment.clips)) / max(total, 1)
            merged.peak = max(last.peak, segment.peak)
            merged.clips += segment.clips
            merged.end = segment.end
            closed[closed.count - 1] = merged
        } else {
            closed.append(segment)
        }
    }

    /// Returns closed segments, keeping the newest back unless `all` (it may still absorb a short successor).
    private mutating func drainClosed(all: Bool) -> [Segment] {
        let keep = all || live ? 0 : 1
        guard closed.count > keep else { return [] }
        let out = Array(closed.prefix(closed.count - keep))
        closed.removeFirst(out.count)
        return out
    }

    private func name(_ i: Int) -> String { i < labels.count ? labels[i] : "class \(i)" }
}
