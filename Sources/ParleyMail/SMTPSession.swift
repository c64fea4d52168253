import Foundation

/// One SMTP (RFC 5321) or LMTP (RFC 2033) conversation with a site's mail server, as a state machine in the
/// manner of swift-nio's: it takes a line and returns what to do (reply, check a recipient, deliver, close),
/// and does no I/O. The listener does the I/O and the storing, and replies 250 to a message only once the
/// message is stored.
public struct SMTPSession: Sendable {
    public enum Mode: Sendable { case smtp, lmtp }

    public enum Action: Sendable, Equatable {
        case reply(String)
        /// Ask whether the address is a mailbox's; answer with `recipient(_:accepted:)`.
        case checkRecipient(String)
        /// Store the message for each recipient; answer with `delivered(_:)`.
        case deliver(message: [UInt8], recipients: [String])
        /// Reply, then close the connection.
        case replyAndClose(String)
        case none
    }

    enum State: Sendable, Equatable {
        case greeted, ready, mail, data
    }

    public let mode: Mode
    public let hostname: String
    public let maxMessageBytes: Int
    public static let maxRecipients = 100
    public static let maxCommandLength = 2_048

    var state = State.greeted
    var returnPath: String?
    var recipients: [String] = []
    var message: [UInt8] = []
    var tooLarge = false

    public init(mode: Mode, hostname: String, maxMessageBytes: Int) {
        self.mode = mode
        self.hostname = hostname
        self.maxMessageBytes = maxMessageBytes
    }

    public var greeting: String { "220 \(hostname) Parley \(mode == .lmtp ? "LMTP" : "ESMTP") ready" }

    /// One line from the client, without its line break.
    public mutating func receive(_ line: [UInt8]) -> Action {
        if state == .data { return receiveData(line) }
        guard line.count <= Self.maxCommandLength else { return .reply("500 5.5.2 Line too long") }
        let text = String(decoding: line.last == 0x0D ? line.dropLast() : line[...], as: UTF8.self)
        let verb = text.prefix { $0 != " " }.uppercased()
        let argument = text.dropFirst(verb.count).trimmingCharacters(in: [" "])
        switch verb {
        case "EHLO", "HELO", "LHLO":
            guard (verb == "LHLO") == (mode == .lmtp) else {
                return .reply(mode == .lmtp ? "500 5.5.1 This is LMTP: say LHLO" : "500 5.5.1 This is SMTP: say EHLO or HELO")
            }
            reset()
            state = .ready
            if verb == "HELO" { return .reply("250 \(hostname)") }
            return .reply("250-\(hostname)\r\n250-SIZE \(maxMessageBytes)\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES")
        case "MAIL":
            guard state != .greeted else { return .reply("503 5.5.1 Say \(mode == .lmtp ? "LHLO" : "EHLO") first") }
            guard state == .ready else { return .reply("503 5.5.1 A transaction is in progress: RSET first") }
            guard let path = Self.path(argument, after: "FROM:") else { return .reply("501 5.5.4 Syntax: MAIL FROM:<address>") }
            if let size = Self.sizeParameter(argument), size > maxMessageBytes {
                return .reply("552 5.3.4 Message too large: at most \(maxMessageBytes) bytes")
            }
            returnPath = path
            state = .mail
            return .reply("250 2.1.0 OK")
        case "RCPT":
            guard state == .mail else { return .reply("503 5.5.1 MAIL FROM first") }
            guard let path = Self.path(argument, after: "TO:"), !path.isEmpty else { return .reply("501 5.5.4 Syntax: RCPT TO:<address>") }
            guard recipients.count < Self.maxRecipients else { return .reply("452 4.5.3 Too many recipients") }
            return .checkRecipient(path.lowercased())
        case "DATA":
            guard state == .mail, !recipients.isEmpty else { return .reply("503 5.5.1 No valid recipients") }
            state = .data
            message = []
            tooLarge = false
            return .reply("354 End data with <CR><LF>.<CR><LF>")
        case "RSET":
            reset()
            if state != .greeted { state = .ready }
            return .reply("250 2.0.0 OK")
        case "NOOP": return .reply("250 2.0.0 OK")
        case "VRFY": return .reply("252 2.5.2 Cannot verify; send it and see")
        case "QUIT": return .replyAndClose("221 2.0.0 \(hostname) closing")
        case "": return .reply("500 5.5.2 Empty command")
        default: return .reply("502 5.5.1 Command not implemented")
        }
    }

