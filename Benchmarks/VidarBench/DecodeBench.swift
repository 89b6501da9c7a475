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
        let vidar_fps: Double, vidar_sampled_decoding_every_frame_fps: Double, vidar_sampled_fps: Double, ffmpeg_fps: Double
        let frames_skipped: Int
        let vidar_over_ffmpeg_throughput: Double, vidar_sampled_over_ffmpeg_throughput: Double
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
            var allTimes: [Double] = [], everyTimes: [Double] = [], sampledTimes: [Double] = [], ffmpegTimes: [Double] = []
            var frames = 0, skipped = 0
            for _ in 0..<options.runs {
                allTimes.append(timed { frames = vidarPass(path, threads: threads, fps: nil).decoded })
                everyTimes.append(timed { _ = vidarPass(path, threads: threads, fps: 15, skip: false) })
                sampledTimes.append(timed { skipped = vidarPass(path, threads: threads, fps: 15).skipped })
                ffmpegTimes.append(timed { _ = shell("ffmpeg -v error -threads \(threads) -i \(path) -vf scale=171:128 -f null -") })
            }
            let median = { (t: [Double]) in Double(frames) / t.sorted()[t.count / 2] }
            let (all, every, sampled, f) = (median(allTimes), median(everyTimes), median(sampledTimes), median(ffmpegTimes))
            rows.append(Row(video: "\(name) H.264 \(size)", threads: threads, frames: frames, vidar_fps: all,
                            vidar_sampled_decoding_every_frame_fps: every, vidar_sampled_fps: sampled, ffmpeg_fps: f,
                            frames_skipped: skipped, vidar_over_ffmpeg_throughput: all / f,
                            vidar_sampled_over_ffmpeg_throughput: sampled / f))
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
    print("all = every frame converted (what ffmpeg does); sampled = the pipeline's path at 15 fps, where only the frames")
    print("the sampler takes are converted (decided from timestamps before conversion), with every frame decoded (no skip)")
    print("and as vidar runs it, the decoder skipping unsampled non-reference frames (skipped). fps = the video's frames per second.")
    print("")
    print("video                      threads  frames     all fps   no skip fps sampled fps  skipped  ffmpeg fps    all/ffmpeg sampled/ffmpeg")
    for r in rows {
        print(r.video.padding(toLength: 27, withPad: " ", startingAt: 0)
              + String(format: "%7d %7d %11.1f %13.1f %11.1f %8d %11.1f %13.2f %14.2f", r.threads, r.frames, r.vidar_fps,
                       r.vidar_sampled_decoding_every_frame_fps, r.vidar_sampled_fps, r.frames_skipped,
                       r.ffmpeg_fps, r.vidar_over_ffmpeg_throughput, r.vidar_sampled_over_ffmpeg_throughput))
    }
}

private func timed(_ body: () -> Void) -> Double {
    let t0 = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

/// One pass of the pipeline's decode stage: the model's resize as frames are converted, the transform on each
/// converted frame. `fps` nil converts every frame; otherwise only the frames sampled at `fps`, the decoder
/// skipping unsampled non-reference frames unless `skip` is false. Returns the frames read and skipped.
private func vidarPass(_ path: String, threads: Int, fps: Double?, skip: Bool = true) -> (decoded: Int, skipped: Int) {
    do {
        var sourceOptions = SourceOptions(decodeThreads: threads)
        sourceOptions.resize = ClipTransform.kinetics.frameResize
        sourceOptions.skipUnsampledFrames = skip
        let source = try MediaSource(url: path, options: sourceOptions)
        var frames = SampledFrames(source: source, grid: fps.map { SamplingGrid(fps: $0) })
        while let step = try frames.next() {
            for frame in step.sampled { _ = ClipTransform.kinetics.apply([frame]) }
        }
        for frame in try frames.finish() { _ = ClipTransform.kinetics.apply([frame]) }
        return (source.framesDecoded, source.framesSkipped)
    } catch { fail("\(error)") }
}
