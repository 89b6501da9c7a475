// Child processes for tests: run a program with a time bound capturing its output, or keep a loopback HTTP
// server up. Built on posix_spawn + waitpid: Foundation's Process waits by spinning a run loop that Swift
// Testing's tasks never drive, so its exit is never observed there.
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public struct ProcessResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    /// The program's peak resident memory in MiB, when run by `runMeasured` (else 0).
    public var peakRSSMB: Double = 0
    public var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }

    public init(status: Int32, stdout: String, stderr: String, peakRSSMB: Double = 0) {
        (self.status, self.stdout, self.stderr, self.peakRSSMB) = (status, stdout, stderr, peakRSSMB)
    }
}

public struct ProcessTimeout: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// A spawned child with its stdout and stderr on pipes.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    public let stdout: FileHandle
    public let stderr: FileHandle
    private let exitStatus = Mutex<Int32?>(nil)

    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw ProcessTimeout(description: "pipe() failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        let env = ProcessInfo.processInfo.environment.merging(environment ?? [:]) { $1 }.map { "\($0)=\($1)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        // The test runner may block or ignore signals; the child starts with defaults so SIGTERM/SIGINT work.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        close(outPipe[1])
        close(errPipe[1])
        guard rc == 0 else {
            close(outPipe[0]); close(errPipe[0])
            throw ProcessTimeout(description: "cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
        stdout = FileHandle(fileDescriptor: outPipe[0], closeOnDealloc: true)
        stderr = FileHandle(fileDescriptor: errPipe[0], closeOnDealloc: true)
    }

    /// Reaps the child if it has exited; returns its exit status (128 + signal if killed).
    @discardableResult
    public func poll() -> Int32? {
        exitStatus.withLock { exitStatus in
            if let exitStatus { return exitStatus }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            let signal = status & 0x7f
            exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
            return exitStatus
        }
    }

    /// Waits up to `timeout` seconds; kills the child and returns nil when it does not exit in time.
    public func wait(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let s = poll() { return s }
            usleep(5_000)
        }
        kill(pid, SIGKILL)
        while poll() == nil { usleep(1_000) }
        return nil
    }

    public func signal(_ sig: Int32) { if poll() == nil { kill(pid, sig) } }

    deinit {
        if poll() == nil {
            kill(pid, SIGKILL)
            while poll() == nil { usleep(1_000) }
        }
    }
}

/// What a child writes on one pipe from now on, read by a thread of its own until the pipe closes, so that a
/// long-lived peer (a relay, a broker, a server logging every request) never blocks on a full pipe. Keeps the last
/// `limit` bytes, for failure messages and for tests that look for a log line.
public final class PipeLog: Sendable {
    private let text: Mutex<String>

    public init(_ handle: FileHandle, startingWith prefix: String = "", limit: Int = 1 << 20) {
        text = Mutex(prefix)
        // The thread holds this log until the pipe closes (when the child and its children are gone).
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { return }
                text.withLock {
                    $0 += String(decoding: chunk, as: UTF8.self)
                    if $0.utf8.count > limit { $0 = String(decoding: $0.utf8.suffix(limit / 2), as: UTF8.self) }
                }
            }
        }
    }

    public var contents: String { text.withLock { $0 } }
}

extension ChildProcess {
    /// Drains both pipes into `PipeLog`s from now on (after a test has read what it waits for, e.g. a port).
    @discardableResult
    public func keepDraining(stdoutSoFar: String = "", stderrSoFar: String = "") -> (stdout: PipeLog, stderr: PipeLog) {
        (PipeLog(stdout, startingWith: stdoutSoFar), PipeLog(stderr, startingWith: stderrSoFar))
    }
}

