// Registered names, the cache location, and verified downloads from a real HTTP server on 127.0.0.1.
import Foundation
import Synchronization
import Testing
import TestSupport
import Vidar

@Suite(.serialized) struct ModelRegistryTests {
    @Test func hashPrefixIsReadFromTorchHubFileNames() {
        #expect(ModelRegistry.hashPrefix(ofFileName: "r3d_18-b3b3357e.pth") == "b3b3357e")
        #expect(ModelRegistry.hashPrefix(ofFileName: "r2plus1d_18-91a641e6.pth") == "91a641e6")
        #expect(ModelRegistry.hashPrefix(ofFileName: "model.pth") == nil)
        #expect(ModelRegistry.hashPrefix(ofFileName: "model-xyz.pth") == nil)
    }

    @Test func cacheFollowsXDG() {
        #expect(ModelRegistry.cacheDirectory(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/h"]).path == "/c/vidar/models")
        #expect(ModelRegistry.cacheDirectory(environment: ["HOME": "/h"]).path == "/h/.cache/vidar/models")
        #expect(ModelRegistry.cacheDirectory(environment: ["VIDAR_CACHE_DIR": "/v", "XDG_CACHE_HOME": "/c"]).path == "/v")
    }

    @Test func registeredNameResolvesToCachedFileOrSaysHowToFetch() throws {
        let home = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: home) }
        let env = ["XDG_CACHE_HOME": home.path, "HOME": home.path]
        #expect { try ModelRegistry.resolve("r3d_18", environment: env) } throws: {
            ($0 as? VidarError)?.message.contains("vidar models fetch r3d_18") == true
        }
        // PyTorch's own hub cache counts too, for users who already downloaded with torchvision.
        let hub = home.appendingPathComponent("torch/hub/checkpoints")
        try FileManager.default.createDirectory(at: hub, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: hub.appendingPathComponent("mc3_18-a90a0ba3.pth").path, contents: Data())
        #expect(try ModelRegistry.resolve("mc3_18", environment: env) == hub.appendingPathComponent("mc3_18-a90a0ba3.pth").path)
        let cache = home.appendingPathComponent("vidar/models")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: cache.appendingPathComponent("mc3_18-a90a0ba3.pth").path, contents: Data())
        #expect(try ModelRegistry.resolve("mc3_18", environment: env) == cache.appendingPathComponent("mc3_18-a90a0ba3.pth").path)
        #expect { try ModelRegistry.resolve("resnet50", environment: env) } throws: { ($0 as? VidarError)?.kind == .notFound }
    }

    @Test func fetchKeepsAVerifiedDownloadAndRejectsACorruptOne() throws {
        let serve = try TestFixtures.directory().appendingPathComponent("serve")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: serve.appendingPathComponent("manifest.json"))) as! [String: String]
        let good = manifest["good"]!
        let server = try LoopbackHTTPServer(directory: serve)
        defer { server.stop() }
        let cache = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        let progressCalls = Atomic<Int>(0)
        let fetcher = ModelFetcher(cacheDirectory: cache) { _, _ in progressCalls.add(1, ordering: .relaxed) }

        let path = try fetcher.fetch(server.baseURL + good)
        #expect(path == cache.appendingPathComponent(good).path)
        #expect(try SHA256.hex(ofFile: path) == manifest["sha256"])
        #expect(progressCalls.load(ordering: .relaxed) > 0)
        #expect(try fetcher.fetch(server.baseURL + good) == path, "a verified cached copy is reused")

        // The registered name with torchvision's file name, but other bytes: the hash check must reject it.
        #expect { try fetcher.fetch("r3d_18", baseURL: server.baseURL) } throws: {
            guard let e = $0 as? VidarError else { return false }
            return e.kind == .invalidData && e.message.contains("b3b3357e") && e.message.contains("discarded")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: cache.path)
        #expect(left == [good], "no file under the final name and no partial file: \(left)")

        #expect { try fetcher.fetch(server.baseURL + "missing-0123abcd.pth") } throws: {
            ($0 as? VidarError).map { $0.kind == .unavailable && $0.message.contains("404") } == true
        }
    }

    @Test func fetchRefusesUnverifiableNamesAndUnreachableHosts() throws {
        let cache = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        var fetcher = ModelFetcher(cacheDirectory: cache)
        fetcher.timeout = 5
        #expect { try fetcher.fetch("http://127.0.0.1:9/model.pth") } throws: { ($0 as? VidarError)?.kind == .invalidRequest }
        #expect { try fetcher.fetch("resnet50") } throws: { ($0 as? VidarError)?.kind == .invalidRequest }
        // Port 9 (discard) has no listener on loopback here: connection refused.
        #expect { try fetcher.fetch("http://127.0.0.1:9/model-0123abcd.pth") } throws: { ($0 as? VidarError)?.kind == .unavailable }
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache.path).isEmpty)
    }
}

struct LabelsTests {
    @Test func kineticsIsTheDefaultFor400Classes() throws {
        #expect(try Labels.resolve(numClasses: 400, labelsFile: nil, metadata: [:])?.first == "abseiling")
        #expect(try Labels.resolve(numClasses: 5, labelsFile: nil, metadata: [:]) == nil)
    }

    @Test func labelFileMustMatchTheClassifier() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("labels.txt").path
        try "walking\nrunning\njumping\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try Labels.resolve(numClasses: 3, labelsFile: file, metadata: [:]) == ["walking", "running", "jumping"])
        #expect { try Labels.resolve(numClasses: 400, labelsFile: file, metadata: [:]) } throws: {
            ($0 as? VidarError).map { $0.kind == .invalidData && $0.message.contains("3 class names") && $0.message.contains("400") } == true
        }
        #expect(try Labels.resolve(numClasses: 2, labelsFile: nil, metadata: [Labels.metadataKey: #"["a","b"]"#]) == ["a", "b"])
    }
}
