// `vidar models list | fetch | inspect | calibrate`: what checkpoints exist, getting torchvision's, what a file
// holds, and int8's activation ranges measured on the user's own video.
import Foundation
import Synchronization
import Vidar

enum ModelsCommand: Command {
    static let spec = CommandSpec(
        name: "models",
        usage: ["vidar models list", "vidar models fetch NAME|URL [--base-url URL] [--cache-dir DIR]",
                "vidar models inspect CKPT|NAME [--labels FILE] [--json]",
                "vidar models calibrate CKPT|NAME VIDEO… -o OUT.safetensors [--stride N] [--max-clips N] [--labels FILE]"],
        summary: """
            list: the bundled model and torchvision's Kinetics-400 checkpoints, with where each is. \
            fetch: downloads a registered checkpoint (or any URL whose file name ends in -<sha256 prefix>.ext) into the \
            cache, keeps it only if its SHA-256 starts with that prefix, and prints its path. \
            inspect: architecture, parameters, dtype, classes with their names, preprocessing, sampling, the \
            aggregator settings the model recommends, SHA-256. \
            calibrate: runs the videos' clips at fp32 through the labelling pipeline, records each layer's activation \
            range and writes a copy of the checkpoint with them, which `--precision int8` runs (use video like the \
            video you will label: the same cameras, light and scenes).
            """,
        groups: [
            OptionGroup("fetch", [
                Option(["--base-url"], value: "URL", default: ModelRegistry.torchvisionBaseURL, "where registered names are downloaded from"),
                Option(["--cache-dir"], value: "DIR", default: "$VIDAR_CACHE_DIR, else $XDG_CACHE_HOME/vidar/models, else ~/.cache/vidar/models",
                       "where checkpoints are kept"),
                Option(["--max-size"], value: "BYTES", default: "the registered model's size, else 2G",
                       "refuse a download larger than this (a number, or with K, M or G)"),
            ]),
            OptionGroup("inspect", [
                Option(["--labels"], value: "FILE", default: "the checkpoint's, or Kinetics-400", "class names to pair with the checkpoint"),
                Option(["--json"], "one JSON object instead of text"),
            ]),
            OptionGroup("calibrate", [
                Option(["-o", "--output"], value: "FILE", default: "required", "the calibrated checkpoint (.safetensors) to write"),
                Option(["--stride"], value: "N", default: "8", "a clip every N sampled frames"),
                Option(["--max-clips"], value: "N", default: "500", "stop after this many clips"),
                Option(["--threads"], value: "N", default: "\(SharedOptions.cores), the core count", "compute threads"),
            ]),
        ],
        footer: "Exit: 0 done; 64 usage; 65 bad checkpoint, video or hash mismatch; 66 not found; 69 download failed; "
            + "73 cannot write the cache or the output.")

