// A live stream's segments as lifecycle events: each segment keeps one id from segment_start through its
// segment_update events to segment_end. Segments without an action (no_action) report nothing.

public struct SegmentTracker: Sendable {
    /// Seconds between segment_update events for the open segment; nil: none.
    public let updateInterval: Double?
    private let idPrefix: String
    private var open: (id: String, classIndex: Int?, start: Double, startUtc: String)?
    private var nextID = 1
    private var lastUpdate = 0.0

    public init(updateInterval: Double?, idPrefix: String = "seg-") {
        self.updateInterval = updateInterval
        self.idPrefix = idPrefix
    }

    /// segment_end events for segments the aggregator closed.
    public mutating func closed(_ segments: [Segment], reason: StreamEvent.SegmentEnd.Reason,
                                utc: (Double) -> String) -> [StreamEvent] {
        defer { if !segments.isEmpty { open = nil } }
        return segments.filter { $0.classIndex != nil }.map { s in
            .segmentEnd(.init(id: open?.id ?? "?", label: s.label, start: s.start, end: s.end,
                              startUtc: open.flatMap { $0.start == s.start ? $0.startUtc : nil } ?? utc(s.start),
                              endUtc: utc(s.end), score: s.score, peak: s.peak, clips: s.clips, reason: reason))
        }
    }

    /// segment_start when the aggregator's open segment is new, segment_update when one is due; `time` is the
    /// end of the clip just added.
    public mutating func observe(_ segment: Aggregator.OpenSegment?, at time: Double, utc: (Double) -> String) -> [StreamEvent] {
        guard let o = segment else { return [] }
        if let current = open, current.start == o.start, current.classIndex == o.classIndex {
            guard let every = updateInterval, o.classIndex != nil, time - lastUpdate >= every else { return [] }
            lastUpdate = time
            return [.segmentUpdate(.init(id: current.id, label: o.label, start: o.start, time: time, utc: utc(time),
                                         score: o.score, peak: o.peak))]
        }
        guard o.classIndex != nil else {
            open = ("", nil, o.start, "")
            return []
        }
        let id = "\(idPrefix)\(nextID)"
        nextID += 1
        let startUtc = utc(o.start)
        open = (id, o.classIndex, o.start, startUtc)
        lastUpdate = time
        return [.segmentStart(.init(id: id, label: o.label, start: o.start, startUtc: startUtc, score: o.score))]
    }
}
