// `vidar serve --config FILE`: one always-on process for many cameras, with an HTTP API, health and Prometheus
// metrics. SIGHUP reloads the file; SIGTERM/SIGINT end every open segment, flush the sinks and exit 0.
import CSystemd
import Foundation
import Synchronization
import Vidar
import VidarHTTP
import VidarService

enum ServeCommand: Command {
    static let spec = CommandSpec(
        name: "serve",
        usage: ["vidar serve --config FILE [--listen HOST:PORT]", "vidar serve --check-config FILE"],
        summary: """
            Runs every stream of a YAML configuration (deploy/vidar.yaml is an example; docs/api.md describes it) on \
            one loaded model: one decode thread and drop-oldest ring per stream, one inference scheduler batching \
            their clips fairly, events to the configured sinks, and an HTTP API (docs/api.md): /livez, /readyz, \
            /metrics (Prometheus), /api/streams (add with POST, remove with DELETE), /api/events and \
            /api/events/stream (Server-Sent Events). SIGHUP re-reads the file and applies added, removed and changed \
            streams; SIGTERM/SIGINT end every open segment, flush the sinks and exit 0. Under systemd \
            (Type=notify) it reports readiness with sd_notify.
            """,
        groups: [
            OptionGroup("service", [
                Option(["--config"], value: "FILE", default: "required", "the YAML configuration"),
                Option(["--check-config"], value: "FILE", default: "none",
                       "check FILE (syntax, keys, values, the model, every stream's settings) and exit"),
                Option(["--listen"], value: "HOST:PORT", default: "the configuration's, else 127.0.0.1:8710",
                       "where the HTTP API listens (port 0: any free port); a non-loopback address needs token_file"),
            ]),
        ],
        footer: """
            Exit: 0 stopped by a signal, or the configuration is valid (--check-config); 64 usage, or a non-loopback \
            listen address without a token; 65 an invalid configuration (file:line:column: reason) or model; 66 a \
            missing file; 69 the address cannot be listened on.
            """)

    static func run(_ args: ParsedArguments) throws -> ExitCode {
        guard args.positionals.isEmpty else { throw UsageError("unexpected argument '\(args.positionals[0])'") }
        if let path = args.string("--check-config") {
            let config = try load(path, listen: args.string("--listen"))
            try Service.check(config)
            print("\(path): valid: \(config.streams.count) stream\(config.streams.count == 1 ? "" : "s"), model \(config.model), "
                  + "listen \(config.listen)")
            return .success
        }
        guard let path = args.string("--config") else { throw UsageError("--config FILE is required") }
        let config = try load(path, listen: args.string("--listen"))
        let log: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("vidar: \($0)\n".utf8)) }
        // Stop signals are caught before anything announces the service: a SIGTERM right after READY=1 (or the
        // log line) must still end it cleanly.
        let stop = DispatchSemaphore(value: 0)
        var handlers: [DispatchSourceSignal] = []
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { stop.signal() }
            s.resume()
            handlers.append(s)
        }
        let service = try Service(config: config, log: log)
        let api = API(service: service, token: try config.tokenFile.map(API.readToken))
        let (host, port) = config.listenAddress!
        let server: HTTPServer
        do { server = try HTTPServer(host: host, port: port, handler: api.handle) } catch {
            throw VidarError(.unavailable, "\(config.listen): \(error)")
        }
        service.start()
        let shown = host.contains(":") ? "[\(host)]" : host
        log("serving \(config.streams.filter(\.enabled).count) stream(s) with \(service.model.network.config.name) on "
            + "http://\(shown):\(server.port) (run \(service.run))")
        if let notice = service.model.notice { log("note: \(notice)") }
        _ = sd_notify(0, "READY=1\nSTATUS=serving")

        signal(SIGHUP, SIG_IGN)
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "vidar.reload"))
        hup.setEventHandler {
            do {
                let fresh = try load(path, listen: args.string("--listen"))
                let r = service.reload(fresh)
                api.setToken(try fresh.tokenFile.map(API.readToken))
                log("reloaded \(path): \(r.added.count) added, \(r.removed.count) removed, \(r.changed.count) changed")
            } catch {
                log("reload of \(path) refused, the running configuration stays: \(error)")
            }
        }
        hup.resume()
        handlers.append(hup)
        stop.wait()
        _ = sd_notify(0, "STOPPING=1")
        log("stopping: ending every open segment")
        service.shutdown()
        server.stop()
        handlers.forEach { $0.cancel() }
        return .success
    }

    /// The configuration, with --listen applied and the listen policy checked.
    static func load(_ path: String, listen: String?) throws -> ServeConfig {
        guard FileManager.default.fileExists(atPath: path) else { throw VidarError(.notFound, "\(path): no such file") }
        var config = try ServeConfig.load(path: path)
        if let listen {
            config.listen = listen
            guard config.listenAddress != nil else { throw UsageError("--listen must be HOST:PORT, got '\(listen)'") }
        }
        if let host = config.listenAddress?.host, !HTTPServer.isLoopback(host), config.tokenFile == nil {
            throw UsageError("refusing to listen on \(config.listen) without a token: set token_file (mutating requests then need it) "
                             + "or listen on 127.0.0.1")
        }
        return config
    }
}
