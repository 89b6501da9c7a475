// Typed reads of configuration nodes. Every error names the file, line and column of the value (or, for an API
// request body, just the key), and what was expected.
import Foundation
import Vidar
import VidarYAML

struct ConfigReader {
    /// nil for JSON request bodies, which have no lines to point at.
    let path: String?

    func error(_ node: YAMLNode, _ message: String) -> ServeConfigError {
        guard let path else { return ServeConfigError(description: message) }
        return ServeConfigError(description: "\(path):\(node.mark): \(message)")
    }

    /// A mapping's entries in order, with string keys; keys outside `keys` (when given) are errors with a
    /// did-you-mean, and so are repeated keys.
    func mapping(_ node: YAMLNode, keys: [String]?) throws -> [(String, YAMLNode)] {
        guard case .mapping(let pairs, _) = node else { throw error(node, "expected a mapping (key: value lines)") }
        var seen = Set<String>()
        var out: [(String, YAMLNode)] = []
        for (k, v) in pairs {
            guard let key = k.scalar else { throw error(k, "keys must be plain names") }
            if let keys, !keys.contains(key) {
                let hint = Suggestion.closest(to: key, in: keys).map { "; did you mean '\($0)'?" } ?? ""
                throw error(k, "unknown key '\(key)'\(hint)")
            }
            guard seen.insert(key).inserted else { throw error(k, "'\(key)' is given twice") }
            out.append((key, v))
        }
        return out
    }

    func string(_ node: YAMLNode) throws -> String {
        guard let s = node.scalar, !node.isNull else { throw error(node, "expected a value") }
        return s
    }

    func int(_ node: YAMLNode, _ range: ClosedRange<Int>) throws -> Int {
        guard let s = node.scalar, let v = Int(s), range.contains(v) else {
            throw error(node, "expected an integer in \(range.lowerBound)...\(range.upperBound), got '\(node.scalar ?? "a collection")'")
        }
        return v
    }

    func double(_ node: YAMLNode, _ range: ClosedRange<Double>) throws -> Double {
        guard let s = node.scalar, let v = Double(s), v.isFinite, range.contains(v) else {
            throw error(node, "expected a number in \(range.lowerBound.formatted())...\(range.upperBound.formatted()), got '\(node.scalar ?? "a collection")'")
        }
        return v
    }

    func bool(_ node: YAMLNode) throws -> Bool {
        switch node.scalar?.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(node, "expected true or false, got '\(node.scalar ?? "a collection")'")
        }
    }

    func choice(_ node: YAMLNode, _ choices: [String]) throws -> String {
        let s = try string(node)
        guard choices.contains(s) else { throw error(node, "expected one of \(choices.joined(separator: ", ")), got '\(s)'") }
        return s
    }

    /// `events:` — a list of sink URLs (`stdout`, `file:PATH`, `mqtt://…`, `mqtts://…`, `http(s)://…`), or
    /// `{file: PATH}` entries.
    func sinks(_ node: YAMLNode) throws -> [String] {
        guard case .sequence(let items, _) = node else { throw error(node, "expected a list of sinks (stdout, file:PATH, mqtt://…, http(s)://…)") }
        return try items.map { item in
            if case .mapping = item {
                let entry = try mapping(item, keys: ["file"])
                guard let (_, path) = entry.first else { throw error(item, "expected file: PATH") }
                return "file:" + (try string(path))
            }
            let url = try string(item)
            let known = url == "stdout" || url == "-" || (url.hasPrefix("file:") && url.count > 5)
                || ["mqtt://", "mqtts://", "http://", "https://"].contains { url.hasPrefix($0) && url.count > $0.count }
            guard known else {
                throw error(item, "unknown sink '\(Redaction.redact(url))' (stdout, file:PATH, mqtt://…, mqtts://…, http(s)://…)")
            }
            return url
        }
    }

    /// One stream setting (top-level default or per-stream override).
    func setting(_ key: String, _ node: YAMLNode, into target: inout (settings: StreamSettings, live: ServeConfig.Live)) throws {
        switch key {
        case "fps": target.settings.fps = try double(node, 0.01...1000)
        case "clip_len": target.settings.clipLength = try int(node, 1...1024)
        case "stride": target.settings.stride = try int(node, 1...4096)
        case "smooth":
            guard let s = StreamSettings.smoothing(parsing: try string(node)) else {
                throw error(node, "smooth must be none, ma:K or ema:ALPHA, got '\(node.scalar ?? "")'")
            }
            target.settings.smoothing = s
        case "threshold": target.settings.threshold = try double(node, 0...1)
        case "exit_threshold": target.settings.exitThreshold = try double(node, 0...1)
        case "class_thresholds":
            for (name, p) in try mapping(node, keys: nil) { target.settings.classThresholds[name] = try double(p, 0...1) }
        case "margin": target.settings.margin = try double(node, 0...1)
        case "patience": target.settings.patience = try int(node, 1...1000)
        case "min_duration": target.settings.minDuration = try double(node, 0...86400)
        case "topk": target.settings.topK = try int(node, 1...100)
        case "timeout": target.live.timeout = try double(node, 0.1...3600)
        case "stall_timeout": target.live.stallTimeout = try double(node, 0.5...3600)
        case "update_interval": target.live.updateInterval = node.isNull ? nil : try double(node, 0.1...86400)
        case "max_retries": target.live.maxRetries = node.isNull ? nil : try int(node, 0...1_000_000)
        case "decode_threads": target.live.decodeThreads = try int(node, 0...64)
        default: throw error(node, "unknown key '\(key)'")
        }
    }

    func stream(name: String, _ node: YAMLNode, defaults: (settings: StreamSettings, live: ServeConfig.Live),
                mark: YAMLMark) throws -> ServeConfig.Stream {
        guard RunID.isValidStreamName(name) else { throw error(node, "stream name '\(name)' must match [a-z0-9_-]+ (at most 64)") }
        var target = defaults
        var stream = ServeConfig.Stream(name: name, url: "")
        for (key, value) in try mapping(node, keys: ServeConfig.streamKeys) {
            switch key {
            case "url": stream.url = try string(value)
            case "input_format": stream.inputFormat = try string(value)
            case "input_options":
                for (k, v) in try mapping(value, keys: nil) { stream.inputOptions[k] = try string(v) }
            case "enabled": stream.enabled = try bool(value)
            default: try setting(key, value, into: &target)
            }
        }
        guard !stream.url.isEmpty else { throw error(node, "stream '\(name)' needs a url") }
        if let problem = target.settings.validationError { throw error(node, "stream '\(name)': \(problem)") }
        stream.settings = target.settings
        stream.live = target.live
        return stream
    }
}
