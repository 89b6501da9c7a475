// Sizes, offsets and counts read from a file are untrusted: every product and sum of them is checked here, and
// these limits (listed in the README) bound what a file can make vidar build before a byte is allocated for it.

public enum InputLimits {
    /// Elements in one tensor from any file: 2^31 (8 GiB of float32). r3d_18's largest tensor has 3.5 M.
    public static let maxTensorElements = 1 << 31
    /// Dimensions of one tensor.
    public static let maxTensorRank = 8
    /// Nesting of tuples, lists and dicts in a checkpoint's pickle (a state_dict needs 4).
    public static let maxPickleDepth = 32
    /// Entries on the pickle machine's stack, and in its memo.
    public static let maxPickleStack = 1 << 20
    public static let maxPickleMemo = 1 << 20
    /// A `.npy` header (NumPy itself writes at most a few hundred bytes).
    public static let maxNPYHeaderBytes = 1 << 16
}

/// Overflow-checked arithmetic on sizes from files: nil instead of a trap.
public enum Checked {
    /// The product of non-negative dimensions, or nil when one is negative or the product overflows `Int`.
    public static func product(_ dims: [Int]) -> Int? {
        var p = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (r, overflow) = p.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            p = r
        }
        return p
    }

    public static func multiply(_ a: Int, _ b: Int) -> Int? {
        let (r, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : r
    }

    public static func add(_ a: Int, _ b: Int) -> Int? {
        let (r, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : r
    }

    /// Elements spanned by a strided view, from its first element to one past its last (0 for an empty view);
    /// nil when `(shape − 1) · stride` or the sum overflows, or a dimension or stride is negative.
    public static func span(shape: [Int], strides: [Int]) -> Int? {
        guard shape.count == strides.count else { return nil }
        if shape.contains(0) { return shape.allSatisfy { $0 >= 0 } && strides.allSatisfy { $0 >= 0 } ? 0 : nil }
        var end = 1
        for (d, s) in zip(shape, strides) {
            guard d >= 1, s >= 0, let step = multiply(d - 1, s), let e = add(end, step) else { return nil }
            end = e
        }
        return end
    }
}
