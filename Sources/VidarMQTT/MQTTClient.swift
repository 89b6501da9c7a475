// The one door to libmosquitto: an MQTT 3.1.1 client on its own network thread that connects, keeps
// reconnecting with backoff, leaves a will, and publishes with QoS 1, reporting when the broker has
// acknowledged a message (PUBACK). The thread is vidar's, not mosquitto_loop_start's: libmosquitto's loop ends
// for good when a connection attempt fails, and reconnecting from a second thread races with it, so this one
// thread alone runs the loop and alone reconnects.
import CMosquitto
import Foundation
import Synchronization

public struct MQTTError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

public final class MQTTClient: Sendable {
    public struct Options: Sendable {
        public var host: String
        public var port: Int
        public var username: String?
        public var password: String?
        public var clientID: String
        public var tls = false
        public var keepalive = 30
        /// Published by the broker when this client goes away without saying goodbye.
        public var will: (topic: String, payload: String)?

        public init(host: String, port: Int, clientID: String) { (self.host, self.port, self.clientID) = (host, port, clientID) }
    }

    private let handle: Int
    private let events: Events
    /// Set by `stop`; the network thread then flushes the DISCONNECT and signals `loopEnded`.
    private let stopping = Atomic(false)
    private let loopEnded = DispatchSemaphore(value: 0)

    /// What libmosquitto's thread reports: connection state and acknowledgements, kept behind a lock.
    final class Events: Sendable {
        struct State {
            var connected = false
            /// The wait before the next connection attempt: 1 s, doubling to 30 s, back to 1 s once connected.
            var retryDelay = 1.0
            var waiting: [Int32: DispatchSemaphore] = [:]
            var acknowledged: Set<Int32> = []
            var lastError: String?
        }
        let state = Mutex(State())
        let onConnect: @Sendable () -> Void
        init(onConnect: @escaping @Sendable () -> Void) { self.onConnect = onConnect }
    }

    private static let library: Void = { mosquitto_lib_init() }()

    /// Creates the client; `onConnect` runs on the network thread after each (re)connection (publish retained
    /// state there).
    public init(options: Options, onConnect: @escaping @Sendable () -> Void) throws {
        _ = Self.library
        events = Events(onConnect: onConnect)
        guard let m = mosquitto_new(options.clientID, true, Unmanaged.passUnretained(events).toOpaque()) else {
            throw MQTTError(description: "cannot create an MQTT client (out of memory?)")
        }
        handle = Int(bitPattern: UnsafeMutableRawPointer(m))
        if let user = options.username {
            guard mosquitto_username_pw_set(m, user, options.password) == MOSQ_ERR_SUCCESS.rawValue else {
                throw MQTTError(description: "invalid MQTT credentials")
            }
        }
        if let will = options.will {
            let payload = Array(will.payload.utf8)
            _ = mosquitto_will_set(m, will.topic, Int32(payload.count), payload, 1, true)
        }
        if options.tls {
            guard mosquitto_tls_set(m, nil, "/etc/ssl/certs", nil, nil, nil) == MOSQ_ERR_SUCCESS.rawValue else {
                throw MQTTError(description: "cannot set up TLS for MQTT")
            }
        }
        mosquitto_connect_callback_set(m, onConnectCallback)
        mosquitto_disconnect_callback_set(m, onDisconnectCallback)
        mosquitto_publish_callback_set(m, onPublishCallback)
        // Publishing happens on other threads than the network loop's.
        _ = mosquitto_threaded_set(m, true)
        // Asynchronous: a broker that is down now is retried by the network thread.
        let rc = mosquitto_connect_async(m, options.host, Int32(options.port), Int32(options.keepalive))
        if rc != MOSQ_ERR_SUCCESS.rawValue { events.state.withLock { $0.lastError = String(cString: mosquitto_strerror(rc)) } }
        let thread = Thread { [self] in networkLoop() }
        thread.name = "vidar-mqtt"
        thread.start()
    }

    private var mosq: OpaquePointer { OpaquePointer(bitPattern: handle)! }

