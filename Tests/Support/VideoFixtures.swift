// The decode-stage fixtures written by Tests/Fixtures/make_videos.py (`make fixtures`).
import Foundation

public struct ExpectedVideo: Decodable, Sendable {
    public let frames: Int
    public let times: [Double]
    public let coded_width: Int
    public let coded_height: Int
    public let width: Int?
    public let height: Int?
    public let rgb_frames: Int?
    public let transform_frames: Int?
}

public enum VideoFixtures {
    public static func path(_ name: String) throws -> String { try TestFixtures.path("videos/\(name)") }

    public static func expected() throws -> [String: ExpectedVideo] {
        try JSONDecoder().decode([String: ExpectedVideo].self, from: Data(contentsOf: URL(fileURLWithPath: try path("expected.json"))))
    }

    public static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: try path(name))))
    }
}
