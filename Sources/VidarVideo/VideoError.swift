// Why a video source could not be opened or decoded; always names the input.

public struct VideoError: Error, CustomStringConvertible, Equatable {
    public enum Kind: String, Sendable {
        case notFound, isDirectory, permissionDenied
        /// Not a media file FFmpeg recognises, or damaged beyond reading.
        case notMedia
        case noVideoStream
        case unsupportedCodec
        /// Data that decodes to no frame at all (truncated or corrupt).
        case corrupt
        /// A blocking call exceeded the timeout (dead network source, stalled pipe).
        case timeout
        /// Any other FFmpeg failure (network refused, bad option…).
        case failed
    }

    public let kind: Kind
    public let input: String
    public let reason: String

    public init(_ kind: Kind, _ input: String, _ reason: String) {
        self.kind = kind
        self.input = input
        self.reason = reason
    }

    public var description: String { "\(input): \(reason)" }
}
