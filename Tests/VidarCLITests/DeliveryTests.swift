// Events delivered at least once, in order, per stream and per sink, against real consumers: Debian's mosquitto
// broker stopped and restarted mid-stream, vidar itself SIGKILLed and restarted on its spool, a webhook that fails
// before it answers, one that never answers, and a spool too small for an outage.
import Foundation
import Testing
import TestSupport
import Vidar

enum Delivery {
    /// The events a subscriber saw on `vidar/STREAM/events`, decoded, in arrival order.
    static func events(_ messages: [(topic: String, payload: String, retain: Bool)], stream: String) -> [[String: Any]] {
        messages.filter { $0.topic == "vidar/\(stream)/events" }
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.payload.utf8)) as? [String: Any] }
    }

    /// After dropping duplicates by event_id, seq must run without a gap and in order.
    static func expectComplete(_ events: [[String: Any]], sourceLocation: SourceLocation = #_sourceLocation) -> (unique: Int, duplicates: Int) {
        var seen = Set<String>()
        var seqs: [Int] = []
        for e in events {
            guard let id = e["event_id"] as? String, seen.insert(id).inserted else { continue }
            seqs.append(e["seq"] as! Int)
        }
        guard let first = seqs.first, let last = seqs.last, first <= last else {
            Issue.record("no events, or out of order: \(seqs)", sourceLocation: sourceLocation)
            return (seqs.count, events.count - seqs.count)
        }
        #expect(seqs == Array(first...last), "seq gaps or disorder: \(seqs)", sourceLocation: sourceLocation)
        return (seqs.count, events.count - seqs.count)
    }

    static func watch(_ name: String, _ extra: [String], input: String) throws -> ChildProcess {
        try ChildProcess(CLI.binary, ["watch", "--model", try TestFixtures.path("tiny.pth"), "--threshold", "0.3", "--min-duration", "0",
                                      "--stats-interval", "0.5", "--updates", "0.5", "--name", name, "--quiet"] + extra + [input])
    }
}

@Suite(.serialized) struct DeliveryTests {
    static var video: String { get throws { try TestFixtures.path("videos/bikes.mp4") } }

    @Test func mqttSurvivesABrokerOutageWithEverySeqDeliveredInOrder() throws {
        let broker = try MosquittoBroker(port: freePort())
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let subscriber = try MQTTSubscriber(port: broker.port, clientID: "outage-\(UUID().uuidString.prefix(8))",
                                            output: dir.appendingPathComponent("sub.jsonl").path)
        defer { subscriber.stop() }
        let watch = try Delivery.watch("porch", ["--loop", "--sink", "mqtt://127.0.0.1:\(broker.port)", "--spool", dir.appendingPathComponent("spool").path],
                                       input: try Self.video)
        defer { watch.signal(SIGKILL); _ = watch.wait(timeout: 5) }
        #expect(waitUntil(20) { Delivery.events(subscriber.messages, stream: "porch").count >= 5 })
        broker.stop()                               // 10 s without a broker, while events keep coming
        sleep(10)
        try broker.start()
        let before = Delivery.events(subscriber.messages, stream: "porch").count
        #expect(waitUntil(40) { Delivery.events(subscriber.messages, stream: "porch").count >= before + 30 }, "the spooled events arrive")
        watch.signal(SIGTERM)
        #expect(watch.wait(timeout: 20) == 0)
        sleep(1)
        let events = Delivery.events(subscriber.messages, stream: "porch")
        let (unique, duplicates) = Delivery.expectComplete(events)
        #expect(unique >= 40, "\(unique) events, \(duplicates) duplicates")
        #expect(events.contains { $0["event"] as? String == "segment_end" && $0["reason"] as? String == "shutdown" })
        FileHandle.standardError.write(Data("mqtt outage: \(unique) events delivered, \(duplicates) duplicates, 0 lost\n".utf8))
    }

