import Foundation
import Testing
import TestSupport
import Vidar

struct SHA256Tests {
    /// FIPS 180-4 example vectors.
    @Test func knownVectors() {
        #expect(SHA256.hex(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(Data(repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalUpdatesEqualOneShot() {
        let data = Data((0..<1000).map { UInt8($0 % 251) })
        var h = SHA256()
        for chunk in stride(from: 0, to: data.count, by: 37) { h.update(data[chunk..<min(chunk + 37, data.count)]) }
        #expect(h.finalize() == SHA256.hex(data))
    }

    @Test func fileDigestMatchesPythonHashlib() throws {
        let dir = try TestFixtures.directory()
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("serve/manifest.json"))) as! [String: String]
        #expect(try SHA256.hex(ofFile: dir.appendingPathComponent("tiny.pth").path) == manifest["sha256"])
    }
}
