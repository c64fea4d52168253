import Foundation

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
    /// Text already written (objects `Wire` renders straight to bytes).
    case raw(JSONText)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public static func int(_ value: Int) -> JSONValue { .number(Double(value)) }

    public static func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .absent }

    /// The value with written text (`raw`) read back into values, for code that looks inside a response.
    public var expanded: JSONValue {
        guard case .raw(let text) = self else { return self }
        return (try? JSONParser.parse(text.bytes)) ?? .null
    }

    public var typeName: String {
        switch self {
        case .null, .absent: "null"
        case .bool: "bool"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object, .raw: "object"
        }
    }

    /// The JSON text, keys sorted, absent values left out.
    public var serialized: String { String(decoding: utf8, as: UTF8.self) }

    /// The JSON text as UTF-8 bytes.
    public var utf8: [UInt8] {
        var writer = JSONWriter(capacity: 4_096)
        writer.write(self)
        return writer.bytes
    }
}
