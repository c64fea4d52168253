import ParleyCore

/// A fragment of HTML. Interpolated strings are escaped; only other `HTML` values are inserted as they are,
/// so a user's text can reach a page only as text: the type system keeps every page escaped.
struct HTML: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    private(set) var markup: String

    init(stringLiteral value: String) { markup = value }
    init(stringInterpolation: Interpolation) { markup = stringInterpolation.markup }
    private init(trusted markup: String) { self.markup = markup }

    var description: String { markup }

    static let empty = HTML(trusted: "")

    /// Markup written in this program (never user input).
    static func trusted(_ markup: StaticString) -> HTML { HTML(trusted: markup.description) }

    static func join(_ fragments: some Sequence<HTML>, separator: HTML = .empty) -> HTML {
        HTML(trusted: fragments.map(\.markup).joined(separator: separator.markup))
    }

    /// Text escaped for an element's content or a double-quoted attribute.
    static func escape(_ text: String) -> String {
        // Most text has nothing to escape or replace: returned as it is after one pass over its bytes (0xE2
        // leads every bidirectional control, and some ordinary punctuation, which the full pass tells apart).
        let needsWork = text.utf8.contains { byte in
            switch byte {
            case UInt8(ascii: "&"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\""), UInt8(ascii: "'"), 0x7F, 0xE2: true
            case UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): false
            default: byte < 0x20
            }
        }
        guard needsWork else { return text }
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            // NUL and other control characters, and the bidirectional overrides and isolates that can make
            // text read differently from what it is ("evil\u{202E}fdp.exe"), are shown as U+FFFD.
            case "\t", "\n", "\r": escaped.unicodeScalars.append(scalar)
            case "\u{00}"..."\u{1F}", "\u{7F}", "\u{202A}"..."\u{202E}", "\u{2066}"..."\u{2069}":
                escaped.unicodeScalars.append("\u{FFFD}")
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    struct Interpolation: StringInterpolationProtocol {
        var markup = ""
        init(literalCapacity: Int, interpolationCount: Int) { markup.reserveCapacity(literalCapacity + interpolationCount * 16) }
        mutating func appendLiteral(_ literal: String) { markup += literal }
        mutating func appendInterpolation(_ html: HTML) { markup += html.markup }
        mutating func appendInterpolation(_ fragments: [HTML]) { markup += fragments.map(\.markup).joined() }
        mutating func appendInterpolation(_ text: String) { markup += HTML.escape(text) }
        mutating func appendInterpolation(_ text: String?) { markup += HTML.escape(text ?? "") }
        mutating func appendInterpolation(_ number: Int) { markup += String(number) }
    }
}

/// An `application/x-www-form-urlencoded` body or query: values by name, in order (a name may repeat).
struct FormData: Sendable {
    var pairs: [(name: String, value: String)]
    /// The files a `multipart/form-data` form carried, in order.
    var files: [UploadedFile] = []

    init(pairs: [(name: String, value: String)], files: [UploadedFile]) {
        self.pairs = pairs
        self.files = files
    }

    init(encoded: String) {
        pairs = encoded.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (Self.decode(parts[0]), parts.count > 1 ? Self.decode(parts[1]) : "")
        }
    }

    subscript(_ name: String) -> String? { pairs.first { $0.name == name }?.value }

    /// The value, trimmed; nil when absent or blank.
    func text(_ name: String) -> String? {
        guard let value = self[name]?.trimmed, !value.isEmpty else { return nil }
        return value
    }

    func all(_ name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }

    /// Percent-decoding with `+` as a space; invalid UTF-8 becomes U+FFFD rather than failing.
    static func decode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        func hex(_ byte: UInt8?) -> UInt8? {
            switch byte {
            case let b? where b >= 48 && b <= 57: b - 48
            case let b? where b >= 65 && b <= 70: b - 55
            case let b? where b >= 97 && b <= 102: b - 87
            default: nil
            }
        }
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(32)
            case UInt8(ascii: "%"):
                let high = iterator.next(), low = iterator.next()
                if let h = hex(high), let l = hex(low) {
                    bytes.append(h << 4 | l)
                } else {
                    bytes.append(byte)
                    if let high { bytes.append(high) }
                    if let low { bytes.append(low) }
                }
            default: bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func encode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }
}
