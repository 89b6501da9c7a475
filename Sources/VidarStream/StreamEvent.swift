// The events a live stream reports (schema vidar.events/1, docs/events.schema.json): one typed, Codable value
// per JSON Lines document. Times are seconds of stream time; *Utc fields are the same instants in UTC.
import Foundation

public enum StreamEvent: Sendable, Equatable {
    case streamStarted(StreamStarted)
    case segmentStart(SegmentStart)
    case segmentUpdate(SegmentUpdate)
    case segmentEnd(SegmentEnd)
    case streamLost(StreamLost)
    case streamRestored(StreamRestored)
    case stats(StreamStats)
    case eventsDropped(EventsDropped)

    public static let schemaVersion = "vidar.events/1"

    /// The first event of a stream: what is watched, by which vidar and model, with which settings.
    public struct StreamStarted: Codable, Sendable, Equatable {
        /// The input, credentials redacted.
        public var source: String
        public var utc: String
        public var vidarVersion: String
        public var model: String
        public var modelSha256Prefix: String
        public var samplingFps: Double?
        public var clipLength: Int
        public var stride: Int
        public var aggregator: AggregatorOptions
        /// The number format the network runs in (fp32, bf16).
        public var precision: String?

        public init(source: String, utc: String, vidarVersion: String, model: String, modelSha256Prefix: String,
                    samplingFps: Double?, clipLength: Int, stride: Int, aggregator: AggregatorOptions, precision: String? = nil) {
            (self.source, self.utc, self.vidarVersion, self.model, self.modelSha256Prefix) = (source, utc, vidarVersion, model, modelSha256Prefix)
            (self.samplingFps, self.clipLength, self.stride, self.aggregator) = (samplingFps, clipLength, stride, aggregator)
            self.precision = precision
        }
    }

    public struct SegmentStart: Codable, Sendable, Equatable {
        public var id: String
        public var label: String
        public var start: Double
        public var startUtc: String
        /// Mean smoothed probability so far.
        public var score: Double

        public init(id: String, label: String, start: Double, startUtc: String, score: Double) {
            self.id = id
            self.label = label
            self.start = start
            self.startUtc = startUtc
            self.score = score
        }
    }

    public struct SegmentUpdate: Codable, Sendable, Equatable {
        public var id: String
        public var label: String
        public var start: Double
        public var time: Double
        public var utc: String
        public var score: Double
        public var peak: Double

        public init(id: String, label: String, start: Double, time: Double, utc: String, score: Double, peak: Double) {
            self.id = id
            self.label = label
            self.start = start
            self.time = time
            self.utc = utc
            self.score = score
            self.peak = peak
        }
    }

    public struct SegmentEnd: Codable, Sendable, Equatable {
        public enum Reason: String, Codable, Sendable {
            case labelChanged = "label_changed", streamLost = "stream_lost", shutdown, endOfStream = "end_of_stream"
            /// The stream was removed from a service, or its configuration changed on reload.
            case removed, reloaded
            /// vidar was killed with the segment open: the next run on the same spool ends it.
            case interrupted
        }
        public var id: String
        public var label: String
        public var start: Double
        public var end: Double
        public var startUtc: String
        public var endUtc: String
        public var score: Double
        public var peak: Double
        public var clips: Int
        public var reason: Reason

        public init(id: String, label: String, start: Double, end: Double, startUtc: String, endUtc: String, score: Double, peak: Double, clips: Int, reason: Reason) {
            self.id = id
            self.label = label
            self.start = start
            self.end = end
            self.startUtc = startUtc
            self.endUtc = endUtc
            self.score = score
            self.peak = peak
            self.clips = clips
            self.reason = reason
        }
    }

    public struct StreamLost: Codable, Sendable, Equatable {
        public var time: Double
        public var utc: String
        public var reason: String
        /// Seconds until the next attempt; nil when giving up.
        public var retryIn: Double?
        public var givingUp: Bool?

        public init(time: Double, utc: String, reason: String, retryIn: Double? = nil, givingUp: Bool? = nil) {
            self.time = time
            self.utc = utc
            self.reason = reason
            self.retryIn = retryIn
            self.givingUp = givingUp
        }
    }

    public struct StreamRestored: Codable, Sendable, Equatable {
        public var time: Double
        public var utc: String
        public var gapSeconds: Double
        public var reconnects: Int

        public init(time: Double, utc: String, gapSeconds: Double, reconnects: Int) {
            self.time = time
            self.utc = utc
            self.gapSeconds = gapSeconds
            self.reconnects = reconnects
        }
    }

