// A pickle interpreter that knows only what a plain PyTorch state_dict needs. It never imports or calls
// anything: the few allowed globals are recognised by name and stand for data; any other global is an error
// raised before anything is built for it. Nesting is bounded (InputLimits.maxPickleDepth), so neither building
// nor releasing a value can exhaust the stack, and no value can contain itself.
import Foundation

/// What a state_dict pickle can contain.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    /// Items, and the nesting depth (1 + the deepest item's).
    case tuple([PickleValue], depth: Int)
    case list(PickleList)
    case dict(PickleDict)
    case global(AllowedGlobal)
    /// A persistent id resolved to a storage: its dtype, zip record key and element count.
    case storage(dtype: DType, key: String, count: Int)
    case tensor(TorchTensorRef)
    case mark
}

/// Lists and dicts are mutated after they are memoised (APPENDS, SETITEMS), so they are references. Once one is
/// inside another container it takes no more containers: its depth, and so every enclosing one's, stays exact,
/// and no cycle can form (closing a cycle means adding a container to one that is already inside it).
class PickleContainer {
    var depth = 1
    var nested = false
}
final class PickleList: PickleContainer { var items: [PickleValue] = [] }
final class PickleDict: PickleContainer { var items: [(key: PickleValue, value: PickleValue)] = [] }

extension PickleValue {
    /// 0 for a scalar, tensor or storage; the nesting depth of a tuple, list or dict.
    var depth: Int {
        switch self {
        case .tuple(_, let d): return d
        case .list(let l): return l.depth
        case .dict(let d): return d.depth
        default: return 0
        }
    }

    var container: PickleContainer? {
        switch self {
        case .list(let l): return l
        case .dict(let d): return d
        default: return nil
        }
    }
}

struct TorchTensorRef {
    let dtype: DType
    let storageKey: String
    let storageCount: Int
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}

enum AllowedGlobal: Equatable {
    case orderedDict
    case rebuildTensorV2
    case storageType(DType)

    /// The only globals a state_dict pickle may name.
    static func named(module: String, name: String) -> AllowedGlobal? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch", "FloatStorage"): return .storageType(.float32)
        case ("torch", "HalfStorage"): return .storageType(.float16)
        case ("torch", "BFloat16Storage"): return .storageType(.bfloat16)
        case ("torch", "LongStorage"): return .storageType(.int64)   // num_batches_tracked
        default: return nil
        }
    }
}

struct UnpicklingError: Error {
    let reason: String
    let unsafe: Bool
    init(_ reason: String, unsafe: Bool = false) { self.reason = reason; self.unsafe = unsafe }
}

struct RestrictedUnpickler {
    private let bytes: [UInt8]
    private var position = 0
    private var stack: [PickleValue] = []
    private var memo: [Int: PickleValue] = [:]

    init(_ data: Data) { bytes = [UInt8](data) }