    @Test func aKilledVidarLosesNothingAndItsOpenSegmentEnds() throws {
        let broker = try MosquittoBroker(port: freePort())
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let subscriber = try MQTTSubscriber(port: broker.port, clientID: "crash-\(UUID().uuidString.prefix(8))",
                                            output: dir.appendingPathComponent("sub.jsonl").path)
        defer { subscriber.stop() }
        let spool = dir.appendingPathComponent("spool").path
        let args = ["--loop", "--sink", "mqtt://127.0.0.1:\(broker.port)", "--spool", spool]
        let first = try Delivery.watch("yard", args, input: try Self.video)
        #expect(waitUntil(20) { Delivery.events(subscriber.messages, stream: "yard").contains { $0["event"] as? String == "segment_start" } })
        first.signal(SIGKILL)
        _ = first.wait(timeout: 5)
        // The broker tells subscribers the client died: its will.
        #expect(waitUntil(20) { subscriber.messages.contains { $0.topic == "vidar/available" && $0.payload == "offline" } })
        let second = try Delivery.watch("yard", args, input: try Self.video)
        defer { second.signal(SIGKILL); _ = second.wait(timeout: 5) }
        #expect(waitUntil(30) { Delivery.events(subscriber.messages, stream: "yard").filter { $0["event"] as? String == "stream_started" }.count >= 2 })
        sleep(3)
        second.signal(SIGTERM)
        #expect(second.wait(timeout: 20) == 0)
        sleep(1)
        let events = Delivery.events(subscriber.messages, stream: "yard")
        let (unique, duplicates) = Delivery.expectComplete(events)
        // The segment open at the kill ends, as `interrupted`, before the second run's stream_started.
        let starts = Set(events.filter { $0["event"] as? String == "segment_start" }.compactMap { $0["id"] as? String })
        let ends = Set(events.filter { $0["event"] as? String == "segment_end" }.compactMap { $0["id"] as? String })
        #expect(starts == ends, "\(starts.subtracting(ends)) never ended")
        #expect(events.contains { $0["reason"] as? String == "interrupted" })
        // Retained state for a new subscriber: available, status and current action.
        let late = try MQTTSubscriber(port: broker.port, clientID: "late-\(UUID().uuidString.prefix(8))",
                                      output: dir.appendingPathComponent("late.jsonl").path, persistent: false)
        defer { late.stop() }
        #expect(waitUntil(10) { late.messages.count >= 4 })
        let retained = Dictionary(late.messages.filter(\.retain).map { ($0.topic, $0.payload) }, uniquingKeysWith: { $1 })
        #expect(retained["vidar/available"] == "offline", "the stopped watch said goodbye")
        #expect(retained["vidar/yard/status"] == "live" && retained["vidar/yard/action"] == "none", "\(retained)")
        let config = try #require(retained["homeassistant/sensor/vidar_yard/action/config"])
        let discovery = try #require(try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])
        #expect(discovery["state_topic"] as? String == "vidar/yard/action" && discovery["unique_id"] as? String == "vidar_yard_action")
        #expect(discovery["availability_topic"] as? String == "vidar/available" && (discovery["device"] as? [String: Any])?["identifiers"] != nil)
        FileHandle.standardError.write(Data("mqtt crash: \(unique) events delivered, \(duplicates) duplicates, 0 lost\n".utf8))
    }

