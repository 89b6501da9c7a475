// The one door to FFmpeg: opening any input libavformat/libavdevice opens, reading packets, decoding the
// video stream, converting to RGB24 with swscale. Every blocking call runs under a deadline enforced by
// FFmpeg's interrupt callback, so a dead camera or a stalled socket ends in a timeout, never a hang.
import CFFmpeg
import CFFmpegLog
import Foundation

/// Stops every MediaSource it is given to, at once, including one still connecting (shutdown of a live reader).
/// `@unchecked Sendable`: FFmpeg's interrupt callback (C) reads the flag through a pointer, so it is a C int
/// that is only ever accessed with atomic loads and stores (shim.h), never through Swift.
public final class StopToken: @unchecked Sendable {
    let flag: UnsafeMutablePointer<Int32>
    public init() {
        flag = .allocate(capacity: 1)
        flag.initialize(to: 0)
    }
    deinit { flag.deallocate() }
    public func stop() { vidar_flag_set(flag) }
    public var isStopped: Bool { vidar_flag_get(flag) != 0 }
}

/// How to open an input: an explicit demuxer (`-f`), FFmpeg options (`rtsp_transport=tcp`, `framerate=30`…),
/// the stream to decode, and the timeout for each blocking call.
public struct SourceOptions: Sendable {
    public var stopToken: StopToken?
    /// Seconds allowed between decoded frames once reading (nil: unbounded): a source that keeps sending but yields
    /// no picture counts as stalled.
    public var frameTimeout: Double?
    public var format: String?
    public var ffmpegOptions: [String: String]
    public var streamIndex: Int?
    public var timeout: Double
    public var decodeThreads: Int
    /// Largest picture (width × height) the decoder may allocate, checked before it does: a stream claiming
    /// 16000×16000 is refused at once instead of costing gigabytes. 8192×8192 by default (8K UHD is 7680×4320).
    public var maxPixels: Int = SourceOptions.defaultMaxPixels
    public static let defaultMaxPixels = 8192 * 8192
    /// Applied to every frame as soon as it is converted (the pipeline passes the model's resize): what is held
    /// downstream — the resampler's last frame, a clip's frames — is then the network's size, not the video's.
    public var resize: FrameResize?
    /// Lets the H.264 decoder skip non-reference frames that the sampling grid of a SampledFrames reading this
    /// source cannot take (UnsampledFrameSkip): the sampled frames stay the same, fewer frames are decoded.
    public var skipUnsampledFrames = true

    public init(format: String? = nil, ffmpegOptions: [String: String] = [:], streamIndex: Int? = nil,
                timeout: Double = 10, decodeThreads: Int = 0) {
        self.format = format
        self.ffmpegOptions = ffmpegOptions
        self.streamIndex = streamIndex
        self.timeout = timeout
        self.decodeThreads = decodeThreads
    }
}

/// A resize to `width`×`height` RGB24 that reads its source in place: (pixels, width, height, bytes per row) →
/// the packed result. Lets MediaSource resize straight out of swscale's aligned buffer, never packing a full-size
/// copy first.
public struct FrameResize: Sendable {
    public let width: Int, height: Int
    public let apply: @Sendable (UnsafePointer<UInt8>, Int, Int, Int) -> [UInt8]
    public init(width: Int, height: Int, apply: @escaping @Sendable (UnsafePointer<UInt8>, Int, Int, Int) -> [UInt8]) {
        (self.width, self.height, self.apply) = (width, height, apply)
    }
}

/// What the container says about the chosen video stream.
public struct StreamInfo: Sendable, Codable, Equatable {
    public var container: String
    public var codec: String
    public var pixelFormat: String
    /// Coded size, before rotation.
    public var codedWidth: Int
    public var codedHeight: Int
    /// Display size, after rotation.
    public var width: Int
    public var height: Int
    public var frameRate: Double?
    public var duration: Double?
    public var rotation: Int
    public var streamIndex: Int
}

/// Once per process: devices registered, and FFmpeg's own logging silenced so that every failure reaches the
/// user as vidar's one-line error (set VIDAR_FFMPEG_LOG=debug|info|warning|error to see FFmpeg's messages).
private let deviceSetup: Void = {
    avdevice_register_all()
    let levels = ["quiet": AV_LOG_QUIET, "error": AV_LOG_ERROR, "warning": AV_LOG_WARNING, "info": AV_LOG_INFO, "debug": AV_LOG_DEBUG]
    vidar_install_log(levels[ProcessInfo.processInfo.environment["VIDAR_FFMPEG_LOG"] ?? "quiet"] ?? AV_LOG_QUIET)
}()

