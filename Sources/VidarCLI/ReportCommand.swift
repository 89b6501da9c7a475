// `vidar report DIR`: where an archive run stands, from the run index every worker appended to and the
// timelines they wrote: inputs done, failed and pending; time per label; the longest segments per label.
import Foundation
import Vidar
import VidarStream

enum ReportCommand: Command {
    static let spec = CommandSpec(
        name: "report",
        usage: ["vidar report [options] [--] DIR"],
        summary: """
            Summarises a `vidar label -o DIR/` run, however many workers wrote to DIR: each input's last record in \
            DIR/INDEX.jsonl says whether it is done (labelled, or up to date on --resume), failed (with the reason) \
            or pending (started by a worker that has not finished it, or, with --from, listed but never started). \
            For the done inputs' JSON timelines: segments and total time per label, and the longest segments.
            """,
        groups: [
            OptionGroup("report", [
                Option(["--from"], value: "LIST", default: "the inputs in the index", "the run's input list: inputs never started count as pending"),
                Option(["--json"], "one JSON document instead of the table"),
                Option(["--top"], value: "N", default: "3", "longest segments listed per label"),
            ]),
        ],
        footer: "Exit: 0 every input done; 1 some failed or pending; 64 usage; 66 DIR has no run index.")

    struct Summary {
        var done: [String] = []
        var failed: [(input: String, error: String)] = []
        var pending: [(input: String, why: String)] = []
        var labels: [String: (segments: Int, seconds: Double, longest: [[String: Any]])] = [:]
        var workers = Set<String>()
        var records = 0
        var unreadableRecords = 0
        var unreadableTimelines: [String] = []
    }

    static func run(_ args: ParsedArguments) throws -> ExitCode {
        guard args.positionals.count == 1 else { throw UsageError(args.positionals.isEmpty ? "no directory" : "report takes one directory") }
        let dir = args.positionals[0]
        let top = try args.int("--top", in: 0...1000) ?? 3
        let listed = try args.string("--from").map(Manifest.read)
        guard FileManager.default.fileExists(atPath: URL(fileURLWithPath: dir).appendingPathComponent(RunIndex.fileName).path) else {
            throw VidarError(.notFound, "\(dir): no \(RunIndex.fileName) (write a run there with `vidar label -o \(dir)/ …`)")
        }
        let s = summarize(dir, listed: listed, top: top)
        if args.flag("--json") {
            printJSON(s, dir: dir)
        } else {
            printTable(s, dir: dir)
        }
        return s.failed.isEmpty && s.pending.isEmpty ? .success : .partialFailure
    }

    static func summarize(_ dir: String, listed: [String]?, top: Int) -> Summary {
        var s = Summary()
        let (records, unreadable) = RunIndex.read(dir)
        s.records = records.count
        s.unreadableRecords = unreadable
        // Each input's last word: a later "started" (a rerun in progress, or killed) overrides an earlier end.
        var last: [String: [String: Any]] = [:]
        var order: [String] = []
        for r in records {
            let input = r["input"] as! String
            if last[input] == nil { order.append(input) }
            last[input] = r
            if let w = r["worker"] as? String { s.workers.insert(w) }
        }
        for input in listed ?? [] where last[input] == nil { order.append(input) }
        for input in order {
            guard let r = last[input] else { s.pending.append((input, "never started")); continue }
            switch r["status"] as? String {
            case "ok", "skipped":
                s.done.append(input)
                if let out = r["output"] as? String { addTimeline(URL(fileURLWithPath: dir).appendingPathComponent(out).path, input: input, into: &s) }
            case "failed": s.failed.append((input, r["error"] as? String ?? "failed"))
            default: s.pending.append((input, "started by \(r["worker"] as? String ?? "a worker") at \(r["utc"] as? String ?? "?"), not finished"))
            }
        }
        for (label, v) in s.labels {
            let longest = v.longest.sorted { ($0["seconds"] as! Double) > ($1["seconds"] as! Double) }.prefix(top)
            s.labels[label]!.longest = Array(longest)
        }
        return s
    }

