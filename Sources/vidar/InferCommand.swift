// `vidar infer`: a preprocessed clip tensor in, logits out, both as .npy, so anyone can check vidar against PyTorch.
import Foundation
import Vidar

enum InferCommand {
    static var usage: String { """
        usage: vidar infer --model CKPT --input X.npy --output LOGITS.npy [options]

        Runs the network on a preprocessed float32 tensor of shape N×C×T×H×W (torchvision's video transform
        output) and writes the N×classes logits as a float32 .npy file. Prints the top classes per clip.

        options:
          --model CKPT|NAME  checkpoint: a torch.save .pth or a .safetensors file, or a registered name
                             (r3d_18, mc3_18, r2plus1d_18) fetched with `vidar models fetch`   (required)
          --input FILE       input tensor, float32 .npy, N×C×T×H×W                              (required)
          --output FILE      logits, float32 .npy, N×classes                                    (required)
          --labels FILE      class names, one per line (default: the checkpoint's own, or Kinetics-400)
          --topk K           classes printed per clip (default: 5; 0 prints nothing)
          --backend NAME     convolution backend: auto (oneDNN, else OpenBLAS), onednn, gemm (vol2col + OpenBLAS
                             sgemm) or reference (naive loops, slow) (default: auto)
          --threads N        compute threads, oneDNN's and OpenBLAS's (default: \(ProcessInfo.processInfo.activeProcessorCount), the core count)
        """ }

    static func run(_ argv: [String]) throws -> ExitCode {
        var args = Arguments(argv)
        if args.flag("--help") || args.flag("-h") { print(usage); return .success }
        let modelSpec = try args.option("--model")
        let inputPath = try args.option("--input")
        let outputPath = try args.option("--output")
        let labelsPath = try args.option("--labels")
        let topk = try args.intOption("--topk", range: 0...1000) ?? 5
        let threads = try args.intOption("--threads", range: 1...256) ?? ProcessInfo.processInfo.activeProcessorCount
        let backendName = try args.option("--backend") ?? "auto"
        guard backendName == "auto" || Backends.names.contains(backendName) else {
            throw UsageError("--backend must be auto, \(Backends.names.joined(separator: ", ")); got '\(backendName)'")
        }
        let extra = try args.positionals()
        guard extra.isEmpty else { throw UsageError("unexpected argument '\(extra[0])'") }
        guard let modelSpec else { throw UsageError("--model is required") }
        guard let inputPath else { throw UsageError("--input is required") }
        guard let outputPath else { throw UsageError("--output is required") }

        Backends.setThreads(threads)
        let backend: ConvolutionBackend
        do { backend = try Backends.named(backendName) } catch {
            throw VidarError(.unavailable, "backend \(backendName): \(error)")
        }
        let model = try ModelLoader.load(modelSpec, labelsFile: labelsPath)
        let input = try readTensor(inputPath)
        if let problem = model.network.inputShapeError(input.shape) { throw VidarError(.invalidData, "\(inputPath): \(problem)") }
        let logits = try InferenceSession(network: model.network, backend: backend, threads: threads).logits(input)
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
            let row = Array(logits.data[(b * classes)..<((b + 1) * classes)])
            let probabilities = softmax(row)
            let best = (0..<classes).sorted { row[$0] > row[$1] }.prefix(k)
            let text = best.map { i in
                "\(labels?[i] ?? "class \(i)") \(String(format: "%.3f", probabilities[i]))"
            }.joined(separator: ", ")
            print("clip \(b): \(text)")
        }
    }
}