/// An open input with a decoder for its video stream. Not thread-safe: one reader per thread.
public final class MediaSource {
    public let url: String
    public let info: StreamInfo
    /// Frames of the video read: decoded, or skipped by the decoder as unsampled non-reference frames.
    public private(set) var framesDecoded = 0
    /// Of those, the frames the decoder skipped (never decoded: no sampling time could take them).
    public var framesSkipped: Int { skip.skipped }
    public private(set) var corruptFrames = 0
    /// Frames converted to RGB (and resized): with SampledFrames, only those the sampling grid takes.
    public private(set) var framesConverted = 0

    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    /// A packet the decoder refused with EAGAIN (its output queue was full): resent before reading another.
    private var pending = false
    private var pendingSkippable = false
    private var pendingTime: Double?
    /// Which packets the decoder may skip (nil grid: none); SampledFrames sets the grid.
    var skip = UnsampledFrameSkip()
    private let skipAllowed: Bool
    private var refusals = 0
    /// The decoder's output, and the last decoded frame kept unconverted until the sampler decides on it.
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var held: UnsafeMutablePointer<AVFrame>?
    private var decoded: DecodedFrame?
    private var heldFrame: DecodedFrame?
    private var scaler: OpaquePointer?
    private var scalerKey: (Int32, Int32, Int32) = (0, 0, -1)
    /// The model's resize, applied to every frame as it is converted.
    private let resize: FrameResize?
    /// swscale's destination, 64-byte aligned, reused for every frame of a size.
    private var scratch: UnsafeMutableRawPointer?
    private var scratchBytes = 0
    private let deadline: UnsafeMutablePointer<vidar_deadline>
    private let timeout: Double
    private let frameTimeout: Double?
    private let stream: UnsafeMutablePointer<AVStream>
    private let orientation: Orientation
    private let timeBase: Double
    private let startTime: Int64
    private var draining = false
    private var finished = false
    private var lastTime: Double = -.infinity

    /// Timestamp of the last frame decoded, nil before the first.
    public var lastFrameTime: Double? { lastTime.isFinite ? lastTime : nil }

