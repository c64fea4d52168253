import Foundation

/// A message Parley sends: an agent's public reply to a conversation that came by mail. Text and HTML
/// (multipart/alternative, base64 UTF-8), a Message-ID that names the conversation (so a reply threads
/// back), `In-Reply-To`/`References` to what it answers, and `X-Parley-Loop` so that Parley never takes
/// its own mail back in.
public struct OutboundMail: Sendable {
    public var fromName: String?
    public var fromAddress: String
    public var to: [String]
    /// People copied on the conversation's mail (its CC list).
    public var cc: [String] = []
    public var subject: String
    public var text: String
    public var conversation: Int
    public var entry: Int
    /// Message-IDs this answers, oldest first (without brackets).
    public var references: [String]
    public var date: Date
    /// Marks automatic mail (`Auto-Submitted: auto-generated`, RFC 3834).
    public var isAutomatic = false
    /// Tells apart mails about the same message (the resolution question after the reply that proposed it).
    public var idSuffix: String?

    public init(fromName: String?, fromAddress: String, to: [String], subject: String, text: String, conversation: Int, entry: Int,
                references: [String], date: Date) {
        self.fromName = fromName
        self.fromAddress = fromAddress
        self.to = to
        self.subject = subject
        self.text = text
        self.conversation = conversation
        self.entry = entry
        self.references = references
        self.date = date
    }

    /// `parley.conv-N.M@domain`: the conversation, then the message, at the mailbox's domain.
    public var messageID: String {
        "parley.conv-\(conversation).\(entry)" + (idSuffix.map { "." + $0 } ?? "") + "@" + (fromAddress.split(separator: "@").last.map(String.init) ?? "parley.invalid")
    }

    /// The subject with the conversation's tag, once: `Re: Export fails [CONV-42]`.
    public static func subject(_ title: String, conversation: Int) -> String {
        let tag = "[CONV-\(conversation)]"
        let base = title.isEmpty ? "Your request" : title
        return (base.lowercased().hasPrefix("re:") ? base : "Re: " + base) + (base.contains(tag) ? "" : " " + tag)
    }

    /// The message as sent (CRLF lines, 7-bit headers).
    public func rendered() -> [UInt8] {
        let boundary = "parley-\(conversation)-\(entry)-\(Int(date.timeIntervalSince1970))"
        var headers: [String] = []
        let domain = fromAddress.split(separator: "@").last.map(String.init) ?? "parley.invalid"
        headers.append("From: " + (fromName.map { Self.encodedPhrase($0) + " " } ?? "") + "<\(fromAddress)>")
        headers.append("To: " + to.map { "<\($0)>" }.joined(separator: ", "))
        if !cc.isEmpty { headers.append("Cc: " + cc.map { "<\($0)>" }.joined(separator: ", ")) }
        headers.append("Reply-To: <\(fromAddress)>")
        headers.append("Subject: " + Self.encodedText(subject))
        headers.append("Date: " + Self.rfc5322(date))
        headers.append("Message-ID: <\(messageID)>")
        if let last = references.last { headers.append("In-Reply-To: <\(last)>") }
        if !references.isEmpty { headers.append("References: " + references.suffix(10).map { "<\($0)>" }.joined(separator: " ")) }
        headers.append("X-Parley-Loop: \(domain)")
        headers.append("X-Auto-Response-Suppress: All")
        if isAutomatic { headers.append("Auto-Submitted: auto-generated") }
        headers.append("MIME-Version: 1.0")
        headers.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
        let html = "<html><body><div>" + Self.escaped(text).replacingOccurrences(of: "\n", with: "<br>\n") + "</div></body></html>"
        var body = headers.joined(separator: "\r\n") + "\r\n\r\n"
        for (type, content) in [("text/plain", text), ("text/html", html)] {
            body += "--\(boundary)\r\nContent-Type: \(type); charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            body += Self.base64Lines(Array(content.utf8)) + "\r\n"
        }
        body += "--\(boundary)--\r\n"
        return Array(body.utf8)
    }

    /// The resolution check's question after this reply, which proposed a resolution: automatic
    /// (`Auto-Submitted: auto-generated`), from the mailbox itself, answering this reply. A reply starting
    /// with yes or no answers it.
    public func resolutionQuestion(from mailboxName: String?) -> OutboundMail {
        var question = self
        question.fromName = mailboxName
        question.isAutomatic = true
        question.idSuffix = "check"
        question.references = references + [messageID]
        question.text = "Did this solve your problem? Reply YES if it did, or NO and tell us what is still wrong."
        return question
    }

    static func base64Lines(_ bytes: [UInt8]) -> String {
        let encoded = Data(bytes).base64EncodedString()
        var lines: [Substring] = []
        var rest = Substring(encoded)
        while !rest.isEmpty {
            lines.append(rest.prefix(76))
            rest = rest.dropFirst(76)
        }
        return lines.joined(separator: "\r\n")
    }

    /// Header text as it is when ASCII, else one RFC 2047 encoded word per 45 bytes of UTF-8.
    static func encodedText(_ text: String) -> String {
        let clean = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if clean.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 }) { return clean }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in clean {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=") }
        return words.joined(separator: "\r\n ")
    }

    /// A display name: quoted when ASCII, encoded otherwise.
    static func encodedPhrase(_ name: String) -> String {
        let ascii = name.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 0x20 }
        if ascii { return "\"" + name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
        return encodedText(name)
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func rfc5322(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
