// `vidar serve`'s configuration: one YAML file for the model, the service and every stream, read strictly
// (unknown keys, wrong types and out-of-range values are errors naming file, line and column; a misspelt key gets a
// did-you-mean). Streams inherit the top-level stream settings and may override any of them.
import Foundation
import Vidar
import VidarYAML

public struct ServeConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

public struct ServeConfig: Sendable {
    /// How a live stream is read: timeouts, updates, retries.
    public struct Live: Sendable, Equatable {
        /// Bound on every blocking open or read.
        public var timeout = 10.0
        /// No decoded frame for this long, though the connection stays open, counts as lost (`stalled`).
        public var stallTimeout = 10.0
        /// An open segment reports a segment_update at least this often.
        public var updateInterval: Double? = 30
        public var maxRetries: Int?
        public var decodeThreads = 1
    }

    public struct Stream: Sendable, Equatable {
        public var name: String
        public var url: String
        public var inputFormat: String?
        public var inputOptions: [String: String] = [:]
        public var enabled = true
        public var settings = StreamSettings()
        public var live = Live()
    }

    public var path = ""
    public var model = ModelRegistry.bundledName
    public var labels: String?
    public var backend = "auto"
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    public var precision = "fp32"
    public var listen = "127.0.0.1:8710"
    public var tokenFile: String?
    /// Where events go, each a sink URL (`stdout`, `file:PATH`, `mqtt://…`, `mqtts://…`, `http(s)://…`).
    public var events = ["stdout"]
    /// The durable spool's directory; nil: the default (under $XDG_STATE_HOME) when a network sink is configured.
    public var spool: String?
    /// `spool: none` turns it off (events not yet delivered die with the process).
    public var spoolDisabled = false
    public var spoolMaxBytes = 256 << 20
    public var spoolSyncInterval = 1.0
    /// Seconds SIGTERM waits for sinks to deliver what they hold (the rest stays in the spool).
    public var flushTimeout = 5.0
    /// Clips per network call: across streams with one inference loop, one stream's with several.
    public var maxBatch = 4
    /// Inference loops sharing `threads` compute threads and the one model (InferenceScheduler.Options.workers);
    /// nil: `auto`.
    public var inferenceWorkers: Int?
    /// `auto`: two loops whenever there are two compute threads for them. Measured on 2 cores with 720p25 cameras:
    /// 12 streams instead of 10 with the bundled model, 5 instead of 4 with r3d_18 at bf16; one stream alone waits
    /// longer for its clip (one thread instead of two), which a single camera can afford.
    public var workers: Int { min(inferenceWorkers ?? (threads >= 2 ? 2 : 1), threads) }
    /// Milliseconds a partial batch may wait for more clips (one inference loop; several never wait).
    public var batchWaitMs = 20.0
    /// /livez fails when the inference loop has shown no sign of life for this many seconds.
    public var livenessTimeout = 30.0
    /// Recent events kept for GET /api/events.
    public var eventBuffer = 1000
    public var statsInterval = 10.0
    public var streams: [Stream] = []

    /// The listen address split into host and port.
    public var listenAddress: (host: String, port: Int)? { Self.splitAddress(listen) }

    static func splitAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    public init() {}