    public init(url: String, options: SourceOptions = SourceOptions()) throws {
        _ = deviceSetup
        if options.format == nil { try Self.checkLocalFile(url) }  // with --format it may be a device or a filter graph
        let deadline = UnsafeMutablePointer<vidar_deadline>.allocate(capacity: 1)
        deadline.initialize(to: vidar_deadline(deadline: 0, timed_out: 0, cancelled: 0, external: options.stopToken?.flag,
                                               frame_deadline: 0, stalled: 0))
        var format: UnsafeMutablePointer<AVFormatContext>? = avformat_alloc_context()
        var codec: UnsafeMutablePointer<AVCodecContext>?
        // On any failure below, release what was opened so far.
        func fail(_ e: VideoError) -> VideoError {
            avcodec_free_context(&codec)
            avformat_close_input(&format)
            deadline.deallocate()
            return e
        }
        vidar_install_interrupt(format, deadline)
        var dict: OpaquePointer?
        for (k, v) in options.ffmpegOptions { av_dict_set(&dict, k, v, 0) }
        defer { av_dict_free(&dict) }
        var inputFormat: UnsafePointer<AVInputFormat>?
        if let name = options.format {
            inputFormat = av_find_input_format(name)
            guard inputFormat != nil else { throw fail(VideoError(.badOption, url, "unknown input format '\(name)' (see `ffmpeg -formats`)")) }
        }
        Self.arm(deadline, options.timeout)
        // Data that never becomes a stream (noise that keeps the prober reading) is bounded like a stall.
        if let frameTimeout = options.frameTimeout { deadline.pointee.frame_deadline = av_gettime_relative() + Int64(frameTimeout * 1e6) }
        vidar_clear_last_log()
        var rc = avformat_open_input(&format, url, inputFormat, &dict)
        let stalledMessage = String(format: "stalled: no frame for %g s", options.frameTimeout ?? 0)
        guard rc >= 0 else {
            if options.stopToken?.isStopped == true { throw fail(VideoError(.failed, url, "stopped")) }
            if deadline.pointee.stalled != 0 { throw fail(VideoError(.stalled, url, stalledMessage)) }
            throw fail(deadline.pointee.timed_out != 0
                       ? VideoError(.timeout, url, "timed out: no answer within \(options.timeout) s while opening")
                       : Self.openError(rc, url: url))
        }
        // Options FFmpeg did not consume are misspelt or meant for another input: say so instead of ignoring them.
        if let unused = av_dict_get(dict, "", nil, AV_DICT_IGNORE_SUFFIX) {
            let key = String(cString: unused.pointee.key)
            throw fail(VideoError(.badOption, url, "input option '\(key)' is not an option of this input's format or protocol"))
        }
        Self.arm(deadline, options.timeout)
        // Probing decodes a few frames with FFmpeg's own decoders: they get the pixel bound too.
        let probed = Int(format!.pointee.nb_streams)
        var probeOptions = [OpaquePointer?](repeating: nil, count: max(probed, 1))
        for i in 0..<probed { av_dict_set(&probeOptions[i], "max_pixels", String(options.maxPixels), 0) }
        rc = probeOptions.withUnsafeMutableBufferPointer { avformat_find_stream_info(format, $0.baseAddress) }
        for i in 0..<probed { av_dict_free(&probeOptions[i]) }
        // A probing decoder that met the bound says so in FFmpeg's log (and leaves the size unknown).
        if let refused = Self.pixelLimitRefusal(url: url, maxPixels: options.maxPixels) { throw fail(refused) }
        if rc < 0 && deadline.pointee.timed_out != 0 {
            throw fail(VideoError(.timeout, url, "timed out: no data within \(options.timeout) s while probing the streams"))
        }
        if deadline.pointee.stalled != 0 { throw fail(VideoError(.stalled, url, stalledMessage)) }
        deadline.pointee.frame_deadline = 0
        let ctx = format!
        let streams = (0..<Int(ctx.pointee.nb_streams)).map { ctx.pointee.streams[$0]! }
        // A cover picture (an audio file's attached picture) is one still image, not video.
        func isVideo(_ st: UnsafeMutablePointer<AVStream>) -> Bool {
            st.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO && (st.pointee.disposition & VIDAR_AV_DISPOSITION_ATTACHED_PIC) == 0
        }
        let videoStreams = streams.filter(isVideo)
        if let requested = options.streamIndex {
            guard requested >= 0, requested < streams.count, isVideo(streams[requested]) else {
                throw fail(VideoError(.noVideoStream, url, "stream \(requested) is not a video stream"))
            }
        }
        guard !videoStreams.isEmpty else {
            let art = streams.contains { $0.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO }
            throw fail(VideoError(.noVideoStream, url, art ? "no video stream (only a cover picture, e.g. an audio file's album art)"
                                                          : "no video stream (audio or data only?)"))
        }
        var decoder: UnsafePointer<AVCodec>?
        let wanted = options.streamIndex ?? (videoStreams.count == 1 ? Int(videoStreams[0].pointee.index) : -1)
        let index = av_find_best_stream(format, AVMEDIA_TYPE_VIDEO, Int32(wanted), -1, &decoder, 0)
        let stream = streams[Int(index >= 0 ? index : videoStreams[0].pointee.index)]
        let par = stream.pointee.codecpar!
        guard index >= 0, let decoder else {
            let name = String(cString: avcodec_get_name(par.pointee.codec_id))
            // A damaged header's tag can hold any byte: printable ASCII as is, the rest escaped, so the line stays one line.
            let tag = withUnsafeBytes(of: par.pointee.codec_tag.littleEndian) { bytes in
                bytes.map { (0x20...0x7e).contains($0) ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
            }
            let fourcc = par.pointee.codec_tag != 0 ? " (FourCC \(tag))" : ""
            throw fail(VideoError(.unsupportedCodec, url, "unsupported video codec '\(name)'\(fourcc): FFmpeg has no decoder for it"))
        }
        let w = Int(par.pointee.width), h = Int(par.pointee.height)
        guard w.multipliedReportingOverflow(by: h).partialValue <= options.maxPixels, w <= 1 << 16, h <= 1 << 16 else {
            throw fail(VideoError(.tooLarge, url, "frame size \(w)×\(h) exceeds the limit of \(options.maxPixels) pixels (--max-resolution)"))
        }
        codec = avcodec_alloc_context3(decoder)
        avcodec_parameters_to_context(codec, par)
        codec!.pointee.max_pixels = Int64(options.maxPixels)
        codec!.pointee.thread_count = Int32(options.decodeThreads)
        codec!.pointee.pkt_timebase = stream.pointee.time_base
        rc = avcodec_open2(codec, decoder, nil)
        guard rc >= 0 else {
            throw fail(VideoError(.unsupportedCodec, url, "cannot open the \(String(cString: decoder.pointee.name)) decoder: \(Self.message(rc))"))
        }

        var matrix = [Int32](repeating: 0, count: 9)
        let orientation = vidar_display_matrix(stream, &matrix) != 0 ? Orientation.from(displayMatrix: matrix) : .identity
        let fr = stream.pointee.avg_frame_rate.num > 0 ? stream.pointee.avg_frame_rate : stream.pointee.r_frame_rate
        let duration: Double? = stream.pointee.duration != VIDAR_AV_NOPTS_VALUE
            ? Double(stream.pointee.duration) * av_q2d(stream.pointee.time_base)
            : (ctx.pointee.duration != VIDAR_AV_NOPTS_VALUE && ctx.pointee.duration > 0
               ? Double(ctx.pointee.duration) / Double(AV_TIME_BASE) : nil)
        info = StreamInfo(
            container: String(cString: ctx.pointee.iformat.pointee.name),
            codec: String(cString: avcodec_get_name(par.pointee.codec_id)),
            pixelFormat: av_get_pix_fmt_name(AVPixelFormat(par.pointee.format)).map { String(cString: $0) } ?? "unknown",
            codedWidth: w, codedHeight: h,
            width: orientation.swapsAxes ? h : w, height: orientation.swapsAxes ? w : h,
            frameRate: fr.num > 0 && fr.den > 0 ? av_q2d(fr) : nil,
            duration: duration, rotation: orientation.degrees, streamIndex: Int(index))
        self.url = url
        self.timeout = options.timeout
        self.frameTimeout = options.frameTimeout
        self.resize = options.resize
        skipAllowed = options.skipUnsampledFrames && par.pointee.codec_id == AV_CODEC_ID_H264
        self.deadline = deadline
        self.format = format
        self.codec = codec
        self.stream = stream
        self.orientation = orientation
        timeBase = av_q2d(stream.pointee.time_base)
        startTime = stream.pointee.start_time != VIDAR_AV_NOPTS_VALUE ? stream.pointee.start_time : 0
        packet = av_packet_alloc()
        frame = av_frame_alloc()
        held = av_frame_alloc()
        // From here on, what FFmpeg logs is about reading this input's packets and frames.
        vidar_clear_last_log()
    }

    deinit {
        scratch?.deallocate()
        sws_freeContext(scaler)
        av_frame_free(&frame)
        av_frame_free(&held)
        av_packet_free(&packet)
        avcodec_free_context(&codec)
        avformat_close_input(&format)
        deadline.deallocate()
    }

    /// Makes any blocking read in progress (on another thread) return at once, and every later one fail:
    /// how a live reader is stopped without waiting for its timeout.
    public func interrupt() { vidar_deadline_cancel(deadline) }

    public var isInterrupted: Bool { vidar_deadline_is_cancelled(deadline) != 0 }

    /// The next decoded frame in display orientation, or nil at the end of the stream.
    /// Packets the decoder rejects are skipped and counted in `corruptFrames`.
    public func nextFrame() throws -> VideoFrame? {
        guard try decodeNext() != nil else { return nil }
        hold()
        return try convertHeld()
    }

    /// Decodes the next good frame without converting it: its time and index. It stays in the decoder's output
    /// until the next decode, unless `hold` keeps it for `convertHeld` (the sampler's lookahead: whether a frame
    /// is sampled is known only when the next frame's time is).
    public func decodeNext() throws -> DecodedFrame? {
        av_frame_unref(frame)
        decoded = nil
        let frameDeadline = frameTimeout.map { av_gettime_relative() + Int64($0 * 1e6) } ?? 0
        deadline.pointee.frame_deadline = frameDeadline
        deadline.pointee.stalled = 0
        defer { deadline.pointee.frame_deadline = 0 }
        while !finished {
            if frameDeadline > 0 && av_gettime_relative() > frameDeadline { throw stalledError() }
            let rc = avcodec_receive_frame(codec, frame)
            if rc >= 0 {
                if frame!.pointee.decode_error_flags != 0 || (frame!.pointee.flags & AV_FRAME_FLAG_CORRUPT) != 0 {
                    skip.refused(presentationTime(frame!))   // decoded, though damaged: not a skipped frame
                    av_frame_unref(frame)
                    corruptFrames += 1
                    continue
                }
                let time = presentationTime(frame!)
                framesDecoded += skip.output(time)
                let d = DecodedFrame(time: time, index: framesDecoded)
                lastTime = d.time
                framesDecoded += 1
                decoded = d
                return d
            }
            if rc == VIDAR_AVERROR_EOF { finished = true; break }
            guard rc == VIDAR_AVERROR_EAGAIN else { corruptFrames += 1; continue }
            if draining { finished = true; break }
            try feedPacket()
        }
        if framesDecoded == 0 {
            if let refused = Self.pixelLimitRefusal(url: url, maxPixels: Int(codec!.pointee.max_pixels)) { throw refused }
            throw VideoError(.corrupt, url, "no decodable video frame (truncated or corrupt data?)" + (Self.ffmpegCause().map { ": " + $0 } ?? ""))
        }
        return nil
    }

    /// Keeps the frame `decodeNext` returned, replacing the one held before.
    public func hold() {
        guard let d = decoded else { return }
        av_frame_unref(held)
        av_frame_move_ref(held, frame)
        heldFrame = d
        decoded = nil
    }

    /// The held frame as RGB24 in display orientation, resized for the model when a resize is set.
    public func convertHeld() throws -> VideoFrame {
        guard let d = heldFrame else { throw VideoError(.failed, url, "no decoded frame to convert") }
        framesConverted += 1
        return try convert(held!, time: d.time, index: d.index)
    }

    /// Seconds from the stream's start; a frame without any timestamp continues from the last at the nominal rate.
    private func presentationTime(_ f: UnsafeMutablePointer<AVFrame>) -> Double {
        if let t = seconds(f.pointee.best_effort_timestamp) { return t }
        return lastTime.isFinite ? lastTime + 1 / (info.frameRate ?? 25) : 0
    }

    /// A timestamp in the stream's time base as seconds from its start; nil for none. Frames and packets both go
    /// through it, so a frame's time equals its packet's to the bit (UnsampledFrameSkip matches them).
    private func seconds(_ ts: Int64) -> Double? {
        ts != VIDAR_AV_NOPTS_VALUE ? Double(ts - startTime) * timeBase : nil
    }

    /// Reads packets until one of the video stream is sent to the decoder, or starts draining at the end.
    private func feedPacket() throws {
        while true {
            if !pending {
                arm()
                let rc = av_read_frame(format, packet)
                if rc < 0 {
                    if deadline.pointee.timed_out != 0 {
                        throw VideoError(.timeout, url, "timed out: no data within \(timeout) s")
                    }
                    if deadline.pointee.stalled != 0 { throw stalledError() }
                    if rc != VIDAR_AVERROR_EOF && framesDecoded == 0 {
                        throw VideoError(.corrupt, url, "read failed before any frame: \(Self.ffmpegCause() ?? Self.message(rc))")
                    }
                    // EOF, or an error after some frames (a truncated file): drain what the decoder holds.
                    avcodec_send_packet(codec, nil)
                    draining = true
                    return
                }
                guard packet!.pointee.stream_index == stream.pointee.index else { av_packet_unref(packet); continue }
                pendingTime = seconds(packet!.pointee.pts)
                pendingSkippable = skipAllowed && skip.sending(pendingTime, lastOutput: lastFrameTime)
            }
            codec!.pointee.skip_frame = pendingSkippable ? AVDISCARD_NONREF : AVDISCARD_DEFAULT
            let sent = avcodec_send_packet(codec, packet)
            if sent == VIDAR_AVERROR_EAGAIN {
                // Frame-threaded decoders can be full even after receive said EAGAIN: keep the packet, not drop it.
                pending = true
                refusals += 1
                if refusals > 100_000 { throw VideoError(.failed, url, "the decoder stopped accepting data") }
                return
            }
            pending = false
            refusals = 0
            av_packet_unref(packet)
            if sent < 0 {
                // Refused, not skipped: its frame is not among the skipped ones when the next comes out.
                if pendingSkippable, let pendingTime { skip.refused(pendingTime) }
                corruptFrames += 1
                continue
            }
            return
        }
    }

    private func convert(_ f: UnsafeMutablePointer<AVFrame>, time: Double, index: Int) throws -> VideoFrame {
        let w = f.pointee.width, h = f.pointee.height, fmt = f.pointee.format
        if scaler == nil || scalerKey != (w, h, fmt) {
            sws_freeContext(scaler)
            // SWS_BICUBIC is the ffmpeg CLI's default: the same flags give the same RGB as `ffmpeg -pix_fmt rgb24`.
            scaler = sws_getContext(w, h, AVPixelFormat(fmt), w, h, AV_PIX_FMT_RGB24, SWS_BICUBIC, nil, nil, nil)
            scalerKey = (w, h, fmt)
            guard scaler != nil else {
                throw VideoError(.unsupportedCodec, url, "cannot convert pixel format \(fmt) to RGB")
            }
        }
        // swscale's SIMD paths want 64-byte aligned rows, as ffmpeg's own frames have; an unaligned packed
        // destination takes a C path that rounds differently. Convert into aligned rows, then pack.
        let row = Int(w) * 3, alignedRow = (row + 63) & ~63
        if scratchBytes < alignedRow * Int(h) {
            scratch?.deallocate()
            scratchBytes = alignedRow * Int(h)
            scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 64)
        }
        let scratch = self.scratch!
        var dst: [UnsafeMutablePointer<UInt8>?] = [scratch.assumingMemoryBound(to: UInt8.self), nil, nil, nil]
        var stride: [Int32] = [Int32(alignedRow), 0, 0, 0]
        withUnsafePointer(to: &f.pointee.data) { dataTuple in
            dataTuple.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { src in
                withUnsafePointer(to: &f.pointee.linesize) { lsTuple in
                    lsTuple.withMemoryRebound(to: Int32.self, capacity: 8) { ls in
                        _ = sws_scale(scaler, src, ls, 0, h, &dst, &stride)
                    }
                }
            }
        }
        let pixels = scratch.assumingMemoryBound(to: UInt8.self)
        if let resize, orientation == .identity, resize.width != Int(w) || resize.height != Int(h) {
            // Straight from swscale's rows to the model's size: no full-size packed copy.
            return VideoFrame(width: resize.width, height: resize.height, rgb: resize.apply(pixels, Int(w), Int(h), alignedRow),
                              time: time, index: index)
        }
        let rgb = [UInt8](unsafeUninitializedCapacity: row * Int(h)) { buf, n in
            for y in 0..<Int(h) {
                (buf.baseAddress! + y * row).initialize(from: pixels + y * alignedRow, count: row)
            }
            n = row * Int(h)
        }
        let shown = orientation.apply(VideoFrame(width: Int(w), height: Int(h), rgb: rgb, time: time, index: index))
        guard let resize, resize.width != shown.width || resize.height != shown.height else { return shown }
        let small = shown.rgb.withUnsafeBufferPointer { resize.apply($0.baseAddress!, shown.width, shown.height, shown.width * 3) }
        return VideoFrame(width: resize.width, height: resize.height, rgb: small, time: time, index: shown.index)
    }

