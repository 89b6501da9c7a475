// The one door to libyaml: YAML text → a tree of nodes that remember their line and column, so a configuration
// error can name where it is. Built from libyaml's event stream without recursion, with bounded depth and node
// count; anchors and aliases are refused (a configuration never needs them, and they are how a few bytes become
// a billion nodes).
import CYAML
import Foundation

/// A position in the text, 1-based.
public struct YAMLMark: Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public init(line: Int, column: Int) { (self.line, self.column) = (line, column) }
    public var description: String { "\(line):\(column)" }
}

public indirect enum YAMLNode: Sendable {
    /// A scalar; `plain` is false for quoted or block scalars (so "yes" in quotes stays a string).
    case scalar(String, plain: Bool, YAMLMark)
    case sequence([YAMLNode], YAMLMark)
    /// Keys in document order.
    case mapping([(key: YAMLNode, value: YAMLNode)], YAMLMark)

    public var mark: YAMLMark {
        switch self { case .scalar(_, _, let m), .sequence(_, let m), .mapping(_, let m): return m }
    }

    /// A scalar's text, nil for collections.
    public var scalar: String? { if case .scalar(let s, _, _) = self { return s } else { return nil } }

    /// A plain `~`, `null` or empty scalar.
    public var isNull: Bool {
        if case .scalar(let s, let plain, _) = self { return plain && ["", "~", "null", "Null", "NULL"].contains(s) }
        return false
    }
}

public struct YAMLError: Error, CustomStringConvertible, Sendable {
    public let mark: YAMLMark
    public let message: String
    public var description: String { "\(mark): \(message)" }
}

public enum YAML {
    /// Documents deeper than this are refused before anything is built for them.
    public static let maxDepth = 32
    public static let maxNodes = 100_000

    /// Parses the first document of `text`; nil for an empty document.
    public static func parse(_ text: String) throws -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else { throw YAMLError(mark: YAMLMark(line: 1, column: 1), message: "out of memory") }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer -> YAMLNode? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            return try build(&parser)
        }
    }

    /// An open collection while its children are read: a class, so appending never copies what was read so far.
    private final class Open {
        let mark: YAMLMark
        let isSequence: Bool
        var items: [YAMLNode] = []
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        var pendingKey: YAMLNode?
        init(mark: YAMLMark, isSequence: Bool) { (self.mark, self.isSequence) = (mark, isSequence) }

        var node: YAMLNode { isSequence ? .sequence(items, mark) : .mapping(pairs, mark) }

        func add(_ node: YAMLNode) {
            if isSequence { items.append(node) }
            else if let key = pendingKey { pairs.append((key, node)); pendingKey = nil }
            else { pendingKey = node }
        }
    }

    private static func build(_ parser: inout yaml_parser_t) throws -> YAMLNode? {
        var stack: [Open] = []
        var root: YAMLNode?
        var nodes = 0
        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) != 0 else {
                let mark = YAMLMark(line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1)
                let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
                let context = parser.context.map { " " + String(cString: $0) } ?? ""
                throw YAMLError(mark: mark, message: problem + context)
            }
            defer { yaml_event_delete(&event) }
            let mark = YAMLMark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
            var finished: YAMLNode?
            switch event.type {
            case YAML_STREAM_START_EVENT, YAML_DOCUMENT_START_EVENT:
                continue
            case YAML_DOCUMENT_END_EVENT, YAML_STREAM_END_EVENT:
                return root
            case YAML_ALIAS_EVENT:
                throw YAMLError(mark: mark, message: "aliases (*name) are not accepted")
            case YAML_SCALAR_EVENT:
                let s = event.data.scalar
                if s.anchor != nil { throw YAMLError(mark: mark, message: "anchors (&name) are not accepted") }
                let text = String(decoding: UnsafeBufferPointer(start: s.value, count: Int(s.length)), as: UTF8.self)
                finished = .scalar(text, plain: s.style == YAML_PLAIN_SCALAR_STYLE, mark)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                let anchor = event.type == YAML_SEQUENCE_START_EVENT ? event.data.sequence_start.anchor : event.data.mapping_start.anchor
                if anchor != nil { throw YAMLError(mark: mark, message: "anchors (&name) are not accepted") }
                guard stack.count < maxDepth else { throw YAMLError(mark: mark, message: "nested deeper than \(maxDepth) levels") }
                stack.append(Open(mark: mark, isSequence: event.type == YAML_SEQUENCE_START_EVENT))
                continue
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                finished = stack.removeLast().node
            default:
                continue
            }
            guard let node = finished else { continue }
            nodes += 1
            guard nodes <= maxNodes else { throw YAMLError(mark: mark, message: "more than \(maxNodes) nodes") }
            if let parent = stack.last { parent.add(node) } else { root = node }
        }
    }
}
