// The decode thread of a ClipStream: a file read once, or a live source read for as long as it lasts. Both end
// by closing the ring; what went wrong is left in the producer state for `run` to report.
import Foundation
import Synchronization
import VidarVideo

extension ClipStream {
    /// The source options with this stream's stop token and the model's resize: every frame is resized as it is
    /// decoded (what the transform does first, byte for byte), so the stream never holds more than the full-size
    /// frame being converted.
    private var decodeOptions: SourceOptions {
        var o = options.source
        o.stopToken = stopToken
        o.resize = model.preprocessing.transform.frameResize
        return o
    }

    /// A file: open, decode every frame, convert the sampled ones, pad the tail; a failure ends the stream and is
    /// reported by `run`. With a time range, only the clips of a full pass that start inside it, from the same
    /// frames (see `positioned`).
    func readFile(_ path: String) {
        let sourceOptions = decodeOptions
        do {
            let source = try MediaSource(url: path, options: sourceOptions)
            setInfo(source.info)
            var (frames, first, clipLimit) = try positioned(source, path: path)
            var builder = ClipBuilder(options: options.sampling)
            var emitted = 0
            var jump: SampledFrames.Jump?
            while !isStopped && jump == nil {
                let sampled: [VideoFrame]
                if let f = first {
                    sampled = try frames.take(f)
                    first = nil
                } else {
                    guard let step = try frames.next() else { break }
                    sampled = step.sampled
                }
                // A jump ends the file there (a warning says so): what follows has no place on this timeline.
                jump = frames.jump
                statistics.decoded(frames: source.framesDecoded, corrupt: source.corruptFrames)
                for frame in sampled where !isStopped {
                    guard let clip = builder.push(sampled: frame) else { continue }
                    guard ring.push(.clip(prepare(clip, startArrival: 0, arrival: 0))) else { return }
                    emitted += 1
                    // The range's last clip is done: the rest of the video belongs to the next range.
                    if let clipLimit, emitted >= clipLimit { producer.withLock { $0.stoppedAtRangeEnd = true }; return }
                }
            }
            statistics.decoded(frames: source.framesDecoded, corrupt: source.corruptFrames)
            if let jump { statistics.timestampJump(jump) }
            let lastFrameTime = jump?.from ?? source.lastFrameTime
            statistics.lastFrameTime(lastFrameTime)
            if let last = lastFrameTime {
                let end = last + 1 / (source.info.frameRate ?? 25)
                producer.withLock { $0.videoEnd = min(end, source.info.duration ?? end) }
            }
            guard !isStopped else { return }
            for clip in try jump == nil ? Self.tail(&frames, &builder) : builder.finish() {
                if clip.padded { statistics.paddedClip(repeatedFrames: clip.repeatedFrames, start: clip.start, end: clip.end) }
                guard ring.push(.clip(prepare(clip, startArrival: 0, arrival: 0))) else { return }
            }
        } catch {
            if !isStopped { recordFailure(error) }
        }
    }

    /// The clips the end of the stream settles: the last sampling times, then the padded tail.
    private static func tail(_ frames: inout SampledFrames, _ builder: inout ClipBuilder,
                             time: (VideoFrame) -> VideoFrame = { $0 }) throws -> [Clip] {
        try frames.finish().compactMap { builder.push(sampled: time($0)) } + builder.finish()
    }

