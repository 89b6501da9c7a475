// The built `vidar` binary, run as a user would: stdout, stderr (one line per error) and exit codes.
import Foundation
import Testing
import TestSupport
import Vidar

enum CLI {
    /// The `vidar` built beside this test bundle (same configuration).
    static var binary: String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vidar").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return TestFixtures.repositoryRoot.appendingPathComponent(".build/release/vidar").path
    }

    static func run(_ args: [String], environment: [String: String]? = nil) throws -> ProcessResult {
        try runProcess(binary, args, environment: environment, timeout: 120)
    }

    static func fixture(_ name: String) throws -> String { try TestFixtures.path(name) }

    /// `vidar ARGS` as `nobody`: root reads and writes everywhere, so permission errors need another user.
    static func runAsNobody(_ args: [String]) throws -> ProcessResult {
        try runProcess("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", binary] + args)
    }

    /// A fresh directory only root may write (mode 0755) holding `video` (a fixture) as `name`, mode `mode`.
    static func rootOwnedDirectory(copying video: String, as name: String, mode: Int) throws -> (dir: URL, file: String) {
        let dir = URL(fileURLWithPath: "/tmp/vidar-perm-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let file = dir.appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: try fixture(video), toPath: file)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file)
        return (dir, file)
    }
}

/// One line on stderr, naming `subject`, and the documented exit code.
func expectFailure(_ r: ProcessResult, _ code: ExitCode, mentioning subject: String, _ reason: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(r.status == code.rawValue, "exit \(r.status), stderr: \(r.stderr)", sourceLocation: sourceLocation)
    #expect(r.stderrLines.count == 1, "one line on stderr: \(r.stderr)", sourceLocation: sourceLocation)
    #expect(r.stderr.contains(subject), "names \(subject): \(r.stderr)", sourceLocation: sourceLocation)
    #expect(r.stderr.contains(reason), "says \(reason): \(r.stderr)", sourceLocation: sourceLocation)
    #expect(r.stdout.isEmpty, sourceLocation: sourceLocation)
}

@Suite(.serialized) struct InferCLITests {
    @Test(arguments: ["auto", "onednn", "gemm", "reference"])
    func inferWritesTorchvisionsLogits(backend: String) throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("logits.npy").path
        let r = try CLI.run(["infer", "--model", try CLI.fixture("tiny.pth"), "--input", try CLI.fixture("tiny_2x8x32x40_input.npy"),
                             "--output", out, "--threads", "1", "--backend", backend])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty)
        #expect(r.stdout.contains("clip 0: class") && r.stdout.contains("clip 1: class"))
        let ours = try NPY.decode(Data(contentsOf: URL(fileURLWithPath: out)))
        let ref = try NPY.decode(Data(contentsOf: URL(fileURLWithPath: try CLI.fixture("tiny_2x8x32x40_logits.npy"))))
        #expect(ours.shape == ref.shape)
        let scale = ref.data.map(abs).max()!
        #expect(zip(ours.data, ref.data).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["logits.npy"], "no temp file left")
    }

    @Test func registeredNameResolvesThroughTheCacheAndPrintsKineticsLabels() throws {
        let cache = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        try FileManager.default.createSymbolicLink(atPath: cache.appendingPathComponent("r3d_18-b3b3357e.pth").path,
                                                   withDestinationPath: try CLI.fixture("r3d_18.pth"))
        let out = cache.appendingPathComponent("l.npy").path
        let r = try CLI.run(["infer", "--model", "r3d_18", "--input", try CLI.fixture("r3d_18_1x1x64x64_input.npy"), "--output", out,
                             "--topk", "3"], environment: ["VIDAR_CACHE_DIR": cache.path])
        #expect(r.status == 0, "\(r.stderr)")
        let ref = try NPY.decode(Data(contentsOf: URL(fileURLWithPath: try CLI.fixture("r3d_18_1x1x64x64_logits.npy"))))
        let best = ref.data.indices.max { ref.data[$0] < ref.data[$1] }!
        #expect(r.stdout.hasPrefix("clip 0: \(KineticsLabels.kinetics400[best]) "), "\(r.stdout)")
    }

    @Test func badInputsGetOneLineAndTheirExitCode() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try CLI.fixture("tiny.pth"), input = try CLI.fixture("tiny_2x8x32x40_input.npy")
        let out = dir.appendingPathComponent("o.npy").path
        func infer(model m: String = model, input i: String = input, output o: String = out) throws -> ProcessResult {
            try CLI.run(["infer", "--model", m, "--input", i, "--output", o])
        }
        expectFailure(try infer(model: "/nonexistent/model.pth"), .noInput, mentioning: "/nonexistent/model.pth", "no such checkpoint")
        expectFailure(try infer(model: try CLI.fixture("evil_os_system.pth")), .dataError, mentioning: "evil_os_system.pth", "refused global 'os.system'")
        expectFailure(try infer(model: try CLI.fixture("tiny_truncated.pth")), .dataError, mentioning: "tiny_truncated.pth", "truncated")
        expectFailure(try infer(model: try CLI.fixture("tiny_legacy.pth")), .dataError, mentioning: "tiny_legacy.pth", "legacy")
        expectFailure(try infer(model: try CLI.fixture("tiny_wrong_shape.pth")), .dataError, mentioning: "tiny_wrong_shape.pth",
                      "'layer3.0.downsample.0.weight'")
        expectFailure(try infer(model: input), .dataError, mentioning: "tiny_2x8x32x40_input.npy", "not a checkpoint")
        expectFailure(try infer(input: "/nonexistent/x.npy"), .noInput, mentioning: "/nonexistent/x.npy", "no such file")
        expectFailure(try infer(input: model), .dataError, mentioning: "tiny.pth", "not a NumPy .npy file")
        expectFailure(try infer(input: try CLI.fixture("tiny_2x8x32x40_logits.npy")), .dataError,
                      mentioning: "tiny_2x8x32x40_logits.npy", "5-D")
        let fourChannels = dir.appendingPathComponent("c4.npy").path
        try NPY.encode(Tensor(zeros: [1, 4, 2, 8, 8])).write(to: URL(fileURLWithPath: fourChannels))
        expectFailure(try infer(input: fourChannels), .dataError, mentioning: "c4.npy", "expected 3 channels")
        expectFailure(try infer(output: "/nonexistent/dir/o.npy"), .cannotCreate, mentioning: "/nonexistent/dir/o.npy", "cannot create")
        let labels = dir.appendingPathComponent("labels.txt").path
        try "a\nb\n".write(toFile: labels, atomically: true, encoding: .utf8)
        expectFailure(try CLI.run(["infer", "--model", model, "--input", input, "--output", out, "--labels", labels]),
                      .dataError, mentioning: "labels.txt", "2 class names")
        #expect(!FileManager.default.fileExists(atPath: out), "no output after a failure")
    }

    @Test func usageErrorsExit64() throws {
        let none = try CLI.run([])
        #expect(none.status == 64 && none.stderr.contains("usage: vidar"))
        for args in [["frobnicate"], ["infer"], ["infer", "--model", "m.pth"], ["infer", "--bogus"],
                     ["infer", "--model", "m", "--input", "i", "--output", "o", "--threads", "zero"],
                     ["infer", "--model", "m", "--input", "i", "--output", "o", "--backend", "cuda"], ["models"], ["models", "inspect"]] {
            let r = try CLI.run(args)
            #expect(r.status == 64, "\(args): \(r.status) \(r.stderr)")
            #expect(r.stderrLines.count == 1, "\(args): \(r.stderr)")
        }
    }

    @Test func helpShowsEveryDefault() throws {
        let r = try CLI.run(["infer", "--help"])
        #expect(r.status == 0)
        for text in ["--model", "--input", "--output", "--labels", "--topk", "default: 5", "--threads", "default: ", "--backend",
                     "default: auto"] {
            #expect(r.stdout.contains(text), "\(text)")
        }
        #expect(try CLI.run(["models", "--help"]).stdout.contains("--cache-dir"))
    }
}

