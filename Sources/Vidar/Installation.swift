// Where vidar's own files are, found from the running binary, never from the source tree: the build tree keeps
// them in SwiftPM's resource bundle beside the binary, `make install` puts them in PREFIX/share/vidar. A
// missing file is a one-line error for the command that needs it, not a trap.
import Foundation

public enum Installation {
    /// vidar's release number; the build stamp (git commit) comes from the `vidar.version` file `make` writes.
    public static let release = "0.3.0"

    /// The directory of the running executable, symlinks resolved.
    static var executableDirectory: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// Searched in order: $VIDAR_DATA_DIR, the build tree's resource bundle, PREFIX/share/vidar.
    public static var dataDirectories: [URL] {
        let exe = executableDirectory
        var dirs = [exe.appendingPathComponent("vidar_Vidar.resources"), exe, exe.appendingPathComponent("../share/vidar").standardized]
        if let dir = ProcessInfo.processInfo.environment["VIDAR_DATA_DIR"], !dir.isEmpty { dirs.insert(URL(fileURLWithPath: dir), at: 0) }
        return dirs
    }

    /// The first data directory holding `name`.
    public static func dataFile(_ name: String) -> String? {
        dataDirectories.map { $0.appendingPathComponent(name).path }.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// "0.3.0 (git 0930fbf)", or "0.3.0 (unknown commit)" for a binary built without `make`.
    public static let version: String = {
        let stamp = dataFile("vidar.version").flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return stamp.map { $0.isEmpty ? "\(release) (unknown commit)" : "\(release) (git \($0))" } ?? "\(release) (unknown commit)"
    }()
}
