// Event delivery, against real peers on loopback: Debian's mosquitto broker with a paho subscriber, and a Python
// http.server webhook receiver.
//  1. Sustained events/s: a burst of N events published into vidar's event hub (with its disk spool), timed until
//     the consumer holds all N; beside the same payloads sent by Python peers with the same one-in-flight
//     semantics (paho QoS 1 waiting for each PUBACK; http.client POSTs one after another).
//  2. Frame-to-subscriber latency: `vidar watch` on a live 25 fps camera (the bundled clips, ffmpeg -re) with the
//     bundled model, segment_update after every clip; latency = when the subscriber got the event − when the
//     clip's last frame arrived (the event's `utc`), beside vidar's own frame → event latency (its stats).
import Foundation
import TestSupport
import VidarService
import VidarStream

func runEventsBench(_ argv: [String]) {
    var count = 3000
    var seconds = 60.0
    var i = 0
    while i < argv.count {
        switch argv[i] {
        case "--events": i += 1; count = Int(argv[safe: i] ?? "") ?? count
        case "--seconds": i += 1; seconds = Double(argv[safe: i] ?? "") ?? seconds
        default: fail("usage: vidar-bench events [--events N (3000)] [--seconds S (60): the live latency run]")
        }
        i += 1
    }
    let (cpu, commit) = machineDescription()
    say("vidar-bench events  commit \(commit)")
    say("machine: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores; peers on 127.0.0.1: mosquitto "
        + shell("/usr/sbin/mosquitto -h | head -1 | awk '{print $3}'") + ", paho-mqtt, python3 http.server")
    do {
        let dir = try TestFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let broker = try MosquittoBroker(port: benchFreePort())
        try throughput(count: count, broker: broker, dir: dir)
        try latency(seconds: seconds, broker: broker, dir: dir)
    } catch {
        fail("\(error)")
    }
}

// MARK: - Throughput

private func throughput(count n: Int, broker: MosquittoBroker, dir: URL) throws {
    let records = (1...n).map { seq in
        EventRecord(stream: "bench", seq: seq, eventID: "bench-\(seq)", event: .segmentUpdate(.init(
            id: "seg-1", label: "waving", start: 1, time: Double(seq), utc: utcString(Date()), score: 0.8, peak: 0.9)))
    }
    let payloads = dir.appendingPathComponent("payloads.jsonl")
    try Data(records.flatMap { $0.jsonLine() + [0x0A] }).write(to: payloads)
    say("")
    say("sustained delivery of \(n) segment_update events (\(records[0].jsonLine().count) bytes each), one in flight:")
    say("  sink       sender                              events/s   ratio")
    for kind in ["mqtt", "webhook"] {
        // The peer first, then vidar, each into a fresh consumer.
        let peer = try timedDelivery(kind: kind, n: n, dir: dir, broker: broker, name: "\(kind)-peer") { url, topic in
            let script = kind == "mqtt" ? """
                import sys, paho.mqtt.client as mqtt
                port, topic = int(sys.argv[1]), sys.argv[2]
                c = mqtt.Client(client_id="bench-peer"); c.connect("127.0.0.1", port); c.loop_start()
                for line in open(sys.argv[3], "rb"):
                    c.publish(topic, line.rstrip(b"\\n"), qos=1).wait_for_publish()
                c.loop_stop(); c.disconnect()
                """ : """
                import sys, http.client, urllib.parse
                u = urllib.parse.urlparse(sys.argv[1])
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
                for line in open(sys.argv[3], "rb"):
                    c.request("POST", u.path, body=line.rstrip(b"\\n"), headers={"Content-Type": "application/json"})
                    c.getresponse().read()
                """
            let target = kind == "mqtt" ? "\(broker.port)" : url
            let p = try ChildProcess("/usr/bin/python3", ["-c", script, target, topic, payloads.path])
            guard p.wait(timeout: 600) == 0 else { throw ProcessTimeout(description: "the \(kind) peer sender failed") }
        }
        var hub: EventHub?
        let vidar = try timedDelivery(kind: kind, n: n, dir: dir, broker: broker, name: "\(kind)-vidar") { url, _ in
            var spool = SpoolSettings(directory: dir.appendingPathComponent("spool-\(kind)"))
            spool.syncInterval = 1
            let sinkURL = kind == "mqtt" ? "mqtt://127.0.0.1:\(broker.port)/vidar?discovery=false" : url
            let h = try EventHub.make(sinks: [sinkURL], spool: spool, run: "bench", model: "bench", log: { say("  (sink: \($0))") })
            for r in records { h.publish(r) }
            hub = h
        }
        hub?.close(deadline: 5)
        let peerName = kind == "mqtt" ? "python paho, QoS 1, wait PUBACK" : "python http.client, keep-alive"
        func row(_ sender: String, _ seconds: Double) -> String {
            "  " + kind.padding(toLength: 9, withPad: " ", startingAt: 0) + "  " + sender.padding(toLength: 34, withPad: " ", startingAt: 0)
                + String(format: " %9.0f", Double(n) / seconds)
        }
        say(row(peerName, peer))
        say(row("vidar (disk spool, fsync 1 s)", vidar) + String(format: "   %.2f×", peer / vidar))
    }
}

