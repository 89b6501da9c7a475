// The process exit codes every vidar command uses (sysexits.h values, documented in the README).

public enum ExitCode: Int32, Sendable {
    case success = 0
    /// Some inputs of a batch failed; the others' results were written.
    case partialFailure = 1
    /// Bad command line.
    case usage = 64
    /// An input exists but its content is wrong: not a checkpoint, damaged, unsafe, wrong shape, bad hash.
    case dataError = 65
    /// An input file does not exist or cannot be opened.
    case noInput = 66
    /// A network resource could not be reached or answered with an error.
    case unavailable = 69
    /// An output file or directory cannot be created.
    case cannotCreate = 73
    /// A read or write failed part-way.
    case ioError = 74
    /// Stopped by SIGINT; what was processed has been written, marked incomplete.
    case interrupted = 130
}

/// An error a command reports as one line on stderr and maps to an exit code.
public struct VidarError: Error, CustomStringConvertible {
    public let code: ExitCode
    public let message: String
    public init(_ code: ExitCode, _ message: String) { self.code = code; self.message = message }
    public var description: String { message }
}

/// Set once (e.g. by SIGINT), read from any thread.
public final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set = false
    public init() {}
    public func cancel() { lock.withLock { set = true } }
    public var isCancelled: Bool { lock.withLock { set } }
}

import Foundation
