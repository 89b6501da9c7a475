// Where the torchvision reference fixtures are (written by `make fixtures`). A missing fixture is an error
// that says how to make it: tests never skip for lack of one.
import Foundation

public struct FixtureMissing: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

public enum TestFixtures {
    public static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    public static func directory() throws -> URL {
        let dir = ProcessInfo.processInfo.environment["VIDAR_FIXTURES"].map { URL(fileURLWithPath: $0) }
            ?? repositoryRoot.appendingPathComponent(".fixtures")
        guard FileManager.default.fileExists(atPath: dir.path) else {
            throw FixtureMissing(description: "fixtures directory \(dir.path) is missing: run `make fixtures` (Tests/Fixtures/make_fixtures.py)")
        }
        return dir
    }

    public static func path(_ name: String) throws -> String {
        let p = try directory().appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: p) else {
            throw FixtureMissing(description: "fixture \(p) is missing: run `make fixtures` (Tests/Fixtures/make_fixtures.py)")
        }
        return p
    }

    /// A fresh empty directory under the system temp directory.
    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vidar-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
