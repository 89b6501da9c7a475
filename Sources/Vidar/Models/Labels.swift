// Class names for a model's outputs: a user's label file, the checkpoint's own metadata, or Kinetics-400.
import Foundation

public enum Labels {
    /// The safetensors metadata key under which a checkpoint may carry its class names (a JSON array).
    public static let metadataKey = "vidar.labels"

    /// Returns names for every output, or nil when none are known (a custom head without a label file).
    /// A label count that does not match the classifier is an error naming the file.
    public static func resolve(numClasses: Int, labelsFile: String?, metadata: [String: String]) throws -> [String]? {
        if let labelsFile {
            guard let text = try? String(contentsOfFile: labelsFile, encoding: .utf8) else {
                throw VidarError(FileManager.default.fileExists(atPath: labelsFile) ? .invalidData : .notFound,
                                 "\(labelsFile): cannot read the label file (one class name per line, UTF-8)")
            }
            let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            guard names.count == numClasses else {
                throw VidarError(.invalidData, "\(labelsFile): has \(names.count) class names but the model's fc layer has \(numClasses) outputs")
            }
            return names
        }
        if let json = metadata[metadataKey] {
            guard let names = try? JSONDecoder().decode([String].self, from: Data(json.utf8)), names.count == numClasses else {
                throw VidarError(.invalidData, "checkpoint metadata '\(metadataKey)' does not list \(numClasses) class names")
            }
            return names
        }
        return numClasses == KineticsLabels.kinetics400.count ? KineticsLabels.kinetics400 : nil
    }
}
