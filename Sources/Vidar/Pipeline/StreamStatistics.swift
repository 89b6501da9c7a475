// A stream's counters, written by its decode and inference threads and read by anyone (stats events, progress,
// the service's metrics). Interval figures (rates, latency percentiles) restart at each stats event.
import Foundation
import Synchronization
import VidarVideo
import VidarStream

public final class StreamStatistics: Sendable {
    public struct Snapshot: Sendable {
        public var framesDecoded = 0
        public var corruptFrames = 0
        public var clips = 0
        /// Failed connection attempts (live streams).
        public var reconnects = 0
        public var connected = false
        /// The last clip was padded: the video was shorter than one clip, or this was its tail.
        public var paddedClip = false
        /// The padded clip's repeats and the stretch it labels.
        public var padding: (repeatedFrames: Int, start: Double, end: Double)?
        /// Timestamp of the last decoded frame (files).
        public var lastFrameTime: Double?
        /// Where a file's timestamps jumped further than SampledFrames.maxFrameGap: decoding ended there.
        public var timestampJump: SampledFrames.Jump?
        /// Wall time of the last decoded frame (live streams).
        public var lastFrame: Date?
    }

    private struct State {
        var snapshot = Snapshot()
        /// Frame arrival → events, seconds, over the current interval (the newest `latencyWindow` kept).
        var latencies: [Double] = []
        var intervalFrames = 0
        var intervalClips = 0
    }

    private static let latencyWindow = 4096
    private let state = Mutex(State())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0.snapshot } }

    func decoded(frames: Int, corrupt: Int) {
        state.withLock { $0.snapshot.framesDecoded = frames; $0.snapshot.corruptFrames = corrupt }
    }

    func frameArrived() {
        state.withLock { $0.snapshot.framesDecoded += 1; $0.snapshot.lastFrame = Date() }
    }

    func connected(_ up: Bool) { state.withLock { $0.snapshot.connected = up } }

    func disconnected() {
        state.withLock { $0.snapshot.connected = false; $0.snapshot.reconnects += 1 }
    }

    func paddedClip(repeatedFrames: Int, start: Double, end: Double) {
        state.withLock { $0.snapshot.paddedClip = true; $0.snapshot.padding = (repeatedFrames, start, end) }
    }

    func lastFrameTime(_ t: Double?) { state.withLock { $0.snapshot.lastFrameTime = t } }

    func timestampJump(_ jump: SampledFrames.Jump) { state.withLock { $0.snapshot.timestampJump = jump } }

    func clipInferred(latency: Double) {
        state.withLock {
            $0.snapshot.clips += 1
            if $0.latencies.count == Self.latencyWindow { $0.latencies.removeFirst() }
            $0.latencies.append(latency)
        }
    }

    /// The stats event for the interval just ended, which starts the next one.
    func takeInterval(interval: Double, uptime: Double, dropped: Int) -> StreamEvent {
        let (s, latencies, frames, clips) = state.withLock { st in
            defer {
                st.latencies.removeAll(keepingCapacity: true)
                st.intervalFrames = st.snapshot.framesDecoded
                st.intervalClips = st.snapshot.clips
            }
            return (st.snapshot, st.latencies.sorted(), st.snapshot.framesDecoded - st.intervalFrames,
                    st.snapshot.clips - st.intervalClips)
        }
        func percentile(_ p: Double) -> Double? {
            latencies.isEmpty ? nil : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] * 1000
        }
        return .stats(.init(uptime: uptime, utc: utcString(Date()), connected: s.connected,
                            decodedFps: Double(frames) / interval, clipsPerSecond: Double(clips) / interval,
                            framesDecoded: s.framesDecoded, clips: s.clips, droppedClips: dropped, reconnects: s.reconnects,
                            latencyMs: .init(p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99),
                                             max: latencies.last.map { $0 * 1000 })))
    }
}
