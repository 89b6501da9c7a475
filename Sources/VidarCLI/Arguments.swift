// The command-line grammar: each command declares its options once (names, value, default, help), and both the
// parser and `--help` are made from that declaration, so they cannot drift (swift-argument-parser's idea,
// without the package). `--` ends options; unknown options get a did-you-mean.
import Foundation
import Vidar

public struct UsageError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}

/// One option: its spellings, its value's placeholder (nil for a flag), its default as shown, and its help.
public struct Option: Sendable {
    /// Current spellings, short first (`-o`, `--output`); the last is the canonical name used in code.
    public let names: [String]
    /// Older spellings still accepted, listed in the help as aliases.
    public let aliases: [String]
    public let value: String?
    public let help: String
    /// What happens when the option is absent, as the help shows it; nil only for flags.
    public let defaultValue: String?
    public let repeatable: Bool

    public init(_ names: [String], value: String? = nil, aliases: [String] = [], default defaultValue: String? = nil,
                repeatable: Bool = false, _ help: String) {
        self.names = names
        self.aliases = aliases
        self.value = value
        self.help = help
        self.defaultValue = defaultValue
        self.repeatable = repeatable
    }

    public var canonical: String { names.last! }
    var spellings: [String] { names + aliases }
}

public struct OptionGroup: Sendable {
    public let title: String
    public let options: [Option]
    public init(_ title: String, _ options: [Option]) { (self.title, self.options) = (title, options) }
}

/// A command's whole grammar and help text.
public struct CommandSpec: Sendable {
    public let name: String
    /// Usage lines after "usage: ".
    public let usage: [String]
    public let summary: String
    public let groups: [OptionGroup]
    public let footer: String?
    /// Spellings this command does not take, with what to use instead (a flag whose meaning changed).
    public let renamed: [String: String]

    public init(name: String, usage: [String], summary: String, groups: [OptionGroup], footer: String? = nil,
                renamed: [String: String] = [:]) {
        (self.name, self.usage, self.summary, self.groups, self.footer, self.renamed) = (name, usage, summary, groups, footer, renamed)
    }

    public var options: [Option] { groups.flatMap(\.options) }

    func option(_ spelling: String) -> Option? { options.first { $0.spellings.contains(spelling) } }

    /// The help text: usage, summary, every option with its value and default, footer.
    public var help: String {
        var out = usage.enumerated().map { ($0 == 0 ? "usage: " : "       ") + $1 }.joined(separator: "\n") + "\n\n"
        out += wrap(summary, width: 112, indent: "") + "\n"
        for group in groups where !group.options.isEmpty {
            out += "\n\(group.title):\n"
            for o in group.options {
                var left = "  " + o.names.joined(separator: ", ") + (o.value.map { " " + $0 } ?? "")
                var text = o.help
                if !o.aliases.isEmpty { text += " (also: \(o.aliases.joined(separator: ", ")))" }
                if let d = o.defaultValue { text += " (default: \(d))" }
                if left.count > 26 { out += left + "\n"; left = "" }
                let lines = wrap(text, width: 112 - 28, indent: "").split(separator: "\n", omittingEmptySubsequences: false)
                for (i, line) in lines.enumerated() {
                    out += (i == 0 ? left : "").padding(toLength: 28, withPad: " ", startingAt: 0) + line + "\n"
                }
            }
        }
        if let footer { out += "\n" + footer + "\n" }
        return out
    }

    /// Parses `argv` (the words after the command name). `-h`/`--help` anywhere before `--` asks for help.
    public func parse(_ argv: [String]) throws -> ParsedArguments {
        var values: [String: [String]] = [:]
        var positionals: [String] = []
        var help = false
        var endOfOptions = false
        var i = 0
        while i < argv.count {
            let word = argv[i]
            i += 1
            if endOfOptions || word == "-" || !word.hasPrefix("-") { positionals.append(word); continue }
            if word == "--" { endOfOptions = true; continue }
            if word == "-h" || word == "--help" { help = true; continue }
            let (spelling, inline) = word.hasPrefix("--") && word.contains("=")
                ? (String(word[..<word.firstIndex(of: "=")!]), Optional(String(word[word.index(after: word.firstIndex(of: "=")!)...])))
                : (word, nil)
            guard let option = option(spelling) else { throw unknown(spelling) }
            let value: String
            if option.value == nil {
                guard inline == nil else { throw UsageError("\(spelling) takes no value") }
                value = ""
            } else if let inline {
                value = inline
            } else {
                guard i < argv.count, self.option(argv[i]) == nil, argv[i] != "--" else {
                    throw UsageError("\(spelling) needs a value (\(option.value!))")
                }
                value = argv[i]
                i += 1
            }
            if !option.repeatable && values[option.canonical] != nil {
                throw UsageError("\(option.canonical) is given more than once")
            }
            values[option.canonical, default: []].append(value)
        }
        return ParsedArguments(spec: self, values: values, positionals: positionals, helpRequested: help)
    }

    private func unknown(_ spelling: String) -> UsageError {
        if let replacement = renamed[spelling] { return UsageError("\(spelling) is not an option of `vidar \(name)`: \(replacement)") }
        if let best = Suggestion.closest(to: spelling, in: options.flatMap(\.spellings)) {
            return UsageError("unknown option \(spelling); did you mean \(best)?")
        }
        return UsageError("unknown option \(spelling)")
    }
}

/// Parsed words, read through typed accessors that validate ranges and choices.
public struct ParsedArguments: Sendable {
    public let spec: CommandSpec
    let values: [String: [String]]
    public let positionals: [String]
    public let helpRequested: Bool

    private func checked(_ name: String) -> String {
        precondition(spec.options.contains { $0.canonical == name }, "`vidar \(spec.name)` does not declare \(name)")
        return name
    }

    public func string(_ name: String) -> String? { values[checked(name)]?.last }
    public func strings(_ name: String) -> [String] { values[checked(name)] ?? [] }
    public func flag(_ name: String) -> Bool { values[checked(name)] != nil }

    public func int(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = string(name) else { return nil }
        guard let n = Int(v), range.contains(n) else {
            throw UsageError("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(v)'")
        }
        return n
    }

    public func double(_ name: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let v = string(name) else { return nil }
        guard let d = Double(v), d.isFinite, range.contains(d) else {
            throw UsageError("\(name) must be a number in \(range.lowerBound.formatted())...\(range.upperBound.formatted()), got '\(v)'")
        }
        return d
    }

    public func choice(_ name: String, in choices: [String]) throws -> String? {
        guard let v = string(name) else { return nil }
        guard choices.contains(v) else { throw UsageError("\(name) must be one of \(choices.joined(separator: ", ")); got '\(v)'") }
        return v
    }
}

/// Greedy word wrap to `width` columns.
func wrap(_ text: String, width: Int, indent: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { paragraph in
        var lines: [String] = []
        var line = ""
        for word in paragraph.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width { lines.append(line); line = indent }
            line += (line.isEmpty || line == indent ? "" : " ") + word
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }.joined(separator: "\n")
}