    @Test func aWebhookThatFailsFirstGetsEveryEventOnceSigned() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let receiver = try WebhookReceiver(plan: "500*4,429*2,200", output: dir.appendingPathComponent("hook.jsonl").path)
        defer { receiver.stop() }
        let secret = dir.appendingPathComponent("secret").path
        try "shared-secret\n".write(toFile: secret, atomically: true, encoding: .utf8)
        let watch = try Delivery.watch("drive", ["--sink", receiver.url + "?secret_file=\(secret)", "--spool", dir.appendingPathComponent("spool").path,
                                                // The receiver's errors take ~8 s of backoff; the file ends sooner.
                                                "--flush-timeout", "60"],
                                       input: try TestFixtures.path("videos/h264.mp4"))
        #expect(watch.wait(timeout: 90) == 0)
        let requests = receiver.requests
        #expect(requests.prefix(6).map(\.status) == [500, 500, 500, 500, 429, 429])
        let delivered = requests.filter { $0.status == 200 }
        for r in requests {
            let expected = "sha256=" + SHA256.hmac(key: Array("shared-secret".utf8), message: Data(r.body.utf8))
            #expect(r.signature == expected, "the signature verifies")
        }
        let events = delivered.compactMap { try? JSONSerialization.jsonObject(with: Data($0.body.utf8)) as? [String: Any] }
        let (unique, duplicates) = Delivery.expectComplete(events)
        #expect(duplicates == 0 && events.first?["seq"] as? Int == 1 && events.last?["event"] as? String == "stats")
        let connections = Set(receiver.timedRequests.map(\.clientPort)).count
        #expect(connections <= 2, "one kept-alive connection for every request, not \(connections) for \(requests.count)")
        FileHandle.standardError.write(Data("webhook: \(requests.count) requests over \(connections) connection(s), \(unique) events delivered once, 0 lost\n".utf8))
    }

    @Test func aHungWebhookHoldsUpNeitherInferenceNorTheOtherSinks() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let receiver = try WebhookReceiver(plan: "hang", output: dir.appendingPathComponent("hook.jsonl").path)
        defer { receiver.stop() }
        let file = dir.appendingPathComponent("events.jsonl").path
        let watch = try Delivery.watch("hall", ["--sink", receiver.url, "--sink", "file:\(file)", "--spool", dir.appendingPathComponent("spool").path,
                                                "--flush-timeout", "2"], input: try Self.video)
        // 10 s of video in real time: the file sink gets every event while the webhook hangs.
        let t0 = Date()
        #expect(watch.wait(timeout: 60) == 0)
        #expect(Date().timeIntervalSince(t0) < 10 + 2 + 8, "shutdown waited at most the flush timeout for the hung sink")
        let events = try Watch.events(file)
        #expect(events.filter { $0["event"] as? String == "stats" }.count >= 10)
        let latencies = events.compactMap { ($0["latency_ms"] as? [String: Any])?["p99"] as? Double }
        #expect(!latencies.isEmpty && latencies.allSatisfy { $0 < 2000 }, "inference kept up: \(latencies)")
        #expect(Delivery.expectComplete(events).duplicates == 0)
    }

    @Test func aSpoolThatOverflowsReportsWhatItDropped() throws {
        let broker = try MosquittoBroker(port: freePort())
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // A persistent session: the restarted broker queues what vidar sends before the subscriber is back.
        let subscriber = try MQTTSubscriber(port: broker.port, clientID: "attic-\(UUID().uuidString.prefix(8))",
                                            output: dir.appendingPathComponent("sub.jsonl").path)
        defer { subscriber.stop() }
        broker.stop()   // absent from the start: everything goes to the (small) spool
        let watch = try Delivery.watch("attic", ["--sink", "mqtt://127.0.0.1:\(broker.port)", "--spool", dir.appendingPathComponent("spool").path,
                                                 "--spool-max-bytes", "16384", "--no-realtime", "--loop"], input: try Self.video)
        defer { watch.signal(SIGKILL); _ = watch.wait(timeout: 5) }
        // Enough events to overrun 16 KiB several times (each is a few hundred bytes). The sink keeps the batch it
        // last read (up to 64 records) in memory while it retries, so a loss is certain only once the oldest segment
        // left (named by its first record's index) starts beyond twice that; before, a slow producer on a loaded
        // machine could lose nothing at all, rightly sending no notice.
        #expect(waitUntil(90) {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("spool").path)) ?? []
            return (names.filter { $0.hasSuffix(".log") }.compactMap { Int($0.dropLast(4)) }.min() ?? 0) > 128
        }, "the spool never overran the sink's in-memory batch")
        try broker.start()
        #expect(waitUntil(40) { subscriber.messages.contains { $0.topic == "vidar/vidar/events" } },
                "the subscriber got \(subscriber.messages.count) messages on \(Set(subscriber.messages.map(\.topic)).sorted()): \(subscriber.messages.filter { $0.topic.hasSuffix("/events") }.map { $0.payload.prefix(90) })")
        let notice = try #require(subscriber.messages.first { $0.topic == "vidar/vidar/events" })
        let o = try #require(try JSONSerialization.jsonObject(with: Data(notice.payload.utf8)) as? [String: Any])
        #expect(o["event"] as? String == "events_dropped" && (o["count"] as? Int ?? 0) > 0, "\(o)")
        #expect((o["sink"] as? String)?.hasPrefix("mqtt://127.0.0.1") == true)
    }
}

