// The VideoResNet forward pass (eval mode): stem → stages of BasicBlocks → global average pool → fc.
// Weights are immutable after loading and shareable across threads; per-stream scratch lives in a Workspace.
import COpenBLAS
import Foundation

public struct VideoResNet: Sendable {
    struct Block: Sendable {
        let conv1: [FoldedConv3d]
        let conv2: [FoldedConv3d]
        let downsample: FoldedConv3d?
    }

    public let config: VideoResNetConfig
    let stem: [FoldedConv3d]
    let stages: [[Block]]
    /// (classes, features), PyTorch's Linear layout.
    let fcWeight: [Float]
    let fcBias: [Float]
    /// int8's activation ranges, from the checkpoint's `vidar.calibration` metadata; nil when it has none.
    public private(set) var calibration: Calibration?

    /// Builds the network from a state_dict, checking every tensor strictly and folding BatchNorm.
    public init(config: VideoResNetConfig, stateDict dict: StateDict, path: String) throws {
        if let reason = config.validationError() { throw CheckpointError(.badFormat, path, "invalid configuration: \(reason)") }
        let layout = VideoResNetLayout(config)
        try Self.checkTensors(dict, against: layout.expectedShapes, architecture: config.name, path: path)
        func floats(_ key: String) -> [Float] {
            let t = dict.tensors[key]!
            defer { if dict.isFileMapped { t.dropPages() } }
            return t.floats()
        }
        func fold(_ s: ConvBNSpec) -> FoldedConv3d {
            let bn = s.batchNormKey
            return FoldedConv3d(geometry: s.geometry, torchWeight: floats(s.convKey + ".weight"),
                                gamma: floats(bn + ".weight"), beta: floats(bn + ".bias"),
                                runningMean: floats(bn + ".running_mean"), runningVar: floats(bn + ".running_var"),
                                name: s.convKey)
        }
        self.config = config
        stem = layout.stem.map(fold)
        stages = layout.stages.map { $0.map { Block(conv1: $0.conv1.map(fold), conv2: $0.conv2.map(fold),
                                                     downsample: $0.downsample.map(fold)) } }
        fcWeight = floats("fc.weight")
        fcBias = floats("fc.bias")
        if let json = dict.metadata[Calibration.metadataKey] {
            calibration = try Calibration.decode(json, convolutions: convolutionNames, path: path)
        }
    }

    /// Every convolution, in the order the network runs them.
    var convolutions: [FoldedConv3d] {
        stem + stages.flatMap { $0 }.flatMap { ($0.downsample.map { [$0] } ?? []) + $0.conv1 + $0.conv2 }
    }

    /// The checkpoint names of every convolution, in the order the network runs them.
    public var convolutionNames: [String] { convolutions.map(\.name) }

    /// This network with other int8 ranges (its layers, and their packed weights, are shared with this one).
    public func calibrated(_ calibration: Calibration) throws -> VideoResNet {
        try calibration.check(convolutions: convolutionNames, path: "calibration")
        var copy = self
        copy.calibration = calibration
        return copy
    }

    /// Loads a checkpoint file, recognising the architecture from it.
    public init(contentsOf path: String) throws {
        let dict = try Checkpoint.read(path: path)
        try self.init(config: VideoResNetConfig.recognise(dict, path: path), stateDict: dict, path: path)
    }

    /// Lists every missing, unexpected or misshapen tensor by name in one error.
    static func checkTensors(_ dict: StateDict, against expected: [String: [Int]], architecture: String,
                             path: String) throws {
        var problems: [String] = []
        for (key, shape) in expected.sorted(by: { $0.key < $1.key }) {
            guard let t = dict.tensors[key] else { problems.append("missing tensor '\(key)' \(shape)"); continue }
            if t.shape != shape { problems.append("tensor '\(key)' has shape \(t.shape), expected \(shape)") }
            if !t.dtype.isFloatingPoint { problems.append("tensor '\(key)' has dtype \(t.dtype.rawValue), expected F32, F16 or BF16") }
        }
        for key in dict.tensors.keys.sorted() where expected[key] == nil && !key.hasSuffix("num_batches_tracked") {
            problems.append("unexpected tensor '\(key)'")
        }
        guard problems.isEmpty else {
            let shown = problems.prefix(8).joined(separator: "; ")
            let more = problems.count > 8 ? "; and \(problems.count - 8) more" : ""
            throw CheckpointError(.mismatch, path, "checkpoint does not fit the \(architecture) it was recognised as: \(shown)\(more)")
        }
    }