    /// Reads and checks a configuration file.
    public static func load(path: String) throws -> ServeConfig {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ServeConfigError(description: "\(path): cannot read the configuration (\(FileManager.default.fileExists(atPath: path) ? "not readable UTF-8 text" : "no such file"))")
        }
        return try parse(text, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> ServeConfig {
        let root: YAMLNode
        do {
            guard let parsed = try YAML.parse(text) else { throw ServeConfigError(description: "\(path): empty configuration (it needs at least `streams:`)") }
            root = parsed
        } catch let e as YAMLError {
            throw ServeConfigError(description: "\(path):\(e.mark): \(e.message)")
        }
        var config = ServeConfig()
        config.path = path
        let r = ConfigReader(path: path)
        let top = try r.mapping(root, keys: topKeys + settingKeys)
        var defaults = (settings: StreamSettings(), live: Live())
        for (key, node) in top {
            switch key {
            case "model": config.model = try r.string(node)
            case "labels": config.labels = try r.string(node)
            case "backend": config.backend = try r.choice(node, ["auto"] + Backends.names)
            case "threads": config.threads = try r.int(node, 1...256)
            case "precision": config.precision = try r.choice(node, Precision.choices)
            case "listen":
                config.listen = try r.string(node)
                guard config.listenAddress != nil else { throw r.error(node, "listen must be HOST:PORT (e.g. 127.0.0.1:8710), got '\(config.listen)'") }
            case "token_file": config.tokenFile = try r.string(node)
            case "events": config.events = try r.sinks(node)
            case "max_batch": config.maxBatch = try r.int(node, 1...64)
            case "inference_workers": config.inferenceWorkers = node.scalar == "auto" ? nil : try r.int(node, 1...64)
            case "batch_wait_ms": config.batchWaitMs = try r.double(node, 0...1000)
            case "liveness_timeout": config.livenessTimeout = try r.double(node, 1...3600)
            case "event_buffer": config.eventBuffer = try r.int(node, 10...1_000_000)
            case "stats_interval": config.statsInterval = try r.double(node, 0.1...86400)
            case "spool":
                let v = try r.string(node)
                if v == "none" || v == "false" { config.spoolDisabled = true } else { config.spool = v }
            case "spool_max_bytes": config.spoolMaxBytes = try r.int(node, 1 << 14...(1 << 40))
            case "spool_sync_interval": config.spoolSyncInterval = try r.double(node, 0.01...60)
            case "flush_timeout": config.flushTimeout = try r.double(node, 0...300)
            case "streams": break
            default: try r.setting(key, node, into: &defaults)
            }
        }
        config.defaultSettings = defaults.settings
        config.defaultLive = defaults.live
        if let streams = top.first(where: { $0.0 == "streams" })?.1 {
            for (name, node) in try r.mapping(streams, keys: nil) {
                config.streams.append(try r.stream(name: name, node, defaults: defaults, mark: node.mark))
            }
        }
        return config
    }

    static let topKeys = ["model", "labels", "backend", "threads", "precision", "listen", "token_file", "events", "max_batch",
                          "inference_workers", "batch_wait_ms", "liveness_timeout", "event_buffer", "stats_interval", "spool", "spool_max_bytes",
                          "spool_sync_interval", "flush_timeout", "streams"]

    /// The spool serve uses: the configured directory, else the default one when a sink is remote, else none.
    public var spoolSettings: SpoolSettings? {
        guard !spoolDisabled else { return nil }
        let remote = events.contains { !($0 == "stdout" || $0 == "-" || $0.hasPrefix("file:")) }
        guard spool != nil || remote else { return nil }
        var s = SpoolSettings(directory: spool.map { URL(fileURLWithPath: $0) } ?? SpoolSettings.defaultDirectory("serve"))
        s.maxBytes = spoolMaxBytes
        s.syncInterval = spoolSyncInterval
        return s
    }
    /// Keys a stream may set, and the top level may set for every stream.
    static let settingKeys = ["fps", "clip_len", "stride", "smooth", "threshold", "exit_threshold", "class_thresholds", "margin",
                              "patience", "min_duration", "topk", "timeout", "stall_timeout", "update_interval", "max_retries",
                              "decode_threads"]
    static let streamKeys = ["url", "input_format", "input_options", "enabled"] + settingKeys

    /// A stream given as JSON (POST /api/streams): the same keys as in the file, checked the same way.
    public static func stream(json: Data, defaults config: ServeConfig) throws -> Stream {
        guard case .object(var fields)? = try? JSONDecoder().decode(JSONValue.self, from: json) else {
            throw ServeConfigError(description: "the body must be a JSON object")
        }
        guard case .string(let name)? = fields.removeValue(forKey: "name") else { throw ServeConfigError(description: "name is required (a string)") }
        let node = JSONValue.object(fields).node
        return try ConfigReader(path: nil).stream(name: name, node, defaults: (config.defaultSettings, config.defaultLive), mark: node.mark)
    }

    /// The top-level stream settings the file gave (what new streams inherit).
    public var defaultSettings = StreamSettings()
    public var defaultLive = Live()
}

/// A JSON value, read strictly (a boolean is not a number), to be checked like the YAML it could have been.
enum JSONValue: Decodable {
    case string(String), int(Int), double(Double), bool(Bool), null
    case array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// The node a YAML file would have given: numbers and booleans as plain scalars, strings quoted.
    var node: YAMLNode {
        let mark = YAMLMark(line: 0, column: 0)
        switch self {
        case .string(let s): return .scalar(s, plain: false, mark)
        case .int(let i): return .scalar(String(i), plain: true, mark)
        case .double(let d): return .scalar(String(d), plain: true, mark)
        case .bool(let b): return .scalar(b ? "true" : "false", plain: true, mark)
        case .null: return .scalar("", plain: true, mark)
        case .array(let a): return .sequence(a.map(\.node), mark)
        case .object(let o): return .mapping(o.keys.sorted().map { (key: YAMLNode.scalar($0, plain: false, mark), value: o[$0]!.node) }, mark)
        }
    }
}
