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
        from = headers.text("From").flatMap { Self.addresses($0).first }
        to = headers.text("To").map(Self.addresses) ?? []
        cc = headers.text("Cc").map(Self.addresses) ?? []
        subject = (headers.text("Subject") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        messageID = headers["Message-ID"].flatMap { Self.messageIDs($0).first }
        answers = (headers["In-Reply-To"].map(Self.messageIDs) ?? []) + (headers["References"].map(Self.messageIDs) ?? []).reversed()
        isBounce = root.mediaType == "multipart/report" && root.parameters["report-type"]?.lowercased() == "delivery-status"
        fullText = Self.bodyText(root).trimmingCharacters(in: .whitespacesAndNewlines)
        reply = Self.withoutQuotedHistory(fullText)
        files = root.leaves.filter { $0.isAttachment || (!$0.mediaType.hasPrefix("text/") && !$0.mediaType.hasPrefix("multipart/")) }
            .compactMap { part in
                guard !part.content.isEmpty else { return nil }
                return File(name: part.fileName ?? "attachment", content: part.content)
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
                            bouncedRecipients.append(recipient.trimmingCharacters(in: .whitespaces).lowercased())
                        }
                        if let status = block["Status"] {
                            statuses.append(([status] + (block["Diagnostic-Code"].map { [$0] } ?? [])).joined(separator: " "))
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
        if let value = headers["Auto-Submitted"]?.lowercased().split(separator: ";").first?.trimmingCharacters(in: .whitespaces),
           value != "no" {
            return "Auto-Submitted: \(value)"
        }
        if let precedence = headers["Precedence"]?.lowercased().trimmingCharacters(in: .whitespaces), ["bulk", "list", "junk"].contains(precedence) {
            return "Precedence: \(precedence)"
        }
        if headers["List-Id"] != nil || headers["List-Unsubscribe"] != nil { return "a mailing list" }
        if headers["X-Parley-Loop"] != nil { return "Parley's own mail" }
        if let path = headers["Return-Path"]?.trimmingCharacters(in: .whitespaces), path == "<>" { return "an empty return path" }
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
        return part.parts.map(bodyText).filter { !$0.isEmpty }.joined(separator: "\n\n")
    }

    /// The text above the quoted history: cut at an "On … wrote:" line, an Outlook "-----Original Message-----"
    /// or "From:" block, a run of `>` lines, or a signature delimiter (`-- `). The whole text when nothing is left.
    static func withoutQuotedHistory(_ text: String) -> String {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        var kept: [Substring] = []
        for (index, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if line == "-- " || trimmed == "-----Original Message-----" || trimmed.hasPrefix("________________________________") { break }
            if trimmed.hasPrefix(">"), lines[index...].prefix(3).allSatisfy({ $0.hasPrefix(">") || $0.trimmingCharacters(in: .whitespaces).isEmpty }) { break }
            if trimmed.hasSuffix("wrote:") || trimmed.hasSuffix("a écrit :") || trimmed.hasSuffix("schrieb:") {
                if trimmed.hasPrefix("On ") || trimmed.hasPrefix("Le ") || trimmed.hasPrefix("Am ") || index + 1 < lines.count && lines[index + 1].hasPrefix(">") { break }
            }
            if trimmed.hasPrefix("From:"), index + 1 < lines.count, lines[index + 1].trimmingCharacters(in: .whitespaces).hasPrefix("Sent:") { break }
            kept.append(line)
        }
        let reply = kept.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        return reply.isEmpty ? text : reply
    }

    // MARK: Addresses and ids

    /// `"Alice Liddell" <Alice@Example.test>, bob@example.test` → addresses (lowercased emails).
    static func addresses(_ value: String) -> [Address] {
        var result: [Address] = []
        var current = ""
        var quoted = false
        var angle = false
        func flush() {
            let piece = current.trimmingCharacters(in: .whitespaces)
            current = ""
            guard !piece.isEmpty else { return }
            if let open = piece.lastIndex(of: "<"), let close = piece.lastIndex(of: ">"), open < close {
                let email = piece[piece.index(after: open)..<close].trimmingCharacters(in: .whitespaces).lowercased()
                var name = piece[..<open].trimmingCharacters(in: .whitespaces)
                if name.hasPrefix("\""), name.hasSuffix("\""), name.count >= 2 { name = String(name.dropFirst().dropLast()) }
                if email.contains("@") { result.append(Address(name: name.isEmpty ? nil : name, email: email)) }
            } else {
                let email = piece.split(separator: " ").first.map { String($0).lowercased() } ?? ""
                if email.contains("@") { result.append(Address(name: nil, email: email)) }
            }
        }
        for character in value {
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
            let id = rest[rest.index(after: open)..<close].trimmingCharacters(in: .whitespaces)
            if !id.isEmpty, id.count <= 250 { ids.append(id) }
            rest = rest[rest.index(after: close)...]
        }
        if ids.isEmpty {
            let bare = value.trimmingCharacters(in: .whitespaces)
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
            let trimmed = text.trimmingCharacters(in: .whitespaces)
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
        var out = ""
        var index = html.startIndex
        while index < html.endIndex {
            let character = html[index]
            if character == "<" {
                guard let close = html[index...].firstIndex(of: ">") else { break }
                let tag = html[html.index(after: index)..<close].lowercased()
                let name = tag.split(whereSeparator: { $0 == " " || $0 == "/" || $0 == "\n" }).first.map(String.init) ?? ""
                if name == "script" || name == "style" || name == "head" {
                    if let end = html.range(of: "</\(name)", options: .caseInsensitive, range: close..<html.endIndex),
                       let endClose = html[end.upperBound...].firstIndex(of: ">") {
                        index = html.index(after: endClose)
                        continue
                    }
                }
                if ["br", "p", "/p", "div", "/div", "tr", "/tr", "li", "h1", "h2", "h3", "/h1", "/h2", "/h3", "blockquote", "/blockquote"].contains(name) {
                    out += "\n"
                }
                index = html.index(after: close)
                continue
            }
            if character == "&", let semicolon = html[index...].prefix(10).firstIndex(of: ";") {
                let entity = String(html[html.index(after: index)..<semicolon])
                if let decoded = Self.entity(entity) {
                    out += decoded
                    index = html.index(after: semicolon)
                    continue
                }
            }
            out.append(character)
            index = html.index(after: index)
        }
        // Blank runs collapsed, at most one empty line in a row.
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).joined(separator: " ")
        }
        var kept: [String] = []
        for line in lines where !(line.isEmpty && (kept.last?.isEmpty ?? true)) { kept.append(line) }
        return kept.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func entity(_ name: String) -> String? {
        switch name {
        case "amp": "&"
        case "lt": "<"
        case "gt": ">"
        case "quot": "\""
        case "apos", "#39": "'"
        case "nbsp": " "
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
