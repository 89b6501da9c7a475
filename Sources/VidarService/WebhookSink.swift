// Events to an HTTP(S) endpoint, one POST each (libcurl): 2xx delivered; 429 and 5xx and network errors retried
// with jittered backoff (or after Retry-After); any other 4xx refused for good. With `?secret_file=PATH`, each
// request carries `X-Vidar-Signature: sha256=HEX`, the HMAC-SHA256 of the body under the secret.
import Foundation
import Vidar
import VidarCurl
import VidarStream

final class WebhookTransport: SinkTransport {
    /// The URL requests go to (without vidar's own `secret_file` parameter).
    let target: String
    private let secret: [UInt8]?
    private let session: CurlSession
    static let timeout = 10.0

    init(url: String) throws {
        guard var parts = URLComponents(string: url), parts.host != nil else {
            throw ServeConfigError(description: "\(Redaction.redact(url)): not an http(s) URL")
        }
        let secretFile = parts.queryItems?.first { $0.name == "secret_file" }?.value
        parts.queryItems = parts.queryItems?.filter { $0.name != "secret_file" }
        if parts.queryItems?.isEmpty == true { parts.queryItems = nil }
        target = parts.string ?? url
        session = try CurlSession()
        if let secretFile {
            guard let text = try? String(contentsOfFile: secretFile, encoding: .utf8),
                  let line = text.split(whereSeparator: \.isNewline).first, !line.isEmpty else {
                throw ServeConfigError(description: "\(secretFile): cannot read the webhook secret (one line)")
            }
            secret = Array(line.utf8)
        } else {
            secret = nil
        }
    }

    func deliver(_ record: EventRecord) -> Delivery {
        let body = record.jsonLine()
        var request = Curl.Request(url: target)
        request.method = "POST"
        request.body = body
        request.timeout = Self.timeout
        request.connectTimeout = 5
        request.headers = ["Content-Type": "application/json", "User-Agent": "vidar/\(Installation.release)",
                           "X-Vidar-Event": record.event.name, "X-Vidar-Event-Id": record.eventID]
        if let secret { request.headers["X-Vidar-Signature"] = "sha256=" + SHA256.hmac(key: secret, message: body) }
        let response: CurlResponse
        do { response = try session.perform(request) } catch {
            return .retry(after: nil, reason: "\(Redaction.redact(target)): \(error)")
        }
        switch response.status {
        case 200..<300:
            return .delivered
        case 429, 500..<600:
            return .retry(after: Self.retryAfter(response.headers["retry-after"]),
                          reason: "\(Redaction.redact(target)) answered HTTP \(response.status)")
        default:
            return .rejected("\(Redaction.redact(target)) answered HTTP \(response.status)")
        }
    }

    /// Retry-After as seconds or an HTTP date, capped at 5 minutes.
    static func retryAfter(_ value: String?) -> Double? {
        guard let value else { return nil }
        if let seconds = Double(value.trimmingCharacters(in: .whitespaces)) { return min(max(0, seconds), 300) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return f.date(from: value).map { min(max(0, $0.timeIntervalSinceNow), 300) }
    }
}
