import Foundation
import Testing
import VidarNN

struct NPYTests {
    @Test func roundTripsAndReadsNumpysOwnFiles() throws {
        let t = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        #expect(try NPY.decode(NPY.encode(t)) == t)
        let fromNumpy = try Fixtures.npy("tiny_2x8x32x40_input.npy")
        #expect(fromNumpy.shape == [2, 3, 8, 32, 40])
    }

    static func float64File() -> Data {
        let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count + 1), 0]
        bytes += Array(header.utf8) + [0x0a]
        bytes += [UInt8](repeating: 0, count: 16)
        return Data(bytes)
    }

    static let badFiles: [(Data, String)] = [
        (Data("not numpy".utf8), "bad magic"),
        (float64File(), "'<f4'"),
        (NPY.encode(Tensor(shape: [4], data: [1, 2, 3, 4])).dropLast(4), "truncated"),
    ]

    @Test(arguments: badFiles)
    func badFilesGiveAReason(data: Data, reason: String) {
        #expect {
            _ = try NPY.decode(data)
        } throws: { ($0 as? NPYError)?.reason.contains(reason) == true }
    }
}
