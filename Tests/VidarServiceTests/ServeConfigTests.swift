// serve's configuration read strictly: every error names file, line and column; defaults flow into streams;
// hostile YAML (aliases, deep nesting) is refused before it is built.
import Foundation
import Testing
import Vidar
import VidarService
import VidarYAML

struct ServeConfigTests {
    static func error(_ yaml: String) -> String {
        do { _ = try ServeConfig.parse(yaml, path: "vidar.yaml"); return "no error" } catch { return "\(error)" }
    }

    @Test func aValidFileGivesEveryStreamTheDefaultsAndItsOverrides() throws {
        let c = try ServeConfig.parse("""
            model: vidar-actions
            listen: 127.0.0.1:9000
            max_batch: 8
            threshold: 0.5
            stall_timeout: 4
            events: [stdout, {file: /var/log/vidar.jsonl}]
            streams:
              front_door:
                url: rtsp://user:secret@cam1/stream
                input_options: {rtsp_transport: tcp}
                threshold: 0.7
                class_thresholds: {waving: 0.9}
              garage:
                url: http://cam2/live.ts
                enabled: false
            """, path: "vidar.yaml")
        #expect(c.listenAddress! == ("127.0.0.1", 9000) && c.maxBatch == 8)
        #expect(c.events == ["stdout", "file:/var/log/vidar.jsonl"])
        #expect(c.streams.map(\.name) == ["front_door", "garage"])
        #expect(c.streams[0].settings.threshold == 0.7 && c.streams[1].settings.threshold == 0.5)
        #expect(c.streams[0].settings.classThresholds == ["waving": 0.9])
        #expect(c.streams[0].inputOptions == ["rtsp_transport": "tcp"] && c.streams[1].enabled == false)
        #expect(c.streams.allSatisfy { $0.live.stallTimeout == 4 })
    }

    @Test func inferenceWorkersAreAutoANumberOrRefused() throws {
        #expect(try ServeConfig.parse("threads: 2\n", path: "v.yaml").workers == 2, "auto: two loops on two threads")
        #expect(try ServeConfig.parse("threads: 1\n", path: "v.yaml").workers == 1, "auto: never more loops than threads")
        #expect(try ServeConfig.parse("threads: 4\ninference_workers: 1\n", path: "v.yaml").workers == 1)
        #expect(try ServeConfig.parse("threads: 2\ninference_workers: 8\n", path: "v.yaml").workers == 2)
        #expect(Self.error("inference_workers: 0\n") == "vidar.yaml:1:20: expected an integer in 1...64, got '0'")
    }

    @Test func errorsNameTheLineAndColumn() {
        #expect(Self.error("streams:\n  cam:\n    url: x\n    treshold: 0.5\n") == "vidar.yaml:4:5: unknown key 'treshold'; did you mean 'threshold'?")
        #expect(Self.error("max_batch: lots\nstreams: {}\n") == "vidar.yaml:1:12: expected an integer in 1...64, got 'lots'")
        #expect(Self.error("threshold: 1.5\n") == "vidar.yaml:1:12: expected a number in 0...1, got '1.5'")
        #expect(Self.error("streams:\n  Front Door:\n    url: x\n").hasPrefix("vidar.yaml:3:5: stream name 'Front Door' must match"))
        #expect(Self.error("streams:\n  cam:\n    enabled: true\n") == "vidar.yaml:3:5: stream 'cam' needs a url")
        #expect(Self.error("streams:\n  cam:\n    url: x\n    url: y\n") == "vidar.yaml:4:5: 'url' is given twice")
        #expect(Self.error("listen: nowhere\n") == "vidar.yaml:1:9: listen must be HOST:PORT (e.g. 127.0.0.1:8710), got 'nowhere'")
        #expect(Self.error("streams: [\n") .hasPrefix("vidar.yaml:2:1: "))
        #expect(Self.error("events: [carrier-pigeon]\n") == "vidar.yaml:1:10: unknown sink 'carrier-pigeon' (stdout, file:PATH, mqtt://…, mqtts://…, http(s)://…)")
        #expect(Self.error("") == "vidar.yaml: empty configuration (it needs at least `streams:`)")
    }

    @Test func hostileYAMLIsRefusedBeforeItIsBuilt() {
        #expect(Self.error("a: &x [1, 2]\nb: *x\n").contains("anchors (&name) are not accepted"))
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(Self.error("streams: " + deep).contains("nested deeper than 32 levels"))
        let laughs = "a: [" + String(repeating: "x,", count: 150_000) + "x]"
        #expect(Self.error(laughs).contains("more than 100000 nodes"))
    }

    @Test func aStreamGivenAsJSONIsCheckedTheSameWay() throws {
        var defaults = ServeConfig()
        defaults.defaultSettings.threshold = 0.6
        let s = try ServeConfig.stream(json: Data(#"{"name": "porch", "url": "rtsp://cam/s", "min_duration": 2, "enabled": true}"#.utf8),
                                       defaults: defaults)
        #expect(s.name == "porch" && s.settings.minDuration == 2 && s.settings.threshold == 0.6)
        #expect(throws: ServeConfigError.self) { try ServeConfig.stream(json: Data(#"{"name": "x", "url": "u", "fps": true}"#.utf8), defaults: defaults) }
        #expect(throws: ServeConfigError.self) { try ServeConfig.stream(json: Data(#"{"url": "u"}"#.utf8), defaults: defaults) }
        #expect(throws: ServeConfigError.self) { try ServeConfig.stream(json: Data("not json".utf8), defaults: defaults) }
    }

    @Test func credentialsAreRedactedWhereverAURLIsShown() {
        #expect(Redaction.redact("rtsp://admin:hunter2@cam/stream") == "rtsp://***@cam/stream")
        #expect(Redaction.redact("http://cam/live.ts?token=abc&x=1") == "http://cam/live.ts?token=***&x=1")
        #expect(Redaction.scrub("Connection to rtsp://admin:hunter2@10.0.0.5:554 failed") == "Connection to rtsp://***@10.0.0.5:554 failed")
        #expect(Redaction.redact("/var/video/a.mp4") == "/var/video/a.mp4")
    }
}
