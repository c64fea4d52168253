import Foundation

/// Where one server response ends in a stream of bytes (RFC 3501 §7, §4.3): a response is a line ending in
/// CRLF, except that a line ending in a literal's announcement `{n}` is followed by n bytes and then goes on
/// to another line. Pure and bounded: a line longer than `maxLine` or a literal larger than `maxLiteral`
/// is an error (the connection is closed), never a buffer grown without end.
public struct IMAPFraming: Sendable {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case lineTooLong(Int)
        case literalTooLarge(Int)

        public var description: String {
            switch self {
            case .lineTooLong(let limit): "a response line over \(limit) bytes"
            case .literalTooLarge(let limit): "a literal over \(limit) bytes"
            }
        }
    }

    public var maxLine: Int
    public var maxLiteral: Int

    public init(maxLine: Int = 64 * 1024, maxLiteral: Int) {
        self.maxLine = maxLine
        self.maxLiteral = maxLiteral
    }

    /// The length of the first complete response in `bytes` (its last CRLF included), or nil while more
    /// bytes are needed.
    public func responseLength<Bytes: RandomAccessCollection>(in bytes: Bytes) throws(Failure) -> Int? where Bytes.Element == UInt8, Bytes.Index == Int {
        var position = bytes.startIndex
        var literals = 0
        while true {
            guard let newline = bytes[position...].firstIndex(of: 0x0A) else {
                if bytes.endIndex - position > maxLine { throw .lineTooLong(maxLine) }
                return nil
            }
            if newline - position > maxLine { throw .lineTooLong(maxLine) }
            guard let size = Self.announcedLiteral(bytes[position..<newline]) else {
                return newline + 1 - bytes.startIndex
            }
            guard size <= maxLiteral else { throw .literalTooLarge(maxLiteral) }
            literals += size
            // A response's literals together are bounded as one would be (a FETCH of many small ones).
            guard literals <= maxLiteral else { throw .literalTooLarge(maxLiteral) }
            let next = newline + 1 + size
            guard next < bytes.endIndex else { return nil }
            position = next
        }
    }

    /// `… {123}\r` → 123 (`{123+}` too); nil when the line does not end in a literal's announcement.
    static func announcedLiteral(_ line: some BidirectionalCollection<UInt8>) -> Int? {
        var text = line[...]
        if text.last == 0x0D { text = text.dropLast() }
        guard text.last == UInt8(ascii: "}") else { return nil }
        text = text.dropLast()
        if text.last == UInt8(ascii: "+") { text = text.dropLast() }
        var digits: [UInt8] = []
        while let last = text.last, (0x30...0x39).contains(last) {
            digits.insert(last, at: 0)
            text = text.dropLast()
            // More digits than any size we accept: too large, whatever it is.
            if digits.count > 12 { return Int.max }
        }
        guard !digits.isEmpty, text.last == UInt8(ascii: "{") else { return nil }
        return Int(String(decoding: digits, as: UTF8.self))
    }
}

/// A response code (`[UIDVALIDITY 3]`) in a status response.
public enum IMAPResponseCode: Sendable, Equatable {
    case uidValidity(UInt32)
    case uidNext(UInt32)
    case capability([String])
    case other(String)
}

/// The status words of tagged and untagged status responses.
public enum IMAPStatus: String, Sendable, Equatable {
    case ok = "OK", no = "NO", bad = "BAD", bye = "BYE", preauth = "PREAUTH"
}

/// One message's data from a FETCH response; what was not asked for is nil.
public struct IMAPFetch: Sendable, Equatable {
    public var sequence: Int
    public var uid: UInt32?
    public var size: Int?
    public var flags: [String]?
    /// `BODY[]` or `RFC822`: the whole message.
    public var message: [UInt8]?

    public init(sequence: Int, uid: UInt32? = nil, size: Int? = nil, flags: [String]? = nil, message: [UInt8]? = nil) {
        self.sequence = sequence
        self.uid = uid
        self.size = size
        self.flags = flags
        self.message = message
    }
}

