// Names for things that must not collide across restarts: a run id per process, and stream names derived from
// inputs.
import Foundation

public enum RunID {
    /// Eight hex digits, random per process: prefixes segment and event ids, so a restart never reuses one.
    public static let current: String = String(format: "%08x", UInt32.random(in: 0...UInt32.max))

    /// A stream name (`[a-z0-9_-]+`) for an input: a file's name without its extension, a URL's host and path,
    /// `pipe` for a pipe.
    public static func streamName(for input: String) -> String {
        let raw: String
        if input.hasPrefix("pipe:") || input == "-" {
            raw = "pipe"
        } else if input.contains("://"), let u = URLComponents(string: input) {
            raw = ([u.host ?? ""] + u.path.split(separator: "/").map(String.init)).joined(separator: "-")
        } else {
            raw = (URL(fileURLWithPath: input).lastPathComponent as NSString).deletingPathExtension
        }
        let name = raw.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") ? String($0) : "-" }.joined()
        let trimmed = name.split(separator: "-", omittingEmptySubsequences: true).joined(separator: "-")
        return trimmed.isEmpty ? "stream" : String(trimmed.prefix(64))
    }

    /// Whether `name` is a valid stream name.
    public static func isValidStreamName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-") }
    }
}