    /// The answer to `checkRecipient`.
    public mutating func recipient(_ address: String, accepted: Bool) -> Action {
        guard accepted else { return .reply("550 5.1.1 <\(address)>: no such mailbox here") }
        if !recipients.contains(address) { recipients.append(address) }
        return .reply("250 2.1.5 OK")
    }

    /// The answer to `deliver`: per recipient, whether its copy was stored (nil) or why not (a temporary
    /// failure: the sending server keeps the message and tries again). SMTP gets one reply for all, LMTP one
    /// per recipient (RFC 2033 §4.2).
    public mutating func delivered(_ results: [(recipient: String, failure: String?)]) -> Action {
        defer { reset(); state = .ready }
        let line: ((String, String?)) -> String = { result in
            result.1 == nil ? "250 2.0.0 <\(result.0)> stored" : "451 4.3.0 <\(result.0)> not stored, try again later: \(result.1!)"
        }
        switch mode {
        case .lmtp: return .reply(results.map(line).joined(separator: "\r\n"))
        case .smtp:
            if let failed = results.first(where: { $0.failure != nil }) { return .reply(line(failed)) }
            return .reply("250 2.0.0 Stored")
        }
    }

    mutating func receiveData(_ line: [UInt8]) -> Action {
        if line == [UInt8(ascii: ".")] || line == [UInt8(ascii: "."), 0x0D] {
            let recipients = recipients
            if tooLarge {
                reset()
                state = .ready
                let refusal = "552 5.3.4 Message too large: at most \(maxMessageBytes) bytes"
                return .reply(mode == .lmtp ? recipients.map { _ in refusal }.joined(separator: "\r\n") : refusal)
            }
            // Where a final delivery puts it (RFC 5321 §4.4), so the reader sees an empty return path.
            let header = Array("Return-Path: <\(returnPath ?? "")>\r\n".utf8)
            return .deliver(message: header + message, recipients: recipients)
        }
        guard !tooLarge else { return .none }
        var content = line[...]
        if content.last == 0x0D { content = content.dropLast() }
        // Dot-stuffing (RFC 5321 §4.5.2).
        if content.first == UInt8(ascii: ".") { content = content.dropFirst() }
        if message.count + content.count + 2 > maxMessageBytes {
            tooLarge = true
            message = []
            return .none
        }
        message += content
        message += [0x0D, 0x0A]
        return .none
    }

    mutating func reset() {
        returnPath = nil
        recipients = []
        message = []
        tooLarge = false
    }

    /// `FROM:<a@b> SIZE=10` → `a@b`; `<>` → empty.
    static func path(_ argument: String, after keyword: String) -> String? {
        guard argument.uppercased().hasPrefix(keyword) else { return nil }
        let rest = argument.dropFirst(keyword.count).trimmingCharacters(in: [" "])
        guard rest.hasPrefix("<"), let close = rest.firstIndex(of: ">") else { return nil }
        let address = rest[rest.index(after: rest.startIndex)..<close]
        // A source route (`<@relay:user@host>`) keeps only the mailbox.
        return String(address.split(separator: ":").last ?? "").trimmingCharacters(in: [" "])
    }

    static func sizeParameter(_ argument: String) -> Int? {
        argument.split(separator: " ").first { $0.uppercased().hasPrefix("SIZE=") }.flatMap { Int($0.dropFirst(5)) }
    }
}
