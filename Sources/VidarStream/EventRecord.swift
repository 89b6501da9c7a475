// An event as delivered: the stream it belongs to, its sequence number in that stream and an id that stays the
// same on every redelivery, so consumers can order and de-duplicate without guessing. One flat JSON object:
// the event's own fields plus `stream`, `seq` and `event_id`.
import Foundation

public struct EventRecord: Sendable, Equatable {
    public var stream: String
    /// Per stream: 1, 2, 3… in the order the stream produced its events.
    public var seq: Int
    /// Unique across streams and restarts.
    public var eventID: String
    public var event: StreamEvent

    public init(stream: String, seq: Int, eventID: String, event: StreamEvent) {
        (self.stream, self.seq, self.eventID, self.event) = (stream, seq, eventID, event)
    }
}

extension EventRecord: Codable {
    /// Snake-cased by the event coders (`eventId` ↔ `event_id`).
    private enum Keys: String, CodingKey { case stream, seq, eventId }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(stream, forKey: .stream)
        try c.encode(seq, forKey: .seq)
        try c.encode(eventID, forKey: .eventId)
        try event.encode(to: encoder)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        stream = try c.decode(String.self, forKey: .stream)
        seq = try c.decode(Int.self, forKey: .seq)
        eventID = try c.decode(String.self, forKey: .eventId)
        event = try StreamEvent(from: decoder)
    }

    /// One JSON Lines document (sorted keys, snake_case), no trailing newline.
    public func jsonLine() -> Data { StreamEvent.encoder.encodeOrDie(self) }

    public static func decode(jsonLine: Data) throws -> EventRecord { try StreamEvent.decoder.decode(EventRecord.self, from: jsonLine) }
}

/// Numbers one stream's events and gives them ids: `seq` continues from `start` (a service restarted on the same
/// spool carries on where it stopped); ids are `<run>-<stream>-<seq>`.
public struct EventNumbering: Sendable {
    public let stream: String
    public let run: String
    public private(set) var next: Int

    public init(stream: String, run: String, startingAt next: Int = 1) {
        (self.stream, self.run, self.next) = (stream, run, next)
    }

    public mutating func record(_ event: StreamEvent) -> EventRecord {
        defer { next += 1 }
        return EventRecord(stream: stream, seq: next, eventID: "\(run)-\(stream)-\(next)", event: event)
    }
}
