import Hummingbird
import ParleyCore

/// A JSON document, as requests arrive and responses leave. Requests are read through `Fields`,
/// which is lenient in what it accepts (GET query strings, numbers as strings) and names the
/// field in every error; responses are written with sorted keys.
public enum JSONValue: Sendable, Equatable, Decodable {
    case null
    /// A key to leave out of its object (DevRev omits unset fields); `null` where it must be written.
    case absent
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    static func int(_ value: Int) -> JSONValue { .number(Double(value)) }
    static func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .absent }

    var typeName: String {
        switch self {
        case .null, .absent: "null"
        case .bool: "bool"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The JSON text, keys sorted, absent values left out.
    public var serialized: String {
        var out = ""
        out.reserveCapacity(256)
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null, .absent: out += "null"
        case .bool(let v): out += v ? "true" : "false"
        case .number(let v):
            if v.rounded() == v, abs(v) < 9e15 { out += String(Int64(v)) } else { out += String(v) }
        case .string(let v): Self.writeString(v, to: &out)
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                value.write(to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            var first = true
            for key in fields.keys.sorted() {
                guard let value = fields[key], value != .absent else { continue }
                if !first { out += "," }
                first = false
                Self.writeString(key, to: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        }
    }

    /// Writes `value` as a JSON string, escaping quotes, backslashes, control characters, U+2028/U+2029 and
    /// `<`, `>`, `&` (safe inside HTML). Runs of characters that need no escape are copied whole: this is the
    /// hottest loop of every response.
    private static func writeString(_ value: String, to out: inout String) {
        out += "\""
        let utf8 = value.utf8
        var pending = utf8.startIndex
        var index = pending
        while index != utf8.endIndex {
            let byte = utf8[index]
            var width = 1
            let escape: String
            switch byte {
            case UInt8(ascii: "\""): escape = "\\\""
            case UInt8(ascii: "\\"): escape = "\\\\"
            case UInt8(ascii: "\n"): escape = "\\n"
            case UInt8(ascii: "\r"): escape = "\\r"
            case UInt8(ascii: "\t"): escape = "\\t"
            case UInt8(ascii: "<"): escape = "\\u003c"
            case UInt8(ascii: ">"): escape = "\\u003e"
            case UInt8(ascii: "&"): escape = "\\u0026"
            case 0..<0x20:
                escape = "\\u00" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
            default:
                if byte == 0xE2, let separator = Self.separatorEscape(utf8, at: index) {
                    escape = separator
                    width = 3
                } else {
                    index = utf8.index(after: index)
                    continue
                }
            }
            out += value[pending..<index]
            out += escape
            index = utf8.index(index, offsetBy: width)
            pending = index
        }
        out += value[pending..<utf8.endIndex]
        out += "\""
    }

    /// The escape of U+2028 or U+2029 (E2 80 A8 and E2 80 A9 in UTF-8) if one starts at `index`.
    private static func separatorEscape(_ utf8: String.UTF8View, at index: String.Index) -> String? {
        let second = utf8.index(after: index)
        guard second != utf8.endIndex, utf8[second] == 0x80 else { return nil }
        let third = utf8.index(after: second)
        guard third != utf8.endIndex else { return nil }
        switch utf8[third] {
        case 0xA8: return "\\u2028"
        case 0xA9: return "\\u2029"
        default: return nil
        }
    }
}

enum JSONResponse {
    static func make(status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.serialized)))
    }
}

/// RFC 3339 dates as DevRev writes them (`2023-01-01T12:00:00.000Z`).
enum Timestamp {
    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    static func json(_ date: Date?) -> JSONValue { date.map { .string(format($0)) } ?? .absent }

    static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}

/// The fields of a request object, read leniently, with the path of each field for errors.
/// Limits: a string field holds at most 65,536 characters, a list at most 1,000 items.
struct Fields: Sendable {
    static let maxStringLength = 65_536
    static let maxListCount = 1_000

    var values: [String: JSONValue]
    var path: String

    init(_ values: [String: JSONValue], path: String = "") {
        self.values = values
        self.path = path
    }

    init(_ value: JSONValue, path: String = "") throws(APIError) {
        switch value {
        case .object(let values): self.init(values, path: path)
        case .null: self.init([:], path: path)
        default:
            throw path.isEmpty
                ? APIError(.badRequest, type: "parse_error", message: "request body must be a JSON object")
                : APIError.invalidField(path, "expected an object, got \(value.typeName)")
        }
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool { values[key].map { $0 != .null } ?? false }

    func string(_ key: String) throws(APIError) -> String? {
        switch values[key] {
        case nil, .null?: return nil
        case .string(let v)?:
            guard v.count <= Self.maxStringLength else {
                throw APIError.invalidField(name(key), "too long: at most \(Self.maxStringLength) characters")
            }
            return v
        case .number(let v)?: return v.rounded() == v ? String(Int64(v)) : String(v)
        case .bool(let v)?: return String(v)
        case let other?: throw APIError.invalidField(name(key), "expected a string, got \(other.typeName)")
        }
    }

    func requiredString(_ key: String) throws(APIError) -> String {
        guard let value = try string(key), !value.isEmpty else { throw APIError.missing(name(key)) }
        return value
    }

    /// A list of enum values (a JSON array, or comma-separated in a query string).
    func enumValues<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type) throws(APIError) -> [E]? where E.RawValue == String {
        guard let texts = try strings(key) else { return nil }
        var result: [E] = []
        for text in texts {
            guard let value = E(rawValue: text) else { throw APIError.invalidEnum(name(key), text, allowed: E.allCases.map(\.rawValue)) }
            result.append(value)
        }
        return result
    }

