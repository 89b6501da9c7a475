// Hostile checkpoints and arrays, built byte by byte: sizes that overflow, views larger than their storage,
// nesting a million levels deep. Each must be one line of refusal, quickly, never a trap.
import Foundation
import Testing
import TestSupport
import VidarNN

@Suite struct HostileInputTests {
    @Test func aPlainHandWrittenStateDictLoads() throws {
        let dict = try Checkpoint.read(HostileTorchFile.checkpoint(pickle: HostileTorchFile.stateDict(numel: 4, offset: 0, shape: [2, 2], strides: [2, 1])),
                                       path: "ok.pth")
        #expect(dict.tensors["w"]?.shape == [2, 2])
    }

    @Test(arguments: [
        (1 << 62, 0, [2], [1], "shorter than"),                               // numel × 4 overflows
        (10, 0, [1 << 62, 4], [4, 1], "outside its storage"),                 // (shape − 1) · stride overflows
        (4, Int.max - 1, [2], [1], "outside its storage"),                    // offset + span overflows
        (4, 0, [2], [1 << 62], "outside its storage"),
        (1, 0, [1 << 30, 1 << 30, 1 << 30], [0, 0, 0], "more elements than"), // an expanded view claiming 2^90 elements
        (4, 0, [1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1, 1], "dimensions"),
        (4, -1, [2], [1], "outside its storage"),
    ] as [(Int, Int, [Int], [Int], String)])
    func storageAndViewArithmeticIsChecked(numel: Int, offset: Int, shape: [Int], strides: [Int], reason: String) {
        let file = HostileTorchFile.checkpoint(pickle: HostileTorchFile.stateDict(numel: numel, offset: offset, shape: shape, strides: strides))
        expectCheckpointError(.badFormat, containing: reason) { _ = try Checkpoint.read(file, path: "hostile.pth") }
    }

    static let deepPickles: [(String, [UInt8], String)] = [
        ("a million nested tuples", [0x80, 2, 0x29] + [UInt8](repeating: 0x85, count: 1_000_000) + [0x2e], "deeper than 32"),
        ("a million nested lists", [0x80, 2] + [UInt8](repeating: 0x5d, count: 1_000_000) + [UInt8](repeating: 0x61, count: 999_999) + [0x2e],
         "deeper than 32"),
        ("nested dicts via SETITEM", [0x80, 2, 0x7d] + Array(repeating: [0x4b, 1, 0x7d], count: 100).flatMap { $0 }
            + [UInt8](repeating: 0x73, count: 100) + [0x2e], "deeper than 32"),
        ("a list inside itself", [0x80, 2, 0x5d, 0x71, 0, 0x68, 0, 0x61, 0x2e], "added to itself"),
        ("a cycle through two lists", [0x80, 2, 0x5d, 0x71, 0, 0x5d, 0x71, 1, 0x61, 0x68, 1, 0x68, 0, 0x61, 0x2e], "already inside another"),
        ("two million stack entries", [0x80, 2] + [UInt8](repeating: 0x4e, count: 2_000_000) + [0x2e], "stack exceeds"),
        ("two million memo entries", [0x80, 2, 0x4e] + [UInt8](repeating: 0x94, count: 2_000_000) + [0x2e], "memo exceeds"),
        ("a GLOBAL name without its newline", [0x80, 2, 0x63] + [UInt8](repeating: 0x41, count: 100_000), "unterminated GLOBAL"),
    ]

    @Test(arguments: deepPickles)
    func unboundedPicklesAreRefusedQuickly(what: String, pickle: [UInt8], reason: String) {
        let started = Date()
        expectCheckpointError(.badFormat, containing: reason) {
            _ = try Checkpoint.read(HostileTorchFile.checkpoint(pickle: pickle), path: "deep.pth")
        }
        #expect(Date().timeIntervalSince(started) < 10, "\(what) took \(Date().timeIntervalSince(started)) s")
    }

    @Test func safetensorsElementTimesDtypeSizeOverflowIsRefused() {
        let header = #"{"a":{"dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,8]}}"#
        expectCheckpointError(.badFormat, containing: "more than 2147483648 elements") {
            _ = try Checkpoint.read(CheckpointTests.safetensors(header: header, body: 8), path: "hostile.safetensors")
        }
    }

    @Test func aSafetensorsHeaderNestedAMillionDeepIsOneLine() {
        let header = #"{"a":"# + String(repeating: "[", count: 1_000_000) + String(repeating: "]", count: 1_000_000) + "}"
        expectCheckpointError(.badFormat, containing: "not a JSON object") {
            _ = try Checkpoint.read(CheckpointTests.safetensors(header: header, body: 0), path: "deep.safetensors")
        }
    }

    @Test func metadataNestedAMillionDeepIsOneLine() {
        let deep = String(repeating: "[", count: 1_000_000) + String(repeating: "]", count: 1_000_000)
        let file = Safetensors.encode([("fc.bias", Tensor(shape: [2], data: [0, 0]))], metadata: [VideoResNetConfig.metadataKey: deep])
        expectCheckpointError(.badFormat, containing: "not a valid VideoResNet configuration") {
            _ = try VideoResNetConfig.recognise(try Checkpoint.read(file, path: "deep.safetensors"), path: "deep.safetensors")
        }
    }

    static func npy(shape: String) -> Data {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }\n"
        return Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count), 0] + Array(header.utf8) + [UInt8](repeating: 0, count: 16))
    }

    @Test(arguments: [
        ("(4611686018427387904, 4)", "more than"),     // the shape's product overflows
        ("(2305843009213693952,)", "more than"),       // product × 4 overflows
        ("(1, 1, 1, 1, 1, 1, 1, 1, 1)", "dimensions"),
    ])
    func npyShapeArithmeticIsChecked(shape: String, reason: String) {
        #expect {
            _ = try NPY.decode(Self.npy(shape: shape))
        } throws: { ($0 as? NPYError)?.reason.contains(reason) == true }
    }

    @Test func npyHeaderLengthIsBounded() {
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [2, 0, 0, 0, 0x10, 0]   // version 2, a 1 MiB header
        bytes += [UInt8](repeating: 0x20, count: 1 << 20)
        #expect {
            _ = try NPY.decode(Data(bytes))
        } throws: { ($0 as? NPYError)?.reason.contains("exceeds") == true }
    }

    @Test(arguments: [
        (#"{"stem":"basic","stemWidth":8,"stemMidWidth":8,"convKinds":["conv3d"],"blocks":[1],"widths":[1099511627776],"numClasses":2,"inputChannels":3}"#, "width"),
        (#"{"stem":"basic","stemWidth":8,"stemMidWidth":8,"convKinds":["conv3d"],"blocks":[100000],"widths":[8],"numClasses":2,"inputChannels":3}"#, "blocks"),
        (#"{"stem":"basic","stemWidth":8,"stemMidWidth":8,"convKinds":["conv3d"],"blocks":[1],"widths":[8],"numClasses":4294967296,"inputChannels":3}"#, "classes"),
    ])
    func configurationMetadataIsRangeChecked(json: String, reason: String) {
        let file = Safetensors.encode([("fc.bias", Tensor(shape: [2], data: [0, 0]))], metadata: [VideoResNetConfig.metadataKey: json])
        expectCheckpointError(.badFormat, containing: reason) {
            let dict = try Checkpoint.read(file, path: "meta.safetensors")
            _ = try VideoResNetConfig.recognise(dict, path: "meta.safetensors")
        }
    }
}
