// `vidar serve`: many live streams on one loaded model. Each stream has its own decode thread, drop-oldest ring,
// aggregator, ids and statistics; one inference scheduler batches their ready clips fairly. Streams are added,
// removed and changed while the others run, and every open segment ends — on loss, removal, reload, shutdown.
import Foundation
import Synchronization
import Vidar
import VidarStream
import VidarVideo

public struct ServiceError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case notFound, conflict, invalid }
    public let kind: Kind
    public let description: String
}

public final class Service: Sendable {
    public let model: LoadedModel
    public let modelSHA: String
    public let run = RunID.current
    public let startedAt = Date()
    let hub: EventHub
    let scheduler: InferenceScheduler
    private let backend: ConvolutionBackend
    private let precision: Precision
    private let config: Mutex<ServeConfig>
    private let registry = StreamRegistry()
    private let statsDone = Atomic<Bool>(false)
    /// Called with human-readable lines (stream state changes, reloads) for the service's log.
    private let log: @Sendable (String) -> Void

    public init(config: ServeConfig, log: @escaping @Sendable (String) -> Void) throws {
        Backends.setThreads(config.threads)
        let (backend, precision) = try ComputeChoice.resolve(backend: config.backend, precision: config.precision, setting: "precision")
        self.backend = backend
        model = try Self.check(config)
        try ComputeChoice.check(precision, model: model, setting: "precision")
        modelSHA = (try? SHA256.hex(ofFile: model.path)).map { String($0.prefix(16)) } ?? "unknown"
        hub = try EventHub.make(sinks: config.events, spool: config.spoolSettings, run: run, model: model.network.config.name,
                                log: log, capacity: config.eventBuffer)
        self.config = Mutex(config)
        self.log = log
        var options = InferenceScheduler.Options()
        options.maxBatch = config.maxBatch
        options.batchWait = config.batchWaitMs / 1000
        options.threads = config.threads
        options.workers = config.workers
        options.precision = precision
        self.precision = precision
        let registry = self.registry
        scheduler = InferenceScheduler(model: model, backend: backend, options: options) { clip, result in
            registry.all.first { $0.clip === clip }?.finished(result)
        }
    }

    /// Everything but starting: the model loads, and every stream's settings resolve against it.
    @discardableResult
    public static func check(_ config: ServeConfig) throws -> LoadedModel {
        let model = try ModelLoader.load(config.model, labelsFile: config.labels)
        for s in config.streams {
            do { _ = try s.settings.resolve(for: model) } catch {
                throw ServeConfigError(description: "\(config.path): stream '\(s.name)': \(error)")
            }
        }
        return model
    }

    public var currentConfig: ServeConfig { config.withLock { $0 } }

    /// Starts the scheduler, every enabled stream and the stats timer.
    public func start() {
        scheduler.start()
        for s in currentConfig.streams { try? launch(s) }
        let interval = currentConfig.statsInterval
        Thread.detachNewThread { [self] in
            var next = Date().addingTimeInterval(interval)
            while !statsDone.load(ordering: .relaxed) {
                usleep(100_000)
                guard Date() >= next else { continue }
                next = next.addingTimeInterval(interval)
                for served in registry.all { served.publishStats(interval: interval) }
            }
        }
    }

    // MARK: streams

    public var streamNames: [String] { registry.all.map(\.config.name) }

    func served(_ name: String) -> ServedStream? { registry[name] }

    /// Adds and starts a stream (POST /api/streams).
    public func add(_ s: ServeConfig.Stream) throws {
        guard served(s.name) == nil else { throw ServiceError(kind: .conflict, description: "a stream named '\(s.name)' exists") }
        do { _ = try resolve(s) } catch { throw ServiceError(kind: .invalid, description: "\(error)") }
        try launch(s)
        config.withLock { $0.streams.append(s) }
        log("stream \(s.name): added")
    }

    /// Stops and removes a stream; its open segment ends with `reason`. Waits (a few seconds at most) for its last
    /// events to be published.
    public func remove(_ name: String, reason: StreamEvent.SegmentEnd.Reason = .removed) throws {
        guard let served = served(name) else { throw ServiceError(kind: .notFound, description: "no stream named '\(name)'") }
        served.stop(reason: reason, wait: 5)
        registry.remove(name)
        config.withLock { $0.streams.removeAll { $0.name == name } }
        log("stream \(name): \(reason == .reloaded ? "stopped for reload" : "removed")")
    }

