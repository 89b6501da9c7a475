// vidar's errors and exit codes. The library throws typed errors that say what failed (VidarError here,
// VideoError, CheckpointError, NPYError, InferenceError beside their code); the CLI maps them to the exit
// codes below in one place (Sources/vidar/ExitCodes.swift).

/// The process exit codes every vidar command uses (sysexits.h values, documented in the README).
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
    /// Stopped by SIGHUP, SIGINT or SIGTERM (128 + the signal); what was processed has been written, marked
    /// incomplete.
    case hangup = 129
    case interrupted = 130
    case terminated = 143
}

/// A failure of vidar's own (model files, label files, downloads, outputs), one line naming its subject.
public struct VidarError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// An input (checkpoint, label file, model name) does not exist or cannot be opened.
        case notFound
        /// An input exists but its content is wrong (bad metadata, label count, hash).
        case invalidData
        /// The request itself is malformed (not a model name nor a URL, no hash in a file name).
        case invalidRequest
        /// A network resource could not be reached or answered with an error.
        case unavailable
        /// An output file or directory cannot be created.
        case cannotCreate
        /// A read or write failed part-way.
        case ioFailed
    }

    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    public var description: String { message }
}