    /// Runs libmosquitto's network loop; when the connection is gone (refused, dropped, never made), waits the
    /// backoff and connects again. Nothing else touches the connection.
    private func networkLoop() {
        defer { loopEnded.signal() }
        while !stopping.load(ordering: .acquiring) {
            if mosquitto_loop(mosq, 100, 1) == MOSQ_ERR_SUCCESS.rawValue { continue }
            let delay = events.state.withLock { s -> Double in
                s.connected = false
                defer { s.retryDelay = min(30, s.retryDelay * 2) }
                return s.retryDelay
            }
            let until = Date().addingTimeInterval(delay)
            while Date() < until, !stopping.load(ordering: .acquiring) { usleep(50_000) }
            if stopping.load(ordering: .acquiring) { break }
            let rc = mosquitto_reconnect_async(mosq)
            if rc != MOSQ_ERR_SUCCESS.rawValue { events.state.withLock { $0.lastError = String(cString: mosquitto_strerror(rc)) } }
        }
        // Stopping: let the DISCONNECT that `stop` queued reach the broker (so it drops the will), for at most 1 s.
        let deadline = Date().addingTimeInterval(1)
        while Date() < deadline, mosquitto_loop(mosq, 50, 1) == MOSQ_ERR_SUCCESS.rawValue {}
    }

    public var isConnected: Bool { events.state.withLock { $0.connected } }

    public var lastError: String? { events.state.withLock { $0.lastError } }

    /// Waits up to `timeout` s while a connection attempt is still undecided (connected, or no error yet), so the
    /// first events do not count a failure against a broker that is just answering.
    public func awaitConnection(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let (connected, failed) = events.state.withLock { ($0.connected, $0.lastError != nil) }
            if connected || failed { return connected }
            usleep(10_000)
        }
        return isConnected
    }

    /// Publishes with QoS 1 and waits up to `timeout` s for the broker's acknowledgement; false when it did not come
    /// (disconnected, or too slow): the caller publishes it again later.
    public func publish(topic: String, payload: Data, retain: Bool, timeout: Double) -> Bool {
        let done = DispatchSemaphore(value: 0)
        let mid: Int32? = events.state.withLock { s in
            guard s.connected else { return nil }
            var mid: Int32 = 0
            let rc = payload.withUnsafeBytes { mosquitto_publish(mosq, &mid, topic, Int32($0.count), $0.baseAddress, 1, retain) }
            guard rc == MOSQ_ERR_SUCCESS.rawValue else { return nil }
            // The acknowledgement may have come already (the lock was held, so not yet): register the waiter.
            s.waiting[mid] = done
            return mid
        }
        guard let mid else { return false }
        _ = done.wait(timeout: .now() + timeout)
        return events.state.withLock { s in
            s.waiting[mid] = nil
            return s.acknowledged.remove(mid) != nil
        }
    }

    /// Publishes without waiting for the acknowledgement (retained state that is published again on reconnect).
    public func send(topic: String, payload: String, retain: Bool) {
        let bytes = Array(payload.utf8)
        _ = mosquitto_publish(mosq, nil, topic, Int32(bytes.count), bytes, 1, retain)
    }

    /// Disconnects cleanly (no will) and stops the network thread.
    public func stop() {
        mosquitto_disconnect(mosq)
        stopping.store(true, ordering: .releasing)
        loopEnded.wait()
        mosquitto_destroy(mosq)
    }
}

private func events(_ obj: UnsafeMutableRawPointer?) -> MQTTClient.Events {
    Unmanaged<MQTTClient.Events>.fromOpaque(obj!).takeUnretainedValue()
}

private let onConnectCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32) -> Void = { _, obj, rc in
    let e = events(obj)
    let ok = rc == 0
    e.state.withLock { s in
        s.connected = ok
        s.lastError = ok ? nil : String(cString: mosquitto_connack_string(rc))
        if ok { s.retryDelay = 1 }
    }
    if ok { e.onConnect() }
}

private let onDisconnectCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32) -> Void = { _, obj, rc in
    let e = events(obj)
    let waiting = e.state.withLock { s -> [DispatchSemaphore] in
        s.connected = false
        if rc != 0 { s.lastError = String(cString: mosquitto_strerror(rc)) }
        defer { s.waiting = [:] }
        return Array(s.waiting.values)
    }
    waiting.forEach { $0.signal() }
}

private let onPublishCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?, Int32) -> Void = { _, obj, mid in
    let e = events(obj)
    let waiter = e.state.withLock { s -> DispatchSemaphore? in
        guard let w = s.waiting[mid] else { return nil }
        s.acknowledged.insert(mid)
        return w
    }
    waiter?.signal()
}
