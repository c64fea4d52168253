import Foundation

/// A message's or a MIME part's header fields (RFC 5322 §2.2): folded lines unfolded, names compared without
/// regard to case, values kept as sent (encoded words decoded by `text(_:)`).
public struct MailHeaders: Sendable, Equatable {
    public var fields: [(name: String, value: String)]

    public static func == (a: MailHeaders, b: MailHeaders) -> Bool {
        a.fields.map(\.name) == b.fields.map(\.name) && a.fields.map(\.value) == b.fields.map(\.value)
    }

    /// Reads a header block (lines up to the first empty one); returns it and where the body starts.
    public static func parse(_ bytes: ArraySlice<UInt8>) -> (MailHeaders, body: ArraySlice<UInt8>) {
        var fields: [(String, String)] = []
        var index = bytes.startIndex
        var current: (name: String, value: [UInt8])?
        func flush() {
            if let field = current {
                fields.append((field.name, Self.latin1OrUTF8(Self.trimmed(field.value))))
            }
            current = nil
        }
        while index < bytes.endIndex {
            var end = index
            while end < bytes.endIndex, bytes[end] != 0x0A { end += 1 }
            var line = bytes[index..<end]
            if line.last == 0x0D { line = line.dropLast() }
            let next = end < bytes.endIndex ? end + 1 : end
            if line.isEmpty { flush(); return (MailHeaders(fields: fields), bytes[next...]) }
            if line.first == 0x20 || line.first == 0x09 {
                // A continuation: unfolded by removing the line break only (RFC 5322 §2.2.3).
                current?.value += Array(line)
            } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
                flush()
                let name = String(decoding: Self.trimmed(line[line.startIndex..<colon]), as: UTF8.self)
                current = (name, Array(line[(colon + 1)...]))
            }
            index = next
        }
        flush()
        return (MailHeaders(fields: fields), bytes[bytes.endIndex...])
    }

    public init(fields: [(name: String, value: String)]) { self.fields = fields }

    /// The first field of that name, as sent.
    public subscript(_ name: String) -> String? {
        fields.first { Self.sameName($0.name, name) }?.value
    }

    public func all(_ name: String) -> [String] {
        fields.filter { Self.sameName($0.name, name) }.map(\.value)
    }

    /// Field names are ASCII: compared byte by byte without regard to case (Foundation's caseInsensitiveCompare
    /// was a fifth of the time a message took to read).
    static func sameName(_ a: String, _ b: String) -> Bool {
        var left = a.utf8.makeIterator()
        var right = b.utf8.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil): return true
            case (let x?, let y?) where x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7A): continue
            default: return false
            }
        }
    }

    /// The field's text with RFC 2047 encoded words decoded.
    public func text(_ name: String) -> String? { self[name].map(EncodedWords.decode) }

    /// Without leading and trailing spaces and tabs.
    static func trimmed<Bytes: BidirectionalCollection<UInt8>>(_ bytes: Bytes) -> Bytes.SubSequence {
        let start = bytes.firstIndex { $0 != 0x20 && $0 != 0x09 } ?? bytes.endIndex
        let end = bytes[start...].lastIndex { $0 != 0x20 && $0 != 0x09 }.map { bytes.index(after: $0) } ?? start
        return bytes[start..<end]
    }

    /// Header bytes are ASCII by the standard, UTF-8 by RFC 6532, Latin-1 in old mailers' practice.
    static func latin1OrUTF8<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        String(validating: bytes, as: UTF8.self) ?? String(bytes.map { Character(Unicode.Scalar($0)) })
    }
}

/// RFC 2047 encoded words (`=?UTF-8?B?…?=`, `=?iso-8859-1?Q?…?=`) in header text; blanks between two encoded
/// words vanish, as the RFC says, and adjacent words in one charset are decoded together (a character split
/// across two words, which the RFC forbids and mailers still do, comes out whole).
public enum EncodedWords {
    static let window = 2000

