// vidar's command line: finds the command, parses its declared options, runs it, and turns every error into one
// line on stderr and a documented exit code.
import Foundation
import Vidar

protocol Command: Sendable {
    static var spec: CommandSpec { get }
    static func run(_ args: ParsedArguments) throws -> ExitCode
}

/// A command as data: its grammar and what runs it.
struct CommandEntry: Sendable {
    let spec: CommandSpec
    let run: @Sendable (ParsedArguments) throws -> ExitCode

    init<C: Command>(_ command: C.Type) {
        spec = C.spec
        run = { try C.run($0) }
    }
}

public enum VidarCLI {
    static let commands: [CommandEntry] = [CommandEntry(LabelCommand.self), CommandEntry(WatchCommand.self), CommandEntry(ServeCommand.self),
                                           CommandEntry(ReportCommand.self), CommandEntry(MergeCommand.self), CommandEntry(ProbeCommand.self), CommandEntry(InferCommand.self),
                                           CommandEntry(ModelsCommand.self)]

    /// One line per command, for the top-level usage.
    static let summaries = [
        ("label", "label video files: a per-segment timeline of actions (JSON, JSONL, SRT, VTT, CSV)"),
        ("watch", "watch a live stream, camera, pipe or file; segment events as JSON Lines as they happen"),
        ("serve", "one always-on process for many cameras: HTTP API, health, Prometheus metrics, event sinks"),
        ("report", "summarise a labelling run's output directory: done, failed, pending; time per label"),
        ("merge", "join the timelines of one video's time ranges (label --start/--end) into one"),
        ("probe", "describe a video input (file, stream, camera) as FFmpeg decodes it"),
        ("infer", "run a video ResNet on a preprocessed N×C×T×H×W float32 .npy tensor, write logits"),
        ("models", "list, fetch and inspect checkpoints"),
        ("help", "help for a command: `vidar help label`"),
    ]

    static var topUsage: String {
        """
        usage: vidar <command> [options]
               vidar --version

        commands:
        \(summaries.map { "  " + $0.0.padding(toLength: 8, withPad: " ", startingAt: 0) + "  " + $0.1 }.joined(separator: "\n"))

        Run `vidar help <command>` (or `vidar <command> --help`) for its options and their defaults.
        Exit codes: 0 success, 1 some inputs failed, 64 usage error, 65 bad input data, 66 input missing or
        unreadable, 69 network resource unavailable, 73 cannot create output, 74 I/O error, 128+N stopped by
        signal N (130 SIGINT, 143 SIGTERM).
        """
    }

    static var versionLine: String { "vidar \(Installation.version)" }

    /// Every command's grammar (for tests and documentation).
    public static var specs: [CommandSpec] { commands.map(\.spec) }

    public static func spec(named name: String) -> CommandSpec? { commands.first { $0.spec.name == name }?.spec }

    /// Runs `argv` (without the program name) and returns the exit code.
    public static func main(_ argv: [String]) -> Int32 {
        run(argv).rawValue
    }

    static func run(_ argv: [String]) -> ExitCode {
        guard let name = argv.first else {
            FileHandle.standardError.write(Data((topUsage + "\n").utf8))
            return .usage
        }
        switch name {
        case "--version", "-V", "version":
            print(versionLine)
            return .success
        case "help", "--help", "-h":
            guard let topic = argv.dropFirst().first, !["-h", "--help"].contains(topic) else { print(topUsage); return .success }
            guard let spec = spec(named: topic) else {
                return usageError(UsageError("no command '\(topic)' (commands: \(commandNames))"), command: nil)
            }
            print(spec.help, terminator: "")
            return .success
        default:
            break
        }
        guard let command = commands.first(where: { $0.spec.name == name }) else {
            let suggestion = Suggestion.closest(to: name, in: commands.map(\.spec.name)).map { "; did you mean `vidar \($0)`?" }
                ?? " (commands: \(commandNames))"
            return usageError(UsageError("unknown command '\(name)'\(suggestion)"), command: nil)
        }
        do {
            let args = try command.spec.parse(Array(argv.dropFirst()))
            if args.helpRequested { print(command.spec.help, terminator: ""); return .success }
            return try command.run(args)
        } catch let e as UsageError {
            return usageError(e, command: name)
        } catch {
            printError("\(error)")
            return ExitCode(for: error)
        }
    }

    static var commandNames: String { commands.map(\.spec.name).joined(separator: ", ") }

    static func usageError(_ e: UsageError, command: String?) -> ExitCode {
        if let command {
            printError("\(command): \(e.description) (see `vidar help \(command)`)")
        } else {
            printError("\(e.description) (see `vidar help`)")
        }
        return .usage
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("vidar: \(message)\n".utf8))
}
