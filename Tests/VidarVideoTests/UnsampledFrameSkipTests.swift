// H.264 non-reference frames that no sampling time takes are skipped by the decoder, never decoded: the clips
// must be byte for byte those of decoding every frame, and the skipping must happen (else nothing is tested).
import Foundation
import Testing
import TestSupport
import VidarVideo

private let tiny = FrameResize(width: 40, height: 30) { pixels, w, h, rowBytes in
    var out = [UInt8](repeating: 0, count: 40 * 30 * 3)
    for y in 0..<30 {
        for x in 0..<40 {
            let src = pixels + (y * h / 30) * rowBytes + (x * w / 40) * 3
            for c in 0..<3 { out[(y * 40 + x) * 3 + c] = src[c] }
        }
    }
    return out
}

private struct Decoded {
    var clips: [Clip]
    var framesDecoded: Int, framesSkipped: Int
}

private func sampledClips(_ path: String, _ options: SamplingOptions, skip: Bool, threads: Int,
                          origin: (time: Double, firstClip: Int)? = nil) throws -> Decoded {
    var sourceOptions = SourceOptions(decodeThreads: threads)
    sourceOptions.resize = tiny
    sourceOptions.skipUnsampledFrames = skip
    let source = try MediaSource(url: path, options: sourceOptions)
    var frames = SampledFrames(source: source, options: options)
    if let origin {
        frames = SampledFrames(source: source, grid: ClipBuilder.grid(options: options, origin: origin.time, firstClip: origin.firstClip))
    }
    var builder = ClipBuilder(options: options)
    var clips: [Clip] = []
    while let step = try frames.next() { clips += step.sampled.compactMap { builder.push(sampled: $0) } }
    clips += try frames.finish().compactMap { builder.push(sampled: $0) } + builder.finish()
    return Decoded(clips: clips, framesDecoded: source.framesDecoded, framesSkipped: source.framesSkipped)
}

private func expectSame(_ got: Decoded, _ want: Decoded, _ what: String) {
    #expect(got.clips.count == want.clips.count, "\(what): \(got.clips.count) clips vs \(want.clips.count)")
    #expect(got.framesDecoded == want.framesDecoded, "\(what): \(got.framesDecoded) frames read vs \(want.framesDecoded)")
    for (c, (g, w)) in zip(got.clips, want.clips).enumerated() {
        #expect(g.start == w.start && g.end == w.end && g.repeatedFrames == w.repeatedFrames, "\(what) clip \(c)")
        #expect(g.sourceIndices == w.sourceIndices, "\(what) clip \(c): frames \(g.sourceIndices) vs \(w.sourceIndices)")
        #expect(zip(g.frames, w.frames).allSatisfy { $0.rgb == $1.rgb && $0.time == $1.time }, "\(what) clip \(c): pixels differ")
    }
}

@Suite(.serialized) struct UnsampledFrameSkipTests {
    /// Encodings with B-frames (x264's default pyramid, no pyramid, long open GOPs) at frame rates that sit on and
    /// off a 15 fps grid, in MP4 and in MPEG-TS with an offset start.
    static let encodings: [(name: String, rate: String, args: [String])] = [
        ("default_25.mp4", "25", []),
        ("nopyramid_60.mp4", "60", ["-bf", "3", "-x264-params", "b-pyramid=0"]),
        ("ntsc_29.97.ts", "30000/1001", ["-bf", "2", "-output_ts_offset", "10", "-f", "mpegts"]),
        ("opengop_24.mkv", "24", ["-bf", "5", "-x264-params", "open-gop=1:b-pyramid=2:keyint=40"]),
    ]

    static let directory: URL = {
        let dir = try! TestFixtures.temporaryDirectory()
        for e in encodings {
            let r = try! runProcess("/usr/bin/ffmpeg", ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=192x108:rate=\(e.rate)",
                                                         "-t", "6", "-c:v", "libx264", "-pix_fmt", "yuv420p"] + e.args
                                                        + [dir.appendingPathComponent(e.name).path])
            precondition(r.status == 0, "ffmpeg could not make \(e.name): \(r.stderr)")
        }
        return dir
    }()

    @Test(arguments: encodings.map(\.name))
    func sameClipsAsDecodingEveryFrame(_ name: String) throws {
        let path = Self.directory.appendingPathComponent(name).path
        var skippedSomewhere = false
        for options in [SamplingOptions(fps: 15), SamplingOptions(fps: 15, clipLength: 16, stride: 8),
                        SamplingOptions(fps: 7.5, clipLength: 4, stride: 3), SamplingOptions(fps: 5, clipLength: 4)] {
            for threads in [1, 2] {
                let what = "\(name) at \(options.fps!) fps, stride \(options.stride), \(threads) decode thread(s)"
                let want = try sampledClips(path, options, skip: false, threads: threads)
                let got = try sampledClips(path, options, skip: true, threads: threads)
                #expect(want.framesSkipped == 0, "\(what): skipped with skipping off")
                #expect(!want.clips.isEmpty, "\(what): no clips")
                expectSame(got, want, what)
                skippedSomewhere = skippedSomewhere || got.framesSkipped > 0
            }
        }
        #expect(skippedSomewhere, "\(name): no frame was skipped at any rate, so nothing was tested")
    }

    /// At 15 fps from 60 fps B-frame video, 270 of 360 frames are unsampled, and most of them are B-frames: those
    /// whose next frame is already known when they are sent (101 here) are never decoded.
    @Test func unsampledNonReferenceFramesAreSkipped() throws {
        let path = Self.directory.appendingPathComponent("nopyramid_60.mp4").path
        let got = try sampledClips(path, SamplingOptions(fps: 15), skip: true, threads: 1)
        #expect(got.framesDecoded == 360)
        #expect(got.framesSkipped >= 90, "\(got.framesSkipped) of 360 frames skipped")
    }

    /// A time range read on a full pass's grid (after a seek) samples the same frames with skipping.
    @Test func aContinuedGridTakesTheSameFrames() throws {
        let path = Self.directory.appendingPathComponent("default_25.mp4").path
        let options = SamplingOptions(fps: 15, clipLength: 8, stride: 8)
        let want = try sampledClips(path, options, skip: false, threads: 1, origin: (0, 3))
        let got = try sampledClips(path, options, skip: true, threads: 1, origin: (0, 3))
        expectSame(got, want, "grid from clip 3")
        #expect(got.framesSkipped > 0)
    }

    /// Nothing is skipped when every frame is kept, or without a sampler.
    @Test func everyFrameKeptSkipsNothing() throws {
        let path = Self.directory.appendingPathComponent("nopyramid_60.mp4").path
        let every = try sampledClips(path, SamplingOptions(fps: nil, clipLength: 4), skip: true, threads: 1)
        #expect(every.framesSkipped == 0 && every.framesDecoded == 360)
        let source = try MediaSource(url: path)
        var n = 0
        while try source.nextFrame() != nil { n += 1 }
        #expect(n == 360 && source.framesSkipped == 0)
    }
}
