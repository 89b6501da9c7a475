// Events to an MQTT broker, as Frigate users expect them: `PREFIX/available` (retained `online`, `offline` as the
// will, so a crash shows), `PREFIX/STREAM/events` (every event, QoS 1), `PREFIX/STREAM/status` (retained
// `live|lost|disabled`), `PREFIX/STREAM/action` (retained current label or `none`), and Home Assistant MQTT
// discovery for each stream's "current action" sensor. A record counts as delivered once the broker's PUBACK came.
import Foundation
import Synchronization
import Vidar
import VidarMQTT
import VidarStream

final class MQTTTransport: SinkTransport {
    let prefix: String
    let discovery: Bool
    private let model: String
    private let client: MQTTClient
    /// Per stream: status and action as last published (republished, retained, after each reconnection).
    private final class Retained: Sendable {
        let values = Mutex<[String: (status: String?, action: String?)]>([:])
    }
    private let retained: Retained

    /// `mqtt://[user:pass@]host[:port][/prefix][?discovery=false]`, `mqtts://` for TLS.
    init(url: String, run: String, model: String) throws {
        guard let u = URLComponents(string: url), let host = u.host, !host.isEmpty else {
            throw ServeConfigError(description: "\(Redaction.redact(url)): not an MQTT URL (mqtt://[user:pass@]host[:port][/prefix])")
        }
        let tls = u.scheme == "mqtts"
        let path = u.path.split(separator: "/").joined(separator: "/")
        prefix = path.isEmpty ? "vidar" : path
        discovery = u.queryItems?.first { $0.name == "discovery" }?.value != "false"
        self.model = model
        var options = MQTTClient.Options(host: host, port: u.port ?? (tls ? 8883 : 1883), clientID: "vidar-\(run)-\(prefix.replacingOccurrences(of: "/", with: "-"))")
        options.username = u.user
        options.password = u.password
        options.tls = tls
        options.will = ("\(prefix)/available", "offline")
        let retained = Retained()
        self.retained = retained
        let (prefix, discovery) = (self.prefix, self.discovery)
        // The client calls back on its own thread after each connection: say we are here, restore retained state.
        let box = ClientBox()
        client = try MQTTClient(options: options) {
            guard let client = box.client else { return }
            client.send(topic: "\(prefix)/available", payload: "online", retain: true)
            for (stream, v) in retained.values.withLock({ $0 }) {
                if discovery { client.send(topic: Self.discoveryTopic(stream), payload: Self.discoveryPayload(stream, prefix: prefix, model: model), retain: true) }
                if let s = v.status { client.send(topic: "\(prefix)/\(stream)/status", payload: s, retain: true) }
                if let a = v.action { client.send(topic: "\(prefix)/\(stream)/action", payload: a, retain: true) }
            }
        }
        box.client = client
        if client.isConnected { client.send(topic: "\(prefix)/available", payload: "online", retain: true) }
    }

    /// Lets the connect callback reach the client it belongs to (set right after the client is made).
    private final class ClientBox: @unchecked Sendable {
        // Written once, before the network thread can connect (the first connect is asynchronous), then only read.
        var client: MQTTClient?
    }

    func deliver(_ record: EventRecord) -> Delivery {
        guard client.isConnected || client.awaitConnection(timeout: 3) else {
            return .retry(after: 1, reason: "the broker is not connected" + (client.lastError.map { " (\($0))" } ?? ""))
        }
        guard client.publish(topic: "\(prefix)/\(record.stream)/events", payload: record.jsonLine(), retain: false, timeout: 10) else {
            return .retry(after: nil, reason: "the broker did not acknowledge in 10 s")
        }
        follow(record)
        return .delivered
    }

    /// Retained topics follow the events: status from the stream's connection, action from its open segment.
    private func follow(_ record: EventRecord) {
        let stream = record.stream
        guard stream != "vidar" else { return }
        var status: String?, action: String?
        switch record.event {
        case .streamStarted, .streamRestored: status = "live"
        case .streamLost: status = "lost"; action = "none"
        case .segmentStart(let p): action = p.label
        case .segmentUpdate(let p): action = p.label
        case .segmentEnd: action = "none"
        default: break
        }
        let (isNew, changed) = retained.values.withLock { v -> (Bool, (String?, String?)) in
            let old = v[stream]
            var now = old ?? (nil, nil)
            if let status { now.status = status }
            if let action { now.action = action }
            v[stream] = now
            return (old == nil, (status != old?.status ? status : nil, action != old?.action ? action : nil))
        }
        if isNew && discovery {
            client.send(topic: Self.discoveryTopic(stream), payload: Self.discoveryPayload(stream, prefix: prefix, model: model), retain: true)
        }
        if let s = changed.0 { client.send(topic: "\(prefix)/\(stream)/status", payload: s, retain: true) }
        if let a = changed.1 { client.send(topic: "\(prefix)/\(stream)/action", payload: a, retain: true) }
    }

    func streamState(_ stream: String, _ state: String) {
        retained.values.withLock { $0[stream, default: (nil, nil)].status = state }
        client.send(topic: "\(prefix)/\(stream)/status", payload: state, retain: true)
    }

    func shutdown() {
        // A clean disconnect sends no will: say offline ourselves.
        _ = client.publish(topic: "\(prefix)/available", payload: Data("offline".utf8), retain: true, timeout: 2)
        client.stop()
    }

    static func discoveryTopic(_ stream: String) -> String { "homeassistant/sensor/vidar_\(stream)/action/config" }

    /// Home Assistant's MQTT discovery for a sensor holding the stream's current action.
    static func discoveryPayload(_ stream: String, prefix: String, model: String) -> String {
        let o: [String: Any] = [
            "name": "\(stream) action", "unique_id": "vidar_\(stream)_action", "object_id": "vidar_\(stream)_action",
            "state_topic": "\(prefix)/\(stream)/action", "availability_topic": "\(prefix)/available",
            "payload_available": "online", "payload_not_available": "offline", "icon": "mdi:motion-sensor",
            "json_attributes_topic": "\(prefix)/\(stream)/events",
            "device": ["identifiers": ["vidar_\(stream)"], "name": "vidar \(stream)", "manufacturer": "vidar",
                       "model": model, "sw_version": Installation.version],
        ]
        return String(decoding: (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data(), as: UTF8.self)
    }
}
