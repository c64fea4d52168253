/// Writes JSON text straight into bytes: every response goes through it (ParleyServer's `Wire`), and so does
/// every document the store writes. Code that writes fields with `key`/`field` names them in sorted order
/// (tests re-sort what is written and compare). Strings escape quotes, backslashes, control characters,
/// U+2028/U+2029 and `<`, `>`, `&` (safe inside HTML).
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Whether the container being written has no member yet (no comma before the next one).
    private var first = true

    public init(capacity: Int = 1_024) {
        bytes.reserveCapacity(capacity)
    }

    // MARK: Structure

    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        container(UInt8(ascii: "{"), UInt8(ascii: "}"), body)
    }

    public mutating func array(_ body: (inout JSONWriter) -> Void) {
        container(UInt8(ascii: "["), UInt8(ascii: "]"), body)
    }

    private mutating func container(_ open: UInt8, _ close: UInt8, _ body: (inout JSONWriter) -> Void) {
        let outer = first
        bytes.append(open)
        first = true
        body(&self)
        bytes.append(close)
        first = outer
    }

    /// Starts an array element.
    public mutating func element() {
        if first { first = false } else { bytes.append(UInt8(ascii: ",")) }
    }

    /// Starts an object member named `name` (plain ASCII needing no escape); its value is written next.
    public mutating func key(_ name: StaticString) {
        element()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Starts an object member whose name is not known in advance (escaped like any string).
    public mutating func dynamicKey(_ name: String) {
        element()
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    // MARK: Members

    /// Leaves the member out when `value` is nil, as DevRev omits unset fields.
    public mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    public mutating func field(_ name: StaticString, _ value: Int) {
        key(name)
        int(value)
    }

    /// Leaves the member out when `value` is nil.
    public mutating func field(_ name: StaticString, _ value: Int?) {
        guard let value else { return }
        field(name, value)
    }

    public mutating func field(_ name: StaticString, _ value: Bool) {
        key(name)
        bool(value)
    }

    // MARK: Values

    public mutating func null() { append("null") }

    public mutating func bool(_ value: Bool) { append(value ? "true" : "false") }

    public mutating func int(_ value: Int) {
        var magnitude = value.magnitude
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    /// Whole numbers as integers, others as Swift writes a `Double` (the shortest text that reads back the same).
    /// Infinities and NaN, which JSON cannot write, are written as null.
    public mutating func number(_ value: Double) {
        if !value.isFinite {
            null()
        } else if value.rounded() == value, abs(value) < 9e15 {
            int(Int(value))
        } else {
            bytes.append(contentsOf: String(value).utf8)
        }
    }

    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in writeString(utf8) }
    }

    /// An array of strings.
    public mutating func strings(_ items: some Sequence<String>) {
        array { w in
            for item in items {
                w.element()
                w.string(item)
            }
        }
    }

    /// Appends JSON text written elsewhere, as it is.
    public mutating func raw(_ text: some Sequence<UInt8>) { bytes.append(contentsOf: text) }

    mutating func append(_ text: StaticString) {
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
                append("\\u00")
                let hex: StaticString = "0123456789abcdef"
                hex.withUTF8Buffer { digits in
                    bytes.append(digits[Int(byte >> 4)])
                    bytes.append(digits[Int(byte & 0xF)])
                }
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
