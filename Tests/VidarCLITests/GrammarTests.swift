// One grammar for every command: each option the parser accepts is in its command's help with its default,
// `--` ends options, unknown options get a did-you-mean, and every hint names a command that works.
import Foundation
import Testing
import TestSupport
import VidarCLI
import Vidar

@Suite(.serialized) struct GrammarTests {
    static let commands = VidarCLI.specs

    /// A value each option takes without a usage error at parse time.
    static func sample(_ o: Option) -> String? {
        guard let placeholder = o.value else { return nil }
        if placeholder.contains("=") { return "a=1" }
        return "1"
    }

    @Test(arguments: commands.map(\.name))
    func everyAcceptedOptionIsInTheHelpWithItsDefault(_ name: String) throws {
        let spec = try #require(VidarCLI.spec(named: name))
        let r = try CLI.run([name, "--help"])
        #expect(r.status == 0 && r.stderr.isEmpty)
        #expect(r.stdout == spec.help, "the binary prints the declared help")
        let viaHelp = try CLI.run(["help", name])
        #expect(viaHelp.status == 0 && viaHelp.stdout == r.stdout, "`vidar help \(name)` is `vidar \(name) --help`")
        for option in spec.options {
            for spelling in option.names + option.aliases {
                #expect(r.stdout.contains(spelling), "\(name): \(spelling) missing from the help")
                // Each spelling parses (with a value when it takes one).
                let argv = [spelling] + (Self.sample(option).map { [$0] } ?? [])
                #expect(throws: Never.self, "\(name) \(argv)") { _ = try spec.parse(argv) }
            }
            if option.value != nil {
                let d = try #require(option.defaultValue, "\(name) \(option.canonical) declares no default")
                // The help wraps lines: compare with whitespace runs collapsed.
                let flat = r.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
                let want = "(default: \(d))".split(whereSeparator: \.isWhitespace).joined(separator: " ")
                #expect(flat.contains(want), "\(name) \(option.canonical): \(want) not in the help")
            }
        }
    }

    @Test func optionsAreOneMeaningAcrossCommands() throws {
        // The same spelling must carry the same value placeholder wherever it appears.
        // The same spelling takes a value everywhere or nowhere, and keeps its other spellings.
        var seen: [String: (command: String, option: Option)] = [:]
        for spec in Self.commands {
            for option in spec.options {
                for spelling in option.names + option.aliases {
                    if let (other, first) = seen[spelling] {
                        #expect((first.value == nil) == (option.value == nil), "\(spelling): a flag in one of \(other), \(spec.name)")
                        #expect(first.names == option.names, "\(spelling) is \(first.names) in \(other) but \(option.names) in \(spec.name)")
                    }
                    seen[spelling] = (spec.name, option)
                }
            }
        }
        for name in ["probe", "label", "watch"] {
            let spec = try #require(VidarCLI.spec(named: name))
            for input in ["--input-format", "--input-option", "--stream", "--timeout", "--decode-threads"] {
                #expect(spec.options.contains { $0.canonical == input }, "\(name) takes \(input)")
            }
        }
        for name in ["label", "watch", "infer"] {
            #expect(try #require(VidarCLI.spec(named: name)).options.contains { $0.names == ["-o", "--output"] }, "\(name) writes with -o/--output")
        }
    }

    @Test func doubleDashEndsOptionsSoAFileMayStartWithADash() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dashed = dir.appendingPathComponent("-x.mp4").path
        try FileManager.default.copyItem(atPath: try TestFixtures.path("videos/h264.mp4"), toPath: dashed)
        let model = try TestFixtures.path("tiny.pth")
        let r = try runProcess("/bin/sh", ["-c", "cd '\(dir.path)' && '\(CLI.binary)' label --model '\(model)' --quiet -- -x.mp4"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["source"] != nil)
        let without = try runProcess("/bin/sh", ["-c", "cd '\(dir.path)' && '\(CLI.binary)' label --model '\(model)' -x.mp4"])
        #expect(without.status == 64 && without.stderr.contains("unknown option -x.mp4"))
    }

    @Test func mistakesGetADidYouMeanAndHintsThatWork() throws {
        let typo = try CLI.run(["label", "--treshold", "0.5", "a.mp4"])
        #expect(typo.status == 64 && typo.stderr.contains("did you mean --threshold?"), "\(typo.stderr)")
        let command = try CLI.run(["lable", "a.mp4"])
        #expect(command.status == 64 && command.stderr.contains("did you mean `vidar label`?"))
        let renamed = try CLI.run(["watch", "--format", "mpegts", "udp://127.0.0.1:1"])
        #expect(renamed.status == 64 && renamed.stderr.contains("--input-format"))
        // Every `vidar …` a usage error suggests runs.
        for r in [typo, command, renamed] {
            for hint in r.stderr.matches(of: /`vidar ([a-z ]+)`/).map({ String($0.1).split(separator: " ").map(String.init) }) {
                let run = try CLI.run(hint + (hint.count == 1 ? ["--help"] : []))
                #expect(run.status == 0, "`vidar \(hint.joined(separator: " "))` exits \(run.status)")
            }
        }
    }

    @Test func versionComesFromGit() throws {
        let r = try CLI.run(["--version"])
        #expect(r.status == 0 && r.stdout.hasPrefix("vidar \(Installation.release) (git "), "\(r.stdout)")
        let head = try runProcess("/usr/bin/git", ["-C", TestFixtures.repositoryRoot.path, "rev-parse", "--short=12", "HEAD"])
        #expect(r.stdout.contains(head.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(r.stdout) names HEAD")
    }

    @Test func modelsTakesItsOptionsBeforeOrAfterTheSubcommand() throws {
        let cache = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        for argv in [["models", "--cache-dir", cache.path, "fetch", "resnet50"], ["models", "fetch", "--cache-dir", cache.path, "resnet50"]] {
            let r = try CLI.run(argv)
            // Parsed as fetch with a cache directory: the failure is about the name, not the order.
            #expect(r.status == 64 && r.stderr.contains("resnet50: not a registered model"), "\(argv): \(r.stderr)")
        }
        let wrong = try CLI.run(["models", "list", "--json"])
        #expect(wrong.status == 64 && wrong.stderr.contains("--json is not an option of `models list`"))
    }
}
