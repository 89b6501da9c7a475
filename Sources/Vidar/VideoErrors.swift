// Maps decode-stage errors onto vidar's exit codes.
import VidarVideo

extension VidarError {
    public init(_ e: VideoError) {
        let code: ExitCode
        switch e.kind {
        case .notFound, .isDirectory, .permissionDenied: code = .noInput
        case .notMedia, .noVideoStream, .unsupportedCodec, .corrupt: code = .dataError
        case .timeout: code = .unavailable
        case .failed: code = e.input.contains("://") ? .unavailable : .dataError
        }
        self.init(code, e.description)
    }
}
