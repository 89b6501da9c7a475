// How far a reduced precision moves a model's answers from fp32's on real clips: every clip of some videos is
// run through the same pipeline twice (fp32, then the other precision) and the per-clip probabilities compared.
// The precision tests assert bounds on it; `vidar-bench precision` prints it for many models and videos.
import Foundation
import Synchronization
import VidarNN
import VidarStream
import VidarVideo

public struct PrecisionAgreement: Sendable, CustomStringConvertible {
    public var clips = 0
    /// Clips whose most probable class is the same in both precisions.
    public var top1Agreeing = 0
    /// The largest change of any class's probability over all clips.
    public var maxProbabilityChange: Float = 0
    /// The mean over clips of the largest change in that clip.
    public var meanMaxProbabilityChange: Double = 0
    /// Over the clips whose top class changed: the widest gap between fp32's two most probable classes (a
    /// near-tie that any rounding flips shows as a small number here).
    public var widestFlippedMargin: Float = 0

    public var top1Agreement: Double { clips == 0 ? 0 : Double(top1Agreeing) / Double(clips) }

    public var description: String {
        String(format: "%d clips, top-1 agreement %.2f %%, max |Δp| %.4f, mean per-clip max |Δp| %.4f, widest fp32 top-2 gap of a flipped clip %.4f",
               clips, 100 * top1Agreement, maxProbabilityChange, meanMaxProbabilityChange, widestFlippedMargin)
    }

    /// Labels each video at fp32 and at `precision` (clips every `stride` sampled frames) and compares them.
    public static func measure(model: LoadedModel, videos: [String], precision: Precision, stride: Int? = nil,
                               backend: ConvolutionBackend = Backends.standard, threads: Int = 2,
                               batch: Int = 4) throws -> PrecisionAgreement {
        var result = PrecisionAgreement()
        var changeSum = 0.0
        for video in videos {
            let reference = try probabilities(video, model, .fp32, stride, backend, threads, batch)
            let reduced = try probabilities(video, model, precision, stride, backend, threads, batch)
            guard reference.count == reduced.count else {
                throw InferenceError(description: "\(video): \(reference.count) clips at fp32 but \(reduced.count) at \(precision.rawValue)")
            }
            for (p, q) in zip(reference, reduced) {
                result.clips += 1
                if argmax(p) == argmax(q) {
                    result.top1Agreeing += 1
                } else {
                    let top = p.sorted(by: >)
                    result.widestFlippedMargin = max(result.widestFlippedMargin, top[0] - (top.count > 1 ? top[1] : 0))
                }
                let change = zip(p, q).map { abs($0 - $1) }.max() ?? 0
                result.maxProbabilityChange = max(result.maxProbabilityChange, change)
                changeSum += Double(change)
            }
        }
        result.meanMaxProbabilityChange = result.clips == 0 ? 0 : changeSum / Double(result.clips)
        return result
    }

    static func probabilities(_ video: String, _ model: LoadedModel, _ precision: Precision, _ stride: Int?,
                              _ backend: ConvolutionBackend, _ threads: Int, _ batch: Int) throws -> [[Float]] {
        var sampling = model.preprocessing.sampling
        if let stride { sampling.stride = stride }
        var options = ClipStreamOptions(sampling: sampling, aggregator: AggregatorOptions(smoothing: .none))
        options.batch = batch
        let clips = Mutex<[[Float]]>([])
        let stream = try ClipStream(input: .file(video), model: model, options: options) { output in
            if case .clip(let c) = output { clips.withLock { $0.append(c.probabilities) } }
        }
        _ = try stream.run(session: InferenceSession(network: model.network, backend: backend, threads: threads, precision: precision))
        return clips.withLock { $0 }
    }

    static func argmax(_ p: [Float]) -> Int { p.indices.max { p[$0] < p[$1] } ?? 0 }
}
