// Streams in parallel: the same loaded r3d_18 shared by two streams, each with its own inference session and
// one compute thread, beside one stream with two threads, in clips/s. It shows that sessions run inference
// at the same time on one model (no lock around the network) and which split of the cores serves more clips.
import Foundation
import Synchronization
import Vidar

func runStreamsBench(_ argv: [String]) {
    var fixtures = ".fixtures", clips = 6, rounds = 3
    var i = 0
    while i < argv.count {
        switch argv[i] {
        case "--fixtures" where i + 1 < argv.count: fixtures = argv[i + 1]; i += 1
        case "--clips" where i + 1 < argv.count: clips = Int(argv[i + 1]) ?? 0; i += 1
        case "--rounds" where i + 1 < argv.count: rounds = Int(argv[i + 1]) ?? 0; i += 1
        default: fail("usage: vidar-bench streams [--fixtures DIR] [--clips N per stream] [--rounds N] (defaults 6, 3)")
        }
        i += 1
    }
    guard clips > 0, rounds > 0 else { fail("--clips and --rounds must be positive integers") }
    let clipsPerStream = clips
    let fixture = ReferenceFixture(fixtures, model: "r3d_18")
    let (network, input, reference) = (fixture.network, fixture.input, fixture.reference)
    let backend = Backends.standard
    BLAS.setThreads(1)

    /// Runs `clips` clips on each of `streams` threads, each with its own session of `threads` threads; clips/s.
    func measure(streams: Int, threads: Int) -> Double {
        let ready = DispatchGroup(), done = DispatchGroup()
        let go = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        for _ in 0..<streams {
            ready.enter(); done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                let session = InferenceSession(network: network, backend: backend, threads: threads)
                // Warm up (compiles and packs on first use) and validate against torchvision before timing.
                do {
                    let check = try session.logits(input)
                    let scale = reference.data.map(abs).max()!
                    let error = zip(check.data, reference.data).map { abs($0 - $1) }.max()! / scale
                    if error > 1e-4 { failure.withLock { $0 = "logits differ from torchvision's by \(error)" } }
                } catch {
                    failure.withLock { $0 = "\(error)" }
                }
                ready.leave()
                go.wait()
                for _ in 0..<clipsPerStream { _ = try? session.logits(input) }
            }
        }
        ready.wait()
        if let f = failure.withLock({ $0 }) { fail(f) }
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<streams { go.signal() }
        done.wait()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return Double(streams * clipsPerStream) / seconds
    }

    // Interleaved rounds: this machine is shared and noisy, so each configuration is measured in every round
    // and reported by its median.
    let configurations = [("1 stream  × 2 threads", 1, 2), ("2 streams × 1 thread", 2, 1), ("1 stream  × 1 thread", 1, 1)]
    var rates = [[Double]](repeating: [], count: configurations.count)
    for _ in 0..<rounds {
        for (k, (_, streams, threads)) in configurations.enumerated() { rates[k].append(measure(streams: streams, threads: threads)) }
    }
    let (cpu, commit) = machineDescription()
    print("vidar-bench streams  commit \(commit)")
    print("machine: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores; r3d_18, one 3×16×112×112 clip per call, "
          + "\(clips) clips per stream after a validated warm-up; one shared model and backend; \(rounds) interleaved rounds")
    print("")
    print("configuration                  clips/s (median, min–max)   ms/clip per stream")
    var medians: [Double] = []
    for (k, (name, streams, _)) in configurations.enumerated() {
        let sorted = rates[k].sorted()
        let median = sorted[sorted.count / 2]
        medians.append(median)
        print(name.padding(toLength: 28, withPad: " ", startingAt: 0)
              + String(format: "%9.2f  (%5.2f–%5.2f)        %9.1f", median, sorted.first!, sorted.last!, 1000 * Double(streams) / median))
    }
    print("")
    print(String(format: "2 streams × 1 thread ÷ 1 stream × 2 threads: %.2f× the clips/s", medians[1] / medians[0]))
    print(String(format: "2 streams × 1 thread ÷ 1 stream × 1 thread:  %.2f× (2.00 = the two streams never wait for each other)",
                 medians[1] / medians[2]))
}