    /// Runs the pickle to its STOP and returns the object it built.
    static func load(_ data: Data) throws -> PickleValue {
        var machine = RestrictedUnpickler(data)
        return try machine.run()
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private mutating func run() throws -> PickleValue {
        while true {
            guard stack.count <= InputLimits.maxPickleStack else {
                throw UnpicklingError("pickle stack exceeds \(InputLimits.maxPickleStack) entries: not a state_dict")
            }
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                                      // PROTO
            case 0x95: position += 8                                       // FRAME (protocol 4): framing only
            case 0x2e: return try pop()                                    // STOP '.'
            case 0x28: stack.append(.mark)                                 // MARK '('
            case 0x4e: stack.append(.none)                                 // NONE 'N'
            case 0x88: stack.append(.bool(true))                           // NEWTRUE
            case 0x89: stack.append(.bool(false))                          // NEWFALSE
            case 0x4a: stack.append(.int(Int(Int32(bitPattern: try u32())))) // BININT 'J'
            case 0x4b: stack.append(.int(Int(try byte())))                 // BININT1 'K'
            case 0x4d: stack.append(.int(Int(try u16())))                  // BININT2 'M'
            case 0x8a: stack.append(.int(try long1()))                     // LONG1
            case 0x47: stack.append(.float(Double(bitPattern: try u64BigEndian()))) // BINFLOAT 'G'
            case 0x58: stack.append(.string(try utf8(Int(try u32()))))     // BINUNICODE 'X'
            case 0x8c: stack.append(.string(try utf8(Int(try byte()))))    // SHORT_BINUNICODE
            case 0x54: stack.append(.string(try utf8(Int(try u32()))))     // BINSTRING 'T'
            case 0x55: stack.append(.string(try utf8(Int(try byte()))))    // SHORT_BINSTRING 'U'
            case 0x29: stack.append(.tuple([], depth: 1))                  // EMPTY_TUPLE ')'
            case 0x74: stack.append(try tuple(try popToMark()))            // TUPLE 't'
            case 0x85: let a = try pop(); stack.append(try tuple([a]))     // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(try tuple([a, b]))           // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(try tuple([a, b, c])) // TUPLE3
            case 0x5d: stack.append(.list(PickleList()))                   // EMPTY_LIST ']'
            case 0x6c:                                                     // LIST 'l'
                let items = try popToMark(), l = PickleList()
                try add(items, to: l)
                l.items = items
                stack.append(.list(l))
            case 0x7d: stack.append(.dict(PickleDict()))                   // EMPTY_DICT '}'
            case 0x61:                                                     // APPEND 'a'
                let v = try pop(), l = try list(atTop: ())
                try add([v], to: l)
                l.items.append(v)
            case 0x65:                                                     // APPENDS 'e'
                let vs = try popToMark(), l = try list(atTop: ())
                try add(vs, to: l)
                l.items.append(contentsOf: vs)
            case 0x73:                                                     // SETITEM 's'
                let v = try pop(), k = try pop(), d = try dict(atTop: ())
                try add([k, v], to: d)
                d.items.append((k, v))
            case 0x75:                                                     // SETITEMS 'u'
                let kv = try popToMark()
                guard kv.count % 2 == 0 else { throw UnpicklingError("odd SETITEMS") }
                let d = try dict(atTop: ())
                try add(kv, to: d)
                for i in stride(from: 0, to: kv.count, by: 2) { d.items.append((kv[i], kv[i + 1])) }
            case 0x71: try remember(Int(try byte()))                       // BINPUT 'q'
            case 0x72: try remember(Int(try u32()))                        // LONG_BINPUT 'r'
            case 0x94: try remember(memo.count)                            // MEMOIZE
            case 0x68: stack.append(try memoized(Int(try byte())))         // BINGET 'h'
            case 0x6a: stack.append(try memoized(Int(try u32())))          // LONG_BINGET 'j'
            case 0x63:                                                     // GLOBAL 'c'
                let module = try line(), name = try line()
                stack.append(.global(try allowedGlobal(module, name)))
            case 0x93:                                                     // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw UnpicklingError("STACK_GLOBAL without names")
                }
                stack.append(.global(try allowedGlobal(module, name)))
            case 0x52: try reduce()                                        // REDUCE 'R'
            case 0x62:                                                     // BUILD 'b'
                // OrderedDict's instance state (torch's `_metadata`) carries nothing vidar uses: dropped.
                _ = try pop()
                guard case .dict = try top() else { throw UnpicklingError("BUILD on something other than an OrderedDict") }
            case 0x51: try persistentLoad(try pop())                       // BINPERSID 'Q'
            default:
                throw UnpicklingError(String(format: "pickle opcode 0x%02x at byte %d is not allowed in a state_dict", op, position - 1),
                                      unsafe: true)
            }
        }
    }

    private func allowedGlobal(_ module: String, _ name: String) throws -> AllowedGlobal {
        guard let g = AllowedGlobal.named(module: module, name: name) else {
            throw UnpicklingError("refused global '\(module).\(name)': a plain state_dict never needs it, so nothing was run (vidar reads torch.save(model.state_dict()) files)",
                                  unsafe: true)
        }
        return g
    }

    private mutating func reduce() throws {
        let args = try pop()
        guard case .global(let callable) = try pop(), case .tuple(let a, _) = args else {
            throw UnpicklingError("REDUCE on something other than an allowed global", unsafe: true)
        }
        switch callable {
        case .orderedDict:
            guard a.isEmpty else { throw UnpicklingError("OrderedDict called with arguments", unsafe: true) }
            stack.append(.dict(PickleDict()))
        case .rebuildTensorV2:
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard a.count == 6 || a.count == 7, case .storage(let dtype, let key, let count) = a[0],
                  case .int(let offset) = a[1], let shape = ints(a[2]), let strides = ints(a[3]), shape.count == strides.count
            else { throw UnpicklingError("malformed _rebuild_tensor_v2 arguments") }
            guard shape.count <= InputLimits.maxTensorRank else {
                throw UnpicklingError("a tensor of storage '\(key)' has \(shape.count) dimensions; at most \(InputLimits.maxTensorRank) are supported")
            }
            guard offset >= 0, let span = Checked.span(shape: shape, strides: strides), let end = Checked.add(offset, span), end <= count
            else { throw UnpicklingError("tensor view lies outside its storage '\(key)'") }
            // A view with more elements than its storage repeats elements (an expanded tensor): never in a saved
            // state_dict, and it would let a small file claim a huge tensor.
            guard let elements = Checked.product(shape), elements <= count else {
                throw UnpicklingError("a tensor view of storage '\(key)' has more elements than the storage's \(count)")
            }
            stack.append(.tensor(TorchTensorRef(dtype: dtype, storageKey: key, storageCount: count, offset: offset,
                                                shape: shape, strides: strides)))
        case .storageType:
            throw UnpicklingError("storage types are not callable", unsafe: true)
        }
    }

    /// torch.save's persistent id: ('storage', StorageType, key, location, numel).
    private mutating func persistentLoad(_ pid: PickleValue) throws {
        guard case .tuple(let t, _) = pid, t.count == 5, case .string("storage") = t[0],
              case .global(.storageType(let dtype)) = t[1], case .string(let key) = t[2], case .int(let count) = t[4],
              count >= 0 else { throw UnpicklingError("unsupported persistent id", unsafe: true) }
        stack.append(.storage(dtype: dtype, key: key, count: count))
    }

    private func ints(_ v: PickleValue) -> [Int]? {
        guard case .tuple(let items, _) = v else { return nil }
        var out: [Int] = []
        for i in items { guard case .int(let x) = i else { return nil }; out.append(x) }
        return out
    }

    // MARK: nesting, stack and byte helpers

    private func checkDepth(_ depth: Int) throws {
        guard depth <= InputLimits.maxPickleDepth else {
            throw UnpicklingError("pickle nests deeper than \(InputLimits.maxPickleDepth) levels: not a state_dict")
        }
    }

    /// A tuple of `items`, its depth checked; the lists and dicts among them are now nested.
    private func tuple(_ items: [PickleValue]) throws -> PickleValue {
        let depth = 1 + (items.map(\.depth).max() ?? 0)
        try checkDepth(depth)
        for i in items { i.container?.nested = true }
        return .tuple(items, depth: depth)
    }

    /// Before `items` go into `c`: a container already inside another takes no more nested values, none takes
    /// itself, and the depth stays bounded.
    private func add(_ items: [PickleValue], to c: PickleContainer) throws {
        for i in items where i.depth > 0 {
            guard !c.nested else { throw UnpicklingError("a nested value is added to a list or dict that is already inside another: not a state_dict") }
            guard i.container !== c else { throw UnpicklingError("a list or dict is added to itself: not a state_dict") }
            c.depth = max(c.depth, i.depth + 1)
            try checkDepth(c.depth)
            i.container?.nested = true
        }
    }

    private mutating func remember(_ key: Int) throws {
        guard memo.count < InputLimits.maxPickleMemo || memo[key] != nil else {
            throw UnpicklingError("pickle memo exceeds \(InputLimits.maxPickleMemo) entries: not a state_dict")
        }
        memo[key] = try top()
    }

    private mutating func pop() throws -> PickleValue {
        guard let v = stack.popLast() else { throw UnpicklingError("stack underflow") }
        if case .mark = v { throw UnpicklingError("unexpected MARK") }
        return v
    }

    private func top() throws -> PickleValue {
        guard let v = stack.last else { throw UnpicklingError("stack underflow") }
        return v
    }

    private func list(atTop: Void) throws -> PickleList {
        guard case .list(let l) = try top() else { throw UnpicklingError("APPEND to a non-list") }
        return l
    }

    private func dict(atTop: Void) throws -> PickleDict {
        guard case .dict(let d) = try top() else { throw UnpicklingError("SETITEM on a non-dict") }
        return d
    }

    private mutating func popToMark() throws -> [PickleValue] {
        guard let m = stack.lastIndex(where: { if case .mark = $0 { return true } else { return false } }) else {
            throw UnpicklingError("no MARK on the stack")
        }
        let items = Array(stack[(m + 1)...])
        stack.removeSubrange(m...)
        return items
    }

    private func memoized(_ i: Int) throws -> PickleValue {
        guard let v = memo[i] else { throw UnpicklingError("memo key \(i) missing") }
        return v
    }

    private mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw UnpicklingError("pickle ends before STOP (truncated)") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, position + n <= bytes.count else { throw UnpicklingError("pickle ends before STOP (truncated)") }
        defer { position += n }
        return bytes[position..<position + n]
    }

    private mutating func u16() throws -> UInt16 { try take(2).reversed().reduce(0) { $0 << 8 | UInt16($1) } }
    private mutating func u32() throws -> UInt32 { try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) } }
    private mutating func u64BigEndian() throws -> UInt64 { try take(8).reduce(0) { $0 << 8 | UInt64($1) } }

    private mutating func long1() throws -> Int {
        let n = Int(try byte())
        guard n <= 8 else { throw UnpicklingError("integer wider than 64 bits") }
        let b = try take(n)
        guard n > 0 else { return 0 }
        var v: UInt64 = 0
        for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
        if n < 8 && b.last! & 0x80 != 0 { v |= ~0 << (8 * UInt64(n)) }   // sign-extend two's complement
        return Int(Int64(bitPattern: v))
    }

    private mutating func utf8(_ n: Int) throws -> String {
        String(decoding: try take(n), as: UTF8.self)
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position..<min(bytes.count, position + 256)].firstIndex(of: 0x0a) else {
            throw UnpicklingError("unterminated GLOBAL name")
        }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }
}
