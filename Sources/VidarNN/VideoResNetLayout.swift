// Every convolution of a VideoResNet with its torchvision state_dict keys and shapes, derived from the
// configuration alone. Loading, parameter counting and architecture checks all read this one list.

/// A convolution followed by BatchNorm, named as in torchvision's state_dict.
public struct ConvBNSpec: Sendable {
    public let convKey: String
    public let batchNormKey: String
    public let geometry: Conv3dGeometry
}

public struct BlockSpec: Sendable {
    /// Applied in order, ReLU between and after (conv1), or ReLU between and residual + ReLU after (conv2).
    public let conv1: [ConvBNSpec]
    public let conv2: [ConvBNSpec]
    public let downsample: ConvBNSpec?
}

public struct VideoResNetLayout: Sendable {
    public let stem: [ConvBNSpec]
    public let stages: [[BlockSpec]]
    public let features: Int
    public let numClasses: Int

    public init(_ config: VideoResNetConfig) {
        let c = config
        switch c.stem {
        case .basic:
            stem = [ConvBNSpec(convKey: "stem.0", batchNormKey: "stem.1",
                               geometry: Conv3dGeometry(c.inputChannels, c.stemWidth, kernel: Dims3(3, 7, 7),
                                                        stride: Dims3(1, 2, 2), padding: Dims3(1, 3, 3)))]
        case .r2plus1d:
            stem = [ConvBNSpec(convKey: "stem.0", batchNormKey: "stem.1",
                               geometry: Conv3dGeometry(c.inputChannels, c.stemMidWidth, kernel: Dims3(1, 7, 7),
                                                        stride: Dims3(1, 2, 2), padding: Dims3(0, 3, 3))),
                    ConvBNSpec(convKey: "stem.3", batchNormKey: "stem.4",
                               geometry: Conv3dGeometry(c.stemMidWidth, c.stemWidth, kernel: Dims3(3, 1, 1),
                                                        padding: Dims3(1, 0, 0)))]
        }
        var inPlanes = c.stemWidth
        var stages: [[BlockSpec]] = []
        for (s, kind) in c.convKinds.enumerated() {
            let planes = c.widths[s], stageStride = VideoResNetConfig.stageStride(s)
            var blocks: [BlockSpec] = []
            for b in 0..<c.blocks[s] {
                let stride = b == 0 ? stageStride : 1
                let mid = VideoResNetConfig.midPlanes(inPlanes: inPlanes, planes: planes)
                let p = "layer\(s + 1).\(b)"
                var downsample: ConvBNSpec?
                if b == 0 && (stride != 1 || inPlanes != planes) {
                    let ds = kind == .conv3dNoTemporal ? Dims3(1, stride, stride) : .all(stride)
                    downsample = ConvBNSpec(convKey: "\(p).downsample.0", batchNormKey: "\(p).downsample.1",
                                            geometry: Conv3dGeometry(inPlanes, planes, kernel: .all(1), stride: ds))
                }
                blocks.append(BlockSpec(conv1: Self.convs(kind, inPlanes, planes, mid, stride, "\(p).conv1"),
                                        conv2: Self.convs(kind, planes, planes, mid, 1, "\(p).conv2"),
                                        downsample: downsample))
                inPlanes = planes
            }
            stages.append(blocks)
        }
        self.stages = stages
        features = inPlanes
        numClasses = c.numClasses
    }

    /// torchvision's conv builders: `Conv3DSimple`, `Conv3DNoTemporal`, `Conv2Plus1D`, each followed by BN at ".1".
    private static func convs(_ kind: VideoResNetConfig.ConvKind, _ inPlanes: Int, _ outPlanes: Int, _ mid: Int,
                              _ s: Int, _ p: String) -> [ConvBNSpec] {
        switch kind {
        case .conv3d:
            return [ConvBNSpec(convKey: "\(p).0", batchNormKey: "\(p).1",
                               geometry: Conv3dGeometry(inPlanes, outPlanes, kernel: .all(3), stride: .all(s), padding: .all(1)))]
        case .conv3dNoTemporal:
            return [ConvBNSpec(convKey: "\(p).0", batchNormKey: "\(p).1",
                               geometry: Conv3dGeometry(inPlanes, outPlanes, kernel: Dims3(1, 3, 3), stride: Dims3(1, s, s),
                                                        padding: Dims3(0, 1, 1)))]
        case .conv2plus1d:
            return [ConvBNSpec(convKey: "\(p).0.0", batchNormKey: "\(p).0.1",
                               geometry: Conv3dGeometry(inPlanes, mid, kernel: Dims3(1, 3, 3), stride: Dims3(1, s, s),
                                                        padding: Dims3(0, 1, 1))),
                    ConvBNSpec(convKey: "\(p).0.3", batchNormKey: "\(p).1",
                               geometry: Conv3dGeometry(mid, outPlanes, kernel: Dims3(3, 1, 1), stride: Dims3(s, 1, 1),
                                                        padding: Dims3(1, 0, 0)))]
        }
    }

    public var allConvs: [ConvBNSpec] {
        stem + stages.flatMap { $0.flatMap { $0.conv1 + $0.conv2 + ($0.downsample.map { [$0] } ?? []) } }
    }

    /// Every tensor torchvision's state_dict holds for this network (BatchNorm's `num_batches_tracked` aside).
    public var expectedShapes: [String: [Int]] {
        var shapes: [String: [Int]] = [:]
        for c in allConvs {
            shapes[c.convKey + ".weight"] = c.geometry.torchWeightShape
            for field in ["weight", "bias", "running_mean", "running_var"] {
                shapes["\(c.batchNormKey).\(field)"] = [c.geometry.outChannels]
            }
        }
        shapes["fc.weight"] = [numClasses, features]
        shapes["fc.bias"] = [numClasses]
        return shapes
    }

    /// Learnable parameters as PyTorch counts them (running statistics excluded).
    public var parameterCount: Int {
        expectedShapes.filter { !$0.key.hasSuffix("running_mean") && !$0.key.hasSuffix("running_var") }
            .values.reduce(0) { $0 + $1.reduce(1, *) }
    }
}

extension VideoResNetLayout {
    /// Multiply-adds for one clip of t×h×w frames, counting every tap (padding included) as PyTorch's
    /// profilers do, plus the fc layer; nil when the clip is too small for some layer.
    public func multiplyAdds(t: Int, h: Int, w: Int) -> Int? {
        var size = Dims3(t, h, w)
        var total = 0
        func apply(_ c: ConvBNSpec, to s: Dims3) -> Dims3? {
            guard let o = c.geometry.outputSize(t: s.t, h: s.h, w: s.w) else { return nil }
            total += o.t * o.h * o.w * c.geometry.taps * c.geometry.inChannels * c.geometry.outChannels
            return o
        }
        for c in stem { guard let o = apply(c, to: size) else { return nil }; size = o }
        for block in stages.joined() {
            if let d = block.downsample { guard apply(d, to: size) != nil else { return nil } }
            for c in block.conv1 + block.conv2 { guard let o = apply(c, to: size) else { return nil }; size = o }
        }
        return total + features * numClasses
    }
}
