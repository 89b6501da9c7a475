// `vidar merge PART...`: the timelines of one video's time ranges (label --start/--end, on one machine or many)
// joined into the timeline a single pass would have written.
import Foundation
import Vidar
import VidarStream

enum MergeCommand: Command {
    static let spec = CommandSpec(
        name: "merge",
        usage: ["vidar merge [options] [--] PART.json..."],
        summary: """
            Joins the JSON timelines of one video's time ranges (written by `vidar label --start S --end E`) into one \
            timeline. The parts must come from the same input, model and settings and follow each other without gap: \
            the first from 0, the last to the video's end. Each part carries its clips' full probabilities, so the \
            segments are re-aggregated across the joins and equal a single pass's.
            """,
        groups: [
            OptionGroup("output", [
                Option(["-o", "--output"], value: "FILE", aliases: ["--out"], default: "stdout", "where the merged timeline goes (written atomically)"),
                Option(["--format"], value: "F", default: "-o's extension, else json", "json, jsonl, srt, vtt or csv"),
            ]),
        ],
        footer: "Exit: 0 merged; 64 usage; 65 parts that do not fit together or are not timelines; 66 a part missing; 73 cannot write.")

    static func run(_ args: ParsedArguments) throws -> ExitCode {
        guard args.positionals.count >= 1 else { throw UsageError("no parts to merge") }
        let output = args.string("--output")
        let format = try args.choice("--format", in: TimelineFormat.allCases.map(\.rawValue)).flatMap(TimelineFormat.init(rawValue:))
            ?? output.flatMap(TimelineFormat.init(pathExtension:)) ?? .json
        var parts: [(name: String, timeline: Timeline)] = []
        for path in args.positionals {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw VidarError(.notFound, "\(path): cannot read (\(FileErrors.describe(errno)))")
            }
            do {
                parts.append((path, try TimelineFormat.decodeJSON(data)))
            } catch {
                throw VidarError(.invalidData, "\(path): not a vidar JSON timeline (\(error))")
            }
        }
        let merged: Timeline
        do { merged = try Timeline.merge(parts) } catch { throw VidarError(.invalidData, "\(error)") }
        let data = format.encode(merged)
        if let output, output != "-" {
            try AtomicFile.write(data, to: output)
        } else {
            FileHandle.standardOutput.write(data)
        }
        return .success
    }
}
