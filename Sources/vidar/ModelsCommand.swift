// `vidar models list | fetch | inspect`: what checkpoints exist, getting torchvision's, and what a file holds.
import Foundation
import Synchronization
import Vidar

enum ModelsCommand {
    static let usage = """
        usage: vidar models list
               vidar models fetch NAME|URL [--base-url URL] [--cache-dir DIR]
               vidar models inspect CKPT|NAME [--labels FILE] [--json]

        list     registered names (torchvision's Kinetics-400 checkpoints) and where they are cached
        fetch    download a registered checkpoint (or any URL whose file name ends in -<sha256 prefix>.ext)
                 into the cache, verified against the SHA-256 prefix in its name; prints the path
                   --base-url URL   where registered names are downloaded from
                                    (default: \(ModelRegistry.torchvisionBaseURL))
                   --cache-dir DIR  default: $VIDAR_CACHE_DIR, else $XDG_CACHE_HOME/vidar/models,
                                    else ~/.cache/vidar/models (now: \(ModelRegistry.cacheDirectory().path))
        inspect  architecture, parameter count, dtype, classes and SHA-256 of a checkpoint
                   --labels FILE    class names to pair with the checkpoint, one per line
                   --json           one JSON object instead of text
        """

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        if args.flag("--help") || args.flag("-h") { print(usage); return .success }
        guard let subIndex = argv.firstIndex(where: { !$0.hasPrefix("-") }) else {
            throw UsageError("missing subcommand (list, fetch, inspect)")
        }
        let sub = argv[subIndex]
        var rest = argv
        rest.remove(at: subIndex)
        args = Arguments(rest)
        switch sub {
        case "list": return try list(&args)
        case "fetch": return try fetch(&args)
        case "inspect": return try inspect(&args)
        default: throw UsageError("unknown subcommand '\(sub)' (list, fetch, inspect)")
        }
    }

    static func list(_ args: inout Arguments) throws -> ExitCode {
        guard try args.positionals().isEmpty else { throw UsageError("list takes no arguments") }
        print("\(ModelRegistry.bundledName.padding(toLength: 14, withPad: " ", startingAt: 0)) \("(bundled)".padding(toLength: 26, withPad: " ", startingAt: 0)) \(ModelRegistry.bundledPath ?? "missing from this build")")
        for m in ModelRegistry.models {
            let where_ = (try? ModelRegistry.resolve(m.name)) ?? "not downloaded (vidar models fetch \(m.name))"
            print("\(m.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(m.fileName.padding(toLength: 26, withPad: " ", startingAt: 0)) \(where_)")
        }
        return .success
    }

    static func fetch(_ args: inout Arguments) throws -> ExitCode {
        let base = try args.option("--base-url") ?? ModelRegistry.torchvisionBaseURL
        let cache = try args.option("--cache-dir").map { URL(fileURLWithPath: $0) } ?? ModelRegistry.cacheDirectory()
        let specs = try args.positionals()
        guard specs.count == 1 else { throw UsageError("fetch takes one model name or URL") }
        let terminal = isatty(STDERR_FILENO) == 1
        let lastShown = Mutex(-1)
        let name = specs[0]
        let fetcher = ModelFetcher(cacheDirectory: cache) { received, expected in
            guard terminal else { return }
            let mb = Double(received) / 1e6
            let percent = expected > 0 ? Int(100 * received / expected) : -1
            guard lastShown.withLock({ shown in defer { shown = percent }; return shown != percent }) else { return }
            let text = expected > 0 ? String(format: "\r%@: %3d%% %.1f/%.1f MB", name, percent, mb, Double(expected) / 1e6)
                                    : String(format: "\r%@: %.1f MB", name, mb)
            FileHandle.standardError.write(Data(text.utf8))
        }
        let path = try fetcher.fetch(specs[0], baseURL: base)
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        print(path)
        return .success
    }

    static func inspect(_ args: inout Arguments) throws -> ExitCode {
        let labelsFile = try args.option("--labels")
        let json = args.flag("--json")
        let specs = try args.positionals()
        guard specs.count == 1 else { throw UsageError("inspect takes one checkpoint") }
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
                preprocessing: \(model.preprocessing.summary)
                sha256:        \(sha)
                """)
        }
        return .success
    }
}