    /// "500000", "64K", "200M", "2G" → bytes.
    static func size(_ text: String) throws -> Int64 {
        let units: [Character: Int64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        let unit = text.last.flatMap { units[Character($0.uppercased())] }
        guard let n = Int64(unit == nil ? text : String(text.dropLast())), n > 0,
              case let (bytes, overflow) = n.multipliedReportingOverflow(by: unit ?? 1), !overflow else {
            throw UsageError("--max-size takes a number of bytes, optionally with K, M or G (got '\(text)')")
        }
        return bytes
    }

    static func run(_ args: ParsedArguments) throws -> ExitCode {
        guard let sub = args.positionals.first else { throw UsageError("missing subcommand (list, fetch, inspect, calibrate)") }
        let operands = Array(args.positionals.dropFirst())
        let calibrating = ["--output", "--stride", "--max-clips", "--threads"]
        let misplaced: [String: [String]] = ["list": ["--base-url", "--cache-dir", "--labels", "--json"] + calibrating,
                                             "fetch": ["--labels", "--json"] + calibrating,
                                             "inspect": ["--base-url", "--cache-dir", "--max-size"] + calibrating,
                                             "calibrate": ["--base-url", "--cache-dir", "--max-size", "--json"]]
        guard let notHere = misplaced[sub] else { throw UsageError("unknown subcommand '\(sub)' (list, fetch, inspect, calibrate)") }
        if let wrong = notHere.first(where: { !args.strings($0).isEmpty }) {
            throw UsageError("\(wrong) is not an option of `models \(sub)`")
        }
        switch sub {
        case "list":
            guard operands.isEmpty else { throw UsageError("list takes no arguments") }
            return list(cache: args.string("--cache-dir"))
        case "fetch": return try fetch(args, operands)
        case "calibrate": return try calibrate(args, operands)
        default: return try inspect(args, operands)
        }
    }

    static func list(cache: String?) -> ExitCode {
        func row(_ a: String, _ b: String, _ c: String) -> String {
            a.padding(toLength: 14, withPad: " ", startingAt: 0) + " " + b.padding(toLength: 26, withPad: " ", startingAt: 0) + " " + c
        }
        print(row(ModelRegistry.bundledName, "(bundled)", ModelRegistry.bundledPath ?? "missing from this installation"))
        for m in ModelRegistry.models {
            let where_ = (try? ModelRegistry.resolve(m.name)) ?? "not downloaded (vidar models fetch \(m.name))"
            print(row(m.name, m.fileName, where_))
        }
        return .success
    }

    static func fetch(_ args: ParsedArguments, _ operands: [String]) throws -> ExitCode {
        let base = args.string("--base-url") ?? ModelRegistry.torchvisionBaseURL
        let cache = args.string("--cache-dir").map { URL(fileURLWithPath: $0) } ?? ModelRegistry.cacheDirectory()
        guard operands.count == 1 else { throw UsageError("fetch takes one model name or URL") }
        let terminal = isatty(STDERR_FILENO) == 1
        let lastShown = Mutex(-1)
        let name = operands[0]
        var fetcher = ModelFetcher(cacheDirectory: cache) { received, expected in
            guard terminal else { return }
            let mb = Double(received) / 1e6
            let percent = expected > 0 ? Int(100 * received / expected) : -1
            guard lastShown.withLock({ shown in defer { shown = percent }; return shown != percent }) else { return }
            let text = expected > 0 ? String(format: "\r%@: %3d%% %.1f/%.1f MB", name, percent, mb, Double(expected) / 1e6)
                                    : String(format: "\r%@: %.1f MB", name, mb)
            FileHandle.standardError.write(Data(text.utf8))
        }
        if let text = args.string("--max-size") { fetcher.maxBytes = try Self.size(text) }
        fetcher.notice = { line in FileHandle.standardError.write(Data(((terminal ? "\n" : "") + "vidar: \(name): \(line)\n").utf8)) }
        // A stopping signal abandons the download; the partial file is removed before exiting 128 + the signal.
        let cancellation = fetcher.cancellation
        let signals = StopSignals { cancellation.cancel() }
        defer { signals.cancel() }
        let path: String
        do { path = try fetcher.fetch(name, baseURL: base) } catch {
            if let code = signals.exitCode { return code }
            throw error
        }
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        print(path)
        return .success
    }

    static func inspect(_ args: ParsedArguments, _ operands: [String]) throws -> ExitCode {
        let labelsFile = args.string("--labels")
        let json = args.flag("--json")
        guard operands.count == 1 else { throw UsageError("inspect takes one checkpoint") }
        let specs = operands
        let model = try ModelLoader.load(specs[0], labelsFile: labelsFile)
        let config = model.network.config
        let layout = VideoResNetLayout(config)
        let sha = (try? SHA256.hex(ofFile: model.path)) ?? "unreadable"
        let stages = zip(zip(config.convKinds, config.blocks), config.widths)
            .map { "\($0.0.rawValue)×\($0.1)@\($1)" }.joined(separator: ", ")
        let labelSource = labelsFile ?? (model.checkpoint.metadata[Labels.metadataKey] != nil ? "checkpoint metadata"
                                         : (model.labels != nil ? "Kinetics-400" : "none"))
        let macs = layout.multiplyAdds(t: 16, h: 112, w: 112) ?? 0
        if json {
            let object: [String: Any] = [
                "path": model.path, "format": model.checkpoint.format, "architecture": config.name,
                "config": (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(config))) ?? [:],
                "parameters": layout.parameterCount, "dtype": model.checkpoint.dtypes,
                "classes": config.numClasses, "labels": labelSource, "sha256": sha,
                "multiply_adds_per_16x112x112_clip": macs,
                "preprocessing": (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(model.preprocessing))) ?? [:],
                "class_names": model.labels ?? [],
                "sampling": ["fps": model.preprocessing.sampling.fps.map { $0 as Any } ?? NSNull(),
                             "clip_length": model.preprocessing.sampling.clipLength, "stride": model.preprocessing.sampling.stride],
                "aggregator": (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(model.aggregatorDefaults))) ?? [:],
                "notice": model.notice ?? NSNull(),
                "int8_calibration": model.network.calibration.map { ["method": $0.method, "clips": $0.clips] as [String: Any] } ?? NSNull(),
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print("""
                path:          \(model.path)
                format:        \(model.checkpoint.format)
                architecture:  \(config.name)
                stem:          \(config.stem.rawValue), \(config.stemWidth) channels
                stages:        \(stages)
                classes:       \(config.numClasses) (labels: \(labelSource))
                parameters:    \(layout.parameterCount)
                dtype:         \(model.checkpoint.dtypes)
                multiply-adds: \(String(format: "%.2f", Double(macs) / 1e9)) G per 3×16×112×112 clip
                class names:   \(classNames(model.labels))
                preprocessing: \(model.preprocessing.transformSummary)
                sampling:      \(model.preprocessing.samplingSummary)
                aggregator:    \(model.aggregatorDefaults.summary)
                int8:          \(model.network.calibration.map { "calibrated (\($0.method) over \($0.clips) clips)" }
                                   ?? "not calibrated (`vidar models calibrate`)")
                sha256:        \(sha)
                """)
            if let notice = model.notice { print("notice:        \(notice)") }
        }
        return .success
    }

    static func calibrate(_ args: ParsedArguments, _ operands: [String]) throws -> ExitCode {
        guard operands.count >= 2 else { throw UsageError("calibrate takes a checkpoint and at least one video") }
        guard let output = args.string("--output") else { throw UsageError("-o/--output is required") }
        guard output.hasSuffix(".safetensors") else { throw UsageError("-o/--output must end in .safetensors (got '\(output)')") }
        let stride = try args.int("--stride", in: 1...10_000) ?? 8
        let maxClips = try args.int("--max-clips", in: 1...1_000_000) ?? 500
        let threads = try args.int("--threads", in: 1...256) ?? SharedOptions.cores
        Backends.setThreads(threads)
        let model = try ModelLoader.load(operands[0], labelsFile: args.string("--labels"))
        let videos = Array(operands.dropFirst())
        for video in videos where !FileManager.default.isReadableFile(atPath: video) {
            throw VidarError(.notFound, "\(video): no such file, or not readable")
        }
        let started = Date()
        let calibration = try ModelCalibration.calibrate(model: model, videos: videos, stride: stride, maxClips: maxClips,
                                                         threads: threads) { video, clips in
            FileHandle.standardError.write(Data("vidar: \(video): \(clips) clips\n".utf8))
        }
        try ModelCalibration.write(calibration, model: model, to: output)
        FileHandle.standardError.write(Data(String(format: "vidar: %d clips in %.0f s; ranges of %d layers written to %@\n",
                                                   calibration.clips, Date().timeIntervalSince(started), calibration.ranges.count,
                                                   output).utf8))
        print(output)
        return .success
    }

    /// Every name for a small head; the first ones and a count for Kinetics' 400 (--json lists all).
    static func classNames(_ labels: [String]?) -> String {
        guard let labels else { return "none (class 0, class 1, …)" }
        let shown = labels.count <= 50 ? labels : Array(labels.prefix(12))
        let text = shown.enumerated().map { "\($0) \($1)" }.joined(separator: ", ")
        return labels.count <= 50 ? text : text + ", … and \(labels.count - 12) more (--json lists all)"
    }
}
