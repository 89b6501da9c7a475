// The HTTP API (docs/api.md, docs/openapi.yaml): health, metrics, streams, events. JSON bodies; mutating requests
// need `Authorization: Bearer TOKEN` when the service has a token. Credentials in stream URLs never appear.
import Foundation
import Synchronization
import Vidar
import VidarHTTP
import VidarStream

public final class API: Sendable {
    let service: Service
    /// The bearer token mutating requests must carry; nil: none needed (loopback only). Replaced on reload.
    private let token: Mutex<String?>

    public init(service: Service, token: String?) {
        self.service = service
        self.token = Mutex(token)
    }

    public func setToken(_ t: String?) { token.withLock { $0 = t } }

    /// Reads a token file: its first line, trimmed; empty or unreadable is an error.
    public static func readToken(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let line = text.split(whereSeparator: \.isNewline).first?.trimmingCharacters(in: .whitespaces), !line.isEmpty else {
            throw ServeConfigError(description: "\(path): cannot read a token (one line of text)")
        }
        return line
    }

    public func handle(_ r: HTTPRequest) -> HTTPResponse {
        if r.method == "POST" || r.method == "DELETE" || r.method == "PUT" || r.method == "PATCH" {
            if let refusal = authorize(r) { return refusal }
        }
        if r.bodyTooLarge { return failure(413, "the request body is larger than \(HTTPServer.Limits().maxBody) bytes") }
        switch (r.method, Route(r.path)) {
        case ("GET", .livez):
            let l = service.liveness
            return json(l.ok ? 200 : 503, l.reason.map { ["status": "stuck", "reason": $0] } ?? ["status": "alive"])
        case ("GET", .readyz):
            let ready = service.readiness
            return json(ready.ok ? 200 : 503, ["status": ready.ok ? "ready" : "not ready", "reasons": ready.reasons])
        case ("GET", .metrics):
            return .text(200, service.metricsText, contentType: "text/plain; version=0.0.4; charset=utf-8")
        case ("GET", .version):
            return json(200, ["version": Installation.version, "run": service.run, "started_utc": utcString(service.startedAt),
                              "model": ["name": service.model.network.config.name, "path": service.model.path,
                                        "sha256_prefix": service.modelSHA, "classes": service.model.network.config.numClasses]])
        case ("GET", .streams):
            return encode(200, ["streams": service.statuses])
        case ("GET", .stream(let name)):
            guard let s = service.served(name) else { return failure(404, "no stream named '\(name)'") }
            return encode(200, s.status)
        case ("POST", .streams):
            do {
                let stream = try ServeConfig.stream(json: r.body, defaults: service.currentConfig)
                try service.add(stream)
                return encode(201, service.served(stream.name)?.status)
            } catch let e as ServiceError {
                return failure(e.kind == .conflict ? 409 : 400, e.description)
            } catch {
                return failure(400, "\(error)")
            }
        case ("DELETE", .stream(let name)):
            do { try service.remove(name) } catch { return failure(404, "\(error)") }
            return HTTPResponse(status: 204)
        case ("GET", .events):
            let since = r.query["since"].flatMap(Int.init)
            let limit = min(max(r.query["limit"].flatMap(Int.init) ?? 100, 1), 1000)
            let page = service.hub.events(since: since, limit: limit)
            let body = "{\"events\":[" + page.events.map { String(decoding: $0.1.jsonLine(), as: UTF8.self) }.joined(separator: ",")
                + "],\"next\":\(page.next)}"
            return .json(200, Data(body.utf8))
        case ("GET", .eventStream):
            return serverSentEvents(since: (r.headers["last-event-id"] ?? r.query["since"]).flatMap(Int.init))
        case (_, .unknown):
            return failure(404, "no such endpoint: \(r.path) (see docs/api.md)")
        default:
            return failure(405, "\(r.method) is not allowed on \(r.path)")
        }
    }

    /// The endpoints, from a path.
    enum Route {
        case livez, readyz, metrics, version, streams, stream(String), events, eventStream, unknown

        init(_ path: String) {
            let p = path.split(separator: "/").map(String.init)
            switch p.count {
            case 1 where p[0] == "livez": self = .livez
            case 1 where p[0] == "readyz": self = .readyz
            case 1 where p[0] == "metrics": self = .metrics
            case 2 where p == ["api", "version"]: self = .version
            case 2 where p == ["api", "streams"]: self = .streams
            case 2 where p == ["api", "events"]: self = .events
            case 3 where p[0] == "api" && p[1] == "streams": self = .stream(p[2])
            case 3 where p == ["api", "events", "stream"]: self = .eventStream
            default: self = .unknown
            }
        }
    }

    private func authorize(_ r: HTTPRequest) -> HTTPResponse? {
        guard let token = token.withLock({ $0 }) else { return nil }
        let given = r.headers["authorization"] ?? ""
        guard given.hasPrefix("Bearer "), constantTimeEqual(String(given.dropFirst(7)), token) else {
            var response = failure(401, "this request needs Authorization: Bearer <token> (the service's token_file)")
            response.headers["WWW-Authenticate"] = "Bearer realm=\"vidar\""
            return response
        }
        return nil
    }

    private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return diff == 0
    }

    /// `text/event-stream`: each event as `id: POSITION`, `event: TYPE`, `data: JSON`; a comment every 15 s keeps
    /// idle connections open; a reader that reconnects with Last-Event-ID resumes where it was.
    private func serverSentEvents(since: Int?) -> HTTPResponse {
        let subscription = service.hub.subscribe(since: since)
        let hub = service.hub
        let pending = Mutex(Data(": vidar events\n\n".utf8))
        return HTTPResponse(status: 200, headers: ["Content-Type": "text/event-stream", "Cache-Control": "no-cache"],
                            body: .stream { max in
            while true {
                let chunk = pending.withLock { buffer -> Data? in
                    guard !buffer.isEmpty else { return nil }
                    defer { buffer.removeFirst(min(max, buffer.count)) }
                    return buffer.prefix(max)
                }
                if let chunk { return chunk }
                guard let events = subscription.next(timeout: 15) else { hub.unsubscribe(subscription); return nil }
                let text = events.isEmpty ? ": keep-alive\n\n" : events.map { position, record in
                    "id: \(position)\nevent: \(record.event.name)\ndata: \(String(decoding: record.jsonLine(), as: UTF8.self))\n\n"
                }.joined()
                pending.withLock { $0.append(Data(text.utf8)) }
            }
        })
    }

    private func json(_ status: Int, _ object: [String: Any]) -> HTTPResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return .json(status, data)
    }

    private func encode<T: Encodable>(_ status: Int, _ value: T) -> HTTPResponse {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return .json(status, (try? e.encode(value)) ?? Data("{}".utf8))
    }

    private func failure(_ status: Int, _ message: String) -> HTTPResponse {
        json(status, ["error": message])
    }
}
