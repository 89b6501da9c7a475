// The one place where errors become exit codes (the table is ExitCode, documented in the README).
import Vidar
import VidarService
import VidarVideo

extension ExitCode {
    init(for error: any Error) {
        switch error {
        case is UsageError:
            self = .usage
        case let e as VidarError:
            switch e.kind {
            case .notFound: self = .noInput
            case .invalidData: self = .dataError
            case .invalidRequest: self = .usage
            case .unavailable: self = .unavailable
            case .cannotCreate: self = .cannotCreate
            case .ioFailed: self = .ioError
            }
        case let e as VideoError:
            switch e.kind {
            case .notFound, .isDirectory, .permissionDenied: self = .noInput
            case .notMedia, .noVideoStream, .unsupportedCodec, .corrupt, .tooLarge: self = .dataError
            case .timeout, .stalled, .rejected, .unknownHost: self = .unavailable
            case .badOption: self = .usage
            case .failed: self = e.input.contains("://") ? .unavailable : .dataError
            }
        case let e as CheckpointError:
            self = e.kind == .unreadable ? .noInput : .dataError
        case is NPYError:
            self = .dataError
        case is InferenceError:
            self = .unavailable
        case is ServeConfigError:
            self = .dataError
        default:
            self = .ioError
        }
    }
}
