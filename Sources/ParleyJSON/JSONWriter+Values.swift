import Foundation

/// JSON text that is already written (an object `Wire` rendered straight to bytes), carried inside a
/// `JSONValue` and copied into the response as it is.
public struct JSONText: Sendable, Equatable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }
}

extension JSONWriter {
    /// Writes `value`; keys of its objects sorted, absent members left out.
    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null, .absent: null()
        case .bool(let v): bool(v)
        case .number(let v): number(v)
        case .string(let v): string(v)
        case .raw(let text): raw(text.bytes)
        case .array(let values):
            array { writer in
                for value in values {
                    writer.element()
                    writer.write(value)
                }
            }
        case .object(let fields):
            object { writer in
                for key in fields.keys.sorted() {
                    guard let value = fields[key], value != .absent else { continue }
                    writer.dynamicKey(key)
                    writer.write(value)
                }
            }
        }
    }
}
