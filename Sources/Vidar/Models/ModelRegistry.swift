// Names users can pass to --model: torchvision's published Kinetics-400 checkpoints, found in vidar's cache
// (or PyTorch's own hub cache) once `vidar models fetch NAME` has downloaded them.
import Foundation

public struct RegisteredModel: Sendable {
    public let name: String
    /// torchvision's file name; the part after the last '-' is the SHA-256 prefix of its content.
    public let fileName: String
    /// A bound on the download: the checkpoint's float32 parameters (4 bytes each) with a quarter to spare.
    public let maxBytes: Int
}

public enum ModelRegistry {
    /// Where torchvision publishes its weights (torchvision/models/video/resnet.py).
    public static let torchvisionBaseURL = "https://download.pytorch.org/models/"

    public static let models: [RegisteredModel] = [
        RegisteredModel(name: "r3d_18", fileName: "r3d_18-b3b3357e.pth", maxBytes: 33_371_472 * 5),
        RegisteredModel(name: "mc3_18", fileName: "mc3_18-a90a0ba3.pth", maxBytes: 11_695_440 * 5),
        RegisteredModel(name: "r2plus1d_18", fileName: "r2plus1d_18-91a641e6.pth", maxBytes: 31_505_325 * 5),
    ]

    public static func model(named name: String) -> RegisteredModel? { models.first { $0.name == name } }

    /// The small action model this project trains and ships (tools/actions/train.py): the default `--model`.
    public static let bundledName = "vidar-actions"

    /// Where the bundled model is: beside the binary (its resource bundle, or PREFIX/share/vidar once installed).
    public static var bundledPath: String? { Installation.dataFile("vidar-actions.safetensors") }

    /// Said once wherever the bundled model labels something: it knows only what it was trained on.
    public static let bundledNotice = "the bundled vidar-actions model was trained on synthetic stick figures (7 actions, and no_action when nobody acts); "
        + "on real footage use torchvision's Kinetics-400 checkpoints (--model r3d_18 after `vidar models fetch r3d_18`)"

    /// `$VIDAR_CACHE_DIR`, else `$XDG_CACHE_HOME/vidar/models`, else `~/.cache/vidar/models`.
    public static func cacheDirectory(environment env: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let dir = env["VIDAR_CACHE_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: env["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".cache")
        return base.appendingPathComponent("vidar/models")
    }

    /// Directories searched for a registered checkpoint: vidar's cache, then PyTorch hub's.
    static func searchDirectories(environment env: [String: String]) -> [URL] {
        let home = URL(fileURLWithPath: env["HOME"] ?? NSHomeDirectory())
        let torchHome = env["TORCH_HOME"].map { URL(fileURLWithPath: $0) }
            ?? (env["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) } ?? home.appendingPathComponent(".cache"))
                .appendingPathComponent("torch")
        return [cacheDirectory(environment: env), torchHome.appendingPathComponent("hub/checkpoints")]
    }

    /// Turns a --model value into a checkpoint path: an existing file as it is, a registered name to its cached file.
    public static func resolve(_ spec: String,
                               environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if FileManager.default.fileExists(atPath: spec) { return spec }
        if spec == bundledName {
            guard let path = bundledPath else {
                let searched = Installation.dataDirectories.map(\.path).joined(separator: ", ")
                throw VidarError(.notFound, "\(spec): the bundled model is missing from this installation (searched \(searched); "
                                 + "`make install` puts it in PREFIX/share/vidar)")
            }
            return path
        }
        guard let model = model(named: spec) else {
            let names = ([bundledName] + models.map(\.name)).joined(separator: ", ")
            throw VidarError(.notFound, "\(spec): no such checkpoint file, and not a registered model name (\(names))")
        }
        for dir in searchDirectories(environment: env) {
            let path = dir.appendingPathComponent(model.fileName).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw VidarError(.notFound, "\(spec): not downloaded yet; run `vidar models fetch \(spec)` (cache: \(cacheDirectory(environment: env).path))")
    }

    /// The SHA-256 prefix a torch hub file name carries ("r3d_18-b3b3357e.pth" → "b3b3357e"), as torch.hub checks it.
    public static func hashPrefix(ofFileName name: String) -> String? {
        let stem = name.split(separator: ".").first.map(String.init) ?? name
        guard let dash = stem.lastIndex(of: "-") else { return nil }
        let prefix = stem[stem.index(after: dash)...].lowercased()
        guard prefix.count >= 6, prefix.count <= 64, prefix.allSatisfy({ $0.isHexDigit }) else { return nil }
        return prefix
    }
}
