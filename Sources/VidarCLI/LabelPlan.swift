// What `vidar label` will read and where each timeline goes, settled before any work: inputs expanded from
// directories, the output format, and output names that cannot collide.
import Foundation
import Vidar
import VidarStream

struct LabelPlan {
    /// Where one input's timeline goes: a file, or stdout (nil).
    struct Item {
        let input: String
        let output: String?
    }

    let items: [Item]
    let format: TimelineFormat
    /// The directory outputs are named into (nil: one output file, or stdout).
    let directory: String?
    /// Inputs that named nothing to label (an empty directory), each with its reason.
    let unusable: [(input: String, error: VidarError)]
    /// How many inputs there were before sharding.
    let shardedFrom: Int

    /// Video file name patterns a directory is searched for when no --glob is given.
    static let defaultGlobs = ["*.mp4", "*.m4v", "*.mov", "*.mkv", "*.webm", "*.avi", "*.ts", "*.mts", "*.m2ts", "*.mpg",
                               "*.mpeg", "*.flv", "*.wmv", "*.3gp", "*.ogv", "*.mjpeg", "*.h264", "*.hevc"]

    /// `nameSuffix` goes between an output's name and its extension (a time range's); with a `shard`, only the
    /// inputs of that shard remain, named as they would be without sharding (so every worker agrees).
    init(inputs positionals: [String], output: String?, format requested: TimelineFormat?, recursive: Bool,
         globs: [String], nameSuffix: String? = nil, shard: Shard? = nil) throws {
        let all = try LabelPlan(inputs: positionals, output: output, format: requested, recursive: recursive, globs: globs, nameSuffix: nameSuffix)
        guard let shard else { self = all; return }
        items = all.items.filter { shard.contains($0.input) }
        unusable = all.unusable.filter { shard.contains($0.input) }
        format = all.format
        directory = all.directory
        shardedFrom = all.items.count + all.unusable.count
    }

    private init(inputs positionals: [String], output: String?, format requested: TimelineFormat?, recursive: Bool,
                 globs: [String], nameSuffix: String?) throws {
        var inputs: [String] = []
        // The directory each input's output name is relative to: a file's own directory, or the directory input
        // it was found in (so library/2024/x.mp4 found under library/ is named 2024/x.mp4).
        var roots: [String] = []
        var unusable: [(String, VidarError)] = []
        var sawDirectory = false
        for p in positionals {
            var isDirectory: ObjCBool = false
            guard !Self.isURL(p), FileManager.default.fileExists(atPath: p, isDirectory: &isDirectory), isDirectory.boolValue else {
                inputs.append(p)
                roots.append(Self.isURL(p) ? "" : URL(fileURLWithPath: p).deletingLastPathComponent().path)
                continue
            }
            sawDirectory = true
            let found = Self.videoFiles(in: p, recursive: recursive, globs: globs.isEmpty ? Self.defaultGlobs : globs)
            if found.isEmpty {
                let patterns = (globs.isEmpty ? ["video file extensions"] : globs).joined(separator: ", ")
                unusable.append((p, VidarError(.notFound, "\(p): no files matching \(patterns)\(recursive ? "" : " (--recursive searches subdirectories)")")))
            }
            inputs += found
            roots += Array(repeating: p, count: found.count)
        }
        self.unusable = unusable
        shardedFrom = inputs.count + unusable.count

        // Output format: --format, else what -o's extension says, else JSON.
        let toDirectory = output.map { o in
            var isDirectory: ObjCBool = false
            return o.hasSuffix("/") || (FileManager.default.fileExists(atPath: o, isDirectory: &isDirectory) && isDirectory.boolValue)
                || positionals.count > 1 || sawDirectory
        } ?? false
        let format = requested ?? (output.flatMap { toDirectory || $0 == "-" ? nil : TimelineFormat(pathExtension: $0) } ?? .json)
        self.format = format

        guard let output, output != "-" else {
            if inputs.count + unusable.count > 1 && !format.concatenates {
                throw UsageError("\(format.rawValue) holds one video's timeline: with several inputs, write one file each with -o DIR/")
            }
            items = inputs.map { Item(input: $0, output: nil) }
            directory = nil
            return
        }
        guard toDirectory else {
            items = inputs.map { Item(input: $0, output: output) }
            directory = nil
            return
        }
        var exists: ObjCBool = false
        if !output.hasSuffix("/"), !FileManager.default.fileExists(atPath: output, isDirectory: &exists), TimelineFormat(pathExtension: output) != nil {
            throw UsageError("-o \(output) names a file, but there are several inputs: give a directory (-o DIR/)")
        }
        do {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        } catch {
            throw VidarError(.cannotCreate, "\(output): cannot create the output directory (\(FileErrors.describe(error)))")
        }
        let names = Self.outputNames(for: inputs, roots: roots, extension: (nameSuffix ?? "") + "." + format.fileExtension)
        var seen: [String: String] = [:]
        for (input, name) in zip(inputs, names) {
            if let other = seen[name] {
                throw UsageError("\(other) and \(input) would both be written to \(name): give each input once, or label them into separate directories")
            }
            seen[name] = input
        }
        directory = output
        items = zip(inputs, names).map { Item(input: $0, output: URL(fileURLWithPath: output).appendingPathComponent($1).path) }
    }

    static func isURL(_ s: String) -> Bool { s.contains("://") || s.hasPrefix("pipe:") }

    /// Output names: each input's path relative to the common directory of the inputs (a file counts as its
    /// directory, a directory input as itself), plus `ext` (".json": a/clip.mp4 and b/clip.mp4 → a/clip.mp4.json and
    /// b/clip.mp4.json); URLs by host and path.
    static func outputNames(for inputs: [String], roots: [String], extension ext: String) -> [String] {
        let local = zip(inputs, roots).filter { !isURL($0.0) }.map { URL(fileURLWithPath: $0.1).standardizedFileURL.pathComponents }
        var common = local.first ?? []
        for parts in local.dropFirst() {
            common = Array(zip(common, parts).prefix { $0 == $1 }.map(\.0))
        }
        return inputs.map { input in
            if isURL(input) {
                let u = URL(string: input)
                let raw = [u?.host, u?.path].compactMap { $0 }.joined(separator: "/")
                let safe = raw.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? String($0) : "_" }.joined()
                return (safe.isEmpty ? "stream" : safe) + ext
            }
            let parts = URL(fileURLWithPath: input).standardizedFileURL.pathComponents
            return parts.dropFirst(common.count).joined(separator: "/") + ext
        }
    }

    /// Files under `directory` whose names match one of `globs`, sorted; subdirectories (not hidden ones) only when
    /// recursive. Paths keep the form the directory was given in.
    static func videoFiles(in directory: String, recursive: Bool, globs: [String]) -> [String] {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        var found: [String] = []
        var queue = [base]
        while let dir = queue.popLast() {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                let path = dir + "/" + name
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
                if isDirectory.boolValue {
                    if recursive && !name.hasPrefix(".") { queue.append(path) }
                } else if globs.contains(where: { fnmatch($0, name, caseFold) == 0 }) {
                    found.append(path)
                }
            }
        }
        return found.sorted()
    }

    /// glibc's FNM_CASEFOLD (a GNU extension the module map does not export).
    static let caseFold: Int32 = 1 << 4
}
