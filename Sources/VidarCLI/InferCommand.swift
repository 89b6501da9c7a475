// `vidar infer`: a preprocessed clip tensor in, logits out, both as .npy, so anyone can check vidar against PyTorch.
import Foundation
import Vidar

enum InferCommand: Command {
    static let spec = CommandSpec(
        name: "infer",
        usage: ["vidar infer --model CKPT|NAME --input X.npy -o LOGITS.npy [options]"],
        summary: """
            Runs the network on a preprocessed float32 tensor of shape N×C×T×H×W (torchvision's video transform \
            output) and writes the N×classes logits as a float32 .npy file. Prints the top classes per clip.
            """,
        groups: [
            OptionGroup("model", [
                Option(["--model"], value: "CKPT|NAME", default: "required",
                       "a checkpoint (.pth from torch.save, or .safetensors) or a registered name (r3d_18, mc3_18, "
                       + "r2plus1d_18, fetched with `vidar models fetch`; vidar-actions)"),
                Option(["--labels"], value: "FILE", default: "the checkpoint's own, or Kinetics-400", "class names, one per line"),
            ]),
            OptionGroup("tensors", [
                Option(["--input"], value: "FILE", default: "required", "input tensor, float32 .npy, N×C×T×H×W"),
                Option(["-o", "--output"], value: "FILE", default: "required", "logits, float32 .npy, N×classes"),
                Option(["--topk"], value: "K", default: "5", "classes printed per clip (0 prints nothing)"),
            ]),
            SharedOptions.compute,
        ],
        footer: "Exit: 0 written; 64 usage; 65 bad checkpoint or tensor; 66 missing file; 73 cannot write the output.")

    static func run(_ args: ParsedArguments) throws -> ExitCode {
        let topk = try args.int("--topk", in: 0...1000) ?? 5
        let threads = try args.int("--threads", in: 1...256) ?? SharedOptions.cores
        let backendName = try args.choice("--backend", in: ["auto"] + Backends.names) ?? "auto"
        guard args.positionals.isEmpty else { throw UsageError("unexpected argument '\(args.positionals[0])'") }
        guard let modelSpec = args.string("--model") else { throw UsageError("--model is required") }
        guard let inputPath = args.string("--input") else { throw UsageError("--input is required") }
        guard let outputPath = args.string("--output") else { throw UsageError("-o/--output is required") }
        let labelsPath = args.string("--labels")

        Backends.setThreads(threads)
        let (backend, precision) = try SharedOptions.compute(backend: backendName,
                                                             precision: try args.choice("--precision", in: Precision.choices) ?? "fp32")
        let model = try ModelLoader.load(modelSpec, labelsFile: labelsPath)
        try SharedOptions.check(precision, model: model)
        let input = try readTensor(inputPath)
        if let problem = model.network.inputShapeError(input.shape) { throw VidarError(.invalidData, "\(inputPath): \(problem)") }
        let logits = try InferenceSession(network: model.network, backend: backend, threads: threads,
                                        precision: precision).logits(input)
        try AtomicFile.write(NPY.encode(logits), to: outputPath)
        if topk > 0 { printTop(logits, k: topk, labels: model.labels) }
        return .success
    }

    static func readTensor(_ path: String) throws -> Tensor {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw VidarError(.notFound, "\(path): no such file")
        }
        guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: path) else {
            throw VidarError(.notFound, "\(path): cannot be read (a directory, or permission denied)")
        }
        do { return try NPY.decode(data) } catch let e as NPYError {
            throw VidarError(.invalidData, "\(path): \(e.reason)")
        }
    }

    static func printTop(_ logits: Tensor, k: Int, labels: [String]?) {
        let classes = logits.shape[1]
        for b in 0..<logits.shape[0] {
            let row = logits.batchItem(b).data
            let probabilities = softmax(row)
            let best = (0..<classes).sorted { row[$0] > row[$1] }.prefix(k)
            let text = best.map { i in
                "\(labels?[i] ?? "class \(i)") \(String(format: "%.3f", probabilities[i]))"
            }.joined(separator: ", ")
            print("clip \(b): \(text)")
        }
    }
}
