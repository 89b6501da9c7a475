import Foundation
import Testing
import TestSupport
import Vidar
import VidarStream

/// A model may recommend aggregator settings in its metadata (`vidar.aggregator`): they fill what the user leaves
/// unset, a user's value wins, a model without them gets vidar's defaults, and a bad recommendation is one line.
struct AggregatorDefaultsTests {
    /// tiny.safetensors' tensors with the given metadata, in a temporary directory (removed by the caller).
    static func model(_ metadata: [String: String], in dir: URL, name: String = "m") throws -> String {
        let file = dir.appendingPathComponent("\(name).safetensors")
        try Safetensors.encode(try Checkpoint.read(path: try TestFixtures.path("tiny.safetensors")), setting: metadata).write(to: file)
        return file.path
    }

    @Test func aModelsRecommendationFillsWhatTheUserLeavesUnset() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.model([AggregatorDefaults.metadataKey: #"{"smooth": "ma:2", "patience": 3, "margin": 0.2, "exit_threshold": 0.3}"#], in: dir)
        let model = try ModelLoader.load(path)
        #expect(model.aggregatorDefaults == AggregatorDefaults(smoothing: .movingAverage(clips: 2), exitThreshold: 0.3, margin: 0.2, patience: 3))
        let (_, options) = try StreamSettings().resolve(for: model)
        #expect(options == AggregatorOptions(smoothing: .movingAverage(clips: 2), enterThreshold: 0.4, exitThreshold: 0.3, margin: 0.2,
                                             patience: 3, minDuration: 1.0, topK: 3))
        var user = StreamSettings()
        (user.smoothing, user.patience, user.minDuration) = (AggregatorOptions.Smoothing.none, 5, 2)
        let (_, mine) = try user.resolve(for: model)
        #expect(mine.smoothing == .none && mine.patience == 5 && mine.minDuration == 2 && mine.margin == 0.2)
        // A threshold of the user's below the model's exit threshold: refused as it resolved, naming both.
        var low = StreamSettings()
        low.threshold = 0.25
        #expect { try low.resolve(for: model) } throws: {
            ($0 as? VidarError)?.kind == .invalidRequest && "\($0)".contains("0.25") && "\($0)".contains("0.3")
        }
    }

    @Test func aModelWithoutOneGetsVidarsDefaults() throws {
        let model = try ModelLoader.load(try TestFixtures.path("tiny.safetensors"))
        #expect(model.aggregatorDefaults == AggregatorDefaults())
        let (_, options) = try StreamSettings().resolve(for: model)
        #expect(options == AggregatorOptions(smoothing: .none, enterThreshold: 0.4, exitThreshold: 0.25, margin: 0.1, patience: 2,
                                             minDuration: 1.0, topK: 3))
    }

    @Test(arguments: [
        (#"{"smooth": "median:3"}"#, "median:3"), (#"{"patience": 0}"#, "patience"), (#"{"threshold": 0.2, "exit_threshold": 0.3}"#, "exit threshold"),
        (#"{"margin": 1.5}"#, "margin"), (#"[3]"#, "not a JSON object"), (#"{"patience": "three"}"#, "not a JSON object"),
    ])
    func aBadRecommendationIsOneLineNamingTheFile(json: String, reason: String) throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.model([AggregatorDefaults.metadataKey: json], in: dir)
        #expect { try ModelLoader.load(path) } throws: { error in
            let line = "\(error)"
            return (error as? VidarError)?.kind == .invalidData && line.contains(path) && line.contains(AggregatorDefaults.metadataKey)
                && line.contains(reason) && !line.contains("\n")
        }
    }

    @Test func theRecommendationRoundTripsThroughItsJSON() throws {
        let all = AggregatorDefaults(smoothing: .exponential(alpha: 0.5), threshold: 0.45, exitThreshold: 0.2, margin: 0.15, patience: 4, minDuration: 1.5)
        let json = try JSONEncoder().encode(all)
        #expect(try JSONDecoder().decode(AggregatorDefaults.self, from: json) == all)
        #expect(String(decoding: json, as: UTF8.self).contains(#""smooth":"ema:0.5""#))
        #expect(all.summary == "smooth ema:0.5, threshold 0.45, exit threshold 0.2, margin 0.15, patience 4, min duration 1.5 s")
    }
}
