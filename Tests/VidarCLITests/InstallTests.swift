// `make install` gives a vidar that works from any directory, without the build tree or the Swift toolchain, and
// a binary copied without its data files says so in one line instead of trapping. `make test` installs into
// $VIDAR_FIXTURES/prefix first.
import Foundation
import Testing
import TestSupport
import Vidar

@Suite(.serialized) struct InstallTests {
    static func prefix() throws -> URL {
        let prefix = try TestFixtures.directory().appendingPathComponent("prefix")
        guard FileManager.default.isExecutableFile(atPath: prefix.appendingPathComponent("bin/vidar").path) else {
            throw FixtureMissing(description: "\(prefix.path)/bin/vidar is missing: run `make test` (it runs `make install PREFIX=\(prefix.path)`)")
        }
        return prefix
    }

    /// Runs `command` with a bare environment (no toolchain on PATH) from `cwd`.
    static func sh(_ command: String, cwd: String = "/") throws -> ProcessResult {
        try runProcess("/usr/bin/env", ["-i", "PATH=/usr/bin:/bin", "HOME=/tmp", "/bin/sh", "-c", "cd '\(cwd)' && \(command)"])
    }

    @Test func theInstalledBinaryWorksFromAnyDirectory() throws {
        let prefix = try Self.prefix()
        // Moved elsewhere, as a package would unpack it: it finds its data beside itself.
        let moved = try TestFixtures.temporaryDirectory().appendingPathComponent("opt")
        defer { try? FileManager.default.removeItem(at: moved.deletingLastPathComponent()) }
        // cp in its own process (see aBinaryWithoutItsDataFilesSaysSoInOneLine: no ETXTBSY on the exec below).
        #expect(try runProcess("/bin/cp", ["-a", prefix.path, moved.path]).status == 0)
        let vidar = moved.appendingPathComponent("bin/vidar").path
        let ldd = try runProcess("/usr/bin/ldd", [vidar])
        #expect(!ldd.stdout.contains("/opt/swift"), "no Swift toolchain library needed: \(ldd.stdout)")
        let version = try Self.sh("'\(vidar)' --version")
        #expect(version.status == 0 && version.stdout == "vidar \(Installation.version)\n", "\(version.stdout) \(version.stderr)")
        let list = try Self.sh("'\(vidar)' models list")
        #expect(list.stdout.contains(moved.appendingPathComponent("share/vidar/vidar-actions.safetensors").path), "\(list.stdout)")
        let clip = TestFixtures.repositoryRoot.appendingPathComponent("clips/actions-101.mp4").path
        let label = try Self.sh("'\(vidar)' label --quiet '\(clip)'", cwd: "/tmp")
        #expect(label.status == 0, "\(label.stderr)")
        let t = try #require(try JSONSerialization.jsonObject(with: Data(label.stdout.utf8)) as? [String: Any])
        #expect(((t["segments"] as? [[String: Any]])?.count ?? 0) >= 5)
        for doc in ["README.md", "LICENSE", "timeline.schema.json", "events.schema.json"] {
            #expect(FileManager.default.fileExists(atPath: moved.appendingPathComponent("share/doc/vidar/\(doc)").path), "\(doc)")
        }
    }

    @Test func aBinaryWithoutItsDataFilesSaysSoInOneLine() throws {
        let alone = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: alone) }
        let vidar = alone.appendingPathComponent("vidar").path
        // Copied by cp, not in this process: another test thread's child could inherit our open write descriptor
        // and make the exec below fail with ETXTBSY.
        #expect(try runProcess("/bin/cp", [try Self.prefix().appendingPathComponent("bin/vidar").path, vidar]).status == 0)
        let list = try Self.sh("'\(vidar)' models list")
        #expect(list.status == 0 && list.stdout.contains("missing from this installation"), "\(list.stderr)")
        let clip = TestFixtures.repositoryRoot.appendingPathComponent("clips/actions-101.mp4").path
        let label = try Self.sh("'\(vidar)' label '\(clip)'")
        #expect(label.status == ExitCode.noInput.rawValue)
        #expect(label.stderrLines.count == 1 && label.stderr.contains("vidar-actions: the bundled model is missing from this installation"),
                "one line: \(label.stderr)")
        #expect(try Self.sh("'\(vidar)' --version").stdout.contains("unknown commit"))
    }
}
