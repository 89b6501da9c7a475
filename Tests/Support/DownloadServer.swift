// A Python http.server on 127.0.0.1 that misbehaves as a download source, for the fetch tests:
// /endless/NAME sends bytes for ever (no Content-Length), /slow/NAME sends 64 KiB a second, /huge/NAME announces
// 1 TB, /redirect/NAME answers 302 to http://localhost:PORT/file/NAME (another host name), /file/NAME serves the
// file NAME from `directory`.
import Foundation

public final class DownloadServer {
    public let port: Int
    private let child: ChildProcess

    public init(directory: URL) throws {
        child = try ChildProcess("/usr/bin/python3", ["-u", "-c", """
            import http.server, os, sys, time
            root = sys.argv[1]
            class H(http.server.BaseHTTPRequestHandler):
                def log_message(self, *a): pass
                def do_GET(self):
                    kind, _, name = self.path.strip("/").partition("/")
                    try:
                        if kind == "file":
                            data = open(os.path.join(root, name), "rb").read()
                            self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers()
                            self.wfile.write(data)
                        elif kind == "redirect":
                            self.send_response(302)
                            self.send_header("Location", "http://localhost:%d/file/%s" % (self.server.server_port, name))
                            self.send_header("Content-Length", "0"); self.end_headers()
                        elif kind == "huge":
                            self.send_response(200); self.send_header("Content-Length", str(10 ** 12)); self.end_headers()
                            self.wfile.write(b"\\0" * 65536)
                        elif kind in ("endless", "slow"):
                            self.send_response(200); self.end_headers()
                            while True:
                                self.wfile.write(b"\\0" * 65536); self.wfile.flush()
                                if kind == "slow": time.sleep(1)
                        else:
                            self.send_error(404)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
            s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
            print("port", s.server_port, flush=True)
            s.serve_forever()
            """, directory.path])
        let line = child.stdout.read(until: { $0.contains("\n") }, seconds: 20)
        guard let port = line.split(separator: " ").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            child.signal(SIGKILL)
            throw ProcessTimeout(description: "the download server did not start: \(line)")
        }
        self.port = port
        child.keepDraining(stdoutSoFar: line)
    }

    public func url(_ kind: String, _ name: String) -> String { "http://127.0.0.1:\(port)/\(kind)/\(name)" }

    public func stop() {
        child.signal(SIGKILL)
        _ = child.wait(timeout: 5)
    }

    deinit { stop() }
}