    /// Applies a re-read configuration: added, removed and changed streams; the others are untouched.
    public func reload(_ new: ServeConfig) -> (added: [String], removed: [String], changed: [String]) {
        let old = currentConfig
        let oldByName = Dictionary(old.streams.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let newNames = Set(new.streams.map(\.name))
        var result: (added: [String], removed: [String], changed: [String]) = ([], [], [])
        for s in old.streams where !newNames.contains(s.name) {
            try? remove(s.name)
            result.removed.append(s.name)
        }
        for s in new.streams {
            if let before = oldByName[s.name] {
                guard before != s else { continue }
                try? remove(s.name, reason: .reloaded)
                result.changed.append(s.name)
            } else {
                result.added.append(s.name)
            }
            do { try add(s) } catch { log("stream \(s.name): not started: \(error)") }
        }
        for (key, changed) in [("model", old.model != new.model), ("listen", old.listen != new.listen),
                               ("backend", old.backend != new.backend), ("threads", old.threads != new.threads),
                               ("precision", old.precision != new.precision),
                               ("events", old.events != new.events)] where changed {
            log("reload: '\(key)' changed; it takes effect at the next start")
        }
        config.withLock { c in
            c.defaultSettings = new.defaultSettings
            c.defaultLive = new.defaultLive
            c.tokenFile = new.tokenFile
        }
        hub.reopenSinks()
        return result
    }

    /// Ends every stream (open segments end with `shutdown`), then lets the sinks deliver for at most the
    /// configuration's `flush_timeout`; what they could not is kept in the spool.
    public func shutdown() {
        let all = registry.all
        for s in all { s.stop(reason: .shutdown, wait: 0) }
        for s in all { s.waitFinished(seconds: 5) }
        statsDone.store(true, ordering: .relaxed)
        scheduler.stop()
        hub.close(deadline: currentConfig.flushTimeout)
    }

    // MARK: health

    /// Alive while the inference loop shows signs of life.
    public var liveness: (ok: Bool, reason: String?) {
        let quiet = scheduler.secondsSinceHeartbeat
        let limit = currentConfig.livenessTimeout
        return quiet < limit ? (true, nil) : (false, String(format: "the inference loop has been stuck for %.1f s", quiet))
    }

    /// Ready when the model is loaded and every enabled stream is live.
    public var readiness: (ok: Bool, reasons: [String]) {
        let reasons = statuses.filter(\.enabled).compactMap { s -> String? in
            s.state == .live ? nil : "stream \(s.name): \(s.state.rawValue)" + (s.lastError.map { " (\($0))" } ?? "")
        }
        return (reasons.isEmpty, reasons)
    }

    public var statuses: [StreamStatus] { registry.all.map(\.status) }

    // MARK: internals

    private func resolve(_ s: ServeConfig.Stream) throws -> ClipStreamOptions {
        let (sampling, aggregator) = try s.settings.resolve(for: model)
        var options = ClipStreamOptions(sampling: sampling, aggregator: aggregator)
        options.source.format = s.inputFormat
        options.source.ffmpegOptions = s.inputOptions
        options.source.timeout = s.live.timeout
        options.source.frameTimeout = s.live.stallTimeout
        options.source.decodeThreads = s.live.decodeThreads
        options.updateInterval = s.live.updateInterval
        return options
    }

    private func launch(_ s: ServeConfig.Stream) throws {
        let options = try resolve(s)
        let served = ServedStream(config: s, hub: hub, run: run, log: log)
        if !s.enabled { hub.setStreamState(s.name, "disabled") }
        if s.enabled {
            // A local file stands in for a camera: it plays in real time and starts over at its end.
            let isFile = !s.url.contains("://") && !s.url.hasPrefix("/dev/") && !s.url.hasPrefix("pipe:") && s.inputFormat == nil
            let live = LiveOptions(reconnect: Reconnect(maxRetries: s.live.maxRetries), atEnd: isFile ? .loop : .reconnect,
                                   realtime: isFile, failFast: false)
            let scheduler = self.scheduler
            let clip = try ClipStream(input: .live(s.url, live), model: model, options: options,
                                      segmentIDPrefix: "\(run)-\(s.name)-seg-", onReady: { scheduler.ring() }) { [weak served] output in
                served?.handle(output)
            }
            served.attach(clip)
        }
        registry.insert(served)
        if let clip = served.clip {
            served.publish(.streamStarted(.init(source: Redaction.redact(s.url), utc: utcString(Date()), vidarVersion: Installation.version,
                                                model: model.network.config.name, modelSha256Prefix: modelSHA,
                                                samplingFps: options.sampling.fps, clipLength: options.sampling.clipLength,
                                                stride: options.sampling.stride, aggregator: options.aggregator,
                                                precision: precision.rawValue)))
            scheduler.add(clip)
        }
    }
}

/// The service's streams by name, in the order they were added.
final class StreamRegistry: Sendable {
    private let streams = Mutex<[ServedStream]>([])

    var all: [ServedStream] { streams.withLock { $0 } }
    subscript(name: String) -> ServedStream? { streams.withLock { $0.first { $0.config.name == name } } }
    func insert(_ s: ServedStream) { streams.withLock { $0.removeAll { $0.config.name == s.config.name }; $0.append(s) } }
    func remove(_ name: String) { streams.withLock { $0.removeAll { $0.config.name == name } } }
}
