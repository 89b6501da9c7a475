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
        /// Data arrives but no frame decodes from it within the frame timeout.
        case stalled
        /// The server answered, and refused (HTTP 4xx).
        case rejected
        /// Frames larger than the decoder may allocate (`SourceOptions.maxPixels`).
        case tooLarge
        /// The host name does not resolve.
        case unknownHost
        /// An input format, option or protocol FFmpeg does not know.
        case badOption
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

    /// Retrying cannot help (the file is missing, the server said no, the name does not resolve): a live reader
    /// that meets one before it ever connected stops at once instead of retrying.
    public var isPermanent: Bool {
        switch kind {
        case .notFound, .isDirectory, .permissionDenied, .notMedia, .noVideoStream, .unsupportedCodec, .unknownHost, .badOption, .tooLarge:
            return true
        case .rejected:
            // An HTTP server's 4xx stands; an RTSP relay answers 404 until its publisher has started.
            return input.hasPrefix("http://") || input.hasPrefix("https://")
        case .corrupt, .timeout, .stalled, .failed:
            return false
        }
    }
}