    /// Where reading starts. Without a range: the first frame. With one: the first frame fixes the clip grid's
    /// origin (as in a full pass), the source seeks to the last keyframe at or before the range's first clip,
    /// and sampling continues the full pass's grid from there, so each clip has exactly a full pass's frames.
    /// Returns the sampler, a frame already decoded that it must take first, and how many clips the range has.
    private func positioned(_ source: MediaSource, path: String) throws -> (SampledFrames, DecodedFrame?, Int?) {
        let sampling = options.sampling
        guard let range = options.range else { return (SampledFrames(source: source, options: sampling), nil, nil) }
        guard let first = try source.decodeNext() else { throw VidarError(.invalidData, "\(path): no video frame") }
        guard let k0 = ClipBuilder.firstClip(atOrAfter: range.start, origin: first.time, options: sampling),
              let sampleStart = ClipBuilder.clipStart(k0, origin: first.time, options: sampling) else {
            throw VidarError(.invalidRequest, "\(path): a time range needs a sampling rate (--fps)")
        }
        let k1 = range.end.flatMap { ClipBuilder.firstClip(atOrAfter: $0, origin: first.time, options: sampling) }
        if let k1, k1 <= k0 {
            throw VidarError(.invalidRequest, String(format: "%@: no clip starts in %.3f–%.3f s (clips start every %.3f s)",
                                                     path, range.start, range.end ?? 0, Double(sampling.stride) / sampling.fps!))
        }
        let frames = SampledFrames(source: source, grid: ClipBuilder.grid(options: sampling, origin: first.time, firstClip: k0))
        let limit = k1.map { $0 - k0 }
        guard k0 > 0 else { return (frames, first, limit) }
        // A seek may land after the target (inexact demuxers): step back until the first frame is at or before it;
        // an input that cannot seek is read on from its start, the grid skipping what comes before.
        var back = 0.0
        while source.seek(to: max(0, sampleStart - back)) {
            guard let f = try source.decodeNext() else { break }
            if f.time <= sampleStart + 1e-6 { return (frames, f, limit) }
            if sampleStart - back <= 0 { break }
            back = back == 0 ? 2 : back * 2
        }
        guard source.seek(to: 0) || source.framesDecoded == 1 else {
            throw VidarError(.ioFailed, "\(path): cannot return to the start after seeking")
        }
        return (frames, source.framesDecoded == 1 ? first : nil, limit)
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
        let sourceOptions = decodeOptions
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
                var frames = SampledFrames(source: source, options: options.sampling)
                var offset: Double?
                var firstPTS = 0.0
                // Sampled frames carry source time; clips carry stream time.
                func streamTime(_ f: VideoFrame) -> VideoFrame { streamTime(f, offset!, firstPTS) }
                func streamTime(_ f: VideoFrame, _ offset: Double, _ firstPTS: Double) -> VideoFrame {
                    VideoFrame(width: f.width, height: f.height, rgb: f.rgb, time: offset + f.time - firstPTS, index: f.index)
                }
                while let (frame, sampled) = try frames.next() {
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
                    // The frames sampled now were decoded before any jump this frame brings: the anchor they came under.
                    let anchor = (offset: offset!, pts: firstPTS)
                    if frames.jump != nil {
                        // The source's clock jumped (a camera reset, a damaged stream): its frames go on right after the
                        // last one, on a new clip grid, instead of a gap of hours to fill or to sleep through.
                        offset = lastStreamTime + lastGap
                        firstPTS = frame.time
                    }
                    let t = offset! + frame.time - firstPTS
                    if live.realtime { sleepUntil(t) }
                    if isStopped { return }
                    let now = Date().timeIntervalSince(startWall)
                    if t > lastStreamTime { lastGap = min(1, t - lastStreamTime) }
                    lastStreamTime = t
                    statistics.frameArrived()
                    arrivals[frame.index % arrivals.count] = (frame.index, now)
                    for clip in sampled.compactMap({ builder.push(sampled: streamTime($0, anchor.offset, anchor.pts)) }) {
                        let first = clip.frames[0].index
                        let slot = arrivals[first % arrivals.count]
                        let startArrival = slot.index == first ? slot.at : now - (clip.end - clip.start)
                        guard ring.push(.clip(prepare(clip, startArrival: startArrival, arrival: now))) else { return }
                    }
                    if frames.jump != nil { builder = ClipBuilder(options: options.sampling) }
                }
                reachedEnd = true
                // A file or pipe that ends is labelled to its last frame: its tail becomes a padded clip.
                if live.atEnd == .finish {
                    let now = Date().timeIntervalSince(startWall)
                    for clip in try Self.tail(&frames, &builder, time: streamTime) {
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