    public static func decode(_ text: String) -> String {
        guard text.contains("=?") else { return text }
        var result = ""
        var rest = Substring(text)
        var pendingBlank = ""
        var lastWasEncoded = false
        var pending: (charset: String, bytes: [UInt8])?
        func flushWord() {
            if let word = pending { result += Charsets.decode(word.bytes, charset: word.charset) }
            pending = nil
        }
        while !rest.isEmpty {
            if rest.hasPrefix("=?"), let (charset, bytes, after) = word(rest) {
                if lastWasEncoded, let open = pending, open.charset.lowercased() == charset.lowercased() {
                    pending?.bytes += bytes
                } else {
                    flushWord()
                    if !lastWasEncoded { result += pendingBlank }
                    pending = (charset, bytes)
                }
                pendingBlank = ""
                rest = after
                lastWasEncoded = true
                continue
            }
            let character = rest.removeFirst()
            if character == " " || character == "\t" || character == "\r" || character == "\n" {
                pendingBlank.append(character == "\t" ? " " : character == " " ? " " : "")
                continue
            }
            flushWord()
            result += pendingBlank
            pendingBlank = ""
            result.append(character)
            lastWasEncoded = false
        }
        flushWord()
        return result + pendingBlank
    }

    /// One encoded word at the start of `text`: its charset, its bytes, and what follows it.
    static func word(_ text: Substring) -> (String, [UInt8], Substring)? {
        // Words are 75 characters by the RFC, a few hundred from careless mailers; a "=?" with no end within
        // the window is text (so that thousands of them cost a window each, not the rest of the header each).
        let parts = text.prefix(Self.window).dropFirst(2)
        guard let q1 = parts.firstIndex(of: "?") else { return nil }
        let charset = parts[..<q1].split(separator: "*").first.map(String.init) ?? ""
        let afterCharset = parts[parts.index(after: q1)...]
        guard let q2 = afterCharset.firstIndex(of: "?") else { return nil }
        let encoding = afterCharset[..<q2].uppercased()
        let encodedStart = afterCharset.index(after: q2)
        guard let end = afterCharset[encodedStart...].range(of: "?=") else { return nil }
        let encoded = afterCharset[encodedStart..<end.lowerBound]
        guard !encoded.contains(" ") else { return nil }
        let bytes: [UInt8]
        switch encoding {
        case "B": bytes = Base64.decode(Array(encoded.utf8)[...])
        case "Q": bytes = QuotedPrintable.decode(Array(encoded.utf8), underscoreIsSpace: true)
        default: return nil
        }
        return (charset, bytes, text[end.upperBound...])
    }
}

enum Base64 {
    /// The alphabet's values; 0xFF for bytes outside it (line breaks, blanks, stray characters: skipped).
    static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8).enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    /// Lenient RFC 2045 base64: bytes outside the alphabet are skipped, decoding stops at `=`, a trailing partial
    /// group gives what bytes it holds. (Byte by byte: the Character filter before Foundation's decoder took
    /// 12 ms for a 40 KB attachment.)
    static func decode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 4 * 3)
        var group: UInt32 = 0
        var count = 0
        for byte in bytes {
            if byte == UInt8(ascii: "=") { break }
            let value = values[Int(byte)]
            if value == 0xFF { continue }
            group = group << 6 | UInt32(value)
            count += 1
            if count == 4 {
                out.append(UInt8(truncatingIfNeeded: group >> 16))
                out.append(UInt8(truncatingIfNeeded: group >> 8))
                out.append(UInt8(truncatingIfNeeded: group))
                group = 0
                count = 0
            }
        }
        if count == 2 { out.append(UInt8(truncatingIfNeeded: group >> 4)) }
        if count == 3 {
            out.append(UInt8(truncatingIfNeeded: group >> 10))
            out.append(UInt8(truncatingIfNeeded: group >> 2))
        }
        return out
    }
}

enum QuotedPrintable {
    /// RFC 2045 §6.7 (and RFC 2047's Q, where `_` is a space): `=XX` bytes, soft line breaks dropped.
    static func decode(_ bytes: [UInt8], underscoreIsSpace: Bool = false) -> [UInt8] {
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "="), i + 1 < bytes.count {
                if bytes[i + 1] == 0x0A { i += 2; continue }
                if bytes[i + 1] == 0x0D, i + 2 < bytes.count, bytes[i + 2] == 0x0A { i += 3; continue }
                if i + 2 < bytes.count, let high = hex(bytes[i + 1]), let low = hex(bytes[i + 2]) {
                    out.append(high << 4 | low)
                    i += 3
                    continue
                }
            }
            out.append(underscoreIsSpace && byte == UInt8(ascii: "_") ? 0x20 : byte)
            i += 1
        }
        return out
    }
}

