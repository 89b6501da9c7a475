// Live network sources on 127.0.0.1 with real peers: an RTSP relay (Debian's rtsp-server-perl) fed by an
// ffmpeg publisher, RTSP over TCP to a listening vidar, raw MPEG-TS over UDP, and a libavdevice input.
// Every peer is a child process killed when the test ends; every run is bounded by --timeout.
import Foundation
import Testing
import TestSupport
import Vidar

/// A TCP or UDP port nobody listens on right now (the kernel's pick for port 0).
func freePort(udp: Bool = false) -> Int {
    let fd = socket(AF_INET, Int32(udp ? SOCK_DGRAM.rawValue : SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
            _ = bind(fd, p, len)
            return getsockname(fd, p, &len)
        }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

func publisher(_ output: [String], seconds: Int = 30) throws -> ChildProcess {
    try ChildProcess("/usr/bin/ffmpeg", ["-nostdin", "-v", "error", "-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "\(seconds)",
                                         "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25", "-tune", "zerolatency"] + output)
}

/// One relay at a time in this test process: two RTP-over-UDP relays side by side (suites run in parallel) left
/// the second one's player without a picture under load. Held from start to `stopRTSPRelay`.
private let relayTurn = DispatchSemaphore(value: 1)

/// Debian's rtsp-server-perl on loopback: publishers connect to `sourcePort`, players to `clientPort`. Stop it with
/// `stopRTSPRelay`.
func startRTSPRelay() throws -> (ChildProcess, clientPort: Int, sourcePort: Int) {
    guard relayTurn.wait(timeout: .now() + 600) == .success else { throw TestFailure("waited 10 min for another test's RTSP relay") }
    // Perl takes its time to start on a loaded machine, and a port picked free can be taken by another suite's
    // peer before the relay binds it: wait until both sides listen, and start again on fresh ports if not.
    var failures: [String] = []
    for _ in 0..<3 {
        let (clientPort, sourcePort) = (freePort(), freePort())
        let relay = try ChildProcess("/usr/bin/rtsp-server-perl", ["-c", "\(clientPort)", "-s", "\(sourcePort)",
                                                                   "--client_listen_address", "127.0.0.1", "--source_listen_address", "127.0.0.1",
                                                                   "--rtp_start_port", "\(20_000 + clientPort % 20_000)"])
        if waitUntilListening(port: clientPort, seconds: 20), waitUntilListening(port: sourcePort, seconds: 20) {
            relay.keepDraining()   // it logs every publisher and player
            return (relay, clientPort, sourcePort)
        }
        let exited = relay.poll()
        relay.signal(SIGKILL)
        _ = relay.wait(timeout: 5)
        // What it said, without blocking on a pipe a leftover child may still hold open.
        let fd = relay.stderr.fileDescriptor
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &bytes, bytes.count)
        let said = String(decoding: bytes.prefix(max(n, 0)), as: UTF8.self).suffix(300)
        failures.append("ports \(clientPort)/\(sourcePort): " + (exited.map { "exited with \($0)" } ?? "not listening after 20 s") + (said.isEmpty ? "" : ", said: \(said)"))
    }
    relayTurn.signal()
    throw TestFailure("rtsp-server-perl did not listen on 127.0.0.1 in 3 attempts: " + failures.joined(separator: "; "))
}

func stopRTSPRelay(_ relay: ChildProcess) {
    relay.signal(SIGKILL)
    _ = relay.wait(timeout: 5)
    relayTurn.signal()
}

@Suite(.serialized) struct StreamSourceTests {
    @Test func rtspOverUDPThroughARelay() throws {
        let (relay, clientPort, sourcePort) = try startRTSPRelay()
        defer { stopRTSPRelay(relay) }
        let pub = try publisher(["-f", "rtsp", "rtsp://127.0.0.1:\(sourcePort)/cam"])
        defer { pub.signal(SIGKILL); _ = pub.wait(timeout: 5) }
        let url = "rtsp://127.0.0.1:\(clientPort)/cam"
        // The relay answers 404 until the publisher's stream is up (a second or more on a loaded machine).
        var r = try CLI.run(["probe", "--timeout", "5", "--input-option", "rtsp_transport=udp", url])
        let deadline = Date().addingTimeInterval(20)
        while r.status != 0 && r.stderr.contains("404") && Date() < deadline {
            usleep(500_000)
            r = try CLI.run(["probe", "--timeout", "5", "--input-option", "rtsp_transport=udp", url])
        }
        #expect(r.status == 0, "\(r.stderr)")
        let j = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(j["container"] as? String == "rtsp" && j["codec"] as? String == "h264" && j["width"] as? Int == 320)
    }

    /// rtsp-server-perl relays over UDP only, so TCP-interleaved RTSP is checked with vidar as the listening side.
    @Test func rtspOverTCPInterleaved() throws {
        let port = freePort()
        let url = "rtsp://127.0.0.1:\(port)/live"
        nonisolated(unsafe) var r: ProcessResult?
        let done = DispatchSemaphore(value: 0)
        // Its own thread: Dispatch's pool can be busy with other suites' blocking reads and start it late.
        Thread.detachNewThread {
            r = try? CLI.run(["probe", "--timeout", "15", "--input-option", "rtsp_flags=listen", "--input-option", "rtsp_transport=tcp", url])
            done.signal()
        }
        // The listener cannot be probed without taking its one connection, so a publisher that found nobody
        // listening yet (and exited) is started again, as a camera would retry.
        usleep(800_000)
        var pub = try publisher(["-rtsp_transport", "tcp", "-f", "rtsp", url], seconds: 10)
        defer { pub.signal(SIGKILL); _ = pub.wait(timeout: 5) }
        let deadline = Date().addingTimeInterval(30)
        while done.wait(timeout: .now() + 0.5) == .timedOut && Date() < deadline {
            if pub.poll() != nil { pub = try publisher(["-rtsp_transport", "tcp", "-f", "rtsp", url], seconds: 10) }
        }
        #expect(r != nil, "probe did not finish within 30 s")
        let out = try #require(r)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("\"codec\":\"h264\""))
    }

    @Test func mpegTSOverUDP() throws {
        let port = freePort(udp: true)
        let url = "udp://127.0.0.1:\(port)"
        let pub = try publisher(["-f", "mpegts", url], seconds: 15)
        defer { pub.signal(SIGKILL); _ = pub.wait(timeout: 5) }
        let r = try CLI.run(["probe", "--timeout", "5", url])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"container\":\"mpegts\"") && r.stdout.contains("\"width\":320"))
    }

    /// libavdevice is wired in: its lavfi virtual device opens like a camera would (no /dev/video here).
    @Test func libavdeviceInputsOpen() throws {
        let r = try CLI.run(["probe", "--count", "--input-format", "lavfi", "testsrc2=size=160x120:rate=25:duration=2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("\"frames_decoded\":50"))
        let camera = "/dev/video9"
        expectFailure(try CLI.run(["probe", "--input-format", "v4l2", "--timeout", "2", camera]), .noInput, mentioning: camera, "no such file")
    }
}
