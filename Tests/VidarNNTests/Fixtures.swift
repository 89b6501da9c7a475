// Locates the reference fixtures that `make fixtures` writes with torchvision; fails loudly when absent.
import Foundation
import Testing
import VidarNN

enum Fixtures {
    static let directory: URL = {
        if let dir = ProcessInfo.processInfo.environment["VIDAR_FIXTURES"] { return URL(fileURLWithPath: dir) }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".fixtures")
    }()

    static func path(_ name: String) throws -> String {
        let p = directory.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: p) else {
            Issue.record("fixture \(p) is missing: run `make fixtures` (Tests/Fixtures/make_fixtures.py) first")
            throw FixtureMissing()
        }
        return p
    }

    static func npy(_ name: String) throws -> Tensor {
        try NPY.decode(Data(contentsOf: URL(fileURLWithPath: try path(name))))
    }

    struct FixtureMissing: Error {}
}
