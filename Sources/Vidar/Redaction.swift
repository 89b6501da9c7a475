// Credentials in stream URLs (rtsp://user:pass@camera/…, ?token=…) never reach logs, events or API answers:
// everything that shows a URL shows it through here.
import Foundation

public enum Redaction {
    /// Query parameters that carry secrets by convention.
    static let secretParameters: Set<String> = ["password", "passwd", "pass", "pwd", "token", "access_token", "auth", "key",
                                                "apikey", "api_key", "secret", "signature", "sig", "credentials"]

    /// `url` with its user information and secret query values replaced by "***".
    public static func redact(_ url: String) -> String {
        guard url.contains("://"), var parts = URLComponents(string: url) else { return url }
        var changed = false
        if parts.user != nil || parts.password != nil {
            parts.user = "***"
            parts.password = nil
            changed = true
        }
        if let items = parts.queryItems {
            parts.queryItems = items.map { item in
                guard secretParameters.contains(item.name.lowercased()) else { return item }
                changed = true
                return URLQueryItem(name: item.name, value: "***")
            }
        }
        return changed ? (parts.string ?? "***") : url
    }

    /// Free text (an error message that may quote a URL) with any `scheme://user:pass@` credentials replaced.
    public static func scrub(_ text: String) -> String {
        guard text.contains("@") else { return text }
        return text.replacing(/([a-zA-Z][a-zA-Z0-9+.-]*:\/\/)[^\/@\s]+@/) { "\($0.output.1)***@" }
    }
}
