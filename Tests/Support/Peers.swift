// Real event consumers for the delivery tests, started on loopback: Debian's mosquitto broker (with persistence,
// so a subscriber's session survives the broker's restart), a paho-mqtt subscriber that logs every message, and
// a Python http.server webhook receiver that answers as scripted (errors first, or never).
import Foundation
import Synchronization

public final class MosquittoBroker: Sendable {
    public let port: Int
    public let directory: URL
    private let process = Mutex<ChildProcess?>(nil)

    /// `user root`: started as root (CI), mosquitto otherwise drops to its own user, cannot write the persistence
    /// file in the tests' private directory, and forgets the subscribers' sessions on restart (ignored by a broker
    /// that is not started as root).
    public init(port: Int) throws {
        self.port = port
        directory = try TestFixtures.temporaryDirectory()
        try """
            listener \(port) 127.0.0.1
            allow_anonymous true
            persistence true
            persistence_location \(directory.path)/
            autosave_interval 1
            user root
            """.write(to: directory.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
        try start()
    }

    public func start() throws {
        let p = try ChildProcess("/usr/sbin/mosquitto", ["-c", directory.appendingPathComponent("mosquitto.conf").path])
        process.withLock { $0 = p }
        // Up when it accepts connections.
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if (try? runProcess("/usr/bin/mosquitto_pub", ["-h", "127.0.0.1", "-p", "\(port)", "-t", "probe", "-m", "x"], timeout: 5))?.status == 0 {
                p.keepDraining()   // it logs every connection on stderr
                return
            }
            usleep(100_000)
        }
        throw ProcessTimeout(description: "mosquitto did not start on port \(port)")
    }

    /// SIGTERM: the broker saves its sessions and stops.
    public func stop() {
        guard let p = process.withLock({ s -> ChildProcess? in defer { s = nil }; return s }) else { return }
        p.signal(SIGTERM)
        _ = p.wait(timeout: 10)
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A persistent-session subscriber (QoS 1) that appends every message it receives to `output` as JSON lines:
/// {"topic", "payload", "retain", "t": Unix time received}.
public final class MQTTSubscriber: Sendable {
    public let output: String
    private let process: ChildProcess

    public init(port: Int, clientID: String, topics: [String] = ["vidar/#", "homeassistant/#"], output: String, persistent: Bool = true) throws {
        self.output = output
        process = try ChildProcess("/usr/bin/python3", ["-u", "-c", """
            import json, sys, time
            import paho.mqtt.client as mqtt
            port, client_id, out, persistent = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "a"), sys.argv[4] == "1"
            topics = sys.argv[5:]
            def on_connect(c, userdata, flags, rc):
                c.subscribe([(t, 1) for t in topics])
                print("subscribed", flush=True)
            def on_message(c, userdata, m):
                out.write(json.dumps({"topic": m.topic, "payload": m.payload.decode(), "retain": bool(m.retain), "t": time.time()}) + "\\n")
                out.flush()
            c = mqtt.Client(client_id=client_id, clean_session=not persistent)
            c.on_connect, c.on_message = on_connect, on_message
            c.reconnect_delay_set(0.2, 1)
            c.connect("127.0.0.1", port)
            c.loop_forever(retry_first_connection=True)
            """, "\(port)", clientID, output, persistent ? "1" : "0"] + topics)
        // Subscribed before anything is published.
        let seen = process.stdout.read(until: { $0.contains("subscribed") }, seconds: 15)
        guard seen.contains("subscribed") else { throw ProcessTimeout(description: "the MQTT subscriber did not subscribe: \(seen)") }
        process.keepDraining(stdoutSoFar: seen)   // "subscribed" again on every reconnection
    }

    public var messages: [(topic: String, payload: String, retain: Bool)] { timedMessages.map { ($0.topic, $0.payload, $0.retain) } }

    /// The messages with the Unix time each arrived.
    public var timedMessages: [(topic: String, payload: String, retain: Bool, received: Double)] {
        ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            guard let o = try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any],
                  let topic = o["topic"] as? String, let payload = o["payload"] as? String else { return nil }
            return (topic, payload, o["retain"] as? Bool ?? false, o["t"] as? Double ?? 0)
        }
    }

    public func stop() {
        process.signal(SIGKILL)
        _ = process.wait(timeout: 5)
    }

    deinit { stop() }
}

/// An HTTP receiver on 127.0.0.1 that answers each POST by a plan ("500*3,429*2,200": three 500s, two 429s with
/// Retry-After: 1, then 200 for good; "hang": never answers) and logs every request as a JSON line
/// {"status", "body", "signature", "t": Unix time received, "port": the client's} to `output`.
public final class WebhookReceiver: Sendable {
    public let port: Int
    public let output: String
    private let process: ChildProcess

    public init(plan: String, output: String) throws {
        self.output = output
        process = try ChildProcess("/usr/bin/python3", ["-u", "-c", """
            import http.server, json, sys, time, threading
            plan, out = sys.argv[1], open(sys.argv[2], "a")
            steps = []
            if plan != "hang":
                for part in plan.split(","):
                    code, _, n = part.partition("*")
                    steps += [int(code)] * (int(n) if n else 1)
            lock = threading.Lock()
            class H(http.server.BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do
                def log_message(self, *a): pass
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                    if plan == "hang":
                        time.sleep(3600)
                    with lock:
                        code = steps.pop(0) if len(steps) > 1 else steps[0]
                        out.write(json.dumps({"status": code, "body": body.decode(), "signature": self.headers.get("X-Vidar-Signature"), "t": time.time(), "port": self.client_address[1]}) + "\\n")
                        out.flush()
                    self.send_response(code)
                    if code == 429: self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
            s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
            print("port", s.server_address[1], flush=True)
            s.serve_forever()
            """, plan, output])
        let seen = process.stdout.read(until: { $0.contains(/port \d+/) }, seconds: 15)
        if let m = seen.firstMatch(of: /port (\d+)/), let p = Int(m.1) {
            port = p
            process.keepDraining(stdoutSoFar: seen)
            return
        }
        throw ProcessTimeout(description: "the webhook receiver did not start: \(seen)")
    }

    public var url: String { "http://127.0.0.1:\(port)/hook" }

    public var requests: [(status: Int, body: String, signature: String?)] { timedRequests.map { ($0.status, $0.body, $0.signature) } }

    /// The requests with the Unix time each arrived and the client's port (one port: one kept-alive connection).
    public var timedRequests: [(status: Int, body: String, signature: String?, received: Double, clientPort: Int)] {
        ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            guard let o = try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any],
                  let status = o["status"] as? Int, let body = o["body"] as? String else { return nil }
            return (status, body, o["signature"] as? String, o["t"] as? Double ?? 0, o["port"] as? Int ?? 0)
        }
    }

    public func stop() {
        process.signal(SIGKILL)
        _ = process.wait(timeout: 5)
    }

    deinit { stop() }
}
