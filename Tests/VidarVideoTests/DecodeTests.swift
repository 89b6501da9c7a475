// Decoding real files made by the ffmpeg CLI (and real camera footage) against ffprobe and `ffmpeg -pix_fmt rgb24`.
import Foundation
import Testing
import TestSupport
import VidarNN
import VidarVideo

func decodeAll(_ name: String, limit: Int = .max) throws -> (MediaSource, [VideoFrame]) {
    let source = try MediaSource(url: try VideoFixtures.path(name))
    var frames: [VideoFrame] = []
    while frames.count < limit, let f = try source.nextFrame() { frames.append(f) }
    return (source, frames)
}

@Suite(.serialized) struct DecodeTests {
    static let timestampVideos = ["h264.mp4", "hevc.mkv", "vp9.webm", "mpeg4.avi", "mjpeg.avi", "hevc_10bit.mkv", "h264_444.mp4",
                                  "h264_422.mp4", "gray.mkv", "rgb.mkv", "odd_97x61.mp4", "portrait.mp4", "one_frame.mp4", "short.mp4",
                                  "vfr.mkv", "start_offset.ts", "raw.h264", "rot90.mp4", "rot180.mp4", "rot270.mp4", "truncated.mp4",
                                  "bikes.mp4", "carphone_pristine.mp4"]

    /// Every frame ffprobe lists, with the same time (ffprobe prints 6 decimals), starting from zero.
    @Test(arguments: timestampVideos)
    func frameCountsAndTimestampsMatchFFprobe(_ name: String) throws {
        let want = try #require(try VideoFixtures.expected()[name])
        let (source, frames) = try decodeAll(name)
        #expect(frames.count == want.frames)
        #expect(source.framesDecoded == want.frames)
        for (f, t) in zip(frames, want.times) { #expect(abs(f.time - t) < 1e-5, "frame \(f.index): \(f.time) vs \(t)") }
        #expect(frames.map(\.index) == Array(0..<frames.count))
        #expect(source.info.codedWidth == want.coded_width && source.info.codedHeight == want.coded_height)
    }

    static let rgbVideos = ["h264.mp4", "hevc.mkv", "vp9.webm", "mpeg4.avi", "mjpeg.avi", "hevc_10bit.mkv", "h264_444.mp4",
                            "h264_422.mp4", "gray.mkv", "rgb.mkv", "odd_97x61.mp4", "portrait.mp4", "rot90.mp4", "rot180.mp4",
                            "rot270.mp4", "bikes.mp4"]

    /// Byte-identical to `ffmpeg -pix_fmt rgb24` (autorotated): same swscale conversion, same flags (bicubic).
    @Test(arguments: rgbVideos)
    func decodedRGBEqualsFFmpegCLI(_ name: String) throws {
        let want = try #require(try VideoFixtures.expected()[name])
        let n = try #require(want.rgb_frames), w = try #require(want.width), h = try #require(want.height)
        let reference = try VideoFixtures.bytes("\(name).rgb")
        let (source, frames) = try decodeAll(name, limit: n)
        #expect(source.info.width == w && source.info.height == h)
        #expect(frames.count == n)
        for (i, f) in frames.enumerated() {
            #expect(f.width == w && f.height == h)
            let slice = Array(reference[(i * w * h * 3)..<((i + 1) * w * h * 3)])
            let differing = zip(f.rgb, slice).filter { $0 != $1 }.count
            #expect(differing == 0, "frame \(i): \(differing) bytes differ")
        }
    }

    @Test func rotationMetadataIsReportedAndApplied() throws {
        #expect(try MediaSource(url: try VideoFixtures.path("rot90.mp4")).info.rotation == 270)
        #expect(try MediaSource(url: try VideoFixtures.path("rot180.mp4")).info.rotation == 180)
        #expect(try MediaSource(url: try VideoFixtures.path("rot270.mp4")).info.rotation == 90)
        let info = try MediaSource(url: try VideoFixtures.path("rot90.mp4")).info
        #expect((info.width, info.height, info.codedWidth, info.codedHeight) == (240, 320, 320, 240))
    }

    @Test func damagedStreamsKeepTheirGoodFramesAndCountTheBad() throws {
        let (truncated, frames) = try decodeAll("truncated.mp4")
        #expect(frames.count == (try VideoFixtures.expected()["truncated.mp4"]!.frames))
        #expect(truncated.info.duration == 3)
        // Three MJPEG frames overwritten with garbage: skipped and counted; ffprobe lists the other 47 too.
        let (corrupt, good) = try decodeAll("corrupt_frames.avi")
        #expect(good.count == (try VideoFixtures.expected()["corrupt_frames.avi"]!.frames))
        #expect(corrupt.corruptFrames == 3)
        // Damaged MPEG-TS payloads mid-stream: decoding carries on past them to the end.
        let (_, ts) = try decodeAll("corrupt_middle.ts")
        #expect(ts.count > 30 && ts.last!.time > 1.9)
    }

    static let badInputs: [(String, VideoError.Kind, String)] = [
        ("zero_bytes.mp4", .notMedia, "empty file"),
        ("not_media.mp4", .notMedia, "not a media file"),
        ("audio_only.m4a", .noVideoStream, "no video stream"),
        ("unknown_codec.avi", .unsupportedCodec, "unsupported video codec"),
        ("truncated_header.mp4", .corrupt, "no decodable video frame"),
    ]

    @Test(arguments: badInputs)
    func badInputsGetATypedOneLineError(_ name: String, _ kind: VideoError.Kind, _ reason: String) throws {
        let path = try VideoFixtures.path(name)
        do {
            let (_, frames) = try decodeAll(name)
            Issue.record("\(name) decoded \(frames.count) frames instead of failing")
        } catch let e as VideoError {
            #expect(e.kind == kind, "\(e)")
            #expect(e.description.hasPrefix(path) && e.description.contains(reason) && !e.description.contains("\n"), "\(e)")
        }
    }

    @Test func missingFilesAndDirectoriesAreNamed() throws {
        #expect { try MediaSource(url: "/nonexistent/video.mp4") } throws: { ($0 as? VideoError)?.kind == .notFound }
        #expect { try MediaSource(url: NSTemporaryDirectory()) } throws: { ($0 as? VideoError)?.kind == .isDirectory }
    }

    /// A TCP peer that accepts and then sends nothing: every read must end at the timeout, not hang.
    @Test func aSilentNetworkSourceTimesOut() throws {
        let server = try FeedServer()
        defer { server.stop() }
        let start = Date()
        #expect {
            try MediaSource(url: "tcp://127.0.0.1:\(server.port)", options: SourceOptions(format: "mpegts", timeout: 1))
        } throws: { ($0 as? VideoError)?.kind == .timeout }
        #expect(Date().timeIntervalSince(start) < 10)
    }
}
