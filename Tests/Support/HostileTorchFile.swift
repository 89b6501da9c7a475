// Hand-made PyTorch checkpoints for the hostile-input tests and the fuzz corpus: a stored zip around any data.pkl.
import Foundation

/// A `torch.save`-shaped zip (stored entries) around a hand-written data.pkl.
public enum HostileTorchFile {
    public static func zip(_ entries: [(String, Data)]) -> Data {
        var out = Data(), directory = Data()
        func le<T: FixedWidthInteger>(_ v: T, into d: inout Data) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        for (name, body) in entries {
            let offset = UInt32(out.count)
            le(UInt32(0x0403_4b50), into: &out); le(UInt16(20), into: &out); le(UInt16(0), into: &out); le(UInt16(0), into: &out)
            le(UInt32(0), into: &out); le(UInt32(0), into: &out)
            le(UInt32(body.count), into: &out); le(UInt32(body.count), into: &out)
            le(UInt16(name.utf8.count), into: &out); le(UInt16(0), into: &out)
            out.append(Data(name.utf8)); out.append(body)
            le(UInt32(0x0201_4b50), into: &directory); le(UInt16(20), into: &directory); le(UInt16(20), into: &directory)
            le(UInt16(0), into: &directory); le(UInt16(0), into: &directory); le(UInt32(0), into: &directory); le(UInt32(0), into: &directory)
            le(UInt32(body.count), into: &directory); le(UInt32(body.count), into: &directory)
            le(UInt16(name.utf8.count), into: &directory); le(UInt16(0), into: &directory); le(UInt16(0), into: &directory)
            le(UInt16(0), into: &directory); le(UInt16(0), into: &directory); le(UInt32(0), into: &directory); le(offset, into: &directory)
            directory.append(Data(name.utf8))
        }
        let directoryOffset = UInt32(out.count)
        out.append(directory)
        le(UInt32(0x0605_4b50), into: &out); le(UInt16(0), into: &out); le(UInt16(0), into: &out)
        le(UInt16(entries.count), into: &out); le(UInt16(entries.count), into: &out)
        le(UInt32(directory.count), into: &out); le(directoryOffset, into: &out); le(UInt16(0), into: &out)
        return out
    }

    public static func checkpoint(pickle: [UInt8], storage: Data = Data(count: 16)) -> Data {
        zip([("archive/data.pkl", Data(pickle)), ("archive/data/0", storage)])
    }

    /// LONG1 with 8 bytes: any Int64.
    public static func long(_ v: Int) -> [UInt8] { [0x8a, 8] + withUnsafeBytes(of: Int64(v).littleEndian) { Array($0) } }
    public static func text(_ s: String) -> [UInt8] { [0x8c, UInt8(s.utf8.count)] + Array(s.utf8) }
    public static func tuple(_ items: [[UInt8]]) -> [UInt8] { [0x28] + items.flatMap { $0 } + [0x74] }

    /// {'w': _rebuild_tensor_v2(storage(FloatStorage, '0', numel), offset, shape, strides, False, OrderedDict())}
    public static func stateDict(numel: Int, offset: Int, shape: [Int], strides: [Int]) -> [UInt8] {
        var p: [UInt8] = [0x80, 2, 0x7d, 0x28] + text("w")
        p += Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8)
        let pid = tuple([text("storage"), Array("ctorch\nFloatStorage\n".utf8), text("0"), text("cpu"), long(numel)]) + [0x51]
        p += tuple([pid, long(offset), tuple(shape.map(long)), tuple(strides.map(long)), [0x89],
                    Array("ccollections\nOrderedDict\n".utf8) + [0x29, 0x52]])
        p += [0x52, 0x75, 0x2e]
        return p
    }
}
