// `vidar probe INPUT`: what FFmpeg sees in an input, and with --count what decoding and clip sampling yield.
import Foundation
import Vidar
import VidarVideo

enum ProbeCommand: Command {
    static let spec = CommandSpec(
        name: "probe",
        usage: ["vidar probe [options] [--] INPUT"],
        summary: """
            Prints one JSON object describing the input's video stream: container, codec, pixel format, size (after \
            rotation), frame rate, duration, rotation. INPUT is anything FFmpeg opens: a file, rtsp://, http(s)://, \
            udp://, tcp://, pipe:0, or a V4L2 camera (/dev/videoN with --input-format v4l2).
            """,
        groups: [
            OptionGroup("counting", [
                Option(["--count"], "also decode every frame: frames decoded, corrupt frames skipped, and the clips the sampling yields"),
                Option(["--fps"], value: "F", default: "15, torchvision's Kinetics evaluation rate", "sampling rate for --count"),
                Option(["--clip-len"], value: "L", default: "16", "frames per clip for --count"),
                Option(["--stride"], value: "S", default: "the clip length", "sampled frames between clip starts for --count"),
            ]),
            SharedOptions.input(decodeThreads: "0"),
        ],
        footer: "Exit: 0 described; 64 usage; 65 not media or undecodable; 66 missing or unreadable; 69 unreachable or timed out.",
        renamed: SharedOptions.renamedInputOptions.merging(
            ["--threads": "probe decodes only: FFmpeg's decoder threads are --decode-threads"]) { $1 })

    static func run(_ args: ParsedArguments) throws -> ExitCode {
        let count = args.flag("--count")
        let fps = try args.double("--fps", in: 0.001...1000) ?? 15
        let clipLength = try args.int("--clip-len", in: 1...4096) ?? 16
        let stride = try args.int("--stride", in: 1...4096) ?? clipLength
        let options = try SharedOptions.sourceOptions(args, maxTimeout: 86400, decodeThreads: 0)
        guard args.positionals.count == 1 else {
            throw UsageError(args.positionals.isEmpty ? "no input" : "probe takes one input, got \(args.positionals.count)")
        }
        let input = args.positionals[0]
        let source = try MediaSource(url: input, options: options)
        let i = source.info
        var object: [String: Any] = [
            "input": input, "container": i.container, "codec": i.codec, "pixel_format": i.pixelFormat,
            "width": i.width, "height": i.height, "coded_width": i.codedWidth, "coded_height": i.codedHeight,
            "rotation": i.rotation, "stream": i.streamIndex,
            "frame_rate": i.frameRate.map { $0 as Any } ?? NSNull(), "duration": i.duration.map { $0 as Any } ?? NSNull(),
        ]
        if count {
            // As the pipeline samples: only the frames the grid takes are converted.
            let sampling = SamplingOptions(fps: fps, clipLength: clipLength, stride: stride)
            var builder = ClipBuilder(options: sampling)
            var frames = SampledFrames(source: source, options: sampling)
            var clips: [Clip] = []
            var first: Double?
            while let step = try frames.next() {
                if first == nil { first = step.decoded.time }
                clips += step.sampled.compactMap { builder.push(sampled: $0) }
            }
            clips += try frames.finish().compactMap { builder.push(sampled: $0) } + builder.finish()
            object["frames_decoded"] = source.framesDecoded
            object["frames_skipped_unsampled"] = source.framesSkipped
            object["corrupt_frames_skipped"] = source.corruptFrames
            object["first_frame_time"] = first ?? NSNull()
            object["last_frame_time"] = source.lastFrameTime ?? NSNull()
            object["clips"] = clips.count
            object["padded_clips"] = clips.filter(\.padded).count
            object["sampling"] = ["fps": fps, "clip_length": clipLength, "stride": stride] as [String: Any]
            object["shorter_than_one_clip"] = clips.count == 1 && clips[0].padded
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
        return .success
    }
}
