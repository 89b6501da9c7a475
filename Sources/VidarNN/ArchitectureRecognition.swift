// Recognises which VideoResNet a state_dict holds from its keys and shapes alone, as torchvision names them.

extension VideoResNetConfig {
    /// The configuration a vidar safetensors file records in its metadata, under this key.
    public static let metadataKey = "vidar.config"

    /// Reads the configuration from the metadata when present, otherwise from the tensors' keys and shapes.
    public static func recognise(_ dict: StateDict, path: String) throws -> VideoResNetConfig {
        if let json = dict.metadata[metadataKey] {
            guard let config = try? JSONDecoder().decode(VideoResNetConfig.self, from: Data(json.utf8)) else {
                throw CheckpointError(.badFormat, path, "metadata '\(metadataKey)' is not a valid VideoResNet configuration")
            }
            if let reason = config.validationError() { throw CheckpointError(.badFormat, path, "metadata '\(metadataKey)': \(reason)") }
            return config
        }
        let shapes = dict.tensors.mapValues(\.shape)
        func shape(_ key: String, rank: Int) throws -> [Int] {
            guard let s = shapes[key] else {
                throw CheckpointError(.mismatch, path, "not a VideoResNet checkpoint: tensor '\(key)' is missing")
            }
            guard s.count == rank else {
                throw CheckpointError(.mismatch, path, "tensor '\(key)' has shape \(s), expected rank \(rank)")
            }
            return s
        }
        if shapes.keys.contains(where: { $0.hasPrefix("layer1.0.conv3.") }) {
            throw CheckpointError(.mismatch, path, "Bottleneck VideoResNets are not supported (found layer1.0.conv3); vidar runs BasicBlock networks")
        }
        let stem0 = try shape("stem.0.weight", rank: 5)
        var config = VideoResNetConfig(stem: .basic, stemWidth: stem0[0], convKinds: [], blocks: [], widths: [],
                                       numClasses: try shape("fc.weight", rank: 2)[0], inputChannels: stem0[1])
        if shapes["stem.3.weight"] != nil {
            config.stem = .r2plus1d
            config.stemMidWidth = stem0[0]
            config.stemWidth = try shape("stem.3.weight", rank: 5)[0]
        }
        var stage = 1
        while shapes.keys.contains(where: { $0.hasPrefix("layer\(stage).0.") }) {
            var blocks = 0
            while shapes.keys.contains(where: { $0.hasPrefix("layer\(stage).\(blocks).") }) { blocks += 1 }
            let kind: ConvKind
            let width: Int
            if shapes["layer\(stage).0.conv1.0.0.weight"] != nil {
                kind = .conv2plus1d
                width = try shape("layer\(stage).0.conv1.0.3.weight", rank: 5)[0]
            } else {
                let w = try shape("layer\(stage).0.conv1.0.weight", rank: 5)
                kind = w[2] == 1 ? .conv3dNoTemporal : .conv3d
                width = w[0]
            }
            config.convKinds.append(kind)
            config.blocks.append(blocks)
            config.widths.append(width)
            stage += 1
        }
        guard !config.blocks.isEmpty else {
            throw CheckpointError(.mismatch, path, "not a VideoResNet checkpoint: no 'layer1.*' tensors")
        }
        return config
    }
}

import Foundation
