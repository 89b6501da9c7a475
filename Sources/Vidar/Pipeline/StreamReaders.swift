// The decode thread of a ClipStream: a file read once, or a live source read for as long as it lasts. Both end
// by closing the ring; what went wrong is left in the producer state for `run` to report.
import Foundation
import Synchronization
import VidarVideo

extension ClipStream {
    /// A file: open, decode every frame, pad the tail; a failure ends the stream and is reported by `run`.
    func readFile(_ path: String) {
        var sourceOptions = options.source
        sourceOptions.stopToken = stopToken
        do {
            let source = try MediaSource(url: path, options: sourceOptions)
            setInfo(source.info)
            var builder = ClipBuilder(options: options.sampling)
            while !isStopped, let frame = try source.nextFrame() {
                statistics.decoded(frames: source.framesDecoded, corrupt: source.corruptFrames)
                for clip in builder.push(frame) where !isStopped {
                    guard ring.push(.clip(prepare(clip, startArrival: 0, arrival: 0))) else { return }
                }
            }
            statistics.decoded(frames: source.framesDecoded, corrupt: source.corruptFrames)
            statistics.lastFrameTime(source.lastFrameTime)
            if let last = source.lastFrameTime {
                let end = last + 1 / (source.info.frameRate ?? 25)
                producer.withLock { $0.videoEnd = min(end, source.info.duration ?? end) }
            }
            guard !isStopped else { return }
            for clip in builder.finish() {
                if clip.padded { statistics.paddedClip(repeatedFrames: clip.repeatedFrames, start: clip.start, end: clip.end) }
                guard ring.push(.clip(prepare(clip, startArrival: 0, arrival: 0))) else { return }
            }
        } catch {
            if !isStopped { recordFailure(error) }
        }
    }

