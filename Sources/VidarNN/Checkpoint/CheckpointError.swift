// Why a checkpoint could not be used: always names the file and, where there is one, the tensor or global.

public struct CheckpointError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The file does not exist or cannot be opened.
        case unreadable
        /// Not a checkpoint format vidar reads, or a damaged one.
        case badFormat
        /// The pickle asks for something a plain state_dict never needs.
        case unsafePickle
        /// Tensors missing, unexpected or of the wrong shape for the network.
        case mismatch
    }

    public let path: String
    public let kind: Kind
    public let reason: String

    public init(_ kind: Kind, _ path: String, _ reason: String) {
        self.kind = kind
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