    private func arm() { Self.arm(deadline, timeout) }

    /// Moves to the last keyframe at or before `seconds` (stream time), so the frames decoded next start there;
    /// false when the input cannot seek (a pipe, some streams): the caller reads on and skips instead.
    public func seek(to seconds: Double) -> Bool {
        guard seconds.isFinite, seconds >= 0 else { return false }
        let units = (seconds / timeBase).rounded(.down)
        guard units < Double(Int64.max / 2) else { return false }
        let (target, overflow) = startTime.addingReportingOverflow(Int64(units))
        guard !overflow else { return false }
        arm()
        guard avformat_seek_file(format, stream.pointee.index, Int64.min, target, target, 0) >= 0 else { return false }
        if pending { av_packet_unref(packet) }
        avcodec_flush_buffers(codec)
        av_frame_unref(frame)
        decoded = nil
        (pending, draining, finished, refusals) = (false, false, false, 0)
        skip.reset()
        lastTime = -.infinity
        return true
    }

    private func stalledError() -> VideoError {
        VideoError(.stalled, url, String(format: "stalled: no frame for %g s", frameTimeout ?? 0))
    }

    private static func arm(_ d: UnsafeMutablePointer<vidar_deadline>, _ timeout: Double) {
        d.pointee.timed_out = 0
        d.pointee.deadline = timeout > 0 ? av_gettime_relative() + Int64(timeout * 1e6) : 0
    }

