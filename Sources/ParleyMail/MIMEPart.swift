import Foundation

/// A MIME entity (RFC 2045/2046): its headers, and either its decoded content or its parts.
public struct MIMEPart: Sendable {
    public var headers: MailHeaders
    /// `text/plain`, `multipart/mixed`, … lowercased; `text/plain` when absent (RFC 2045 §5.2).
    public var mediaType: String
    public var parameters: [String: String]
    /// The content with its transfer encoding undone (empty for a multipart).
    public var content: [UInt8]
    public var parts: [MIMEPart]

    /// Parts nested deeper than this are kept as opaque content (a message built to exhaust the parser).
    static let maxDepth = 20

    public init(_ bytes: ArraySlice<UInt8>, depth: Int = 0) {
        let (headers, body) = MailHeaders.parse(bytes)
        self.headers = headers
        let (type, parameters) = Self.contentType(headers["Content-Type"])
        mediaType = type
        self.parameters = parameters
        parts = []
        content = []
        if type.hasPrefix("multipart/"), let boundary = parameters["boundary"], !boundary.isEmpty, depth < Self.maxDepth {
            parts = Self.split(body, boundary: boundary).map { MIMEPart($0, depth: depth + 1) }
        } else if type == "message/rfc822" || type == "message/global", depth < Self.maxDepth {
            // An attached message stays one file (a forwarded mail); its text is not the message's.
            content = Array(body)
        } else {
            switch headers["Content-Transfer-Encoding"]?.lowercased().trimmedBlanks {
            case "base64"?: content = Base64.decode(body)
            case "quoted-printable"?: content = QuotedPrintable.decode(Array(body))
            default: content = Array(body)
            }
        }
    }

    /// The declared charset; empty when none is (then UTF-8 if the bytes are, else Windows-1252).
    public var charset: String { parameters["charset"] ?? "" }

    /// The text of a `text/*` part in its charset (`format=flowed` lines joined, RFC 3676).
    public var text: String {
        let decoded = Charsets.decode(content, charset: charset)
        guard parameters["format"]?.lowercased() == "flowed" else { return decoded }
        return Self.unflowed(decoded, deleteSpace: parameters["delsp"]?.lowercased() == "yes")
    }

