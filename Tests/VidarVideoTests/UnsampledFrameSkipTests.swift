// H.264 non-reference frames that no sampling time takes are skipped by the decoder, never decoded: the clips
// must be byte for byte those of decoding every frame, and the skipping must happen (else nothing is tested).
import Foundation
import Testing
import TestSupport
import VidarVideo

private let tiny = nearestResize(width: 40, height: 30)

private func expectSame(_ got: SampledRun, _ want: SampledRun, _ what: String) {
    #expect(got.decoded == want.decoded, "\(what): \(got.decoded) frames read vs \(want.decoded)")
    expectIdentical(got.clips, want.clips, what)
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
                let want = try sampledClips(path, options, resize: tiny, skip: false, threads: threads)
                let got = try sampledClips(path, options, resize: tiny, skip: true, threads: threads)
                #expect(want.skipped == 0, "\(what): skipped with skipping off")
                #expect(!want.clips.isEmpty, "\(what): no clips")
                expectSame(got, want, what)
                skippedSomewhere = skippedSomewhere || got.skipped > 0
            }
        }
        #expect(skippedSomewhere, "\(name): no frame was skipped at any rate, so nothing was tested")
    }

    /// At 15 fps from 60 fps B-frame video, 270 of 360 frames are unsampled, and most of them are B-frames: those
    /// whose next frame is already known when they are sent (101 here) are never decoded.
    @Test func unsampledNonReferenceFramesAreSkipped() throws {
        let path = Self.directory.appendingPathComponent("nopyramid_60.mp4").path
        let got = try sampledClips(path, SamplingOptions(fps: 15), resize: tiny, skip: true, threads: 1)
        #expect(got.decoded == 360)
        #expect(got.skipped >= 90, "\(got.skipped) of 360 frames skipped")
    }

    /// A time range read on a full pass's grid (after a seek) samples the same frames with skipping.
    @Test func aContinuedGridTakesTheSameFrames() throws {
        let path = Self.directory.appendingPathComponent("default_25.mp4").path
        let options = SamplingOptions(fps: 15, clipLength: 8, stride: 8)
        let grid = ClipBuilder.grid(options: options, origin: 0, firstClip: 3)
        let want = try sampledClips(path, options, resize: tiny, skip: false, threads: 1, grid: grid)
        let got = try sampledClips(path, options, resize: tiny, skip: true, threads: 1, grid: grid)
        expectSame(got, want, "grid from clip 3")
        #expect(got.skipped > 0)
    }

    /// Nothing is skipped when every frame is kept, or without a sampler.
    @Test func everyFrameKeptSkipsNothing() throws {
        let path = Self.directory.appendingPathComponent("nopyramid_60.mp4").path
        let every = try sampledClips(path, SamplingOptions(fps: nil, clipLength: 4), resize: tiny, skip: true, threads: 1)
        #expect(every.skipped == 0 && every.decoded == 360)
        let source = try MediaSource(url: path)
        var n = 0
        while try source.nextFrame() != nil { n += 1 }
        #expect(n == 360 && source.framesSkipped == 0)
    }
}
