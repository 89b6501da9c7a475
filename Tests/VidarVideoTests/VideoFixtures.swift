// The decode-stage fixtures written by Tests/Fixtures/make_videos.py (`make fixtures`).
import Foundation
import TestSupport

struct ExpectedVideo: Decodable {
    let frames: Int
    let times: [Double]
    let coded_width: Int
    let coded_height: Int
    let width: Int?
    let height: Int?
    let rgb_frames: Int?
    let transform_frames: Int?
}

enum VideoFixtures {
    static func path(_ name: String) throws -> String { try TestFixtures.path("videos/\(name)") }

    static func expected() throws -> [String: ExpectedVideo] {
        try JSONDecoder().decode([String: ExpectedVideo].self, from: Data(contentsOf: URL(fileURLWithPath: try path("expected.json"))))
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: try path(name))))
    }
}
