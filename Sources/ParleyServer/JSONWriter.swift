import Foundation

/// JSON text that is already written (an object `Wire` rendered straight to bytes), carried inside a
/// `JSONValue` and copied into the response as it is.
public struct JSONText: Sendable, Equatable {
    public let bytes: [UInt8]
}

/// Writes JSON text straight into bytes: every response goes through it. Objects a `JSONValue` holds are
/// written with their keys sorted; code that writes fields itself with `key`/`field` writes them in sorted
/// order (the `Wire` tests check that re-sorting its output changes nothing). Strings escape quotes,
/// backslashes, control characters, U+2028/U+2029 and `<`, `>`, `&` (safe inside HTML).
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    /// Whether the container being written has no member yet (no comma before the next one).
    private var first = true

    init(capacity: Int = 1_024) {
        bytes.reserveCapacity(capacity)
    }

    // MARK: Structure

    mutating func object(_ body: (inout JSONWriter) -> Void) {
        let outer = first
        bytes.append(UInt8(ascii: "{"))
        first = true
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        first = outer
    }

    mutating func array(_ body: (inout JSONWriter) -> Void) {
        let outer = first
        bytes.append(UInt8(ascii: "["))
        first = true
        body(&self)
        bytes.append(UInt8(ascii: "]"))
        first = outer
    }

    /// Starts an array element.
    mutating func element() {
        if first { first = false } else { bytes.append(UInt8(ascii: ",")) }
    }

    /// Starts an object member named `name` (plain ASCII needing no escape); its value is written next.
    mutating func key(_ name: StaticString) {
        element()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    private mutating func dynamicKey(_ name: String) {
        element()
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    // MARK: Members

    mutating func field(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    /// Leaves the member out when `value` is nil, as DevRev omits unset fields.
    mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        int(value)
    }

    mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        bool(value)
    }

    /// A timestamp, left out when nil.
    mutating func field(_ name: StaticString, date: Date?) {
        guard let date else { return }
        key(name)
        string(Timestamp.format(date))
    }

    // MARK: Values

    mutating func null() { append("null") }

    mutating func bool(_ value: Bool) { append(value ? "true" : "false") }

    mutating func int(_ value: Int) {
        if value == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = value.magnitude
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = 20
            while magnitude > 0 {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    /// Whole numbers as integers, others as Swift writes a `Double` (the shortest text that reads back the same).
    mutating func number(_ value: Double) {
        if value.rounded() == value, abs(value) < 9e15 {
            int(Int(value))
        } else {
            bytes.append(contentsOf: String(value).utf8)
        }
    }

    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in writeString(utf8) }
    }

    mutating func raw(_ text: JSONText) { bytes.append(contentsOf: text.bytes) }

    /// Writes `value`; keys of its objects sorted, absent members left out.
    mutating func write(_ value: JSONValue) {
        switch value {
        case .null, .absent: null()
        case .bool(let v): bool(v)
        case .number(let v): number(v)
        case .string(let v): string(v)
        case .raw(let text): raw(text)
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

    private mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Runs that need no escape are copied whole: this is the hottest loop of every response.
    private mutating func writeString(_ utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        var pending = 0
        var index = 0
        let count = utf8.count
        while index < count {
            let byte = utf8[index]
            let escape: StaticString
            var width = 1
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
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[pending..<index]))
                let hex = "0123456789abcdef".utf8
                append("\\u00")
                bytes.append(hex[hex.index(hex.startIndex, offsetBy: Int(byte >> 4))])
                bytes.append(hex[hex.index(hex.startIndex, offsetBy: Int(byte & 0xF))])
                index += 1
                pending = index
                continue
            case 0xE2 where index + 2 < count && utf8[index + 1] == 0x80 && (utf8[index + 2] == 0xA8 || utf8[index + 2] == 0xA9):
                escape = utf8[index + 2] == 0xA8 ? "\\u2028" : "\\u2029"
                width = 3
            default:
                index += 1
                continue
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[pending..<index]))
            append(escape)
            index += width
            pending = index
        }
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[pending..<count]))
        bytes.append(UInt8(ascii: "\""))
    }
}
