// Deciding from timestamps which frames are sampled, before converting them, changes nothing but the work: the
// clips are byte for byte those of converting every frame and resampling afterwards, on real files of every
// kind (VFR, offset starts, rotation, truncation, a single frame) and at rates below, at and above the source's.
import Testing
import TestSupport
import VidarVideo

// One decode thread: with frame threads, whether FFmpeg flags a damaged frame of corrupt_middle.ts as corrupt
// varies from run to run (36 or 37 frames), which would make the two paths differ for reasons of their own.

/// The reference: every frame converted, then FrameResampler inside ClipBuilder.
private func clipsConvertingEveryFrame(_ path: String, _ options: SamplingOptions, resize: FrameResize?) throws -> [Clip] {
    var sourceOptions = SourceOptions(decodeThreads: 1)
    sourceOptions.resize = resize
    let source = try MediaSource(url: path, options: sourceOptions)
    var builder = ClipBuilder(options: options)
    var clips: [Clip] = []
    while let f = try source.nextFrame() { clips += builder.push(f) }
    return clips + builder.finish()
}

/// A nearest-neighbour resize to 32×24, standing in for the model's.
private let smallResize = nearestResize(width: 32, height: 24)

@Suite(.serialized) struct SampledDecodeTests {
    static let videos = ["h264.mp4", "vfr.mkv", "start_offset.ts", "raw.h264", "rot90.mp4", "truncated.mp4", "one_frame.mp4",
                         "short.mp4", "mjpeg.avi", "corrupt_middle.ts", "bikes.mp4"]

    @Test(arguments: videos)
    func sameClipsAsConvertingEveryFrame(_ name: String) throws {
        let path = try VideoFixtures.path(name)
        for options in [SamplingOptions(fps: 15), SamplingOptions(fps: 7.5, clipLength: 4, stride: 3),
                        SamplingOptions(fps: 60, clipLength: 8, stride: 8), SamplingOptions(fps: nil, clipLength: 5, stride: 7)] {
            for resize in [nil, smallResize] {
                let what = "\(name) at \(options.fps.map { "\($0)" } ?? "every frame"), \(resize == nil ? "full size" : "resized")"
                let want = try clipsConvertingEveryFrame(path, options, resize: resize)
                let got = try sampledClips(path, options, resize: resize)
                expectIdentical(got.clips, want, what)
            }
        }
    }

    /// The point of it: at 15 fps from 25 fps, frames the grid skips are never converted.
    @Test func framesTheGridSkipsAreNotConverted() throws {
        let path = try VideoFixtures.path("h264.mp4")
        let want = try #require(try VideoFixtures.expected()["h264.mp4"])
        let sampled = try sampledClips(path, SamplingOptions(fps: 15), resize: smallResize)
        let distinct = Set(sampled.clips.flatMap(\.sourceIndices)).count
        #expect(sampled.decoded == want.frames)
        #expect(sampled.converted == distinct, "converted \(sampled.converted), sampled \(distinct) distinct frames")
        // 25 → 15 fps keeps 3 frames in 5.
        #expect(Double(sampled.converted) <= Double(want.frames) * 0.6 + 1, "converted \(sampled.converted) of \(want.frames)")
        let every = try sampledClips(path, SamplingOptions(fps: nil), resize: smallResize)
        #expect(every.converted == want.frames)
    }

    /// A time range continues a full pass's grid after a seek: the same frames as the full pass's clips there.
    @Test func aGridContinuedFromAnOriginTakesTheFullPassFrames() throws {
        let path = try VideoFixtures.path("bikes.mp4")
        let options = SamplingOptions(fps: 15, clipLength: 4, stride: 4)
        let full = try clipsConvertingEveryFrame(path, options, resize: smallResize)
        try #require(full.count > 6)
        let source = try MediaSource(url: path)
        let first = try #require(try source.decodeNext())
        var frames = SampledFrames(source: source, grid: ClipBuilder.grid(options: options, origin: first.time, firstClip: 0))
        var builder = ClipBuilder(options: options)
        var clips = try frames.take(first).compactMap { builder.push(sampled: $0) }
        while let step = try frames.next(), clips.count < 6 { clips += step.sampled.compactMap { builder.push(sampled: $0) } }
        #expect(clips.prefix(6).map(\.sourceIndices) == full.prefix(6).map(\.sourceIndices))
    }
}