    func int(_ key: String) throws(APIError) -> Int? {
        switch values[key] {
        case nil, .null?: return nil
        case .number(let v)? where v.rounded() == v && abs(v) < 9e15: return Int(v)
        case .string(let v)?:
            guard let number = Int(v.trimmed) else {
                throw APIError.invalidField(name(key), "expected an integer, got '\(v)'")
            }
            return number
        case let other?: throw APIError.invalidField(name(key), "expected an integer, got \(other.typeName)")
        }
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        switch values[key] {
        case nil, .null?: return nil
        case .bool(let v)?: return v
        case .string("true")?: return true
        case .string("false")?: return false
        case let other?: throw APIError.invalidField(name(key), "expected true or false, got \(other.typeName)")
        }
    }

    /// A list of strings: a JSON array, or (from a query string) one comma-separated string.
    func strings(_ key: String) throws(APIError) -> [String]? {
        switch values[key] {
        case nil, .null?: return nil
        case .array(let items)?:
            guard items.count <= Self.maxListCount else {
                throw APIError.invalidField(name(key), "too many items: at most \(Self.maxListCount)")
            }
            var result: [String] = []
            for (index, item) in items.enumerated() {
                guard case .string(let v) = item else {
                    throw APIError.invalidField("\(name(key)).\(index)", "expected a string, got \(item.typeName)")
                }
                result.append(v)
            }
            return result
        case .string(let v)?:
            let items = v.split(separator: ",").map { $0.trimmed }.filter { !$0.isEmpty }
            guard items.count <= Self.maxListCount else {
                throw APIError.invalidField(name(key), "too many items: at most \(Self.maxListCount)")
            }
            return items
        case let other?: throw APIError.invalidField(name(key), "expected an array of strings, got \(other.typeName)")
        }
    }

    func object(_ key: String) throws(APIError) -> Fields? {
        guard let value = values[key], value != .null else { return nil }
        return try Fields(value, path: name(key))
    }

    /// An array of objects.
    func objects(_ key: String) throws(APIError) -> [Fields]? {
        switch values[key] {
        case nil, .null?: return nil
        case .array(let items)?:
            guard items.count <= Self.maxListCount else {
                throw APIError.invalidField(name(key), "too many items: at most \(Self.maxListCount)")
            }
            var result: [Fields] = []
            for (index, item) in items.enumerated() { result.append(try Fields(item, path: "\(name(key)).\(index)")) }
            return result
        case let other?: throw APIError.invalidField(name(key), "expected an array, got \(other.typeName)")
        }
    }

    func date(_ key: String) throws(APIError) -> Date? {
        guard let text = try string(key) else { return nil }
        guard let date = Timestamp.parse(text) else {
            throw APIError.invalidField(name(key), "expected an RFC 3339 timestamp such as 2024-01-01T12:00:00Z")
        }
        return date
    }

    func enumValue<E: RawRepresentable & CaseIterable>(_ key: String, _ type: E.Type) throws(APIError) -> E? where E.RawValue == String {
        guard let text = try string(key) else { return nil }
        guard let value = E(rawValue: text) else {
            throw APIError.invalidEnum(name(key), text, allowed: E.allCases.map(\.rawValue))
        }
        return value
    }

    /// Builds fields from a query string: dotted names nest (`stage.name=x` → `{stage: {name: x}}`),
    /// a repeated name makes a list.
    static func query(_ parameters: [(String, String)]) -> Fields {
        var root: [String: JSONValue] = [:]
        func insert(_ path: ArraySlice<Substring>, _ value: String, into object: inout [String: JSONValue]) {
            guard let head = path.first else { return }
            let key = String(head)
            if path.count == 1 {
                switch object[key] {
                case .string(let existing)?: object[key] = .array([.string(existing), .string(value)])
                case .array(let existing)?: object[key] = .array(existing + [.string(value)])
                default: object[key] = .string(value)
                }
            } else {
                var child: [String: JSONValue] = [:]
                if case .object(let existing)? = object[key] { child = existing }
                insert(path.dropFirst(), value, into: &child)
                object[key] = .object(child)
            }
        }
        for (name, value) in parameters {
            insert(name.split(separator: ".")[...], value, into: &root)
        }
        return Fields(root)
    }
}
