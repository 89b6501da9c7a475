// One call from a --model value to a ready network with its labels; every failure is a one-line typed error
// (VidarError, CheckpointError).
import Foundation

public struct LoadedModel: Sendable {
    public let path: String
    public let network: VideoResNet
    /// What the checkpoint file was, kept without its tensors so the (memory-mapped) file can be released.
    public let checkpoint: CheckpointSummary
    public let labels: [String]?
    public let preprocessing: Preprocessing
    /// The aggregator settings the model recommends (empty: vidar's defaults).
    public let aggregatorDefaults: AggregatorDefaults
    /// What users should know about this model's reach (set for the bundled synthetic model).
    public let notice: String?
}

public enum ModelLoader {
    public static func load(_ spec: String, labelsFile: String? = nil) throws -> LoadedModel {
        let path = try ModelRegistry.resolve(spec)
        let dict = try Checkpoint.read(path: path)
        let config = try VideoResNetConfig.recognise(dict, path: path)
        let network = try VideoResNet(config: config, stateDict: dict, path: path)
        let labels = try Labels.resolve(numClasses: config.numClasses, labelsFile: labelsFile, metadata: dict.metadata, path: path)
        let preprocessing = try Preprocessing.resolve(metadata: dict.metadata, path: path)
        let aggregatorDefaults = try AggregatorDefaults.resolve(metadata: dict.metadata, path: path)
        return LoadedModel(path: path, network: network,
                           checkpoint: CheckpointSummary(format: dict.format, dtypes: dict.dtypeSummary, metadata: dict.metadata),
                           labels: labels, preprocessing: preprocessing, aggregatorDefaults: aggregatorDefaults,
                           notice: path == ModelRegistry.bundledPath ? ModelRegistry.bundledNotice : nil)
    }
}

extension LoadedModel {
    /// The same model with int8 activation ranges (the network's layers and packed weights are shared).
    public func calibrated(_ calibration: Calibration) throws -> LoadedModel {
        LoadedModel(path: path, network: try network.calibrated(calibration), checkpoint: checkpoint, labels: labels,
                    preprocessing: preprocessing, aggregatorDefaults: aggregatorDefaults, notice: notice)
    }
}

public struct CheckpointSummary: Sendable {
    public let format: String
    /// e.g. "F32" or "F16+F32".
    public let dtypes: String
    public let metadata: [String: String]
}