    /// Rejects inputs the network cannot take; nil when the shape is fine.
    public func inputShapeError(_ shape: [Int]) -> String? {
        guard shape.count == 5 else { return "expected a 5-D N×C×T×H×W tensor, got shape \(shape)" }
        guard shape[1] == config.inputChannels else {
            return "expected \(config.inputChannels) channels in dimension 1 of N×C×T×H×W, got shape \(shape)"
        }
        guard shape.allSatisfy({ $0 >= 1 }) else { return "every dimension must be at least 1, got shape \(shape)" }
        return nil
    }

    /// (N, C, T, H, W) clips → (N, classes) logits, with one stream's scratch memory. Callers normally go
    /// through `InferenceSession`, which keeps the workspace for the stream's life.
    /// oneDNN runs the whole network as one plan in the precision asked for; the other backends go layer by
    /// layer, in fp32 only.
    /// `observe`, when given, sees each convolution's output (after its epilogue) in a layer-by-layer fp32 run,
    /// on any backend: how calibration records int8's ranges.
    public func logits(_ input: Tensor, backend: ConvolutionBackend, precision: Precision = .fp32,
                       workspace: Workspace, observe: ((FoldedConv3d, Activation) -> Void)? = nil) throws -> Tensor {
        if let problem = inputShapeError(input.shape) { throw InferenceError(description: problem) }
        if let onednn = backend as? OneDNNConvolution, observe == nil {
            return classify(averagePool(try onednn.runNetwork(self, input, precision: precision, workspace: workspace)))
        }
        if observe != nil && precision != .fp32 { throw InferenceError(description: "activations are observed at fp32 only") }
        if let reason = precision.unsupportedReason(on: backend) { throw InferenceError(description: "precision \(reason)") }
        func convolve(_ conv: FoldedConv3d, _ x: Activation, residual: Activation?, relu: Bool) throws -> Activation {
            let y = try backend.convolve(conv, x, residual: residual, relu: relu, workspace: workspace)
            observe?(conv, y)
            return y
        }
        /// Convolutions in sequence with ReLU after each; the residual, if any, is added before the last ReLU.
        func chain(_ convs: [FoldedConv3d], _ x: Activation, residual: Activation?) throws -> Activation {
            var y = x
            for (i, conv) in convs.enumerated() {
                y = try convolve(conv, y, residual: i == convs.count - 1 ? residual : nil, relu: true)
            }
            return y
        }
        var x = try chain(stem, Activation(ncthw: input), residual: nil)
        for stage in stages {
            for block in stage {
                let shortcut = try block.downsample.map { try convolve($0, x, residual: nil, relu: false) } ?? x
                let y = try chain(block.conv1, x, residual: nil)
                x = try chain(block.conv2, y, residual: shortcut)
            }
        }
        return classify(averagePool(x))
    }

    /// AdaptiveAvgPool3d((1, 1, 1)): (N, T, H, W, C) → (N, C), summed in Double.
    private func averagePool(_ x: Activation) -> [Float] {
        let positions = x.t * x.h * x.w
        var pooled = [Float](repeating: 0, count: x.n * x.c)
        for b in 0..<x.n {
            var acc = [Double](repeating: 0, count: x.c)
            x.data.withUnsafeBufferPointer { p in
                for i in 0..<positions {
                    let row = (b * positions + i) * x.c
                    for j in 0..<x.c { acc[j] += Double(p[row + j]) }
                }
            }
            for j in 0..<x.c { pooled[b * x.c + j] = Float(acc[j] / Double(positions)) }
        }
        return pooled
    }

    /// fc: (N, features) · Wᵀ + b → (N, classes).
    private func classify(_ features: [Float]) -> Tensor {
        let n = features.count / config.widths.last!, k = config.widths.last!, m = config.numClasses
        var out = [Float](repeating: 0, count: n * m)
        for b in 0..<n { for j in 0..<m { out[b * m + j] = fcBias[j] } }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(m), Int32(k), 1, features, Int32(k),
                    fcWeight, Int32(k), 1, &out, Int32(m))
        return Tensor(shape: [n, m], data: out)
    }

    /// From now on oneDNN drops each layer's folded weights as soon as it has packed them (at once for layers it
    /// packed already): further layouts are packed from its own copies, and the other backends can no longer run
    /// this network. One copy of the weights in memory instead of two, also while packing.
    public func releaseFoldedWeightsOncePacked() {
        for conv in convolutions {
            conv.store.releaseWhenPacked.store(true, ordering: .relaxed)
        }
    }

    /// Learnable parameters, as PyTorch counts them.
    public var parameterCount: Int { VideoResNetLayout(config).parameterCount }
}
