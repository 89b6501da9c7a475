// Writes a file so that readers see either nothing or the whole of it: temp file in the same directory, then rename(2).
import Foundation

public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temp = temporarySibling(of: url)
        guard FileManager.default.createFile(atPath: temp.path, contents: data) else {
            throw VidarError(.cannotCreate, "\(path): cannot create output file (missing directory or permission denied)")
        }
        try commit(temp, to: url)
    }

    /// A hidden name beside `url`, unique to this process, for content that is not final yet.
    public static func temporarySibling(of url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())")
    }

    /// Moves a finished temporary file over its final name in one step.
    public static func commit(_ temp: URL, to url: URL) throws {
        guard rename(temp.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temp)
            throw VidarError(.cannotCreate, "\(url.path): cannot write output: \(reason)")
        }
    }
}
