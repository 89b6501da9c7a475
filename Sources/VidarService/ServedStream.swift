// One stream inside the service: its ClipStream, its event numbering, and the state the API reports (connecting,
// live, lost, disabled; the current segment; the last error).
import Foundation
import Synchronization
import Vidar
import VidarStream
import VidarVideo

public struct StreamStatus: Sendable, Codable {
    public enum State: String, Codable, Sendable { case connecting, live, lost, disabled }

    public struct CurrentSegment: Sendable, Codable {
        public var id: String
        public var label: String
        public var start: Double
        public var startUtc: String
        public var score: Double
    }

    public var name: String
    /// Credentials redacted.
    public var url: String
    public var enabled: Bool
    public var state: State
    public var framesDecoded: Int
    public var clips: Int
    public var droppedClips: Int
    public var reconnects: Int
    /// Over the last stats interval.
    public var decodedFps: Double
    public var clipsPerSecond: Double
    public var lastFrameUtc: String?
    /// Unix time of the last decoded frame.
    public var lastFrameTimestamp: Double?
    public var currentSegment: CurrentSegment?
    public var lastError: String?
}

final class ServedStream: Sendable {
    let config: ServeConfig.Stream
    private let hub: EventHub
    private let log: @Sendable (String) -> Void
    private let clipBox = Mutex<ClipStream?>(nil)
    private let numbering: Mutex<EventNumbering>
    private struct State {
        var state: StreamStatus.State
        var current: StreamStatus.CurrentSegment?
        var lastError: String?
        var decodedFps = 0.0
        var clipsPerSecond = 0.0
    }
    private let state: Mutex<State>
    private let done = DispatchSemaphore(value: 0)
    private let isFinished = Atomic<Bool>(false)

    init(config: ServeConfig.Stream, hub: EventHub, run: String, log: @escaping @Sendable (String) -> Void) {
        self.config = config
        self.hub = hub
        self.log = log
        numbering = Mutex(EventNumbering(stream: config.name, run: run, startingAt: hub.nextSeq(for: config.name)))
        state = Mutex(State(state: config.enabled ? .connecting : .disabled))
        if !config.enabled { isFinished.store(true, ordering: .relaxed); done.signal() }
        // Segments the last run left open (it was killed) end first.
        for end in hub.unterminatedSegments(config.name) { publish(end) }
    }

    var clip: ClipStream? { clipBox.withLock { $0 } }

    func attach(_ clip: ClipStream) { clipBox.withLock { $0 = clip } }

    /// Numbers an event and hands it to the hub, under one lock so the hub sees this stream's events in `seq` order.
    func publish(_ event: StreamEvent) {
        numbering.withLock { hub.publish($0.record(event)) }
    }

    func handle(_ output: StreamOutput) {
        switch output {
        case .event(let e):
            publish(e)
            state.withLock { s in
                switch e {
                case .segmentStart(let p): s.current = .init(id: p.id, label: p.label, start: p.start, startUtc: p.startUtc, score: p.score)
                case .segmentUpdate(let p): s.current?.score = p.score
                case .segmentEnd: s.current = nil
                case .streamLost(let p): s.state = .lost; s.lastError = p.reason
                case .streamRestored: s.state = .live
                default: break
                }
            }
            if case .streamLost(let p) = e { log("stream \(config.name): lost: \(p.reason)") }
            if case .streamRestored(let p) = e { log(String(format: "stream \(config.name): restored after %.1f s", p.gapSeconds)) }
        case .source(.connected(let info)):
            let wasLive = state.withLock { s -> Bool in defer { s.state = .live; s.lastError = nil }; return s.state == .live }
            if !wasLive {
                let fps = info.frameRate.map { String(format: " %.3g fps", $0) } ?? ""
                log("stream \(config.name): connected: \(info.codec) \(info.width)×\(info.height)\(fps)")
            }
        case .source, .clip, .segment:
            break
        }
    }

    func publishStats(interval: Double) {
        guard let clip, !isFinished.load(ordering: .relaxed) else { return }
        let event = clip.statsEvent(interval: interval)
        if case .stats(let p) = event { state.withLock { $0.decodedFps = p.decodedFps; $0.clipsPerSecond = p.clipsPerSecond } }
        publish(event)
    }

    func stop(reason: StreamEvent.SegmentEnd.Reason, wait: Double) {
        clip?.stop(reason: reason)
        if wait > 0 { waitFinished(seconds: wait) }
    }

    func waitFinished(seconds: Double) {
        guard !isFinished.load(ordering: .acquiring) else { return }
        if done.wait(timeout: .now() + seconds) == .success { done.signal() }
    }

    /// The scheduler has served the stream's last clip and closed its last segment.
    func finished(_ result: Result<ClipStream.Outcome, any Error>) {
        if case .failure(let error) = result {
            state.withLock { $0.lastError = "\(error)" }
            log("stream \(config.name): stopped: \(error)")
        }
        isFinished.store(true, ordering: .releasing)
        done.signal()
    }

    var status: StreamStatus {
        let s = state.withLock { $0 }
        let stats = clip?.statistics.snapshot
        return StreamStatus(name: config.name, url: Redaction.redact(config.url), enabled: config.enabled, state: s.state,
                            framesDecoded: stats?.framesDecoded ?? 0, clips: stats?.clips ?? 0, droppedClips: clip?.droppedClips ?? 0,
                            reconnects: stats?.reconnects ?? 0, decodedFps: s.decodedFps, clipsPerSecond: s.clipsPerSecond,
                            lastFrameUtc: stats?.lastFrame.map(utcString), lastFrameTimestamp: stats?.lastFrame?.timeIntervalSince1970,
                            currentSegment: s.current, lastError: s.lastError)
    }
}