    /// RFC 3676: a line ending in a space continues on the next one (not the signature line `-- `, nor across
    /// quote depths); a leading space that stuffs a line is removed.
    static func unflowed(_ text: String, deleteSpace: Bool) -> String {
        var out: [String] = []
        var current: String?
        var currentDepth = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isLineBreak) {
            var line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let depth = line.prefix { $0 == ">" }.count
            line = line.dropFirst(depth)
            if line.hasPrefix(" ") { line = line.dropFirst() }
            let quote = String(repeating: ">", count: depth) + (depth > 0 ? " " : "")
            if current != nil, depth == currentDepth {
                current!.append(contentsOf: line)  // in place: a long flowed paragraph is not copied line by line
            } else {
                if let open = current { out.append(open) }
                current = quote + line
                currentDepth = depth
            }
            let flowed = line.hasSuffix(" ") && line != "-- "
            if !flowed, let open = current {
                out.append(open)
                current = nil
            } else if flowed, deleteSpace, current != nil {
                current!.removeLast()
            }
        }
        if let open = current { out.append(open) }
        return out.joined(separator: "\n")
    }

    /// `attachment` (or a part with a file name) rather than the body.
    public var isAttachment: Bool {
        let disposition = headers["Content-Disposition"].map { Self.contentType($0) }
        if disposition?.0 == "attachment" { return true }
        return fileName != nil && !mediaType.hasPrefix("text/")
    }

    /// The file name (RFC 2231 `filename*`, RFC 2047 words, or plain), from the disposition or the type.
    public var fileName: String? {
        let disposition = headers["Content-Disposition"].map { Self.contentType($0).1 } ?? [:]
        return (disposition["filename"] ?? parameters["name"]).map(EncodedWords.decode)
    }

    // MARK: Reading headers

    /// `type/subtype; name=value; …` → the lowercased type and the parameters (names lowercased; RFC 2231
    /// continuations `name*0*=` joined and `charset''percent-encoded` values decoded).
    static func contentType(_ value: String?) -> (String, [String: String]) {
        guard let value else { return ("text/plain", [:]) }
        var pieces = splitParameters(value)
        let type = pieces.isEmpty ? "text/plain" : pieces.removeFirst().lowercased()
        var plain: [String: String] = [:]
        var continued: [String: [(Int, String, Bool)]] = [:]
        for piece in pieces {
            guard let equals = piece.firstIndex(of: "=") else { continue }
            var name = piece[..<equals].trimmedBlanks.lowercased()
            var raw = piece[piece.index(after: equals)...].trimmedBlanks
            if raw.hasPrefix("\""), raw.hasSuffix("\""), raw.count >= 2 {
                raw = String(raw.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
            }
            let encoded = name.hasSuffix("*")
            if encoded { name.removeLast() }
            if let star = name.firstIndex(of: "*"), let index = Int(name[name.index(after: star)...]) {
                continued[String(name[..<star]), default: []].append((index, raw, encoded))
            } else if encoded {
                plain[name] = rfc2231(raw, first: true).text
            } else {
                plain[name] = raw
            }
        }
        for (name, sections) in continued {
            var bytes: [UInt8] = []
            var charset = "utf-8"
            for (offset, section) in sections.sorted(by: { $0.0 < $1.0 }).enumerated() {
                if section.2 {
                    let decoded = rfc2231(section.1, first: offset == 0)
                    if let named = decoded.charset { charset = named }
                    bytes += decoded.bytes
                } else {
                    bytes += Array(section.1.utf8)
                }
            }
            plain[name] = Charsets.decode(bytes, charset: charset)
        }
        return (type.trimmedBlanks, plain)
    }

    /// `utf-8'en'%E2%82%AC` → its bytes and charset (only the first section names a charset).
    static func rfc2231(_ value: String, first: Bool) -> (bytes: [UInt8], charset: String?, text: String) {
        var charset: String?
        var encoded = Substring(value)
        if first {
            let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
            if pieces.count == 3 {
                charset = String(pieces[0])
                encoded = pieces[2]
            }
        }
        var bytes: [UInt8] = []
        var iterator = Array(encoded.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
               let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return (bytes, charset, Charsets.decode(bytes, charset: charset ?? "utf-8"))
    }

    /// Splits on `;` outside quotes.
    static func splitParameters(_ value: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in value {
            if escaped { current.append(character); escaped = false; continue }
            if character == "\\" && quoted { current.append(character); escaped = true; continue }
            if character == "\"" { quoted.toggle() }
            if character == ";" && !quoted {
                pieces.append(current.trimmedBlanks)
                current = ""
            } else {
                current.append(character)
            }
        }
        let last = current.trimmedBlanks
        if !last.isEmpty { pieces.append(last) }
        return pieces
    }

    /// The body parts between `--boundary` lines, without the preamble and the epilogue.
    static func split(_ body: ArraySlice<UInt8>, boundary: String) -> [ArraySlice<UInt8>] {
        let delimiter = Array("--\(boundary)".utf8)
        var parts: [ArraySlice<UInt8>] = []
        var partStart: Int?
        var lineStart = body.startIndex
        while lineStart < body.endIndex {
            var lineEnd = lineStart
            while lineEnd < body.endIndex, body[lineEnd] != 0x0A { lineEnd += 1 }
            let next = lineEnd < body.endIndex ? lineEnd + 1 : lineEnd
            let line = body[lineStart..<lineEnd]
            if line.starts(with: delimiter) {
                let rest = line.dropFirst(delimiter.count)
                let closing = rest.starts(with: Array("--".utf8))
                if rest.allSatisfy({ $0 == 0x0D || $0 == 0x20 || $0 == 0x09 }) || closing {
                    if let start = partStart {
                        // The line break before the delimiter belongs to it (RFC 2046 §5.1.1).
                        var end = lineStart
                        if end > start, body[end - 1] == 0x0A { end -= 1 }
                        if end > start, body[end - 1] == 0x0D { end -= 1 }
                        parts.append(body[start..<end])
                    }
                    if closing { return parts }
                    partStart = next
                }
            }
            lineStart = next
        }
        if let start = partStart, start < body.endIndex { parts.append(body[start...]) }
        return parts
    }

    /// Every leaf part, depth first.
    public var leaves: [MIMEPart] { parts.isEmpty ? [self] : parts.flatMap(\.leaves) }
}
