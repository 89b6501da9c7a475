// `vidar merge`: the timelines of one video's time ranges, labelled apart (on several machines, say), stitched into
// the timeline a single pass would have written. Each part carries every clip's full probabilities, and clips
// belong to exactly one part (the one their start falls in), so re-running the aggregator over the concatenated
// clips reproduces the single pass's segments, joins included.

public struct TimelineMergeError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension Timeline {
    /// Merges the parts (any order) into one timeline. They must come from the same input, model and settings
    /// and tile the video: the first starts at 0, each starts where the previous ended, the last reaches the end.
    public static func merge(_ parts: [(name: String, timeline: Timeline)]) throws -> Timeline {
        guard !parts.isEmpty else { throw TimelineMergeError("nothing to merge") }
        for (name, t) in parts where t.part == nil {
            throw TimelineMergeError("\(name) is a whole video's timeline, not a part (label parts with --start/--end)")
        }
        let sorted = parts.sorted { $0.timeline.part!.start < $1.timeline.part!.start }
        let (firstName, first) = sorted[0]
        for (name, t) in sorted.dropFirst() {
            if t.provenance.input != first.provenance.input || (t.provenance.input == nil && t.source.path != first.source.path) {
                throw TimelineMergeError("\(name) and \(firstName) come from different inputs")
            }
            if t.provenance.modelSha256 != first.provenance.modelSha256 || t.model.sha256Prefix != first.model.sha256Prefix {
                throw TimelineMergeError("\(name) and \(firstName) were labelled with different models")
            }
            if t.provenance.settingsSha256 != first.provenance.settingsSha256 || t.aggregator != first.aggregator {
                throw TimelineMergeError("\(name) and \(firstName) were labelled with different settings")
            }
        }
        guard first.part!.start <= 0 else {
            throw TimelineMergeError("\(firstName) starts at \(first.part!.start) s: no part covers the video from 0 s")
        }
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            guard let end = a.timeline.part!.end, abs(end - b.timeline.part!.start) < 1e-9 else {
                let end = a.timeline.part!.end.map { "\($0) s" } ?? "the video's end"
                throw TimelineMergeError("\(a.name) ends at \(end) but \(b.name) starts at \(b.timeline.part!.start) s: "
                                         + "the parts must follow each other without gap or overlap")
            }
        }
        let (lastName, last) = sorted[sorted.count - 1]
        guard last.part!.videoEnd != nil || last.part!.end == nil else {
            throw TimelineMergeError("\(lastName) ends at \(last.part!.end!) s, before the video does: the part after it is missing")
        }

        var aggregator = Aggregator(options: first.aggregator, labels: first.part!.labels, live: false)
        var segments: [Segment] = []
        var previousStart = -Double.infinity
        for (name, t) in sorted {
            for c in t.part!.clipScores {
                guard c.start > previousStart else { throw TimelineMergeError("\(name): clips out of order at \(c.start) s") }
                previousStart = c.start
                segments += aggregator.push(ClipScores(start: c.start, end: c.end, probabilities: c.probabilities))
            }
        }
        segments += aggregator.finish(through: last.part!.videoEnd)

        let timelines = sorted.map(\.timeline)
        let wall = timelines.reduce(0) { $0 + $1.stats.wallSeconds }
        let covered = last.part!.videoEnd ?? last.part!.clipScores.last?.end ?? 0
        var warnings: [Warning] = []
        for w in timelines.flatMap(\.warnings) where !warnings.contains(w) { warnings.append(w) }
        var merged = first
        merged.complete = timelines.allSatisfy(\.complete)
        merged.segments = segments
        merged.clips = timelines.allSatisfy { $0.clips != nil } ? timelines.flatMap { $0.clips! } : nil
        merged.stats = Stats(framesDecoded: timelines.reduce(0) { $0 + $1.stats.framesDecoded },
                             corruptFramesSkipped: timelines.reduce(0) { $0 + $1.stats.corruptFramesSkipped },
                             clips: timelines.reduce(0) { $0 + $1.stats.clips },
                             paddedClip: timelines.contains { $0.stats.paddedClip },
                             wallSeconds: wall, realtimeFactor: wall > 0 ? covered / wall : 0)
        merged.warnings = warnings
        merged.part = nil
        return merged
    }
}
