import Foundation

/// A received message as Parley reads it: who sent it, what it answers, its text (the reply only, with the
/// quoted history and signature folded away; the whole text kept), its files, and whether it was sent by a
/// machine (RFC 3834), which Parley never answers nor lets open or reopen anything.
public struct InboundMail: Sendable {
    public struct Address: Sendable, Equatable {
        public var name: String?
        /// Lowercased.
        public var email: String

        public init(name: String?, email: String) {
            self.name = name
            self.email = email
        }
    }

    public struct File: Sendable {
        public var name: String
        public var content: [UInt8]
    }

    public var from: Address?
    public var to: [Address]
    public var cc: [Address]
    public var subject: String
    /// Without angle brackets; nil when the message has none.
    public var messageID: String?
    /// `In-Reply-To` then `References`, newest first, without angle brackets.
    public var answers: [String]
    /// The new text of the message (what the sender wrote above the quoted history).
    public var reply: String
    /// The message's whole text, quoted history included.
    public var fullText: String
    public var files: [File]
    /// Why this message was sent by a machine, if it was (nil: a person wrote it).
    public var automatic: String?
    /// A delivery status notification (RFC 3464): it answers a message that could not be delivered.
    public var isBounce: Bool
    /// For a bounce: the Message-ID of the message that was not delivered (from its returned headers), the
    /// recipients it failed for (`Final-Recipient`) and the status (`Status` and `Diagnostic-Code`).
    public var bouncedMessageID: String?
    public var bouncedRecipients: [String] = []
    public var bounceStatus: String?