@Suite(.serialized) struct ModelsCLITests {
    @Test func inspectReportsArchitectureParametersDtypeAndHash() throws {
        let r = try CLI.run(["models", "inspect", try CLI.fixture("r2plus1d_18.pth")])
        #expect(r.status == 0, "\(r.stderr)")
        for text in ["architecture:  r2plus1d_18", "parameters:    31505325", "dtype:         F32", "classes:       400 (labels: Kinetics-400)"] {
            #expect(r.stdout.contains(text), "\(text) in \(r.stdout)")
        }
        let sha = try SHA256.hex(ofFile: try CLI.fixture("r2plus1d_18.pth"))
        #expect(r.stdout.contains("sha256:        \(sha)"))

        let j = try CLI.run(["models", "inspect", "--json", try CLI.fixture("mc3_18_bf16.safetensors")])
        let object = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        #expect(object["architecture"] as? String == "mc3_18")
        #expect(object["dtype"] as? String == "BF16")
        #expect(object["parameters"] as? Int == 11_695_440)
    }

    @Test func fetchFromLoopbackServerVerifiesTheHash() throws {
        let serve = try TestFixtures.directory().appendingPathComponent("serve")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: serve.appendingPathComponent("manifest.json"))) as! [String: String]
        let server = try LoopbackHTTPServer(directory: serve)
        defer { server.stop() }
        let cache = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        let env = ["VIDAR_CACHE_DIR": cache.path]

        let good = try CLI.run(["models", "fetch", server.baseURL + manifest["good"]!], environment: env)
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout == cache.appendingPathComponent(manifest["good"]!).path + "\n")

        let corrupt = try CLI.run(["models", "fetch", "r3d_18", "--base-url", server.baseURL], environment: env)
        expectFailure(corrupt, .dataError, mentioning: "r3d_18-b3b3357e.pth", "does not start with b3b3357e")
        #expect(!FileManager.default.fileExists(atPath: cache.appendingPathComponent("r3d_18-b3b3357e.pth").path))

        let missing = try CLI.run(["models", "fetch", server.baseURL + "gone-0123abcd.pth"], environment: env)
        expectFailure(missing, .unavailable, mentioning: "gone-0123abcd.pth", "HTTP 404")
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache.path) == [manifest["good"]!])
    }

    @Test func listShowsTheRegisteredModels() throws {
        let cache = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        let r = try CLI.run(["models", "list"], environment: ["VIDAR_CACHE_DIR": cache.path, "TORCH_HOME": cache.path])
        #expect(r.status == 0)
        for name in ["r3d_18-b3b3357e.pth", "mc3_18-a90a0ba3.pth", "r2plus1d_18-91a641e6.pth", "not downloaded"] {
            #expect(r.stdout.contains(name))
        }
    }
}