/// Text in the charsets mail still arrives in. Undeclared (or US-ASCII) text is UTF-8 when its bytes are,
/// else Windows-1252 (8-bit mail with no charset is Latin-1 in practice); anything unknown is read as UTF-8
/// with replacements.
enum Charsets {
    static func decode(_ bytes: [UInt8], charset: String) -> String {
        let name = charset.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        switch name {
        case "", "us-ascii", "ascii", "ansi_x3.4-1968":
            if let text = String(validating: bytes, as: UTF8.self) { return text }
            return decode(bytes, charset: "windows-1252")
        case "utf-8", "utf8":
            return String(decoding: bytes, as: UTF8.self)
        default:
            break
        }
        if let encoding = encoding(name), let text = String(bytes: bytes, encoding: encoding) { return text }
        // Windows-1252 has five unassigned bytes that Foundation refuses; Latin-1 reads them all.
        if name == "windows-1252" || name == "cp1252", let text = String(bytes: bytes, encoding: .isoLatin1) { return text }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Foundation's encodings; beyond its named ones, CoreFoundation's by number (`0x8000_0000 | CFStringEncoding`),
    /// which swift-corelibs-foundation reads on Linux too.
    static func encoding(_ name: String) -> String.Encoding? {
        func coreFoundation(_ value: UInt) -> String.Encoding { String.Encoding(rawValue: 0x8000_0000 | value) }
        return switch name {
        case "iso-8859-1", "latin1", "iso_8859-1", "l1", "iso8859-1": .isoLatin1
        case "windows-1252", "cp1252": .windowsCP1252
        case "iso-8859-2", "latin2", "iso8859-2": .isoLatin2
        case "windows-1250", "cp1250": .windowsCP1250
        case "windows-1251", "cp1251": .windowsCP1251
        case "windows-1253", "cp1253": .windowsCP1253
        case "windows-1254", "cp1254": .windowsCP1254
        case "utf-16", "utf16": .utf16
        case "iso-2022-jp": .iso2022JP
        case "shift_jis", "shift-jis", "sjis", "x-sjis", "cp932", "windows-31j": .shiftJIS
        case "euc-jp": .japaneseEUC
        case "iso-8859-15", "latin-9", "latin9": coreFoundation(0x020F)
        case "iso-8859-5": coreFoundation(0x0205)
        case "iso-8859-7": coreFoundation(0x0207)
        case "koi8-r": coreFoundation(0x0A02)
        case "koi8-u": coreFoundation(0x0A08)
        case "gb2312", "gbk", "gb18030", "euc-cn", "x-gbk", "cp936": coreFoundation(0x0632)
        case "big5", "big5-hkscs": coreFoundation(0x0A03)
        case "euc-kr", "ks_c_5601-1987": coreFoundation(0x0940)
        default: nil
        }
    }
}

/// Trimming without Foundation's NSString bridge (which was a tenth of a message's reading time).
extension StringProtocol {
    /// Without leading and trailing blanks (spaces, tabs, other non-newline white space).
    var trimmedBlanks: String { trimmed { $0.isWhitespace && !$0.isNewline } }
    /// Without leading and trailing white space and line breaks.
    var trimmedWhite: String { trimmed(\.isWhitespace) }
    /// Without leading and trailing line breaks.
    var trimmedNewlines: String { trimmed(\.isNewline) }

    func trimmed(_ drop: (Character) -> Bool) -> String {
        guard let first = firstIndex(where: { !drop($0) }), let last = lastIndex(where: { !drop($0) }) else { return "" }
        return String(self[first...last])
    }
}

extension Character {
    /// "\n" or "\r\n" (one Character in Swift): lines are split on it without Foundation's replacing first.
    var isLineBreak: Bool { self == "\n" || self == "\r\n" }
}
