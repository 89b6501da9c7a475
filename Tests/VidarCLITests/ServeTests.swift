// `vidar serve` against real peers on loopback: an RTSP relay, HTTP MPEG-TS cameras, a file, a camera that stalls,
// one that sends garbage, one that is dead. Broken streams never hold up the good ones; streams come and go through
// the API and SIGHUP; health, metrics and Server-Sent Events are checked with real clients.
import Foundation
import Testing
import TestSupport
import Vidar

@Suite(.serialized) struct ServeTests {
    static var model: String { get throws { try TestFixtures.path("tiny.pth") } }
    static var file: String { get throws { try TestFixtures.path("videos/bikes.mp4") } }

    @Test func manyStreamsInOneProcessAndTheBrokenOnesHoldUpNone() throws {
        let (relay, clientPort, sourcePort) = try startRTSPRelay()
        defer { stopRTSPRelay(relay) }
        var rtspCamera = try publisher(["-f", "rtsp", "rtsp://127.0.0.1:\(sourcePort)/cam"], seconds: 120)
        defer { rtspCamera.signal(SIGKILL); _ = rtspCamera.wait(timeout: 5) }
        let httpPort = freePort()
        var camera = try httpCamera(port: httpPort)
        defer { camera.signal(SIGKILL); _ = camera.wait(timeout: 5) }
        // A camera that sends a second of real video and then nothing, its socket open; one that sends noise.
        let ts = try Data(contentsOf: URL(fileURLWithPath: try TestFixtures.path("videos/start_offset.ts")))
        let stalled = try FeedServer(prefix: ts.prefix(ts.count / 2), then: .silence)
        defer { stalled.stop() }
        let garbage = try FeedServer(prefix: Data(), then: .garbage)
        defer { garbage.stop() }
        // A camera that changes resolution mid-stream (two MPEG-TS segments of different sizes, back to back).
        let resizing = try Self.resizingRecording()
        defer { try? FileManager.default.removeItem(atPath: resizing) }
        // Two inference workers (one thread each): the broken streams hold up neither, and each stream stays in order.
        let served = try Served("""
            model: \(try Self.model)
            inference_workers: 2
            threshold: 0.3
            min_duration: 0
            stats_interval: 1
            timeout: 30
            stall_timeout: 3
            streams:
              relay:
                url: rtsp://viewer:hunter2@127.0.0.1:\(clientPort)/cam
                input_options: {rtsp_transport: udp}
              http_cam:
                url: http://127.0.0.1:\(httpPort)
              recording:
                url: \(try Self.file)
              resizing:
                url: \(resizing)
              stalled:
                url: tcp://127.0.0.1:\(stalled.port)
                input_format: mpegts
              garbage:
                url: tcp://127.0.0.1:\(garbage.port)
                input_format: mpegts
              dead:
                url: http://127.0.0.1:\(freePort())/none.ts
              spare:
                url: http://127.0.0.1:9/x.ts
                enabled: false
            """)
        let good = ["relay", "http_cam", "recording", "resizing"]
        #expect(served.wait(40, "the good streams to be live") { good.allSatisfy { served.state($0) == "live" } })
        #expect(served.state("spare") == "disabled")
        // The stalled camera is noticed: no frame for stall_timeout while its socket stays open.
        #expect(served.wait(30, "the stalled stream to be lost as stalled") {
            served.events.contains { $0["stream"] as? String == "stalled" && ($0["reason"] as? String)?.hasPrefix("stalled") == true }
        })
        let (readyStatus, readyBody) = try served.request("GET", "/readyz")
        #expect(readyStatus == 503 && readyBody.contains("stream dead") && readyBody.contains("stream garbage"), "\(readyBody)")
        #expect(try served.request("GET", "/livez").0 == 200)

        // Isolation: over the next seconds every good stream keeps producing clips (a held-up one makes none; 12 s so
        // that a loaded 2-core CI machine still shows 3).
        let before = try good.map { try #require(try served.stream($0)?["clips"] as? Int) }
        sleep(12)
        let after = try good.map { try #require(try served.stream($0)?["clips"] as? Int) }
        for (name, (b, a)) in zip(good, zip(before, after)) { #expect(a - b >= 3, "\(name): \(b) → \(a) clips in 12 s") }
        #expect(try #require(try served.stream("garbage")?["reconnects"] as? Int) >= 1, "garbage is retried, not fatal")

        // The HTTP camera dies and comes back; so do the RTSP relay's publisher and the relay itself.
        camera.signal(SIGKILL)
        _ = camera.wait(timeout: 5)
        #expect(served.wait(30, "http_cam lost") { served.state("http_cam") == "lost" })
        camera = try httpCamera(port: httpPort)
        #expect(served.wait(40, "http_cam restored") {
            served.events.contains { $0["stream"] as? String == "http_cam" && $0["event"] as? String == "stream_restored" }
        })
        rtspCamera.signal(SIGINT)
        _ = rtspCamera.wait(timeout: 5)
        #expect(served.wait(30, "relay lost") { served.state("relay") == "lost" })
        // The relay may still hold the old publisher's session for a moment and refuse the new one, which then
        // exits: a camera that comes back keeps trying, so the test's does too.
        rtspCamera = try publisher(["-f", "rtsp", "rtsp://127.0.0.1:\(sourcePort)/cam"], seconds: 120)
        #expect(served.wait(60, "relay restored") {
            if rtspCamera.poll() != nil, let again = try? publisher(["-f", "rtsp", "rtsp://127.0.0.1:\(sourcePort)/cam"], seconds: 120) {
                rtspCamera = again
            }
            return served.state("relay") == "live"
        }, "relay state \(served.state("relay") ?? "?"); serve's log about it: \(served.stderr.split(separator: "\n").filter { $0.contains("relay") }.suffix(8))")

        // Credentials never leave the process.
        let streams = try served.request("GET", "/api/streams").1, metrics = try served.request("GET", "/metrics").1
        #expect(streams.contains("rtsp://***@127.0.0.1") && !streams.contains("hunter2"))
        #expect(!metrics.contains("hunter2") && !served.stderr.contains("hunter2"))

        #expect(served.terminate() == 0)
        let events = served.events
        #expect(!String(decoding: try Data(contentsOf: URL(fileURLWithPath: served.eventsPath)), as: UTF8.self).contains("hunter2"))
        let problems = try Watch.schemaProblems(served.eventsPath)
        #expect(problems.isEmpty, "\(problems)")
        // Never in progress forever: every segment that started ended, the last ones at shutdown.
        let started = Set(events.filter { $0["event"] as? String == "segment_start" }.compactMap { $0["id"] as? String })
        let ended = Set(events.filter { $0["event"] as? String == "segment_end" }.compactMap { $0["id"] as? String })
        #expect(!started.isEmpty && started == ended, "\(started.subtracting(ended)) never ended")
        // Per stream, seq runs 1, 2, 3… without gaps.
        for name in good {
            let seqs = events.filter { $0["stream"] as? String == name }.compactMap { $0["seq"] as? Int }
            #expect(seqs == Array(1...seqs.count), "\(name): \(seqs.prefix(20))")
        }
    }

    /// 2 s at 320×240 then 2 s at 640×360, as one MPEG-TS file.
    static func resizingRecording() throws -> String {
        let dir = try TestFixtures.temporaryDirectory()
        var parts: [String] = []
        for (i, size) in ["320x240", "640x360"].enumerated() {
            let part = dir.appendingPathComponent("part\(i).ts").path
            let r = try runProcess("/usr/bin/ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=25", "-t", "2",
                                                       "-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mpegts", part])
            #expect(r.status == 0, "\(r.stderr)")
            parts.append(part)
        }
        let joined = dir.appendingPathComponent("resizing.ts").path
        try (Data(contentsOf: URL(fileURLWithPath: parts[0])) + Data(contentsOf: URL(fileURLWithPath: parts[1])))
            .write(to: URL(fileURLWithPath: joined))
        return joined
    }

    @Test func theAPIAddsAndRemovesStreamsForTokenHoldersOnly() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenFile = dir.appendingPathComponent("token").path
        try "s3cret-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let served = try Served("""
            model: \(try Self.model)
            token_file: \(tokenFile)
            threshold: 0.3
            min_duration: 0
            streams:
              first:
                url: \(try Self.file)
            """)
        let body = #"{"name": "second", "url": "\#(try Self.file)", "threshold": 0.3}"#
        #expect(try served.request("POST", "/api/streams", body: body).0 == 401)
        #expect(try served.request("POST", "/api/streams", body: body, token: "wrong").0 == 401)
        #expect(try served.request("DELETE", "/api/streams/first").0 == 401)
        let (created, createdBody) = try served.request("POST", "/api/streams", body: body, token: "s3cret-token")
        #expect(created == 201 && createdBody.contains("\"name\":\"second\""), "\(createdBody)")
        #expect(try served.request("POST", "/api/streams", body: body, token: "s3cret-token").0 == 409)
        let (bad, badBody) = try served.request("POST", "/api/streams", body: #"{"name": "third"}"#, token: "s3cret-token")
        #expect(bad == 400 && badBody.contains("needs a url"), "\(badBody)")
        #expect(try served.request("GET", "/api/streams/second").0 == 200)
        #expect(served.wait(30, "a segment on the added stream") {
            served.events.contains { $0["stream"] as? String == "second" && $0["event"] as? String == "segment_start" }
        })
        #expect(try served.request("DELETE", "/api/streams/second", token: "s3cret-token").0 == 204)
        #expect(served.wait(10, "its open segment ended as removed") {
            served.events.contains { $0["stream"] as? String == "second" && $0["reason"] as? String == "removed" }
        })
        #expect(try served.request("GET", "/api/streams/second").0 == 404)
        #expect(try served.request("DELETE", "/api/streams/second", token: "s3cret-token").0 == 404)
        #expect(try served.request("GET", "/api/nothing").0 == 404)
        #expect(try served.request("PUT", "/api/streams").0 == 401, "mutating verbs need the token first")
        #expect(served.terminate() == 0)
    }

    @Test func sighupAppliesAddedRemovedAndChangedStreamsAndLeavesTheRest() throws {
        let file = try Self.file
        let base = "model: \(try Self.model)\nthreshold: 0.3\nmin_duration: 0\nstats_interval: 1\nstreams:\n"
        let served = try Served(base + "  a:\n    url: \(file)\n  b:\n    url: \(file)\n  c:\n    url: \(file)\n")
        #expect(served.wait(30, "three live streams") { ["a", "b", "c"].allSatisfy { served.state($0) == "live" } })
        let events = "events: [\"file:\(served.eventsPath)\"]\nlisten: 127.0.0.1:0\n"
        try (events + base + "  b:\n    url: \(file)\n    threshold: 0.35\n  c:\n    url: \(file)\n  d:\n    url: \(file)\n")
            .write(toFile: served.configPath, atomically: true, encoding: .utf8)
        served.process.signal(SIGHUP)
        #expect(served.wait(20, "the reload") { served.stderr.contains("1 added, 1 removed, 1 changed") })
        #expect(served.wait(30, "d live") { served.state("d") == "live" })
        #expect(served.state("a") == nil)
        let all = served.events
        func count(_ stream: String, _ event: String) -> Int { all.filter { $0["stream"] as? String == stream && $0["event"] as? String == event }.count }
        #expect(count("b", "stream_started") == 2 && count("c", "stream_started") == 1 && count("d", "stream_started") == 1)
        let cSeqs = all.filter { $0["stream"] as? String == "c" }.compactMap { $0["seq"] as? Int }
        #expect(cSeqs == Array(1...cSeqs.count), "c is untouched: its numbering runs on")
        // A broken file is refused; the running configuration stays.
        try "streams:\n  x:\n    treshold: 1\n".write(toFile: served.configPath, atomically: true, encoding: .utf8)
        served.process.signal(SIGHUP)
        #expect(served.wait(20, "the refusal") { served.stderr.contains("refused, the running configuration stays") && served.stderr.contains(":3:5: unknown key 'treshold'") })
        #expect(served.state("d") == "live")
        #expect(served.terminate() == 0)
    }

    @Test func metricsParseWithPrometheusAndAgreeWithTheEvents() throws {
        let served = try Served("model: \(try Self.model)\nthreshold: 0.3\nmin_duration: 0\nstats_interval: 1\nstreams:\n  cam:\n    url: \(try Self.file)\n")
        #expect(served.wait(30, "clips") { (try served.stream("cam")?["clips"] as? Int ?? 0) >= 6 })
        // Stop the stream so that the counters settle, then compare them with what the sink wrote.
        #expect(try served.request("DELETE", "/api/streams/cam").0 == 204)
        sleep(2)
        let (status, text) = try served.request("GET", "/metrics")
        #expect(status == 200)
        let metricsFile = served.dir.appendingPathComponent("metrics.txt").path
        try text.write(toFile: metricsFile, atomically: true, encoding: .utf8)
        // Prometheus's own parser (python3-prometheus-client) reads every sample.
        let parsed = try runProcess("/usr/bin/python3", ["-c", """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in family.samples:
                    out.setdefault(s.name, []).append([s.labels, s.value])
            print(json.dumps(out))
            """, metricsFile])
        #expect(parsed.status == 0, "\(parsed.stderr)")
        let metrics = try #require(try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [String: [[Any]]])
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            metrics[name]?.first { ($0[0] as? [String: String]) == labels }?[1] as? Double
        }
        var byType: [String: Int] = [:]
        for e in served.events { byType[e["event"] as! String, default: 0] += 1 }
        for (type, n) in byType { #expect(value("vidar_events_total", ["type": type]) == Double(n), "\(type): \(n) in the sink") }
        #expect(value("vidar_batch_size_count") ?? 0 >= 1 && value("vidar_inference_seconds_count") == value("vidar_batch_size_count"))
        #expect(metrics["vidar_build_info"]?.first.flatMap { ($0[0] as? [String: String])?["version"] } == Installation.version)
        #expect(value("vidar_events_published_total", ["sink": "file:\(served.eventsPath)"]) == Double(served.events.count))
        #expect(served.terminate() == 0)
    }

    @Test func serverSentEventsArriveLiveAndResumeByID() throws {
        let served = try Served("model: \(try Self.model)\nthreshold: 0.3\nmin_duration: 0\nstats_interval: 0.5\nstreams:\n  cam:\n    url: \(try Self.file)\n")
        let url = "http://127.0.0.1:\(served.port)/api/events/stream"
        let first = try runProcess("/usr/bin/curl", ["-s", "-N", "-m", "5", url], timeout: 30)
        func parse(_ text: String) throws -> [(id: Int, event: String, data: [String: Any])] {
            try text.components(separatedBy: "\n\n").compactMap { block -> (Int, String, [String: Any])? in
                let lines = block.split(separator: "\n")
                guard let id = lines.first(where: { $0.hasPrefix("id: ") }).flatMap({ Int($0.dropFirst(4)) }),
                      let event = lines.first(where: { $0.hasPrefix("event: ") }).map({ String($0.dropFirst(7)) }),
                      let data = lines.first(where: { $0.hasPrefix("data: ") }).map({ String($0.dropFirst(6)) }) else { return nil }
                return (id, event, try #require(try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any]))
            }
        }
        let live = try parse(first.stdout)
        #expect(live.count >= 4, "\(first.stdout.prefix(300))")
        #expect(zip(live, live.dropFirst()).allSatisfy { $0.id < $1.id })
        #expect(live.allSatisfy { $0.event == $0.data["event"] as? String && $0.data["stream"] as? String == "cam" })
        let middle = live[live.count / 2].id
        let resumed = try parse(try runProcess("/usr/bin/curl", ["-s", "-N", "-m", "2", "-H", "Last-Event-ID: \(middle)", url], timeout: 30).stdout)
        #expect(resumed.first?.id == middle + 1, "resumes right after the last event seen")
        #expect(served.terminate() == 0)
    }

    /// With two workers, one stuck worker fails /livez though the other goes on beating.
    @Test(arguments: [1, 2])
    func livezFailsWhileTheInferenceLoopIsStuck(workers: Int) throws {
        let served = try Served("model: \(try Self.model)\ninference_workers: \(workers)\nliveness_timeout: 2\nstreams:\n  cam:\n    url: \(try Self.file)\n",
                                environment: ["VIDAR_FAULT_INFERENCE_STALL": "8@4"])
        #expect(try served.request("GET", "/livez").0 == 200)
        #expect(served.wait(30, "/livez 503") { try served.request("GET", "/livez").0 == 503 })
        let (_, body) = try served.request("GET", "/livez")
        #expect(body.contains("stuck"))
        #expect(served.wait(30, "/livez 200 again") { try served.request("GET", "/livez").0 == 200 })
        #expect(served.terminate() == 0)
    }

    @Test func configurationMistakesAreRefusedWithTheirPlace() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.yaml").path
        try "model: \(try Self.model)\nstreams:\n  cam:\n    treshold: 0.5\n    url: x\n".write(toFile: bad, atomically: true, encoding: .utf8)
        expectFailure(try CLI.run(["serve", "--check-config", bad]), .dataError, mentioning: "bad.yaml:4:5",
                      "unknown key 'treshold'; did you mean 'threshold'?")
        let good = dir.appendingPathComponent("good.yaml").path
        try "model: \(try Self.model)\nstreams:\n  a:\n    url: x.mp4\n  b:\n    url: y.mp4\n".write(toFile: good, atomically: true, encoding: .utf8)
        let ok = try CLI.run(["serve", "--check-config", good])
        #expect(ok.status == 0 && ok.stdout.contains("valid: 2 streams"), "\(ok.stderr)")
        let open = try CLI.run(["serve", "--config", good, "--listen", "0.0.0.0:0"])
        #expect(open.status == 64 && open.stderr.contains("refusing to listen on 0.0.0.0:0 without a token"), "\(open.stderr)")
        expectFailure(try CLI.run(["serve", "--config", dir.appendingPathComponent("none.yaml").path]), .noInput, mentioning: "none.yaml", "no such file")
        let gemm = dir.appendingPathComponent("gemm.yaml").path
        try "model: \(try Self.model)\nbackend: gemm\nprecision: bf16\nstreams:\n  a:\n    url: x.mp4\n".write(toFile: gemm, atomically: true, encoding: .utf8)
        // Named before what this CPU lacks (under an AVX2 ceiling too): the same message on every machine.
        var avx2 = ProcessInfo.processInfo.environment
        avx2["ONEDNN_MAX_CPU_ISA"] = "AVX2"
        for environment in [nil, avx2] {
            let wrong = try CLI.run(["serve", "--config", gemm], environment: environment)
            #expect(wrong.status == 64 && wrong.stderrLines.count == 1 && wrong.stderr.contains("precision bf16 needs the onednn backend"),
                    "\(wrong.stderr)")
        }
    }

    @Test func readinessAndStoppingAreNotifiedToSystemd() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let socket = dir.appendingPathComponent("notify.sock").path
        // systemd's side: a datagram socket that prints what it receives.
        let listener = try ChildProcess("/usr/bin/python3", ["-u", "-c", """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(sys.argv[1])
            print("listening", flush=True)
            s.settimeout(60)
            for _ in range(2):
                print(s.recv(4096).decode().replace("\\n", " "), flush=True)
            """, socket])
        defer { listener.signal(SIGKILL); _ = listener.wait(timeout: 5) }
        _ = listener.stdout.availableData
        let served = try Served("model: \(try Self.model)\nstreams:\n  cam:\n    url: \(try Self.file)\n", environment: ["NOTIFY_SOCKET": socket])
        #expect(served.terminate() == 0)
        #expect(listener.wait(timeout: 20) == 0)
        let said = String(decoding: listener.stdout.readDataToEndOfFile(), as: UTF8.self)
        #expect(said.contains("READY=1") && said.contains("STOPPING=1"), "\(said)")
    }

    @Test func theDeploymentFilesAreValid() throws {
        let root = TestFixtures.repositoryRoot
        let check = try CLI.run(["serve", "--check-config", root.appendingPathComponent("deploy/vidar.yaml").path])
        #expect(check.status == 0, "\(check.stderr)")
        let unit = try String(contentsOf: root.appendingPathComponent("deploy/vidar.service"), encoding: .utf8)
        for line in ["Type=notify", "ExecStart=/usr/local/bin/vidar serve --config /etc/vidar/vidar.yaml", "ExecReload=/bin/kill -HUP $MAINPID",
                     "Restart=on-failure"] {
            #expect(unit.contains(line + "\n"), "\(line)")
        }
        // The OpenAPI file parses and documents every path the API answers.
        let paths = try runProcess("/usr/bin/python3", ["-c", "import sys, yaml; print('\\n'.join(sorted(yaml.safe_load(open(sys.argv[1]))['paths'])))",
                                                        root.appendingPathComponent("docs/openapi.yaml").path])
        #expect(paths.status == 0, "\(paths.stderr)")
        #expect(paths.stdout.split(separator: "\n") == ["/api/events", "/api/events/stream", "/api/streams", "/api/streams/{name}",
                                                        "/api/version", "/livez", "/metrics", "/readyz"])
    }
}
