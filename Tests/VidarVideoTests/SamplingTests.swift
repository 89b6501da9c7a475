// Clip sampling on synthetic frame sequences: resampling by timestamp, clip length and stride, short videos.
import Testing
import VidarVideo

func frames(times: [Double]) -> [VideoFrame] {
    times.enumerated().map { VideoFrame(width: 1, height: 1, rgb: [0, 0, 0], time: $1, index: $0) }
}

func sample(_ input: [VideoFrame], fps: Double?) -> [VideoFrame] {
    var r = FrameResampler(fps: fps)
    return input.flatMap { r.push($0) } + r.finish()
}

func clips(_ input: [VideoFrame], _ options: SamplingOptions) -> [Clip] {
    var b = ClipBuilder(options: options)
    return input.flatMap { b.push($0) } + b.finish()
}

struct SamplingTests {
    @Test func resampling25To15PicksTheLastFrameAtOrBeforeEachTick() {
        let input = frames(times: (0..<50).map { Double($0) / 25 })
        let picked = sample(input, fps: 15).map(\.index)
        // tick k at k/15 s → frame floor(k · 25 / 15) (exact ticks land on frames)
        #expect(picked == (0..<30).map { Int((Double($0) * 25 / 15 + 1e-9).rounded(.down)) })
    }

    @Test func upsamplingRepeatsFramesAndNoneAreInvented() {
        let input = frames(times: [0, 0.5, 1.0])
        #expect(sample(input, fps: 4).map(\.index) == [0, 0, 1, 1, 2])
    }

    @Test func variableFrameRateUsesTimestampsNotIndices() {
        let input = frames(times: [0, 0.1, 0.15, 0.6, 0.61, 1.0])
        // ticks 0, 0.2, 0.4, 0.6, 0.8, 1.0: the last frame at or before each
        #expect(sample(input, fps: 5).map(\.index) == [0, 2, 2, 3, 4, 5])
    }

    @Test func withoutResamplingEveryFrameIsKept() {
        let input = frames(times: [0, 0.3, 0.31, 2])
        #expect(sample(input, fps: nil).map(\.index) == [0, 1, 2, 3])
    }

    @Test func resamplingIsDeterministicAndIncremental() {
        let input = frames(times: (0..<97).map { Double($0) * 0.0417 + (($0 % 3 == 0) ? 0.003 : 0) })
        #expect(sample(input, fps: 15).map(\.index) == sample(input, fps: 15).map(\.index))
    }

    @Test func clipsOfLengthEveryStrideWithTimes() {
        let input = frames(times: (0..<64).map { Double($0) / 15 })
        let c = clips(input, SamplingOptions(fps: 15, clipLength: 16))
        #expect(c.count == 4)
        #expect(c.map { $0.sourceIndices.first! } == [0, 16, 32, 48])
        #expect(abs(c[1].start - 16.0 / 15) < 1e-9 && abs(c[1].end - 32.0 / 15) < 1e-9)
        #expect(c.allSatisfy { $0.frames.count == 16 && !$0.padded })
    }

    @Test func overlappingAndSparseStrides() {
        let input = frames(times: (0..<40).map { Double($0) / 10 })
        let overlap = clips(input, SamplingOptions(fps: nil, clipLength: 16, stride: 8))
        #expect(overlap.map { $0.sourceIndices.first! } == [0, 8, 16, 24])
        #expect(overlap[1].sourceIndices == Array(8..<24))
        let sparse = clips(input, SamplingOptions(fps: nil, clipLength: 8, stride: 12))
        // 36…39 are left after the clip at 24 and the 4-frame gap: a padded tail clip covers them.
        #expect(sparse.map { $0.sourceIndices.first! } == [0, 12, 24, 36])
        #expect(sparse.map(\.repeatedFrames) == [0, 0, 0, 4])
    }

    @Test func theTailAfterTheLastFullClipIsAPaddedClip() {
        let input = frames(times: (0..<45).map { Double($0) / 15 })
        let c = clips(input, SamplingOptions(fps: 15, clipLength: 16))
        #expect(c.map { $0.sourceIndices.first! } == [0, 16, 32])
        let tail = c[2]
        #expect(tail.repeatedFrames == 3 && tail.frames.count == 16)
        #expect(tail.sourceIndices == Array(32..<45) + [44, 44, 44])
        #expect(abs(tail.start - 32.0 / 15) < 1e-9 && abs(tail.end - 45.0 / 15) < 1e-9, "ends with the last real frame")
        // Overlapping clips: the tail is the next window (stride 8) padded.
        let overlap = clips(input, SamplingOptions(fps: 15, clipLength: 16, stride: 8))
        #expect(overlap.map { $0.sourceIndices.first! } == [0, 8, 16, 24, 32])
        #expect(overlap.last!.repeatedFrames == 3)
        // Exactly filled: no tail.
        #expect(clips(frames(times: (0..<32).map { Double($0) / 15 }), SamplingOptions(fps: 15, clipLength: 16)).count == 2)
    }

    @Test func aVideoShorterThanAClipYieldsOnePaddedClip() {
        let c = clips(frames(times: [0, 0.04, 0.08]), SamplingOptions(fps: 15, clipLength: 16))
        #expect(c.count == 1)
        #expect(c[0].padded)
        #expect(c[0].frames.count == 16)
        #expect(c[0].sourceIndices.suffix(14).allSatisfy { $0 == c[0].sourceIndices.last! })
        #expect(clips([], SamplingOptions()).isEmpty)
    }
}
