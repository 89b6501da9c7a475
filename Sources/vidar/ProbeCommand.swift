// `vidar probe URL`: what FFmpeg sees in an input, and with --count what decoding and clip sampling yield.
import Foundation
import Vidar
import VidarVideo

enum ProbeCommand {
    static let usage = """
        usage: vidar probe URL [options]

        Prints one JSON object describing the input's video stream: container, codec, pixel format, size
        (after rotation), frame rate, duration, rotation. URL is anything FFmpeg opens: a file, rtsp://,
        http(s)://, udp://, tcp://, pipe:0, or a V4L2 camera (/dev/videoN with --format v4l2).

        options:
          --count            also decode every frame: frames decoded, corrupt frames skipped, and the clips the
                             sampling below yields
          --fps F            sampling rate for --count (default: 15, torchvision's Kinetics evaluation rate)
          --clip-len L       frames per clip (default: 16)
          --stride S         sampled frames between clip starts (default: the clip length)
          --format NAME      force FFmpeg's input format (e.g. v4l2, mjpeg, mpegts)
          --option K=V       an FFmpeg input option, repeatable (e.g. rtsp_transport=tcp, framerate=30)
          --stream N         decode stream N instead of the best video stream
          --timeout SECONDS  bound on every blocking read (default: 10)
          --threads N        decoder threads (default: 0, FFmpeg's choice)
        """

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        if args.flag("--help") || args.flag("-h") { print(usage); return .success }
        let count = args.flag("--count")
        let fps = try args.doubleOption("--fps", range: 0.001...1000) ?? 15
        let clipLength = try args.intOption("--clip-len", range: 1...4096) ?? 16
        let stride = try args.intOption("--stride", range: 1...4096) ?? clipLength
        var options = try args.sourceOptions(maxTimeout: 86400)
        options.streamIndex = try args.intOption("--stream", range: 0...1000)
        options.decodeThreads = try args.intOption("--threads", range: 0...64) ?? 0
        let inputs = try args.positionals()
        guard inputs.count == 1 else { throw UsageError("probe takes one input") }

        let source = try MediaSource(url: inputs[0], options: options)
        let i = source.info
        var object: [String: Any] = [
            "input": inputs[0], "container": i.container, "codec": i.codec, "pixel_format": i.pixelFormat,
            "width": i.width, "height": i.height, "coded_width": i.codedWidth, "coded_height": i.codedHeight,
            "rotation": i.rotation, "stream": i.streamIndex,
            "frame_rate": i.frameRate.map { $0 as Any } ?? NSNull(), "duration": i.duration.map { $0 as Any } ?? NSNull(),
        ]
        if count {
            var builder = ClipBuilder(options: SamplingOptions(fps: fps, clipLength: clipLength, stride: stride))
            var clips = 0, padded = false
            var first: Double?, last: Double?
            while let frame = try source.nextFrame() {
                if first == nil { first = frame.time }
                last = frame.time
                clips += builder.push(frame).count
            }
            let tail = builder.finish()
            clips += tail.count
            padded = tail.contains { $0.padded }
            object["frames_decoded"] = source.framesDecoded
            object["corrupt_frames_skipped"] = source.corruptFrames
            object["first_frame_time"] = first ?? NSNull()
            object["last_frame_time"] = last ?? NSNull()
            object["clips"] = clips
            object["sampling"] = ["fps": fps, "clip_length": clipLength, "stride": stride] as [String: Any]
            object["shorter_than_one_clip"] = padded
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        return .success
    }
}