    /// Adds a JSON timeline's segments to the per-label totals (other formats carry no timeline to read back).
    static func addTimeline(_ path: String, input: String, into s: inout Summary) {
        guard path.hasSuffix(".json") else { return }
        guard let data = FileManager.default.contents(atPath: path), let t = try? TimelineFormat.decodeJSON(data) else {
            s.unreadableTimelines.append(path)
            return
        }
        for seg in t.segments {
            let seconds = seg.end - seg.start
            var entry = s.labels[seg.label] ?? (0, 0, [])
            entry.segments += 1
            entry.seconds += seconds
            entry.longest.append(["input": input, "start": seg.start, "end": seg.end, "seconds": seconds])
            // Keep the list short while reading thousands of timelines.
            if entry.longest.count > 64 {
                entry.longest = Array(entry.longest.sorted { ($0["seconds"] as! Double) > ($1["seconds"] as! Double) }.prefix(32))
            }
            s.labels[seg.label] = entry
        }
    }

    static func printTable(_ s: Summary, dir: String) {
        let total = s.done.count + s.failed.count + s.pending.count
        var lines = ["\(dir): \(total) inputs: \(s.done.count) done, \(s.failed.count) failed, \(s.pending.count) pending "
                     + "(\(s.records) index records from \(s.workers.count) worker\(s.workers.count == 1 ? "" : "s"))"]
        if s.unreadableRecords > 0 { lines.append("  \(s.unreadableRecords) index lines could not be read (torn or damaged)") }
        if !s.failed.isEmpty {
            lines.append("failed:")
            lines += s.failed.map { "  \($0.input): \($0.error)" }
        }
        if !s.pending.isEmpty {
            lines.append("pending:")
            lines += s.pending.prefix(50).map { "  \($0.input): \($0.why)" }
            if s.pending.count > 50 { lines.append("  … and \(s.pending.count - 50) more") }
        }
        if !s.labels.isEmpty {
            lines.append("")
            lines.append("label".padding(toLength: 24, withPad: " ", startingAt: 0) + "  segments      total  longest")
            for (label, v) in s.labels.sorted(by: { $0.value.seconds > $1.value.seconds }) {
                let longest = v.longest.map {
                    String(format: "%@ %.1f–%.1f s", URL(fileURLWithPath: $0["input"] as! String).lastPathComponent,
                           $0["start"] as! Double, $0["end"] as! Double)
                }.joined(separator: ", ")
                lines.append(label.padding(toLength: 24, withPad: " ", startingAt: 0)
                             + String(format: "  %8d  ", v.segments) + String(repeating: " ", count: max(0, 9 - clock(v.seconds).count))
                             + clock(v.seconds) + "  " + longest)
            }
        }
        if !s.unreadableTimelines.isEmpty { lines.append("\(s.unreadableTimelines.count) timelines could not be read: \(s.unreadableTimelines.prefix(5).joined(separator: ", "))") }
        print(lines.joined(separator: "\n"))
    }

    static func printJSON(_ s: Summary, dir: String) {
        let o: [String: Any] = [
            "directory": dir,
            "inputs": s.done.count + s.failed.count + s.pending.count,
            "done": s.done.count, "failed": s.failed.count, "pending": s.pending.count,
            "failures": s.failed.map { ["input": $0.input, "error": $0.error] },
            "pending_inputs": s.pending.map { ["input": $0.input, "reason": $0.why] },
            "labels": s.labels.sorted { $0.value.seconds > $1.value.seconds }.map {
                ["label": $0.key, "segments": $0.value.segments, "seconds": $0.value.seconds, "longest": $0.value.longest] as [String: Any]
            },
            "workers": s.workers.count, "index_records": s.records, "unreadable_index_lines": s.unreadableRecords,
            "unreadable_timelines": s.unreadableTimelines,
        ]
        if let data = try? JSONSerialization.data(withJSONObject: o, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }

    /// H:MM:SS.s
    static func clock(_ seconds: Double) -> String {
        let t = max(0, seconds)
        return String(format: "%d:%02d:%04.1f", Int(t) / 3600, Int(t) / 60 % 60, t.truncatingRemainder(dividingBy: 60))
    }
}