    public init(_ raw: [UInt8]) {
        let root = MIMEPart(raw[...])
        let headers = root.headers
        // Addresses are split before their names' encoded words are decoded: `=?UTF-8?Q?M=C3=BCller=2C_Ren=C3=A9e?=`
        // is one name with a comma in it, not two addresses.
        from = headers["From"].flatMap { Self.addresses($0).first }
        to = headers["To"].map(Self.addresses) ?? []
        cc = headers["Cc"].map(Self.addresses) ?? []
        subject = (headers.text("Subject") ?? "").trimmedWhite
        messageID = headers["Message-ID"].flatMap { Self.messageIDs($0).first }
        answers = (headers["In-Reply-To"].map(Self.messageIDs) ?? []) + (headers["References"].map(Self.messageIDs) ?? []).reversed()
        isBounce = root.mediaType == "multipart/report" && root.parameters["report-type"]?.lowercased() == "delivery-status"
        fullText = Self.bodyText(root).trimmedWhite
        // A forward's quoted message is what the sender means to show: only its signature is folded away.
        reply = Self.isForward(subject) ? Self.withoutSignature(fullText) : Self.withoutQuotedHistory(fullText)
        let isBounce = isBounce
        files = root.leaves.filter { $0.isAttachment || (!$0.mediaType.hasPrefix("text/") && !$0.mediaType.hasPrefix("multipart/")) }
            .compactMap { part in
                guard !part.content.isEmpty else { return nil }
                // A report's machine parts (the status, the returned message) are not files anyone attached.
                if isBounce, Self.reportParts.contains(part.mediaType) { return nil }
                let unnamed = part.mediaType == "message/rfc822" || part.mediaType == "message/global" ? "forwarded message.eml" : "attachment"
                return File(name: part.fileName ?? unnamed, content: part.content)
            }
        automatic = Self.automatic(headers, from: from, isBounce: isBounce)
        if isBounce {
            for part in root.leaves {
                switch part.mediaType {
                case "message/rfc822", "text/rfc822-headers", "message/rfc822-headers":
                    bouncedMessageID = MailHeaders.parse(part.content[...]).0["Message-ID"].flatMap { Self.messageIDs($0).first }
                case "message/delivery-status", "message/global-delivery-status":
                    // Per-message fields, a blank line, then per-recipient blocks: read as header blocks.
                    var rest = part.content[...]
                    var statuses: [String] = []
                    while !rest.isEmpty {
                        let (block, after) = MailHeaders.parse(rest)
                        if let recipient = block["Final-Recipient"]?.split(separator: ";").last {
                            bouncedRecipients.append(recipient.trimmedBlanks.lowercased())
                        }
                        if let status = block["Status"] {
                            // Folded diagnostics keep their folding blanks when unfolded: one space each.
                            let text = ([status] + (block["Diagnostic-Code"].map { [$0] } ?? [])).joined(separator: " ")
                            statuses.append(text.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " "))
                        }
                        if after.count == rest.count { break }
                        rest = after
                    }
                    bounceStatus = statuses.first
                default:
                    break
                }
            }
        }
    }

    // MARK: Loops (RFC 3834)

    /// Why a message was sent automatically, by the headers and senders every helpdesk has learnt to check.
    static func automatic(_ headers: MailHeaders, from: Address?, isBounce: Bool) -> String? {
        if isBounce { return "a delivery status notification" }
        if let value = headers["Auto-Submitted"]?.lowercased().split(separator: ";").first?.trimmedBlanks,
           value != "no" {
            return "Auto-Submitted: \(value)"
        }
        if let precedence = headers["Precedence"]?.lowercased().trimmedBlanks, ["bulk", "list", "junk"].contains(precedence) {
            return "Precedence: \(precedence)"
        }
        if headers["List-Id"] != nil || headers["List-Unsubscribe"] != nil { return "a mailing list" }
        if headers["X-Parley-Loop"] != nil { return "Parley's own mail" }
        // Exchange marks its out-of-office replies (older versions with nothing else) and other generated mail
        // so; osTicket and Zammad read it the same way.
        if let suppress = headers["X-Auto-Response-Suppress"]?.trimmedBlanks,
           suppress.split(separator: ",").contains(where: { ["all", "oof", "autoreply", "dr"].contains($0.trimmedBlanks.lowercased()) }) {
            return "X-Auto-Response-Suppress: \(suppress)"
        }
        if let path = headers["Return-Path"]?.trimmedBlanks, path == "<>" { return "an empty return path" }
        if let local = from?.email.split(separator: "@").first?.lowercased(),
           ["mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "donotreply"].contains(local) {
            return "sent by \(local)"
        }
        if headers["X-Autoreply"] != nil || headers["X-Autorespond"] != nil { return "an auto-reply" }
        return nil
    }

    // MARK: Text

    /// The message's text: the first `text/plain` of the body (inside `multipart/alternative`, the plain one
    /// wins), else its HTML as text.
    static func bodyText(_ part: MIMEPart) -> String {
        if part.parts.isEmpty {
            if part.isAttachment { return "" }
            if part.mediaType == "text/html" { return HTMLText.text(part.text) }
            if part.mediaType.hasPrefix("text/") { return part.text }
            return ""
        }
        if part.mediaType == "multipart/alternative" {
            if let plain = part.parts.first(where: { $0.mediaType == "text/plain" && !$0.isAttachment }) { return plain.text }
            for alternative in part.parts.reversed() {
                let text = bodyText(alternative)
                if !text.isEmpty { return text }
            }
            return ""
        }
        if part.mediaType == "multipart/report" {
            return part.parts.first.map(bodyText) ?? ""
        }
        // mixed, related, signed…: the body's text parts in order.
        return part.parts.map { bodyText($0).trimmedNewlines }.filter { !$0.isEmpty }.joined(separator: "\n\n")
    }

    /// The parts of a delivery report that are no one's attachment.
    static let reportParts: Set<String> = ["message/delivery-status", "message/global-delivery-status", "message/rfc822", "message/global",
                                           "text/rfc822-headers", "message/rfc822-headers"]

    /// `Fwd:`, `FW:`, `WG:`, `TR:` subjects.
    static func isForward(_ subject: String) -> Bool {
        guard let colon = subject.firstIndex(of: ":"), subject.distance(from: subject.startIndex, to: colon) <= 4 else { return false }
        return ["fwd", "fw", "wg", "tr"].contains(subject[..<colon].trimmedBlanks.lowercased())
    }

    /// The text above the quoted history: cut at an attribution ("On … wrote:", "Am … schrieb …:", "Le … a écrit :",
    /// Gmail's wrapped over two or three lines), an Outlook "-----Original Message-----", underscores or
    /// "From:/Sent:" block, a run of `>` lines, or a signature delimiter (`-- `); then a trailing "Sent from my
    /// iPhone" or "Get Outlook for iOS" goes too. The whole text when nothing is left.
    static func withoutQuotedHistory(_ text: String) -> String {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isLineBreak)
        let blank = { (line: Substring) in line.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\r" } }
        func nextNonBlank(after index: Int) -> Substring? { lines[(index + 1)...].first { !blank($0) } }
        var cut = lines.count
        for (index, line) in lines.enumerated() {
            let trimmed = line.trimmedBlanks
            if isSeparator(line, trimmed: trimmed) { cut = index; break }
            if trimmed.hasPrefix(">"), lines[index...].prefix(3).allSatisfy({ $0.hasPrefix(">") || blank($0) }) { cut = index; break }
            if trimmed.hasPrefix("From:") || trimmed.hasPrefix("Von:") || trimmed.hasPrefix("De :") || trimmed.hasPrefix("De:"),
               let next = nextNonBlank(after: index)?.trimmedBlanks,
               next.hasPrefix("Sent:") || next.hasPrefix("Gesendet:") || next.hasPrefix("Envoyé :") || next.hasPrefix("Envoyé:") {
                cut = index
                break
            }
            // (The next line is looked for only after a colon: a run of blank lines is walked once, not once per line.)
            if trimmed.hasSuffix(":"), isAttribution(trimmed, quoteFollows: nextNonBlank(after: index)?.hasPrefix(">") ?? false) {
                cut = index
                // Gmail wraps a long attribution: "On Wed, … Alice <" / "alice@example.test> wrote:".
                var start = index
                while start > 0, index - start < 2, !blank(lines[start - 1]), !attributionOpening(lines[start]) { start -= 1 }
                if attributionOpening(lines[start]) { cut = start }
                break
            }
        }
        var kept = Array(lines[..<cut])
        while let last = kept.last, blank(last) { kept.removeLast() }
        if let last = kept.last, isDeviceSignature(last.trimmedBlanks) { kept.removeLast() }
        let reply = kept.joined(separator: "\n").trimmedWhite
        return reply.isEmpty ? text : reply
    }

    /// A forward's text without the sender's signature (after `-- `) or a trailing "Sent from my iPhone".
    static func withoutSignature(_ text: String) -> String {
        var kept: [Substring] = []
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isLineBreak) {
            if line == "-- " { break }
            kept.append(line)
        }
        while let last = kept.last, last.trimmedBlanks.isEmpty { kept.removeLast() }
        if let last = kept.last, isDeviceSignature(last.trimmedBlanks) { kept.removeLast() }
        let reply = kept.joined(separator: "\n").trimmedWhite
        return reply.isEmpty ? text : reply
    }

    /// `-- `, Outlook's and phones' "Original Message" lines, Outlook's underscores.
    static func isSeparator(_ line: Substring, trimmed: String) -> Bool {
        if line == "-- " || trimmed.hasPrefix("________________________________") { return true }
        guard trimmed.hasPrefix("-----") || trimmed.hasPrefix("--- ") else { return false }
        let lower = trimmed.lowercased()
        return ["original message", "ursprüngliche nachricht", "message d'origine", "mensaje original", "messaggio originale",
                "oorspronkelijk bericht", "original-nachricht"].contains { lower.contains($0) }
    }

    /// The line that ends an attribution: "On … wrote:", "Am … schrieb …:", "Le … a écrit :", or any of
    /// those words before a colon when quoted lines follow.
    static func isAttribution(_ trimmed: String, quoteFollows: Bool) -> Bool {
        guard trimmed.hasSuffix(":") else { return false }
        let endings = ["wrote:", "a écrit :", "a écrit:", "schrieb:", "escribió:", "ha scritto:", "schreef:", "napisał:", "написал:", "skrev:"]
        if endings.contains(where: { trimmed.hasSuffix($0) }) && (attributionOpening(Substring(trimmed)) || quoteFollows) { return true }
        let words = [" wrote", " schrieb ", " a écrit", " escribió", " scritto", " schreef", " skrev"]
        return quoteFollows && attributionOpening(Substring(trimmed)) && words.contains { trimmed.contains($0) }
    }

    /// "On …", "Am …", "Le …": how attributions begin.
    static func attributionOpening(_ line: Substring) -> Bool {
        let trimmed = line.drop { $0 == " " || $0 == ">" }
        return ["On ", "Am ", "Le ", "El ", "Il ", "Op ", "Den "].contains { trimmed.hasPrefix($0) }
    }

    /// "Sent from my iPhone", "Get Outlook for iOS<https://aka.ms/o0ukef>", "Von meinem iPhone gesendet"…: a
    /// short last line that phones and mail apps add.
    static func isDeviceSignature(_ trimmed: String) -> Bool {
        guard trimmed.count <= 60 else { return false }
        return ["Sent from my ", "Sent from Mail for ", "Sent from Yahoo Mail", "Sent from Outlook", "Sent with ", "Get Outlook for ",
                "Von meinem ", "Envoyé de mon ", "Enviado desde mi ", "Inviato da ", "Verstuurd vanaf mijn ", "Sent from ProtonMail"]
            .contains { trimmed.hasPrefix($0) }
    }

    // MARK: Addresses and ids

    /// `"Alice Liddell" <Alice@Example.test>, bob@example.test` → addresses (lowercased emails).
    static func addresses(_ value: String) -> [Address] {
        var result: [Address] = []
        var current = ""
        var quoted = false
        var angle = false
        func flush() {
            let piece = current.trimmedBlanks
            current = ""
            guard !piece.isEmpty else { return }
            if let open = piece.lastIndex(of: "<"), let close = piece.lastIndex(of: ">"), open < close {
                let email = piece[piece.index(after: open)..<close].trimmedBlanks.lowercased()
                var name = piece[..<open].trimmedBlanks
                if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 {
                    name = String(name.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
                }
                name = EncodedWords.decode(name).trimmedBlanks
                if email.contains("@") { result.append(Address(name: name.isEmpty ? nil : name, email: email)) }
            } else {
                let email = piece.split(separator: " ").first.map { String($0).lowercased() } ?? ""
                if email.contains("@") { result.append(Address(name: nil, email: email)) }
            }
        }
        var encodedWord = false
        var previous: Character = " "
        for character in value {
            defer { previous = character }
            // An encoded word (`=?…?=`) is one token even when a sender left a comma in it.
            if !encodedWord, previous == "=", character == "?" { encodedWord = true } else if encodedWord, previous == "?", character == "=" { encodedWord = false }
            if encodedWord { current.append(character); continue }
            switch character {
            case "\"": quoted.toggle(); current.append(character)
            case "<": angle = true; current.append(character)
            case ">": angle = false; current.append(character)
            case "," where !quoted && !angle, ";" where !quoted && !angle: flush()
            default: current.append(character)
            }
        }
        flush()
        return result
    }

    /// The ids in a `Message-ID`, `In-Reply-To` or `References` field, without their angle brackets.
    static func messageIDs(_ value: String) -> [String] {
        var ids: [String] = []
        var rest = Substring(value)
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            let id = rest[rest.index(after: open)..<close].trimmedBlanks
            if !id.isEmpty, id.count <= 250 { ids.append(id) }
            rest = rest[rest.index(after: close)...]
        }
        if ids.isEmpty {
            let bare = value.trimmedBlanks
            if !bare.isEmpty, !bare.contains(" "), bare.count <= 250 { ids.append(bare) }
        }
        return ids
    }

    /// The conversation a subject's tag names: `Re: Export fails [CONV-42]` → 42.
    public var subjectTag: Int? {
        guard let range = subject.range(of: "[CONV-", options: .backwards),
              let close = subject[range.upperBound...].firstIndex(of: "]") else { return nil }
        return Int(subject[range.upperBound..<close])
    }

    /// The subject without `Re:`/`Fwd:` prefixes and the conversation tag.
    public var cleanSubject: String {
        var text = subject
        if let range = text.range(of: "[CONV-", options: .backwards), let close = text[range.upperBound...].firstIndex(of: "]") {
            text.removeSubrange(range.lowerBound...close)
        }
        while true {
            let trimmed = text.trimmedBlanks
            guard let colon = trimmed.firstIndex(of: ":"), trimmed.distance(from: trimmed.startIndex, to: colon) <= 6 else { return trimmed }
            let prefix = trimmed[..<colon].lowercased().filter(\.isLetter)
            guard ["re", "fw", "fwd", "aw", "wg", "sv", "tr"].contains(prefix) else { return trimmed }
            text = String(trimmed[trimmed.index(after: colon)...])
        }
    }
}