/// A server response (RFC 3501 §7), as much of it as a mailbox poller reads.
public enum IMAPResponse: Sendable, Equatable {
    case tagged(tag: String, status: IMAPStatus, code: IMAPResponseCode?, text: String)
    /// `* OK`, `* NO`, `* BAD`, `* BYE`, `* PREAUTH`.
    case status(IMAPStatus, code: IMAPResponseCode?, text: String)
    case capability([String])
    case exists(Int)
    case expunge(Int)
    case fetch(IMAPFetch)
    /// `+ …`: the server waits for more from the client.
    case continuation(String)
    /// Any other untagged response (`* FLAGS`, `* 3 RECENT`, `* LIST`…), by its first word.
    case other(String)

    /// Reads one framed response (`IMAPFraming`), CRLF included or not. Nil for bytes that are no response.
    public init?(_ bytes: [UInt8]) {
        var reader = IMAPReader(bytes)
        guard let first = reader.word() else { return nil }
        if first == "+" {
            self = .continuation(reader.rest())
            return
        }
        if first == "*" {
            guard let second = reader.word() else { return nil }
            if let number = Int(second) {
                guard number >= 0, let kind = reader.word()?.uppercased() else { return nil }
                switch kind {
                case "EXISTS": self = .exists(number)
                case "EXPUNGE": self = .expunge(number)
                case "FETCH":
                    guard let fetch = reader.fetch(sequence: number) else { return nil }
                    self = .fetch(fetch)
                default: self = .other(kind)
                }
                return
            }
            let word = second.uppercased()
            if let status = IMAPStatus(rawValue: word) {
                let (code, text) = reader.codeAndText()
                self = .status(status, code: code, text: text)
            } else if word == "CAPABILITY" {
                self = .capability(reader.rest().split(separator: " ").map { $0.uppercased() })
            } else {
                self = .other(word)
            }
            return
        }
        guard let word = reader.word(), let status = IMAPStatus(rawValue: word.uppercased()) else { return nil }
        let (code, text) = reader.codeAndText()
        self = .tagged(tag: first, status: status, code: code, text: text)
    }
}

/// A value in a response's data: an atom (numbers and `BODY[]` included), a string (quoted or literal),
/// a parenthesised list, or NIL.
indirect enum IMAPValue: Equatable {
    case atom(String)
    case string([UInt8])
    case list([IMAPValue])
    case null

    var number: Int? { if case .atom(let text) = self { Int(text) } else { nil } }
}

/// Reads a response's words and values from its bytes; every read is bounded by what is there.
struct IMAPReader {
    let bytes: [UInt8]
    var index = 0
    /// Lists nest at most this deep (a hostile `((((…` cannot exhaust the stack).
    static let maxDepth = 32

    init(_ bytes: [UInt8]) {
        var end = bytes.count
        while end > 0, bytes[end - 1] == 0x0A || bytes[end - 1] == 0x0D { end -= 1 }
        self.bytes = Array(bytes[..<end])
    }

    var atEnd: Bool { index >= bytes.count }

    mutating func skipSpaces() {
        while index < bytes.count, bytes[index] == 0x20 { index += 1 }
    }

    /// The next run of bytes up to a space.
    mutating func word() -> String? {
        skipSpaces()
        let start = index
        while index < bytes.count, bytes[index] != 0x20 { index += 1 }
        return index > start ? String(decoding: bytes[start..<index], as: UTF8.self) : nil
    }

    mutating func rest() -> String {
        skipSpaces()
        defer { index = bytes.count }
        return String(decoding: bytes[min(index, bytes.count)...], as: UTF8.self)
    }

