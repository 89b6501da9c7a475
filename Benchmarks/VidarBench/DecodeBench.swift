// Decode + preprocess throughput: frames/s for 480p, 720p and 1080p H.264 through vidar's decode stage
// (FFmpeg decode → RGB24 → torchvision's resize/crop/normalise), beside `ffmpeg -vf scale=171:128 -f null -`
// on the same file in the same run, for 1 and 2 decode threads.
import Foundation
import Vidar
import VidarVideo

struct DecodeOptions {
    var seconds = 10
    var runs = 3
    var json = false
    var threads = [1, 2]

    static let usage = """
        usage: vidar-bench decode [--seconds N] [--runs N] [--json]
        defaults: --seconds 10 (length of each generated test video, 25 fps) --runs 3 (median reported)
        """

    init(_ argv: [String]) {
        var i = 0
        while i < argv.count {
            switch argv[i] {
            case "--seconds": i += 1; seconds = Int(argv[safe: i] ?? "") ?? { fail(Self.usage) }()
            case "--runs": i += 1; runs = Int(argv[safe: i] ?? "") ?? { fail(Self.usage) }()
            case "--json": json = true
            case "--help", "-h": print(Self.usage); exit(0)
            default: fail("unknown option \(argv[i])\n" + Self.usage)
            }
            i += 1
        }
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}

func runDecodeBench(_ argv: [String]) {
    let options = DecodeOptions(argv)
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vidar-decode-bench")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let sizes = [("480p", "854x480"), ("720p", "1280x720"), ("1080p", "1920x1080")]
    struct Row: Encodable {
        let video: String, threads: Int, frames: Int
        let vidar_fps: Double, ffmpeg_fps: Double, vidar_over_ffmpeg_throughput: Double
    }
    var rows: [Row] = []
    for (name, size) in sizes {
        let path = dir.appendingPathComponent("\(name)-\(options.seconds)s.mp4").path
        if !FileManager.default.fileExists(atPath: path) {
            _ = shell("ffmpeg -v error -y -f lavfi -i testsrc2=size=\(size):rate=25 -t \(options.seconds) "
                      + "-c:v libx264 -preset veryfast -pix_fmt yuv420p \(path)")
        }
        guard FileManager.default.fileExists(atPath: path) else { fail("could not make \(path) with the ffmpeg CLI") }
        for threads in options.threads {
            var vidarTimes: [Double] = [], ffmpegTimes: [Double] = []
            var frames = 0
            for _ in 0..<options.runs {
                let t0 = DispatchTime.now().uptimeNanoseconds
                do {
                    // As the pipeline decodes: the model's resize applied to each frame as it is converted.
                    var sourceOptions = SourceOptions(decodeThreads: threads)
                    sourceOptions.resize = ClipTransform.kinetics.frameResize
                    let source = try MediaSource(url: path, options: sourceOptions)
                    frames = 0
                    while let frame = try source.nextFrame() {
                        _ = ClipTransform.kinetics.apply([frame])
                        frames += 1
                    }
                } catch { fail("\(error)") }
                vidarTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                let t1 = DispatchTime.now().uptimeNanoseconds
                _ = shell("ffmpeg -v error -threads \(threads) -i \(path) -vf scale=171:128 -f null -")
                ffmpegTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e9)
            }
            let v = Double(frames) / vidarTimes.sorted()[vidarTimes.count / 2]
            let f = Double(frames) / ffmpegTimes.sorted()[ffmpegTimes.count / 2]
            rows.append(Row(video: "\(name) H.264 \(size)", threads: threads, frames: frames, vidar_fps: v, ffmpeg_fps: f,
                            vidar_over_ffmpeg_throughput: v / f))
        }
    }
    let (cpu, commit) = machineDescription()
    if options.json {
        struct Report: Encodable { let benchmark = "decode-preprocess"; let commit: String; let cpu: String; let rows: [Row] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try! encoder.encode(Report(commit: commit, cpu: cpu, rows: rows)), as: UTF8.self))
        return
    }
    print("vidar-bench decode-preprocess  commit \(commit)")
    print("machine: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores; median of \(options.runs) runs; "
          + "vidar = decode → RGB24 → resize 128×171, crop 112, normalise; ffmpeg = -vf scale=171:128 -f null -")
    print("")
    print("video                      threads  frames   vidar fps  ffmpeg fps  vidar/ffmpeg")
    for r in rows {
        print(r.video.padding(toLength: 27, withPad: " ", startingAt: 0)
              + String(format: "%7d %7d %11.1f %11.1f %13.2f", r.threads, r.frames, r.vidar_fps, r.ffmpeg_fps, r.vidar_over_ffmpeg_throughput))
    }
}
