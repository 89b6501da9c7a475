// Timeline → bytes: JSON (one document), JSONL (one segment per line), SRT and WebVTT (actions as subtitles),
// CSV (one segment per row).
import Foundation

public enum TimelineFormat: String, CaseIterable, Sendable {
    case json, jsonl, srt, vtt, csv

    public var fileExtension: String { rawValue }

    public func encode(_ t: Timeline) -> Data {
        switch self {
        case .json: return Self.encoder(pretty: true).encodeOrDie(t)
        case .jsonl:
            let e = Self.encoder(pretty: false)
            return t.segments.reduce(into: Data()) { out, s in out.append(e.encodeOrDie(s)); out.append(0x0a) }
        case .srt: return Data(Self.subtitles(t, vtt: false).utf8)
        case .vtt: return Data(Self.subtitles(t, vtt: true).utf8)
        case .csv: return Data(Self.csv(t).utf8)
        }
    }

    static func encoder(pretty: Bool) -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }

    /// "HH:MM:SS,mmm" (SRT) or "HH:MM:SS.mmm" (WebVTT).
    static func timestamp(_ seconds: Double, separator: String) -> String {
        let ms = Int((max(0, seconds) * 1000).rounded())
        return String(format: "%02d:%02d:%02d%@%03d", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, separator, ms % 1000)
    }

    static func subtitles(_ t: Timeline, vtt: Bool) -> String {
        var out = vtt ? "WEBVTT\n\n" : ""
        for (i, s) in t.segments.enumerated() {
            let sep = vtt ? "." : ","
            out += "\(i + 1)\n\(timestamp(s.start, separator: sep)) --> \(timestamp(s.end, separator: sep))\n"
            out += "\(s.label) (\(String(format: "%.2f", s.score)))\n\n"
        }
        return out
    }

    static func csv(_ t: Timeline) -> String {
        func field(_ s: String) -> String {
            s.contains(where: { ",\"\n".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var out = "start,end,label,score,peak,clips,alternatives\n"
        for s in t.segments {
            let alternatives = s.alternatives.map { "\($0.label):\(String(format: "%.4f", $0.score))" }.joined(separator: ";")
            out += [String(format: "%.3f", s.start), String(format: "%.3f", s.end), field(s.label), String(format: "%.4f", s.score),
                    String(format: "%.4f", s.peak), String(s.clips), field(alternatives)].joined(separator: ",") + "\n"
        }
        return out
    }
}

extension JSONEncoder {
    /// Timelines hold only strings and finite numbers (non-finite ones are encoded as strings): cannot fail.
    func encodeOrDie<T: Encodable>(_ value: T) -> Data {
        do { return try encode(value) } catch { preconditionFailure("timeline encoding failed: \(error)") }
    }
}
