// The segmenter on synthetic score sequences: smoothing, hysteresis, minimum duration, no_action, coverage.
import Testing
import VidarStream

let names = ["walking", "running", "jumping"]

/// Clips of 1 s each; `spec` is one class index per clip (nil = nothing confident), at probability `p`.
func scores(_ spec: [Int?], p: Float = 0.8) -> [ClipScores] {
    spec.enumerated().map { i, c in
        var probs = [Float](repeating: (1 - (c == nil ? 0.34 : p)) / 2, count: 3)
        if let c { probs[c] = p } else { probs = [0.34, 0.33, 0.33] }
        return ClipScores(start: Double(i), end: Double(i + 1), probabilities: probs)
    }
}

/// Clips of 1 s each with the given probabilities.
func clips(_ rows: [[Double]]) -> [ClipScores] {
    rows.enumerated().map { ClipScores(start: Double($0), end: Double($0 + 1), probabilities: $1.map(Float.init)) }
}

func run(_ clips: [ClipScores], _ options: AggregatorOptions, labels: [String] = names) -> [Segment] {
    var a = Aggregator(options: options, labels: labels)
    return clips.flatMap { a.push($0) } + a.finish()
}

func expectCoverage(_ segments: [Segment], from start: Double, to end: Double, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(segments.first?.start == start, sourceLocation: sourceLocation)
    #expect(segments.last?.end == end, sourceLocation: sourceLocation)
    for (a, b) in zip(segments, segments.dropFirst()) {
        #expect(a.end == b.start, "contiguous", sourceLocation: sourceLocation)
        #expect(a.label != b.label, "adjacent labels differ", sourceLocation: sourceLocation)
    }
}

struct AggregatorTests {
    /// walking enters, then running stays just ahead without ever beating it by the margin: the hysteresis keeps
    /// one segment, and the segment is labelled by what it scored best over its span, never below an alternative.
    @Test func aSegmentIsLabelledByItsOwnBestScore() {
        let rows = [[0.6, 0.35, 0.05], [0.45, 0.5, 0.05], [0.44, 0.52, 0.04], [0.43, 0.52, 0.05], [0.44, 0.51, 0.05]]
        let segs = run(clips(rows), AggregatorOptions(smoothing: .none, margin: 0.1, patience: 2, minDuration: 0))
        #expect(segs.count == 1)
        #expect(segs[0].label == "running" && segs[0].classIndex == 1)
        #expect(segs[0].alternatives.allSatisfy { $0.score <= segs[0].score }, "\(segs[0])")
        #expect(abs(segs[0].score - (0.35 + 0.5 + 0.52 + 0.52 + 0.51) / 5) < 1e-6 && abs(segs[0].peak - 0.52) < 1e-6)
    }

    @Test func aSingleClipFlickerIsSuppressed() {
        let segs = run(scores([0, 0, 0, 1, 0, 0, 0]), AggregatorOptions(smoothing: .none, patience: 2, minDuration: 0))
        #expect(segs.map(\.label) == ["walking"])
        expectCoverage(segs, from: 0, to: 7)
    }

    @Test func aSustainedChangeSwitchesAtItsFirstClip() {
        let segs = run(scores([0, 0, 0, 1, 1, 1, 1]), AggregatorOptions(smoothing: .none, patience: 2, minDuration: 0))
        #expect(segs.map(\.label) == ["walking", "running"])
        #expect(segs[0].end == 3)
        #expect(segs.map(\.clips) == [3, 4])
        expectCoverage(segs, from: 0, to: 7)
    }

    @Test func aChallengerWithinTheMarginDoesNotTakeOver() {
        // running edges walking by 0.05 < margin 0.1 for many clips: no switch.
        var clips: [ClipScores] = []
        for i in 0..<6 { clips.append(ClipScores(start: Double(i), end: Double(i + 1), probabilities: [0.6, 0.3, 0.1])) }
        for i in 6..<12 { clips.append(ClipScores(start: Double(i), end: Double(i + 1), probabilities: [0.45, 0.5, 0.05])) }
        #expect(run(clips, AggregatorOptions(smoothing: .none, margin: 0.1, minDuration: 0)).map(\.label) == ["walking"])
        #expect(run(clips, AggregatorOptions(smoothing: .none, margin: 0.01, minDuration: 0)).map(\.label) == ["walking", "running"])
    }

