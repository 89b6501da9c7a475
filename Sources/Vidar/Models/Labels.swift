// Class names for a model's outputs: a user's label file, the checkpoint's own metadata, or Kinetics-400.
import Foundation

public enum Labels {
    /// The safetensors metadata key under which a checkpoint may carry its class names (a JSON array).
    public static let metadataKey = "vidar.labels"

    /// Returns names for every output, or nil when none are known (a custom head without a label file).
    /// A label count that does not match the classifier is an error naming the file.
    public static func resolve(numClasses: Int, labelsFile: String?, metadata: [String: String], path: String? = nil) throws -> [String]? {
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
            try check(names, source: labelsFile)
            return names
        }
        if let json = metadata[metadataKey] {
            guard let names = try? JSONDecoder().decode([String].self, from: Data(json.utf8)), names.count == numClasses else {
                throw VidarError(.invalidData, "\(path.map { "\($0): " } ?? "")checkpoint metadata '\(metadataKey)' does not list \(numClasses) class names")
            }
            try check(names, source: "\(path.map { "\($0): " } ?? "")checkpoint metadata '\(metadataKey)'")
            return names
        }
        return numClasses == KineticsLabels.kinetics400.count ? KineticsLabels.kinetics400 : nil
    }

    /// Longest class name accepted, in UTF-8 bytes (they end up in every segment, subtitle and event).
    public static let maxNameBytes = 256

    /// Names are single lines of text: no empty names, no control characters, bounded length.
    private static func check(_ names: [String], source: String) throws {
        for (i, name) in names.enumerated() {
            guard !name.isEmpty, name.utf8.count <= maxNameBytes,
                  !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw VidarError(.invalidData, "\(source): class \(i) is empty, longer than \(maxNameBytes) bytes or holds control characters")
            }
        }
    }
}
