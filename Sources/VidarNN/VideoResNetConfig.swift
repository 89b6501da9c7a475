// The VideoResNet family as data: torchvision's r3d_18, mc3_18 and r2plus1d_18 differ only in these fields.
// Port of the structure of torchvision/models/video/resnet.py (BasicBlock networks).

public struct VideoResNetConfig: Codable, Equatable, Sendable {
    public enum Stem: String, Codable, Sendable {
        /// Conv3d(3→w, 3×7×7, stride 1×2×2, pad 1×3×3), BN, ReLU.
        case basic
        /// Conv3d(3→mid, 1×7×7, stride 1×2×2, pad 0×3×3), BN, ReLU, Conv3d(mid→w, 3×1×1, pad 1×0×0), BN, ReLU.
        case r2plus1d
    }

    public enum ConvKind: String, Codable, Sendable {
        /// 3×3×3 (`Conv3DSimple`).
        case conv3d
        /// 1×3×3 (`Conv3DNoTemporal`): its shortcut keeps time.
        case conv3dNoTemporal = "conv3d_no_temporal"
        /// 1×3×3 to the mid-planes, BN, ReLU, then 3×1×1 (`Conv2Plus1D`).
        case conv2plus1d
    }

    public var stem: Stem
    /// Output channels of the stem (torchvision: 64).
    public var stemWidth: Int
    /// Channels between the R(2+1)D stem's two convolutions (torchvision: 45); unused by the basic stem.
    public var stemMidWidth: Int
    /// Per stage: the convolution kind, the number of BasicBlocks and the width.
    public var convKinds: [ConvKind]
    public var blocks: [Int]
    public var widths: [Int]
    public var numClasses: Int
    public var inputChannels: Int

    public init(stem: Stem, stemWidth: Int = 64, stemMidWidth: Int = 45, convKinds: [ConvKind], blocks: [Int],
                widths: [Int], numClasses: Int, inputChannels: Int = 3) {
        self.stem = stem
        self.stemWidth = stemWidth
        self.stemMidWidth = stemMidWidth
        self.convKinds = convKinds
        self.blocks = blocks
        self.widths = widths
        self.numClasses = numClasses
        self.inputChannels = inputChannels
    }

    public static func r3d18(numClasses: Int = 400) -> VideoResNetConfig {
        VideoResNetConfig(stem: .basic, convKinds: Array(repeating: .conv3d, count: 4), blocks: [2, 2, 2, 2],
                          widths: [64, 128, 256, 512], numClasses: numClasses)
    }

    public static func mc318(numClasses: Int = 400) -> VideoResNetConfig {
        VideoResNetConfig(stem: .basic, convKinds: [.conv3d] + Array(repeating: .conv3dNoTemporal, count: 3),
                          blocks: [2, 2, 2, 2], widths: [64, 128, 256, 512], numClasses: numClasses)
    }

    public static func r2plus1d18(numClasses: Int = 400) -> VideoResNetConfig {
        VideoResNetConfig(stem: .r2plus1d, convKinds: Array(repeating: .conv2plus1d, count: 4), blocks: [2, 2, 2, 2],
                          widths: [64, 128, 256, 512], numClasses: numClasses)
    }

    /// torchvision's name for this configuration, or nil for a custom member of the family.
    public var torchvisionName: String? {
        switch self {
        case .r3d18(numClasses: numClasses): return "r3d_18"
        case .mc318(numClasses: numClasses): return "mc3_18"
        case .r2plus1d18(numClasses: numClasses): return "r2plus1d_18"
        default: return nil
        }
    }

    public var name: String { torchvisionName ?? "VideoResNet" }

    /// Stage i's stride: 1 for the first stage, 2 after (as in torchvision).
    public static func stageStride(_ stage: Int) -> Int { stage == 0 ? 1 : 2 }

    /// torchvision's BasicBlock mid-planes formula, which keeps a (2+1)D block's parameter count near a 3D one's.
    public static func midPlanes(inPlanes: Int, planes: Int) -> Int {
        (inPlanes * planes * 3 * 3 * 3) / (inPlanes * 3 * 3 + 3 * planes)
    }

    public static let maxStages = 16, maxBlocks = 256, maxWidth = 16_384, maxClasses = 1 << 20, maxInputChannels = 64

    /// Checks the fields against each other and the limits above; returns a reason when they do not describe a
    /// network vidar can build.
    public func validationError() -> String? {
        guard convKinds.count == blocks.count, blocks.count == widths.count, !blocks.isEmpty else {
            return "convKinds, blocks and widths must have one entry per stage (got \(convKinds.count), \(blocks.count), \(widths.count))"
        }
        if blocks.contains(where: { $0 < 1 }) { return "every stage needs at least one block: \(blocks)" }
        if widths.contains(where: { $0 < 1 }) || stemWidth < 1 || stemMidWidth < 1 || numClasses < 1 || inputChannels < 1 {
            return "widths, channels and classes must be positive"
        }
        // Bounds far above any published VideoResNet, so that no shape computed from them can overflow.
        if blocks.count > Self.maxStages { return "\(blocks.count) stages; at most \(Self.maxStages)" }
        if let b = blocks.first(where: { $0 > Self.maxBlocks }) { return "\(b) blocks in a stage; at most \(Self.maxBlocks)" }
        if let w = (widths + [stemWidth, stemMidWidth]).first(where: { $0 > Self.maxWidth }) { return "width \(w); at most \(Self.maxWidth)" }
        if numClasses > Self.maxClasses { return "\(numClasses) classes; at most \(Self.maxClasses)" }
        if inputChannels > Self.maxInputChannels { return "\(inputChannels) input channels; at most \(Self.maxInputChannels)" }
        return nil
    }
}