    /// `[CODE args] text` or `text`.
    mutating func codeAndText() -> (IMAPResponseCode?, String) {
        skipSpaces()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { return (nil, rest()) }
        guard let close = bytes[index...].firstIndex(of: UInt8(ascii: "]")) else { return (nil, rest()) }
        let inside = String(decoding: bytes[(index + 1)..<close], as: UTF8.self)
        index = close + 1
        let parts = inside.split(separator: " ")
        let name = parts.first?.uppercased() ?? ""
        let argument = parts.count > 1 ? UInt32(parts[1]) : nil
        let code: IMAPResponseCode
        switch name {
        case "UIDVALIDITY" where argument != nil: code = .uidValidity(argument!)
        case "UIDNEXT" where argument != nil: code = .uidNext(argument!)
        case "CAPABILITY": code = .capability(parts.dropFirst().map { $0.uppercased() })
        default: code = .other(inside)
        }
        return (code, rest())
    }

    /// `(UID 7 RFC822.SIZE 120 FLAGS (\Seen) BODY[] {120}…)`.
    mutating func fetch(sequence: Int) -> IMAPFetch? {
        guard case .list(let items)? = value(depth: 0) else { return nil }
        var fetch = IMAPFetch(sequence: sequence)
        var pairs = items[...]
        while let key = pairs.popFirst() {
            guard case .atom(let name) = key, let item = pairs.popFirst() else { return nil }
            let upper = name.uppercased()
            switch upper {
            case "UID":
                guard let number = item.number, let uid = UInt32(exactly: number) else { return nil }
                fetch.uid = uid
            case "RFC822.SIZE":
                fetch.size = item.number
            case "FLAGS":
                guard case .list(let flags) = item else { return nil }
                fetch.flags = flags.compactMap { if case .atom(let flag) = $0 { flag } else { nil } }
            case "RFC822", "BODY[]":
                if case .string(let content) = item { fetch.message = content }
            default:
                // `BODY[]<0>`: a partial fetch from the start is the message too.
                if upper.hasPrefix("BODY[]<0>"), case .string(let content) = item { fetch.message = content }
            }
        }
        return fetch
    }

    mutating func value(depth: Int) -> IMAPValue? {
        skipSpaces()
        guard index < bytes.count, depth < Self.maxDepth else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "("):
            index += 1
            var items: [IMAPValue] = []
            while true {
                skipSpaces()
                guard index < bytes.count else { return nil }
                if bytes[index] == UInt8(ascii: ")") {
                    index += 1
                    return .list(items)
                }
                guard let item = value(depth: depth + 1) else { return nil }
                items.append(item)
            }
        case UInt8(ascii: "\""):
            index += 1
            var content: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") { return .string(content) }
                if byte == UInt8(ascii: "\\"), index < bytes.count {
                    content.append(bytes[index])
                    index += 1
                } else {
                    content.append(byte)
                }
            }
            return nil
        case UInt8(ascii: "{"):
            guard let close = bytes[index...].firstIndex(of: UInt8(ascii: "}")) else { return nil }
            let digits = String(decoding: bytes[(index + 1)..<close], as: UTF8.self)
            guard let size = Int(digits.hasSuffix("+") ? String(digits.dropLast()) : digits), size >= 0 else { return nil }
            var start = close + 1
            if start < bytes.count, bytes[start] == 0x0D { start += 1 }
            guard start < bytes.count, bytes[start] == 0x0A else { return nil }
            start += 1
            guard size <= bytes.count - start else { return nil }
            index = start + size
            return .string(Array(bytes[start..<(start + size)]))
        case UInt8(ascii: ")"):
            return nil
        default:
            let start = index
            var brackets = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "[") { brackets += 1 }
                if byte == UInt8(ascii: "]") { brackets = max(0, brackets - 1) }
                if brackets == 0 && (byte == 0x20 || byte == UInt8(ascii: "(") || byte == UInt8(ascii: ")")) { break }
                index += 1
            }
            guard index > start else { return nil }
            let atom = String(decoding: bytes[start..<index], as: UTF8.self)
            return atom.uppercased() == "NIL" ? .null : .atom(atom)
        }
    }
}