/// Seconds from starting `send` until the consumer of `kind` holds `n` events.
private func timedDelivery(kind: String, n: Int, dir: URL, broker: MosquittoBroker, name: String,
                           send: (_ webhookURL: String, _ topic: String) throws -> Void) throws -> Double {
    let output = dir.appendingPathComponent("\(name).jsonl").path
    let topic = "vidar/bench/events"
    var received: () -> Int
    var keep: [AnyObject] = []
    var url = ""
    if kind == "mqtt" {
        let sub = try MQTTSubscriber(port: broker.port, clientID: name, topics: [topic], output: output, persistent: false)
        received = { sub.messages.count }
        keep.append(sub)
    } else {
        let hook = try WebhookReceiver(plan: "200", output: output)
        received = { hook.requests.count }
        url = hook.url
        keep.append(hook)
    }
    let start = Date()
    try send(url, topic)
    let deadline = Date().addingTimeInterval(600)
    while received() < n {
        guard Date() < deadline else { throw ProcessTimeout(description: "\(name): \(received()) of \(n) events arrived in 600 s") }
        usleep(5_000)
    }
    let elapsed = Date().timeIntervalSince(start)
    guard received() == n else { throw ProcessTimeout(description: "\(name): \(received()) events arrived, \(n) sent") }
    withExtendedLifetime(keep) {}
    return elapsed
}

// MARK: - Latency

private func latency(seconds: Double, broker: MosquittoBroker, dir: URL) throws {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vidar").path
    let clip = TestFixtures.repositoryRoot.appendingPathComponent("clips/actions-101.mp4").path
    guard FileManager.default.fileExists(atPath: clip) else { fail("\(clip) is missing (the bundled demo clips)") }
    let port = benchFreePort()
    let camera = try ChildProcess("/bin/sh", ["-c", "exec /usr/bin/ffmpeg -v error -re -stream_loop -1 -i '\(clip)' -c copy -f mpegts "
                                                  + "-listen 1 http://127.0.0.1:\(port)"])
    defer { camera.signal(SIGKILL); _ = camera.wait(timeout: 5) }
    let sub = try MQTTSubscriber(port: broker.port, clientID: "bench-latency", topics: ["vidar/cam/events"],
                                 output: dir.appendingPathComponent("latency-mqtt.jsonl").path, persistent: false)
    let hook = try WebhookReceiver(plan: "200", output: dir.appendingPathComponent("latency-hook.jsonl").path)
    let events = dir.appendingPathComponent("latency-file.jsonl").path
    usleep(500_000)
    let watch = try ChildProcess(binary, ["watch", "--quiet", "--name", "cam", "--updates", "0.1", "--stats-interval", "5",
                                          "--spool", dir.appendingPathComponent("spool-watch").path,
                                          "--sink", "mqtt://127.0.0.1:\(broker.port)/vidar?discovery=false", "--sink", hook.url,
                                          "--sink", "file:\(events)", "http://127.0.0.1:\(port)"])
    usleep(UInt32(seconds * 1e6))
    watch.signal(SIGTERM)
    guard watch.wait(timeout: 30) == 0 else { fail("vidar watch did not stop cleanly on SIGTERM") }

    let parse = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    func frameTime(_ json: String) -> Double? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              o["event"] as? String == "segment_update", let utc = o["utc"] as? String,
              let t = try? parse.parse(utc) else { return nil }
        return t.timeIntervalSince1970
    }
    let mqtt = sub.timedMessages.compactMap { m in frameTime(m.payload).map { (m.received - $0) * 1000 } }
    let webhook = hook.timedRequests.compactMap { r in frameTime(r.body).map { (r.received - $0) * 1000 } }
    var own: [Double] = [], own99: [Double] = []
    for line in ((try? String(contentsOfFile: events, encoding: .utf8)) ?? "").split(separator: "\n") {
        guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], o["event"] as? String == "stats",
              let l = o["latency_ms"] as? [String: Any], let p50 = l["p50"] as? Double, let p99 = l["p99"] as? Double else { continue }
        own.append(p50)
        own99.append(p99)
    }
    guard mqtt.count >= 10, webhook.count >= 10 else {
        fail("too few segment_update events to measure (mqtt \(mqtt.count), webhook \(webhook.count)); is the bundled model labelling clips/actions-101.mp4?")
    }
    say("")
    say("frame → subscriber latency, `vidar watch` on a live 25 fps camera (\(Int(seconds)) s, bundled model, segment_update per clip):")
    say("  path                                        events   p50 ms   p99 ms")
    if !own.isEmpty {
        say(String(format: "  frame → event emitted (vidar's stats)            –  %7.0f  %7.0f", percentile(own, 0.5), own99.max()!))
    }
    say(String(format: "  frame → MQTT subscriber (QoS 1)             %6d  %7.0f  %7.0f", mqtt.count, percentile(mqtt, 0.5), percentile(mqtt, 0.99)))
    say(String(format: "  frame → webhook receiver                    %6d  %7.0f  %7.0f", webhook.count, percentile(webhook, 0.5), percentile(webhook, 0.99)))
}

private func percentile(_ values: [Double], _ p: Double) -> Double {
    let s = values.sorted()
    return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
}