extension FileHandle {
    /// What a child writes to this pipe, read until `done` holds for the text so far, the writer closes it, or
    /// `seconds` pass (checked between chunks, so a writer gone silent is bounded by its own timeout). For waiting
    /// on a peer's "listening on …" line or a progress line.
    public func read(until done: (String) -> Bool, seconds: TimeInterval) -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var text = ""
        while !done(text), Date() < deadline {
            let chunk = availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        return text
    }
}

public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                       timeout: TimeInterval = 120) throws -> ProcessResult {
    let child = try ChildProcess(executable, arguments, environment: environment)
    // Drain both pipes concurrently so a chatty child never blocks on a full pipe. Threads of their own, not
    // Dispatch's pool: with many suites in parallel the pool's threads are all blocked in reads, a queued reader
    // started late, and a 5 s wait then returned a truncated output.
    let outData = Mutex(Data()), errData = Mutex(Data())
    let group = DispatchGroup()
    group.enter()
    group.enter()
    Thread.detachNewThread { let d = child.stdout.readDataToEndOfFile(); outData.withLock { $0 = d }; group.leave() }
    Thread.detachNewThread { let d = child.stderr.readDataToEndOfFile(); errData.withLock { $0 = d }; group.leave() }
    guard let status = child.wait(timeout: timeout) else {
        _ = group.wait(timeout: .now() + 5)
        throw ProcessTimeout(description: "\(executable) \(arguments.joined(separator: " ")) did not finish in \(timeout) s")
    }
    // The pipes close when the child (and anything it left running with them) is gone.
    guard group.wait(timeout: .now() + 60) == .success else {
        throw ProcessTimeout(description: "\(executable) exited but its output did not end within 60 s (a child still holds it?)")
    }
    return ProcessResult(status: status, stdout: String(decoding: outData.withLock { $0 }, as: UTF8.self),
                         stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
}

/// `runProcess` with the program's peak resident memory, measured by GNU time (Debian's `time`) around it. Not
/// wait4's ru_maxrss: a child posix_spawn'ed by a large test runner counts the runner's pages from before its exec.
public func runMeasured(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                        timeout: TimeInterval = 120) throws -> ProcessResult {
    let report = FileManager.default.temporaryDirectory.appendingPathComponent("vidar-rss-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: report) }
    var r = try runProcess("/usr/bin/time", ["-f", "%M", "-o", report, "--", executable] + arguments, environment: environment,
                           timeout: timeout)
    guard let text = try? String(contentsOfFile: report, encoding: .utf8),
          let kib = text.split(separator: "\n").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) else {
        throw ProcessTimeout(description: "/usr/bin/time wrote no measurement (is Debian's `time` package installed? scripts/install-deps.sh installs it)")
    }
    r.peakRSSMB = kib / 1024
    return r
}

/// Python's http.server on 127.0.0.1 and a port the kernel picks, serving one directory. Stopped by `stop()`.
public final class LoopbackHTTPServer {
    public let port: Int
    private let child: ChildProcess

    public init(directory: URL, timeout: TimeInterval = 20) throws {
        child = try ChildProcess("/usr/bin/python3", ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                                                      "--directory", directory.path])
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let text = child.stdout.read(until: { $0.contains(#/port \d+ /#) }, seconds: timeout)
        if let m = text.firstMatch(of: #/port (\d+) /#), let port = Int(m.1) {
            self.port = port
            child.keepDraining(stdoutSoFar: text)   // a line on stderr for every request
            return
        }
        child.signal(SIGKILL)
        throw ProcessTimeout(description: "http.server did not report its port: \(text)")
    }

    public var baseURL: String { "http://127.0.0.1:\(port)/" }

    public func stop() {
        child.signal(SIGTERM)
        _ = child.wait(timeout: 10)
    }
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port` (a server started by a test), for at most
/// `seconds`: a fixed sleep is too short on a loaded machine and too long on an idle one.
public func waitUntilListening(port: Int, seconds: Double = 15) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        close(fd)
        if connected { return true }
        usleep(100_000)
    }
    return false
}

/// A peer a test started did not come up: the test fails with this reason.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