    static func message(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        vidar_error_string(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Why an open failed, in FFmpeg's own words where its log said more than the error code (a host that does
    /// not resolve reads "Input/output error" as a code).
    /// FFmpeg's own words when a decoder refused a picture larger than `max_pixels` ("Picture size WxH exceeds
    /// specified max pixel count"), as vidar's error.
    private static func pixelLimitRefusal(url: String, maxPixels: Int) -> VideoError? {
        let logged = String(cString: vidar_get_last_log())
        guard logged.contains("exceeds specified max pixel count"),
              let size = logged.range(of: #"\d+x\d+"#, options: .regularExpression) else { return nil }
        let dims = logged[size].replacingOccurrences(of: "x", with: "×")
        return VideoError(.tooLarge, url, "frame size \(dims) exceeds the limit of \(maxPixels) pixels (--max-resolution)")
    }

    /// FFmpeg's first error-level message since the input was opened (or since opening began), when it says more
    /// than a generic wrap-up: the cause ("contradictionary STSC and STCO", "partial file") rather than errno's
    /// "Invalid data" or "Cannot allocate memory".
    static func ffmpegCause() -> String? {
        let first = String(cString: vidar_get_first_log()).trimmingCharacters(in: .whitespacesAndNewlines)
        let generic = ["", "error reading header", "Invalid data found when processing input"]
        guard !generic.contains(first) else { return nil }
        // FFmpeg's text is data too: one line, no control characters, bounded.
        return String(first.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) }.prefix(200))
    }

    private static func openError(_ rc: Int32, url: String) -> VideoError {
        let logged = String(cString: vidar_get_last_log()).trimmingCharacters(in: .whitespacesAndNewlines)
        if rc == vidar_averror(ENOENT) && !url.contains("://") { return VideoError(.notFound, url, "no such file") }
        if rc == vidar_averror(EACCES) { return VideoError(.permissionDenied, url, "permission denied") }
        if rc == VIDAR_AVERROR_INVALIDDATA {
            let cause = ffmpegCause().map { ": \($0)" } ?? ""
            return VideoError(.notMedia, url, "not a media file FFmpeg recognises (or its header is damaged)\(cause)")
        }
        if [VIDAR_AVERROR_HTTP_BAD_REQUEST, VIDAR_AVERROR_HTTP_UNAUTHORIZED, VIDAR_AVERROR_HTTP_FORBIDDEN, VIDAR_AVERROR_HTTP_NOT_FOUND,
            VIDAR_AVERROR_HTTP_OTHER_4XX].contains(rc) {
            return VideoError(.rejected, url, "the server refused it: \(message(rc))")
        }
        if rc == VIDAR_AVERROR_PROTOCOL_NOT_FOUND { return VideoError(.badOption, url, "FFmpeg has no protocol for this URL") }
        if logged.contains("resolve hostname") || logged.contains("Name or service not known") {
            return VideoError(.unknownHost, url, logged)
        }
        let code = message(rc)
        return VideoError(.failed, url, "cannot open: " + (logged.isEmpty || logged == code ? code : "\(logged) (\(code))"))
    }

    /// Files get precise reasons before FFmpeg sees them; URLs and devices go straight to FFmpeg.
    private static func checkLocalFile(_ url: String) throws {
        guard !url.contains("://"), !url.hasPrefix("pipe:"), !url.hasPrefix("/dev/") else { return }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url, isDirectory: &isDirectory) else {
            throw VideoError(.notFound, url, "no such file")
        }
        if isDirectory.boolValue { throw VideoError(.isDirectory, url, "is a directory, not a video file") }
        guard FileManager.default.isReadableFile(atPath: url) else { throw VideoError(.permissionDenied, url, "permission denied") }
        if ((try? FileManager.default.attributesOfItem(atPath: url))?[.size] as? Int) == 0 {
            throw VideoError(.notMedia, url, "empty file (0 bytes)")
        }
    }
}
