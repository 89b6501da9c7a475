// `vidar models calibrate`: int8's activation ranges from the user's own video. Every clip goes through the same
// pipeline as `vidar label` (decode, sampling, preprocessing), runs at fp32 layer by layer, and each convolution's
// largest |output| is kept. The ranges are written into a copy of the checkpoint as `vidar.calibration` metadata,
// so `--precision int8` needs nothing but that file.
import Foundation
import VidarNN
import VidarStream

public enum ModelCalibration {
    /// Runs the clips of `videos` (a clip every `stride` sampled frames; the model's stride when nil) at fp32,
    /// at most `maxClips` of them, and returns the ranges. `progress` gets each video as it finishes, with its clips.
    public static func calibrate(model: LoadedModel, videos: [String], stride: Int? = nil, maxClips: Int? = nil,
                                 backend: ConvolutionBackend = Backends.standard, threads: Int = 2,
                                 progress: (String, Int) -> Void = { _, _ in }) throws -> Calibration {
        let recorder = CalibrationRecorder()
        var sampling = model.preprocessing.sampling
        if let stride { sampling.stride = stride }
        for video in videos {
            let remaining = maxClips.map { $0 - recorder.clips } ?? .max
            guard remaining > 0 else { break }
            var options = ClipStreamOptions(sampling: sampling, aggregator: AggregatorOptions(smoothing: .none))
            options.batch = 1
            let session = InferenceSession(network: model.network, backend: backend, threads: threads)
            session.activationObserver = { recorder.observe($0, $1) }
            let before = recorder.clips
            let stream = try ClipStream(input: .file(video), model: model, options: options) { output in
                if case .clip = output { recorder.ranClips(1) }
            }
            // Stops after the batch that reaches the clip budget.
            _ = try stream.run(session: session) { stream in
                if recorder.clips - before >= remaining { stream.stop() }
            }
            progress(video, recorder.clips - before)
        }
        let calibration = recorder.calibration
        guard calibration.clips > 0 else {
            throw VidarError(.invalidData, "no clip could be made from \(videos.joined(separator: ", ")) (too short for the model's clip?)")
        }
        return calibration
    }

    /// A copy of the model's checkpoint (every tensor as F32, its metadata kept) with the calibration added.
    public static func write(_ calibration: Calibration, model: LoadedModel, to path: String) throws {
        let dict = try Checkpoint.read(path: model.path)
        var metadata = [Calibration.metadataKey: calibration.json()]
        if dict.metadata[Labels.metadataKey] == nil, let labels = model.labels, labels != KineticsLabels.kinetics400 {
            metadata[Labels.metadataKey] = String(decoding: try JSONEncoder().encode(labels), as: UTF8.self)
        }
        try AtomicFile.write(Safetensors.encode(dict, setting: metadata), to: path)
    }
}
