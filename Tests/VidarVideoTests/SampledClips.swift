// What SampledDecodeTests and UnsampledFrameSkipTests share: the pipeline's sampled decode, run to its clips, and
// the byte-for-byte comparison of two runs' clips.
import Testing
import VidarVideo

/// A nearest-neighbour resize standing in for the model's: what matters is that it runs on converted frames.
func nearestResize(width: Int, height: Int) -> FrameResize {
    FrameResize(width: width, height: height) { pixels, w, h, rowBytes in
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let src = pixels + (y * h / height) * rowBytes + (x * w / width) * 3
                for c in 0..<3 { out[(y * width + x) * 3 + c] = src[c] }
            }
        }
        return out
    }
}

struct SampledRun {
    var clips: [Clip]
    var decoded: Int, converted: Int, skipped: Int
}

/// SampledFrames → ClipBuilder over a whole file: on a grid from the first frame, or on `grid` when given.
func sampledClips(_ path: String, _ options: SamplingOptions, resize: FrameResize?, skip: Bool = true, threads: Int = 1,
                  grid: SamplingGrid? = nil) throws -> SampledRun {
    var sourceOptions = SourceOptions(decodeThreads: threads)
    sourceOptions.resize = resize
    sourceOptions.skipUnsampledFrames = skip
    let source = try MediaSource(url: path, options: sourceOptions)
    var frames = grid.map { SampledFrames(source: source, grid: $0) } ?? SampledFrames(source: source, options: options)
    var builder = ClipBuilder(options: options)
    var clips: [Clip] = []
    while let step = try frames.next() { clips += step.sampled.compactMap { builder.push(sampled: $0) } }
    clips += try frames.finish().compactMap { builder.push(sampled: $0) } + builder.finish()
    return SampledRun(clips: clips, decoded: source.framesDecoded, converted: source.framesConverted, skipped: source.framesSkipped)
}

func expectIdentical(_ got: [Clip], _ want: [Clip], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.count == want.count, "\(what): \(got.count) clips vs \(want.count)", sourceLocation: sourceLocation)
    for (c, (g, w)) in zip(got, want).enumerated() {
        #expect(g.start == w.start && g.end == w.end && g.repeatedFrames == w.repeatedFrames, "\(what) clip \(c)",
                sourceLocation: sourceLocation)
        #expect(g.sourceIndices == w.sourceIndices, "\(what) clip \(c): frames \(g.sourceIndices) vs \(w.sourceIndices)",
                sourceLocation: sourceLocation)
        #expect(zip(g.frames, w.frames).allSatisfy { $0.rgb == $1.rgb && $0.time == $1.time }, "\(what) clip \(c): pixels differ",
                sourceLocation: sourceLocation)
    }
}