    public struct StreamStats: Codable, Sendable, Equatable {
        /// Frame arrival → the clip's events over the last interval, in milliseconds; null when no clip ran.
        public struct Latency: Codable, Sendable, Equatable {
            public var p50: Double?, p90: Double?, p99: Double?, max: Double?

            public init(p50: Double?, p90: Double?, p99: Double?, max: Double?) {
                (self.p50, self.p90, self.p99, self.max) = (p50, p90, p99, max)
            }

            /// Nulls are written, not omitted: the document always has the four keys.
            public func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(p50, forKey: .p50)
                try c.encode(p90, forKey: .p90)
                try c.encode(p99, forKey: .p99)
                try c.encode(max, forKey: .max)
            }
        }
        public var uptime: Double
        public var utc: String
        public var connected: Bool
        public var decodedFps: Double
        public var clipsPerSecond: Double
        public var framesDecoded: Int
        public var clips: Int
        public var droppedClips: Int
        public var reconnects: Int
        public var latencyMs: Latency

        public init(uptime: Double, utc: String, connected: Bool, decodedFps: Double, clipsPerSecond: Double, framesDecoded: Int, clips: Int, droppedClips: Int, reconnects: Int, latencyMs: Latency) {
            self.uptime = uptime
            self.utc = utc
            self.connected = connected
            self.decodedFps = decodedFps
            self.clipsPerSecond = clipsPerSecond
            self.framesDecoded = framesDecoded
            self.clips = clips
            self.droppedClips = droppedClips
            self.reconnects = reconnects
            self.latencyMs = latencyMs
        }
    }

    /// A sink could not keep up with the spool's bound: this many of its undelivered events were dropped, oldest
    /// first. Sent to that sink when delivery resumes; its `stream` is `vidar`.
    public struct EventsDropped: Codable, Sendable, Equatable {
        public var count: Int
        public var sink: String
        public var utc: String
        public init(count: Int, sink: String, utc: String) { (self.count, self.sink, self.utc) = (count, sink, utc) }
    }

    /// The `event` field's value.
    public var name: String {
        switch self {
        case .streamStarted: return "stream_started"
        case .segmentStart: return "segment_start"
        case .segmentUpdate: return "segment_update"
        case .segmentEnd: return "segment_end"
        case .streamLost: return "stream_lost"
        case .streamRestored: return "stream_restored"
        case .stats: return "stats"
        case .eventsDropped: return "events_dropped"
        }
    }
}

extension StreamEvent: Codable {
    private enum Envelope: String, CodingKey { case event, schema }

    /// `event` and `schema` beside the payload's own fields, in one flat object.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Envelope.self)
        try c.encode(name, forKey: .event)
        try c.encode(Self.schemaVersion, forKey: .schema)
        switch self {
        case .streamStarted(let p): try p.encode(to: encoder)
        case .segmentStart(let p): try p.encode(to: encoder)
        case .segmentUpdate(let p): try p.encode(to: encoder)
        case .segmentEnd(let p): try p.encode(to: encoder)
        case .streamLost(let p): try p.encode(to: encoder)
        case .streamRestored(let p): try p.encode(to: encoder)
        case .stats(let p): try p.encode(to: encoder)
        case .eventsDropped(let p): try p.encode(to: encoder)
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Envelope.self)
        let name = try c.decode(String.self, forKey: .event)
        switch name {
        case "stream_started": self = .streamStarted(try StreamStarted(from: decoder))
        case "segment_start": self = .segmentStart(try SegmentStart(from: decoder))
        case "segment_update": self = .segmentUpdate(try SegmentUpdate(from: decoder))
        case "segment_end": self = .segmentEnd(try SegmentEnd(from: decoder))
        case "stream_lost": self = .streamLost(try StreamLost(from: decoder))
        case "stream_restored": self = .streamRestored(try StreamRestored(from: decoder))
        case "stats": self = .stats(try StreamStats(from: decoder))
        case "events_dropped": self = .eventsDropped(try EventsDropped(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(forKey: .event, in: c, debugDescription: "unknown event '\(name)'")
        }
    }

    /// One JSON Lines document: sorted keys, snake_case, no trailing newline.
    public func jsonLine() -> Data { Self.encoder.encodeOrDie(self) }

    public static func decode(jsonLine: Data) throws -> StreamEvent { try decoder.decode(StreamEvent.self, from: jsonLine) }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()
}

/// ISO 8601 UTC with milliseconds, as every *_utc field is written.
public func utcString(_ date: Date) -> String {
    date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
}