/// HTML mail as plain text: tags dropped (block ends become line breaks), scripts and styles dropped whole,
/// entities decoded. What it returns is text, shown escaped like any message.
public enum HTMLText {
    public static func text(_ html: String) -> String {
        // On the UTF-8 bytes (tags, entities and blanks are ASCII): walking Characters took a third of a
        // message's reading time.
        let bytes = Array(html.utf8)
        let count = bytes.count
        var out: [UInt8] = []
        out.reserveCapacity(count)
        // Elements whose closing tag is known to be missing from here on: looked for once, not once per opening tag.
        var unclosed: Set<String> = []
        func find(_ needle: [UInt8], from start: Int, ignoringCase: Bool) -> Int? {
            guard !needle.isEmpty, start <= count - needle.count else { return nil }
            var index = start
            while index <= count - needle.count {
                var matched = true
                for (offset, byte) in needle.enumerated() {
                    let candidate = bytes[index + offset]
                    if candidate != byte && !(ignoringCase && candidate | 0x20 == byte && byte >= 0x61 && byte <= 0x7A) { matched = false; break }
                }
                if matched { return index }
                index += 1
            }
            return nil
        }
        var index = 0
        while index < count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "<") {
                // A comment (Outlook's `<!--[if gte mso 9]><xml>…</xml><![endif]-->` too) ends only at `-->`.
                if bytes[index...].starts(with: [0x3C, 0x21, 0x2D, 0x2D]) {
                    guard let end = find(Array("-->".utf8), from: index + 4, ignoringCase: false) else { break }
                    index = end + 3
                    continue
                }
                guard let close = bytes[(index + 1)...].firstIndex(of: UInt8(ascii: ">")) else { break }
                var nameStart = index + 1
                if nameStart < close, bytes[nameStart] == UInt8(ascii: "/") { nameStart += 1 }
                var nameEnd = nameStart
                while nameEnd < close, ![0x20, 0x2F, 0x0A, 0x0D, 0x09].contains(bytes[nameEnd]) { nameEnd += 1 }
                let name = String(decoding: bytes[nameStart..<nameEnd].map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
                let closing = nameStart > index + 1
                if !closing, name == "script" || name == "style" || name == "head", !unclosed.contains(name) {
                    if let end = find(Array("</\(name)".utf8), from: close, ignoringCase: true),
                       let endClose = bytes[end...].firstIndex(of: UInt8(ascii: ">")) {
                        index = endClose + 1
                        continue
                    }
                    unclosed.insert(name)
                }
                if Self.lineBreaks.contains(name) {
                    out.append(0x0A)
                } else if name == "td" || name == "th" {
                    out.append(0x20)
                }
                index = close + 1
                continue
            }
            if byte == UInt8(ascii: "&"), let semicolon = bytes[index..<min(count, index + 10)].firstIndex(of: UInt8(ascii: ";")),
               let decoded = Self.entity(String(decoding: bytes[(index + 1)..<semicolon], as: UTF8.self)) {
                out += decoded.utf8.map { $0 == 0x0A || $0 == 0x0D || $0 == 0x09 ? 0x20 : $0 }
                index = semicolon + 1
                continue
            }
            // Line breaks in the source are blanks, as a browser shows them (Outlook wraps its source mid-sentence);
            // so is a no-break space.
            if byte == 0x0A || byte == 0x0D || byte == 0x09 || byte == 0x0C {
                out.append(0x20)
            } else if byte == 0xC2, index + 1 < count, bytes[index + 1] == 0xA0 {
                out.append(0x20)
                index += 1
            } else {
                out.append(byte)
            }
            index += 1
        }
        // Blank runs collapsed, at most one empty line in a row.
        var kept: [[UInt8]] = []
        for line in out.split(separator: 0x0A, omittingEmptySubsequences: false) {
            let words = line.split(separator: 0x20)
            let joined = Array(words.joined(separator: [0x20]))
            if joined.isEmpty && (kept.last?.isEmpty ?? true) { continue }
            kept.append(joined)
        }
        while let last = kept.last, last.isEmpty { kept.removeLast() }
        return String(decoding: Array(kept.joined(separator: [0x0A])), as: UTF8.self)
    }

    static let lineBreaks: Set<String> = ["br", "p", "/p", "div", "/div", "tr", "/tr", "li", "h1", "h2", "h3", "h4", "/h1", "/h2", "/h3", "/h4",
                                          "blockquote", "/blockquote", "table", "/table", "ul", "/ul", "ol", "/ol", "hr", "pre", "/pre"]

    /// The named entities mail writers use beyond the XML five (Outlook's and web mailers' typography).
    static let named: [String: String] = [
        "nbsp": " ", "rsquo": "\u{2019}", "lsquo": "\u{2018}", "rdquo": "\u{201D}", "ldquo": "\u{201C}", "sbquo": "\u{201A}", "bdquo": "\u{201E}",
        "mdash": "\u{2014}", "ndash": "\u{2013}", "hellip": "\u{2026}", "bull": "\u{2022}", "middot": "\u{00B7}", "laquo": "\u{00AB}",
        "raquo": "\u{00BB}", "euro": "\u{20AC}", "pound": "\u{00A3}", "yen": "\u{00A5}", "cent": "\u{00A2}", "copy": "\u{00A9}",
        "reg": "\u{00AE}", "trade": "\u{2122}", "deg": "\u{00B0}", "times": "\u{00D7}", "divide": "\u{00F7}", "plusmn": "\u{00B1}",
        "para": "\u{00B6}", "sect": "\u{00A7}", "shy": "", "zwnj": "", "zwj": "", "thinsp": "\u{2009}", "ensp": "\u{2002}", "emsp": "\u{2003}",
        "eacute": "é", "egrave": "è", "ecirc": "ê", "euml": "ë", "aacute": "á", "agrave": "à", "acirc": "â", "auml": "ä", "aring": "å",
        "atilde": "ã", "ccedil": "ç", "iacute": "í", "igrave": "ì", "icirc": "î", "iuml": "ï", "oacute": "ó", "ograve": "ò", "ocirc": "ô",
        "ouml": "ö", "otilde": "õ", "oslash": "ø", "uacute": "ú", "ugrave": "ù", "ucirc": "û", "uuml": "ü", "ntilde": "ñ", "szlig": "ß",
        "yacute": "ý", "aelig": "æ", "Eacute": "É", "Egrave": "È", "Agrave": "À", "Auml": "Ä", "Ouml": "Ö", "Uuml": "Ü", "Ccedil": "Ç",
        "Ntilde": "Ñ", "Aring": "Å", "Oslash": "Ø", "AElig": "Æ", "iexcl": "¡", "iquest": "¿",
    ]

    static func entity(_ name: String) -> String? {
        switch name {
        case "amp": "&"
        case "lt": "<"
        case "gt": ">"
        case "quot": "\""
        case "apos", "#39": "'"
        case _ where named[name] != nil: named[name]
        default:
            if name.hasPrefix("#x") || name.hasPrefix("#X"), let value = UInt32(name.dropFirst(2), radix: 16), let scalar = Unicode.Scalar(value) {
                String(Character(scalar))
            } else if name.hasPrefix("#"), let value = UInt32(name.dropFirst()), let scalar = Unicode.Scalar(value) {
                String(Character(scalar))
            } else {
                nil
            }
        }
    }
}
