// vidar's command line: parses arguments, wires the library's stages, maps errors to exit codes.
import Foundation
import Vidar

let topUsage = """
    usage: vidar <command> [options]

    commands:
      label     label video files: a smoothed, per-segment timeline of actions (JSON, JSONL, SRT, VTT, CSV)
      watch     watch a live stream or camera; segment events as JSON Lines as they happen
      infer     run a video ResNet on a preprocessed N×C×T×H×W float32 .npy tensor, write logits
      models    list, fetch and inspect checkpoints
      probe     describe a video input (file, stream, camera) as FFmpeg decodes it

    Run `vidar <command> --help` for a command's options and defaults.
    Exit codes: 0 success, 1 some inputs failed, 64 usage error, 65 bad input data,
    66 input missing or unreadable, 69 network resource unavailable, 73 cannot create output, 74 I/O error,
    130 interrupted.
    """

func printError(_ message: String) {
    FileHandle.standardError.write(Data("vidar: \(message)\n".utf8))
}

func runCommand(_ argv: [String]) -> ExitCode {
    guard let command = argv.first else {
        FileHandle.standardError.write(Data((topUsage + "\n").utf8))
        return .usage
    }
    let rest = Array(argv.dropFirst())
    do {
        switch command {
        case "infer": return try InferCommand.run(rest)
        case "models": return try ModelsCommand.run(rest)
        case "probe": return try ProbeCommand.run(rest)
        case "label": return try LabelCommand.run(rest)
        case "watch": return try WatchCommand.run(rest)
        case "help", "--help", "-h":
            print(topUsage)
            return .success
        default:
            throw UsageError("unknown command '\(command)' (commands: label, watch, infer, models, probe)")
        }
    } catch let e as UsageError {
        printError("\(command): \(e.description) (see `vidar \(command) --help`)")
        return .usage
    } catch {
        printError("\(error)")
        return ExitCode(for: error)
    }
}

exit(runCommand(Array(CommandLine.arguments.dropFirst())).rawValue)