extension DeliveryTests {
    @Test func aFileSinkReopensItsPathOnSIGHUP() throws {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("events.jsonl").path, rotated = dir.appendingPathComponent("events.jsonl.1").path
        let watch = try Delivery.watch("den", ["--loop", "--sink", "file:\(file)"], input: try Self.video)
        defer { watch.signal(SIGKILL); _ = watch.wait(timeout: 5) }
        #expect(waitUntil(20) { ((try? Watch.events(file)) ?? []).count >= 3 })
        try FileManager.default.moveItem(atPath: file, toPath: rotated)
        watch.signal(SIGHUP)
        #expect(waitUntil(20) { ((try? Watch.events(file)) ?? []).count >= 2 }, "new events go to a new file at the same path")
        watch.signal(SIGTERM)
        #expect(watch.wait(timeout: 20) == 0)
        // Together the two files hold every event once, in order.
        let all = try Watch.events(rotated) + Watch.events(file)
        #expect(Delivery.expectComplete(all).duplicates == 0)
    }

    @Test func serveDeliversToMQTTAndCountsItInItsMetrics() throws {
        let broker = try MosquittoBroker(port: freePort())
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let subscriber = try MQTTSubscriber(port: broker.port, clientID: "serve-\(UUID().uuidString.prefix(8))", topics: ["site/#"],
                                            output: dir.appendingPathComponent("sub.jsonl").path)
        defer { subscriber.stop() }
        let sink = "mqtt://127.0.0.1:\(broker.port)/site"
        let served = try Served("""
            model: \(try TestFixtures.path("tiny.pth"))
            events: ["\(sink)"]
            spool: \(dir.appendingPathComponent("spool").path)
            threshold: 0.3
            min_duration: 0
            stats_interval: 1
            streams:
              gate:
                url: \(try Self.video)
              shed:
                url: http://127.0.0.1:9/x.ts
                enabled: false
            """)
        #expect(waitUntil(30) { subscriber.messages.filter { $0.topic == "site/gate/events" }.count >= 5 })
        let metrics = try served.request("GET", "/metrics").1
        #expect(metrics.contains("vidar_events_published_total{sink=\"\(sink)\"}") && metrics.contains("vidar_spool_bytes "), "\(metrics)")
        #expect(subscriber.messages.contains { $0.topic == "site/shed/status" && $0.payload == "disabled" })
        #expect(served.terminate() == 0)
        sleep(1)
        let events = Delivery.events(subscriber.messages.map { ($0.topic.replacingOccurrences(of: "site/", with: "vidar/"), $0.payload, $0.retain) },
                                     stream: "gate")
        #expect(Delivery.expectComplete(events).duplicates == 0)
        #expect(events.last { $0["event"] as? String == "segment_end" }?["reason"] as? String == "shutdown")
        #expect(subscriber.messages.last { $0.topic == "site/available" }?.payload == "offline")
    }
}

/// Polls `predicate` twice a second for up to `seconds`.
func waitUntil(_ seconds: Double, _ predicate: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if predicate() { return true }
        usleep(500_000)
    }
    return false
}
