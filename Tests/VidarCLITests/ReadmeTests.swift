// The README's quick-start commands run as written, from a checkout with a built vidar.
import Foundation
import Testing
import TestSupport

struct ReadmeTests {
    /// The shell lines of the code block that follows the `<!-- readme-test` marker, comments stripped.
    static func quickStart() throws -> [String] {
        let readme = try String(contentsOf: TestFixtures.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let marker = try #require(readme.range(of: "<!-- readme-test"), "README has no tested block")
        let after = readme[marker.upperBound...]
        let open = try #require(after.range(of: "```sh\n"))
        let close = try #require(after[open.upperBound...].range(of: "```"))
        return after[open.upperBound..<close.lowerBound].split(separator: "\n").map {
            String($0.split(separator: "#", maxSplits: 1)[0]).trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
    }

    @Test func quickStartCommandsRunAsWritten() throws {
        let lines = try Self.quickStart()
        #expect(lines.count >= 5 && lines.allSatisfy { $0.hasPrefix(".build/release/vidar ") })
        // A scratch checkout: the repository's clips and build, and room for what the commands write.
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["clips", ".build"] {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(name),
                                                       withDestinationURL: TestFixtures.repositoryRoot.appendingPathComponent(name))
        }
        for line in lines {
            let r = try runProcess("/bin/bash", ["-c", "cd '\(dir.path)' && \(line) > /dev/null"], timeout: 180)
            #expect(r.status == 0, "`\(line)` exited \(r.status): \(r.stderr)")
        }
        // What the comments promise.
        for file in ["out/actions-101.mp4.srt", "out/actions-102.mp4.srt", "out/actions-103.mp4.srt", "events.jsonl"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), "\(file)")
        }
        let events = try String(contentsOf: dir.appendingPathComponent("events.jsonl"), encoding: .utf8)
        #expect(events.contains("\"event\":\"segment_end\"") && events.contains("end_of_stream"))
    }
}
