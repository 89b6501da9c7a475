// Per-stream inference state, as whisper.cpp keeps `whisper_state` beside the shared `whisper_context`: the
// network's weights and the backend's compiled, packed copies of them are shared by every stream; the scratch
// memory, oneDNN stream and scratchpad belong to one session, used by one thread at a time.
import Foundation
import Synchronization

public final class InferenceSession {
    public let network: VideoResNet
    public let backend: ConvolutionBackend
    /// Compute threads of this session's calls (OpenMP's count is set per calling thread).
    public let threads: Int
    public let precision: Precision
    /// On oneDNN the session has the network drop its folded weights as oneDNN packs them (it keeps its
    /// own): for processes that run only this backend — label, watch, serve.
    public var releasesFoldedWeights = false
    /// When set, every call runs fp32 layer by layer and shows this each convolution's output: calibration.
    public var activationObserver: ((FoldedConv3d, Activation) -> Void)?
    private let workspace = Workspace()
    /// One workspace per clip-parallel worker (see `logits`), made on the first batch.
    private var workerWorkspaces: [Workspace] = []

    public init(network: VideoResNet, backend: ConvolutionBackend = Backends.standard,
                threads: Int = ProcessInfo.processInfo.activeProcessorCount, precision: Precision = .fp32) {
        self.network = network
        self.backend = backend
        self.threads = max(1, threads)
        self.precision = precision
    }

    /// (N, C, T, H, W) clips → (N, classes) logits.
    public func logits(_ input: Tensor) throws -> Tensor {
        OpenMP.setThreads(threads)
        if releasesFoldedWeights && backend is OneDNNConvolution {
            network.releaseFoldedWeightsOncePacked()
            releasesFoldedWeights = false
        }
        let n = input.shape[0]
        guard n > 1, threads > 1, backend is OneDNNConvolution, activationObserver == nil else {
            return try network.logits(input, backend: backend, precision: precision, workspace: workspace, observe: activationObserver)
        }
        return try clipParallelLogits(input)
    }

    /// A batch on oneDNN runs as one clip per thread, each clip on one thread with its own workspace, rather than
    /// the whole batch on every thread: oneDNN's batched r3d_18 convolutions were slower per clip than single
    /// clips (batch 4 at 0.6–0.9× the clips/s of batch 1, bf16 and int8 on AMX), while two single-threaded clips
    /// side by side give 1.05–1.2× (vidar-bench engine, interleaved runs).
    private func clipParallelLogits(_ input: Tensor) throws -> Tensor {
        let n = input.shape[0], workers = min(threads, n)
        while workerWorkspaces.count < workers { workerWorkspaces.append(Workspace()) }
        let results = Mutex<[Result<Tensor, Error>?]>(Array(repeating: nil, count: n))
        let (network, backend, precision) = (network, backend, precision)
        // Each workspace is used by its worker alone, and only during this call.
        nonisolated(unsafe) let workspaces = workerWorkspaces
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            OpenMP.setThreads(1)
            for i in stride(from: w, to: n, by: workers) {
                let r = Result { try network.logits(input.batchItem(i), backend: backend, precision: precision, workspace: workspaces[w]) }
                results.withLock { $0[i] = r }
            }
        }
        OpenMP.setThreads(threads)
        let parts = try results.withLock { try $0.map { try $0!.get() } }
        return Tensor(shape: [n, parts[0].shape[1]], data: parts.flatMap(\.data))
    }

    /// Clips of one shape (each C×T×H×W, `clipShape`) as one batch → each clip's softmax probabilities.
    public func probabilities(_ clips: [[Float]], clipShape: [Int]) throws -> [[Float]] {
        guard let first = clips.first else { return [] }
        guard clipShape.reduce(1, *) == first.count else {
            throw InferenceError(description: "clip shape \(clipShape) does not hold \(first.count) values")
        }
        var data = [Float]()
        data.reserveCapacity(first.count * clips.count)
        for c in clips {
            guard c.count == first.count else { throw InferenceError(description: "clips of different sizes in one batch") }
            data += c
        }
        let logits = try self.logits(Tensor(shape: [clips.count] + clipShape, data: data))
        let classes = logits.shape[1]
        return (0..<clips.count).map { softmax(logits.data[($0 * classes)..<(($0 + 1) * classes)]) }
    }
}

/// Numerically stable softmax in double precision.
public func softmax<C: Collection>(_ x: C) -> [Float] where C.Element == Float {
    let m = x.max() ?? 0
    let e = x.map { Foundation.exp(Double($0 - m)) }
    let s = e.reduce(0, +)
    return e.map { Float($0 / s) }
}
