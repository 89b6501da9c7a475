import VidarNN

/// The backend and precision a run computes with, settled in one order wherever they are chosen (label, watch,
/// infer, serve), so that the same mistake reads the same everywhere and on every machine: a backend that cannot
/// start is `unavailable` (69); a precision the backend cannot run, or the model cannot, is the request's mistake
/// (64), named before what this CPU lacks (69).
public enum ComputeChoice {
    /// `setting` names the choice in messages (`--precision`, or serve's `precision`); `mistake` makes the error for
    /// a request that cannot work anywhere (the CLI's usage error; elsewhere `invalidRequest`).
    public static func resolve(backend name: String, precision precisionName: String, setting: String,
                               mistake: (String) -> any Error = { VidarError(.invalidRequest, $0) }) throws -> (ConvolutionBackend, Precision) {
        let backend: ConvolutionBackend
        do { backend = try Backends.named(name) } catch { throw VidarError(.unavailable, "backend \(name): \(error)") }
        let precision: Precision
        do { precision = try Precision.resolved(precisionName) } catch { throw VidarError(.unavailable, "\(setting) \(precisionName): \(error)") }
        if let reason = precision.unsupportedReason(on: backend) { throw mistake("\(setting) \(reason)") }
        if let reason = precision.unavailableReason { throw VidarError(.unavailable, "\(setting) \(precisionName): \(reason)") }
        return (backend, precision)
    }

    /// A precision the loaded model cannot run (int8 without a calibration): refused before any video is opened.
    public static func check(_ precision: Precision, model: LoadedModel, setting: String,
                             mistake: (String) -> any Error = { VidarError(.invalidRequest, $0) }) throws {
        if let reason = precision.unsupportedReason(for: model.network) { throw mistake("\(setting) \(precision.rawValue) with \(model.path): \(reason)") }
    }
}
