import Foundation
import Testing
import TestSupport
import Vidar
import VidarVideo

struct PreprocessingTests {
    @Test func torchvisionCheckpointsGetTheKineticsPreset() throws {
        let model = try ModelLoader.load(try TestFixtures.path("tiny.pth"))
        #expect(model.preprocessing == .kinetics)
        #expect(model.preprocessing.sampling.fps == 15 && model.preprocessing.sampling.clipLength == 16)
    }

    @Test func aCheckpointCanCarryItsOwnPreprocessing() throws {
        let tiny = try Checkpoint.read(path: try TestFixtures.path("tiny.safetensors"))
        let custom = Preprocessing(transform: ClipTransform(resize: [64, 80], crop: [56, 56], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]),
                                   sampling: SamplingOptions(fps: 10, clipLength: 8, stride: 4))
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("custom.safetensors")
        let meta = [Preprocessing.metadataKey: String(decoding: try JSONEncoder().encode(custom), as: UTF8.self)]
        try Safetensors.encode(tiny, setting: meta).write(to: file)
        #expect(try ModelLoader.load(file.path).preprocessing == custom)
        let bad = dir.appendingPathComponent("bad.safetensors")
        try Safetensors.encode(tiny, setting: [Preprocessing.metadataKey: #"{"transform": 3}"#]).write(to: bad)
        #expect { try ModelLoader.load(bad.path) } throws: { ($0 as? VidarError)?.kind == .invalidData }
    }
}