    /// A live source: connect, read, lose, back off, reconnect, until stopped, out of retries, or (files and pipes)
    /// at the end. Stream time is the wall time of a connection's first frame plus the PTS elapsed since, so an
    /// outage shows as a jump. An error that retrying cannot mend, met before the first connection, ends the
    /// stream at once: a typo'd path or URL is reported, not retried forever.
    func readLive(_ url: String, _ live: LiveOptions) {
        var failures = 0
        var lostAt: Double?
        var lastStreamTime = 0.0, lastGap = 0.04
        var everConnected = false
        var sourceOptions = options.source
        sourceOptions.stopToken = stopToken
        // Decoded-frame index → seconds since startWall when it arrived, for the clips' first frames.
        var arrivals = [(index: Int, at: Double)](repeating: (-1, 0), count: 1024)
        while !isStopped {
            var reason = "end of stream"
            var reachedEnd = false
            // A loop starting its file over is not news.
            if !(everConnected && live.atEnd == .loop && failures == 0) { output(.source(.connecting(attempt: failures + 1))) }
            do {
                let source = try MediaSource(url: url, options: sourceOptions)
                if isStopped { return }
                setInfo(source.info)
                var builder = ClipBuilder(options: options.sampling)
                var offset: Double?
                var firstPTS = 0.0
                while let frame = try source.nextFrame() {
                    if offset == nil {
                        let now = Date().timeIntervalSince(startWall)
                        offset = max(now, lastStreamTime + (everConnected ? lastGap : 0))
                        firstPTS = frame.time
                        let looping = everConnected && live.atEnd == .loop && lostAt == nil
                        if let lost = lostAt { ring.push(.restored(at: offset!, wall: now, gap: offset! - lost)) }
                        lostAt = nil
                        failures = 0
                        everConnected = true
                        statistics.connected(true)
                        if !looping { output(.source(.connected(source.info))) }
                    }
                    let t = offset! + frame.time - firstPTS
                    if live.realtime { sleepUntil(t) }
                    if isStopped { return }
                    let now = Date().timeIntervalSince(startWall)
                    if t > lastStreamTime { lastGap = min(1, t - lastStreamTime) }
                    lastStreamTime = t
                    statistics.frameArrived()
                    arrivals[frame.index % arrivals.count] = (frame.index, now)
                    let timed = VideoFrame(width: frame.width, height: frame.height, rgb: frame.rgb, time: t, index: frame.index)
                    for clip in builder.push(timed) {
                        let first = clip.frames[0].index
                        let slot = arrivals[first % arrivals.count]
                        let startArrival = slot.index == first ? slot.at : now - (clip.end - clip.start)
                        guard ring.push(.clip(prepare(clip, startArrival: startArrival, arrival: now))) else { return }
                    }
                }
                reachedEnd = true
                // A file or pipe that ends is labelled to its last frame: its tail becomes a padded clip.
                if live.atEnd == .finish {
                    let now = Date().timeIntervalSince(startWall)
                    for clip in builder.finish() {
                        guard ring.push(.clip(prepare(clip, startArrival: now, arrival: now))) else { return }
                    }
                }
            } catch let e as VideoError {
                if !everConnected && e.isPermanent && live.failFast { recordFailure(e); return }
                reason = Redaction.scrub(e.reason)
            } catch {
                reason = Redaction.scrub("\(error)")
            }
            if isStopped { return }
            if reachedEnd && live.atEnd == .finish {
                producer.withLock { $0.endedAtEOF = true }
                output(.source(.ended))
                return
            }
            if reachedEnd && live.atEnd == .loop { continue }
            failures += 1
            let now = Date().timeIntervalSince(startWall)
            let at = max(now, lastStreamTime)
            if lostAt == nil { lostAt = at }
            statistics.disconnected()
            if let max = live.reconnect.maxRetries, failures > max {
                producer.withLock { $0.gaveUp = true }
                ring.push(.lost(at: at, wall: now, reason: reason + "; giving up after \(max) retries", retryIn: nil))
                return
            }
            let delay = live.reconnect.delay(afterFailures: failures)
            // One stream_lost per outage: failed reconnections during it are not news.
            if failures == 1 { ring.push(.lost(at: at, wall: now, reason: reason, retryIn: delay)) }
            sleepUntil(Date().timeIntervalSince(startWall) + delay)
        }
    }

    /// Sleeps until `t` seconds after `startWall`, waking early when the stream is stopped.
    private func sleepUntil(_ t: Double) {
        while !isStopped {
            let left = t - Date().timeIntervalSince(startWall)
            guard left > 0 else { return }
            usleep(useconds_t(min(left, 0.02) * 1e6))
        }
    }

    private func setInfo(_ info: StreamInfo) { producer.withLock { $0.info = info } }

    private func recordFailure(_ error: any Error) { producer.withLock { $0.failure = error } }

    private func prepare(_ clip: Clip, startArrival: Double, arrival: Double) -> PreparedClip {
        PreparedClip(start: clip.start, end: clip.end, repeatedFrames: clip.repeatedFrames,
                     tensor: model.preprocessing.transform.apply(clip.frames).data, startArrival: startArrival, arrival: arrival)
    }
}

/// Recent stream times with the wall time (seconds since the stream started) each arrived: segment boundaries are
/// clip boundaries, so their UTC stamps are looked up here rather than computed from timestamps.
final class WallClockMap: Sendable {
    private static let capacity = 512
    private let entries = Mutex<[(time: Double, wall: Double)]>([])

    func record(_ time: Double, arrived wall: Double) {
        entries.withLock { e in
            if e.count == Self.capacity { e.removeFirst(Self.capacity / 4) }
            e.append((time, wall))
        }
    }

    /// When `time` arrived: its own entry, else the nearest one shifted by the difference, else `time` itself.
    func arrival(of time: Double) -> Double {
        entries.withLock { e in
            guard let nearest = e.min(by: { abs($0.time - time) < abs($1.time - time) }) else { return time }
            return nearest.wall + (time - nearest.time)
        }
    }
}
