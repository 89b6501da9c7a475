// A small hand-written argument reader: `--name value`, `--name=value`, flags and positionals.

struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

struct Arguments {
    private var items: [String]

    init(_ items: [String]) { self.items = items }

    /// Removes and returns the value of `--name`, or nil when absent.
    mutating func option(_ name: String) throws -> String? {
        for (i, item) in items.enumerated() {
            if item == name {
                guard i + 1 < items.count, !items[i + 1].hasPrefix("--") else { throw UsageError("\(name) needs a value") }
                let v = items[i + 1]
                items.removeSubrange(i...(i + 1))
                return v
            }
            if item.hasPrefix(name + "=") {
                items.remove(at: i)
                return String(item.dropFirst(name.count + 1))
            }
        }
        return nil
    }

    /// Every value of a repeatable option, in order.
    mutating func repeated(_ name: String) throws -> [String] {
        var values: [String] = []
        while let v = try option(name) { values.append(v) }
        return values
    }

    mutating func doubleOption(_ name: String, range: ClosedRange<Double>) throws -> Double? {
        guard let v = try option(name) else { return nil }
        guard let d = Double(v), range.contains(d) else {
            throw UsageError("\(name) must be a number in \(range.lowerBound)...\(range.upperBound), got '\(v)'")
        }
        return d
    }

    mutating func intOption(_ name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let v = try option(name) else { return nil }
        guard let n = Int(v), range.contains(n) else {
            throw UsageError("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(v)'")
        }
        return n
    }

    mutating func flag(_ name: String) -> Bool {
        guard let i = items.firstIndex(of: name) else { return false }
        items.remove(at: i)
        return true
    }

    /// The remaining arguments, which must not look like options.
    mutating func positionals() throws -> [String] {
        if let unknown = items.first(where: { $0.hasPrefix("-") && $0 != "-" }) { throw UsageError("unknown option \(unknown)") }
        defer { items = [] }
        return items
    }
}
