// Checkpoint readers: formats, strictness, and refusal of anything a plain state_dict would not contain.
import Foundation
import Testing
import VidarNN

func expectCheckpointError(_ kind: CheckpointError.Kind, containing text: String, sourceLocation: SourceLocation = #_sourceLocation,
                           _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a CheckpointError containing '\(text)'", sourceLocation: sourceLocation)
    } catch let e as CheckpointError {
        #expect(e.kind == kind, "\(e)", sourceLocation: sourceLocation)
        #expect(e.description.contains(text), "\(e)", sourceLocation: sourceLocation)
        #expect(!e.description.contains("\n"), "one line", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite(.serialized) struct CheckpointTests {
    @Test(arguments: [("evil_os_system.pth", "os.system"), ("evil_builtins_eval.pth", "builtins.eval")])
    func codeExecutingPicklesAreRefusedAndNothingRuns(file: String, global: String) throws {
        let sentinel = Fixtures.directory.appendingPathComponent("PWNED").path
        try? FileManager.default.removeItem(atPath: sentinel)
        let path = try Fixtures.path(file)
        expectCheckpointError(.unsafePickle, containing: "refused global '\(global)'") { _ = try Checkpoint.read(path: path) }
        #expect(!FileManager.default.fileExists(atPath: sentinel), "the payload must not have run")
    }

    @Test func aWholePickledModuleIsRefusedByName() throws {
        let path = try Fixtures.path("tiny_whole_model.pth")
        expectCheckpointError(.unsafePickle, containing: "TinyVideoResNet") { _ = try Checkpoint.read(path: path) }
    }

    @Test func legacyCheckpointsGetResaveAdvice() throws {
        let path = try Fixtures.path("tiny_legacy.pth")
        expectCheckpointError(.badFormat, containing: "torch.save(torch.load(") { _ = try Checkpoint.read(path: path) }
    }

    @Test(arguments: ["tiny_truncated.pth", "tiny_truncated.safetensors"])
    func truncatedFilesAreRejected(file: String) throws {
        let path = try Fixtures.path(file)
        expectCheckpointError(.badFormat, containing: "truncated") { _ = try VideoResNet(contentsOf: path) }
    }

    @Test func misshapenTensorIsNamedWithBothShapes() throws {
        let path = try Fixtures.path("tiny_wrong_shape.pth")
        expectCheckpointError(.mismatch, containing: "tensor 'layer3.0.downsample.0.weight' has shape [16, 16, 3, 3, 3], expected [16, 16, 1, 1, 1]") {
            _ = try VideoResNet(contentsOf: path)
        }
    }

    @Test func everyMissingAndUnexpectedTensorIsListed() throws {
        let path = try Fixtures.path("tiny_missing_keys.pth")
        do {
            _ = try VideoResNet(contentsOf: path)
            Issue.record("expected a mismatch error")
        } catch let e as CheckpointError {
            #expect(e.kind == .mismatch)
            for part in ["missing tensor 'fc.bias'", "missing tensor 'layer1.0.conv2.1.running_var'", "unexpected tensor 'extra.weight'"] {
                #expect(e.description.contains(part), "\(e)")
            }
            #expect(!e.description.contains("num_batches_tracked"))
        }
    }

    @Test(arguments: ["tiny.pth", "tiny.safetensors", "tiny_zip64.pth", "tiny_transposed_fc.pth"])
    func tinyCustomNetworkMatchesTorch(file: String) throws {
        let net = try VideoResNet(contentsOf: try Fixtures.path(file))
        #expect(net.config.convKinds == [.conv3d, .conv3dNoTemporal, .conv2plus1d, .conv3d])
        #expect(net.config.blocks == [1, 2, 1, 1])
        #expect(net.config.widths == [8, 16, 16, 24])
        expectMatches(try InferenceSession(network: net).logits(try Fixtures.npy("tiny_2x8x32x40_input.npy")), try Fixtures.npy("tiny_2x8x32x40_logits.npy"))
    }

    @Test func configurationInMetadataIsUsedAndStillCheckedStrictly() throws {
        let dict = try Checkpoint.read(path: try Fixtures.path("tiny.safetensors"))
        var tensors: [(String, Tensor)] = dict.tensors.sorted { $0.key < $1.key }.map { ($0.key, Tensor(shape: $0.value.shape, data: $0.value.floats())) }
        let config = try VideoResNetConfig.recognise(dict, path: "tiny")
        let meta = [VideoResNetConfig.metadataKey: String(decoding: try JSONEncoder().encode(config), as: UTF8.self)]
        let withMeta = try Checkpoint.read(Safetensors.encode(tensors, metadata: meta), path: "meta.safetensors")
        #expect(try VideoResNetConfig.recognise(withMeta, path: "meta") == config)
        var wrong = config
        wrong.widths[3] = 32
        let lying = try Checkpoint.read(Safetensors.encode(tensors, metadata: [VideoResNetConfig.metadataKey:
            String(decoding: try JSONEncoder().encode(wrong), as: UTF8.self)]), path: "lying.safetensors")
        expectCheckpointError(.mismatch, containing: "fc.weight") {
            _ = try VideoResNet(config: try VideoResNetConfig.recognise(lying, path: "lying.safetensors"), stateDict: lying, path: "lying.safetensors")
        }
        tensors.removeAll { $0.0 == "fc.weight" }
        expectCheckpointError(.mismatch, containing: "'fc.weight' is missing") {
            _ = try VideoResNetConfig.recognise(try Checkpoint.read(Safetensors.encode(tensors), path: "x"), path: "x")
        }
    }

    // MARK: safetensors header validation, on hand-made files

    static func safetensors(header: String, body: Int) -> Data {
        var d = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { d.append(contentsOf: $0) }
        d.append(Data(header.utf8))
        d.append(Data(count: body))
        return d
    }

    @Test(arguments: [
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 12, "overlap"),
        (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, "needs 12"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 4, "truncated"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, 8, "invalid data_offsets"),
        (#"{"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#, 8, "dtype I32"),
        (#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, 8, "invalid shape"),
        (#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, 8, "more than 2147483648 elements"),
        (#"{"a": [1, 2"#, 8, "not a JSON object"),
        (#"{"__metadata__":{"k":1}}"#, 0, "__metadata__"),
    ])
    func malformedSafetensorsHeadersAreRejected(header: String, body: Int, reason: String) {
        expectCheckpointError(.badFormat, containing: reason) {
            _ = try Checkpoint.read(Self.safetensors(header: header, body: body), path: "bad.safetensors")
        }
    }

    @Test func hugeSafetensorsHeaderLengthIsRefusedBeforeReading() {
        var d = Data()
        withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { d.append(contentsOf: $0) }
        d.append(Data("{}".utf8))
        expectCheckpointError(.badFormat, containing: "exceeds") { _ = try Checkpoint.read(d, path: "huge.safetensors") }
    }

    @Test func unknownFormatsAndEmptyFilesAreNamed() {
        expectCheckpointError(.badFormat, containing: "empty file") { _ = try Checkpoint.read(Data(), path: "empty.pth") }
        expectCheckpointError(.badFormat, containing: "not a checkpoint") { _ = try Checkpoint.read(Data("hello world".utf8), path: "x.txt") }
        expectCheckpointError(.unreadable, containing: "no such file") { _ = try Checkpoint.read(path: "/nonexistent/x.pth") }
        expectCheckpointError(.unreadable, containing: "directory") { _ = try Checkpoint.read(path: "/tmp") }
    }

    @Test func halfPrecisionWideningIsExact() {
        #expect(TensorEntry.widenHalf(0x3c00) == 1)
        #expect(TensorEntry.widenHalf(0xc000) == -2)
        #expect(TensorEntry.widenHalf(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
        #expect(TensorEntry.widenHalf(0x7bff) == 65504)
        #expect(TensorEntry.widenHalf(0x7c00) == .infinity)
        #expect(TensorEntry.widenHalf(0x7e00).isNaN)
    }
}