    @Test func lowConfidenceBecomesNoAction() {
        // "nothing confident" is uniform here (1/3 each): exit below 0.35
        let segs = run(scores([nil, nil, 2, 2, 2, 2, nil, nil, nil]), AggregatorOptions(smoothing: .none, exitThreshold: 0.35, minDuration: 0))
        #expect(segs.map(\.label) == ["no_action", "jumping", "no_action"])
        #expect(segs.map(\.classIndex) == [nil, 2, nil])
        expectCoverage(segs, from: 0, to: 9)
    }

    @Test func perClassThresholdsApply() {
        let options = AggregatorOptions(smoothing: .none, enterThreshold: 0.4, classEnterThresholds: ["2": 0.9], minDuration: 0)
        #expect(run(scores([2, 2, 2, 2]), options).map(\.label) == ["no_action"])
        #expect(run(scores([1, 1, 1, 1]), options).map(\.label) == ["running"])
    }

    @Test func minimumDurationHoldsAndAShortTailJoinsItsNeighbour() {
        let spec: [Int?] = [0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0]
        let segs = run(scores(spec), AggregatorOptions(smoothing: .none, patience: 2, minDuration: 4))
        for s in segs { #expect(s.end - s.start >= 4, "\(s.label) \(s.start)–\(s.end)") }
        expectCoverage(segs, from: 0, to: 14)
    }

    @Test func smoothingDelaysAndStabilises() {
        let spec: [Int?] = [0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1]
        let raw = run(scores(spec), AggregatorOptions(smoothing: .none, patience: 1, minDuration: 0))
        let smoothed = run(scores(spec), AggregatorOptions(smoothing: .movingAverage(clips: 5), patience: 1, minDuration: 0))
        let ema = run(scores(spec), AggregatorOptions(smoothing: .exponential(alpha: 0.4), patience: 1, minDuration: 0))
        #expect(raw.count > smoothed.count)
        #expect(smoothed.map(\.label) == ["walking", "running"])
        #expect(ema.map(\.label) == ["walking", "running"])
    }

    @Test func scoresArePeakAndMeanOfSmoothedProbabilities() {
        let segs = run(scores([0, 0, 0, 0], p: 0.8), AggregatorOptions(smoothing: .none, minDuration: 0, topK: 2))
        #expect(abs(segs[0].score - 0.8) < 1e-6 && abs(segs[0].peak - 0.8) < 1e-6)
        #expect(segs[0].alternatives.count == 2 && segs[0].alternatives.allSatisfy { abs($0.score - 0.1) < 1e-6 })
    }

    /// The same segments whether read as they close or all at the end; invariants hold on random input.
    @Test(arguments: 1...20)
    func incrementalEqualsBatchOnRandomSequences(seed: Int) {
        var state = UInt64(seed) &* 0x9e37_79b9_7f4a_7c15
        func next() -> Double { state = state &* 6_364_136_223_846_793_005 &+ 1; return Double(state >> 11) / Double(1 << 53) }
        var clips: [ClipScores] = []
        var label = 0
        for i in 0..<200 {
            if next() < 0.1 { label = Int(next() * 3) }
            var p = (0..<3).map { _ in Float(next() * 0.4) }
            p[label] += Float(0.3 + next() * 0.5)
            let sum = p.reduce(0, +)
            clips.append(ClipScores(start: Double(i) * 0.5, end: Double(i) * 0.5 + 1.0, probabilities: p.map { $0 / sum }))
        }
        let options = AggregatorOptions(minDuration: 2)
        var a = Aggregator(options: options, labels: names)
        var streamed: [Segment] = []
        for c in clips { streamed += a.push(c) }
        streamed += a.finish()
        var b = Aggregator(options: options, labels: names)
        for c in clips { _ = b.push(c) }
        var c2 = Aggregator(options: options, labels: names)
        let batch = clips.flatMap { c2.push($0) } + c2.finish()
        #expect(streamed == batch)
        expectCoverage(streamed, from: 0, to: clips.last!.end)
        for s in streamed.dropLast() { #expect(s.end - s.start >= 2) }
        #expect(streamed.reduce(0) { $0 + $1.clips } == clips.count)
    }
}

/// A model with a background class (the bundled model's `no_action`, last): it ends and prevents segments, never
/// labels one, and is never an alternative.
struct BackgroundClassTests {
    static let labels = ["walking", "running", "no_action"]

    static func run(_ rows: [[Double]], _ options: AggregatorOptions) -> [Segment] {
        VidarStreamTests.run(clips(rows), options, labels: labels)
    }

    @Test func theBackgroundClassIsFoundByName() {
        #expect(Aggregator(options: .init(), labels: Self.labels).background == 2)
        #expect(Aggregator(options: .init(), labels: names).background == nil)
    }

    /// Background wins at 0.9, then walking 0.8, then background 0.7 while walking keeps 0.28, above the exit
    /// threshold: the background outscoring it by the margin ends walking all the same.
    @Test func theBackgroundEndsALabelAboveTheExitThreshold() {
        let rows = [[0.05, 0.05, 0.9], [0.05, 0.05, 0.9], [0.8, 0.1, 0.1], [0.8, 0.1, 0.1], [0.8, 0.1, 0.1],
                    [0.28, 0.02, 0.7], [0.28, 0.02, 0.7], [0.28, 0.02, 0.7]]
        let segs = Self.run(rows, AggregatorOptions(smoothing: .none, exitThreshold: 0.25, patience: 2, minDuration: 0))
        #expect(segs.map(\.label) == ["no_action", "walking", "no_action"], "\(segs)")
        #expect(segs.map(\.classIndex) == [nil, 0, nil])
        #expect(segs[1].start == 2 && segs[1].end == 5)
        expectCoverage(segs, from: 0, to: 8)
        // no_action's score is 1 − the best action's probability, not the background's own.
        #expect(abs(segs[0].score - 0.95) < 1e-6 && abs(segs[2].score - 0.72) < 1e-6, "\(segs)")
    }

    /// Walking at 0.45 clears the enter threshold (0.4) but the background is more probable: nothing starts.
    @Test func noLabelStartsWhileTheBackgroundIsMostProbable() {
        let rows = [[Double]](repeating: [0.45, 0.03, 0.52], count: 6)
        #expect(Self.run(rows, AggregatorOptions(smoothing: .none, minDuration: 0)).map(\.label) == ["no_action"])
        let plain = ["walking", "running", "other"]
        #expect(Aggregator(options: .init(), labels: plain).background == nil)
        #expect(VidarStreamTests.run(clips(rows), AggregatorOptions(), labels: plain).map(\.label) == ["other"],
                "a class not named no_action is an ordinary label")
    }

    /// Walking holds a segment while the background, not an action, scores best over its span: the segment keeps
    /// its action label, and its alternatives list actions only.
    @Test func theBackgroundIsNeverASegmentLabelNorAnAlternative() {
        let rows = [[0.7, 0.1, 0.2], [0.7, 0.1, 0.2], [0.4, 0.1, 0.45], [0.4, 0.1, 0.45], [0.4, 0.1, 0.45], [0.4, 0.1, 0.45]]
        let segs = Self.run(rows, AggregatorOptions(smoothing: .none, margin: 0.1, patience: 2, minDuration: 0, topK: 3))
        #expect(segs.map(\.label) == ["walking"], "\(segs)")
        #expect(segs[0].alternatives.map(\.label) == ["running"])
    }
}
