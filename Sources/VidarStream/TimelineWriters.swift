// Timeline → bytes: JSON (one document), JSONL (one segment per line), SRT and WebVTT (actions as subtitles),
// CSV (one segment per row). JSONL lines and CSV rows name their source, so several timelines concatenated stay
// one valid stream; `TimelineStream` writes several timelines as one document per format.
import Foundation

public enum TimelineFormat: String, CaseIterable, Sendable {
    case json, jsonl, srt, vtt, csv

    public var fileExtension: String { rawValue }

    /// The format a file name's extension asks for (`out.srt` → srt), if any.
    public init?(pathExtension path: String) {
        let ext = (path as NSString).pathExtension.lowercased()
        guard let f = TimelineFormat(rawValue: ext == "webvtt" ? "vtt" : ext) else { return nil }
        self = f
    }

    /// Whether several timelines can share one stream of this format (subtitles belong to one video each).
    public var concatenates: Bool { self != .srt && self != .vtt }

    public func encode(_ t: Timeline) -> Data {
        switch self {
        case .json: return Self.encoder(pretty: true).encodeOrDie(t)
        case .jsonl:
            let e = Self.encoder(pretty: false)
            return t.segments.reduce(into: Data()) { out, s in
                out.append(e.encodeOrDie(SourcedSegment(source: t.source.path, segment: s)))
                out.append(0x0a)
            }
        case .srt: return Data(Self.subtitles(t, vtt: false).utf8)
        case .vtt: return Data(Self.subtitles(t, vtt: true).utf8)
        case .csv: return Data((Self.csvHeader + Self.csvRows(t)).utf8)
        }
    }

    /// A JSON timeline as `encode` wrote it (`merge`, `report`, `--resume` read them back).
    public static func decodeJSON(_ data: Data) throws -> Timeline {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try d.decode(Timeline.self, from: data)
    }

    static func encoder(pretty: Bool) -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    /// A segment with the path of the video it belongs to, as one flat JSON object.
    struct SourcedSegment: Encodable {
        let source: String
        let segment: Segment
        enum Key: String, CodingKey { case source }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(source, forKey: .source)
            try segment.encode(to: encoder)
        }
    }

    /// "HH:MM:SS,mmm" (SRT) or "HH:MM:SS.mmm" (WebVTT).
    static func timestamp(_ seconds: Double, separator: String) -> String {
        let ms = Int((max(0, seconds) * 1000).rounded())
        return String(format: "%02d:%02d:%02d%@%03d", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, separator, ms % 1000)
    }

    /// Cue text that cannot end a cue or open markup: one line; WebVTT's &, < and > as character references
    /// (which also breaks any "-->"); SRT's tags and arrows defused the same way, as players read SRT as light HTML.
    static func cueText(_ text: String) -> String {
        let oneLine = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return oneLine.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    static func subtitles(_ t: Timeline, vtt: Bool) -> String {
        var out = vtt ? "WEBVTT\n\n" : ""
        for (i, s) in t.segments.enumerated() {
            let sep = vtt ? "." : ","
            out += "\(i + 1)\n\(timestamp(s.start, separator: sep)) --> \(timestamp(s.end, separator: sep))\n"
            out += "\(cueText(s.label)) (\(String(format: "%.2f", s.score)))\n\n"
        }
        return out
    }

    static let csvHeader = "source,start,end,label,score,peak,clips,alternatives\n"

    static func csvRows(_ t: Timeline) -> String {
        func field(_ s: String) -> String {
            s.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var out = ""
        for s in t.segments {
            let alternatives = s.alternatives.map { "\($0.label):\(String(format: "%.4f", $0.score))" }.joined(separator: ";")
            out += [field(t.source.path), String(format: "%.3f", s.start), String(format: "%.3f", s.end), field(s.label),
                    String(format: "%.4f", s.score), String(format: "%.4f", s.peak), String(s.clips), field(alternatives)]
                .joined(separator: ",") + "\n"
        }
        return out
    }
}

/// Several timelines as one valid stream of one format: a JSON array, JSONL lines, or one CSV with one header.
/// Each timeline is written as soon as it is finished; `finish` closes the document.
public struct TimelineStream {
    public let format: TimelineFormat
    private let write: (Data) -> Void
    private var count = 0

    public init(format: TimelineFormat, write: @escaping (Data) -> Void) {
        precondition(format.concatenates, "\(format) holds one timeline per file")
        self.format = format
        self.write = write
    }

    public mutating func append(_ t: Timeline) {
        switch format {
        case .json:
            let body = String(decoding: format.encode(t), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .map { "  " + $0 }.joined(separator: "\n")
            write(Data(((count == 0 ? "[\n" : ",\n") + body).utf8))
        case .csv:
            write(Data(((count == 0 ? TimelineFormat.csvHeader : "") + TimelineFormat.csvRows(t)).utf8))
        default:
            write(format.encode(t))
        }
        count += 1
    }

    public func finish() {
        switch format {
        case .json: write(Data((count == 0 ? "[]\n" : "\n]\n").utf8))
        case .csv where count == 0: write(Data(TimelineFormat.csvHeader.utf8))
        default: break
        }
    }
}

extension JSONEncoder {
    /// Timelines hold only strings and finite numbers (non-finite ones are encoded as strings): cannot fail.
    func encodeOrDie<T: Encodable>(_ value: T) -> Data {
        do { return try encode(value) } catch { preconditionFailure("timeline encoding failed: \(error)") }
    }
}
