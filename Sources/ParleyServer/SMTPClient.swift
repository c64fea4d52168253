import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A mailbox's outbound relay, from its `smtp_relay` URL: `smtp://USER:PASS@HOST:PORT` (STARTTLS when the
/// relay offers it) or `smtps://…` (TLS from the start). The password is used, never logged.
struct SMTPRelay: Sendable {
    var host: String
    var port: Int
    var user: String?
    var password: String?
    var implicitTLS: Bool

    init?(_ url: String) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "smtp" || scheme == "smtps", let host = components.host, !host.isEmpty else { return nil }
        self.host = host
        implicitTLS = scheme == "smtps"
        port = components.port ?? (implicitTLS ? 465 : 587)
        user = components.percentEncodedUser?.removingPercentEncoding
        password = components.percentEncodedPassword?.removingPercentEncoding
    }
}

/// Why a message was not sent: `temporary` (a 4xx, a connection or TLS failure: try again later) or
/// `permanent` (a 5xx: the relay will never take it).
enum SMTPSendError: Error, Equatable {
    case temporary(String)
    case permanent(String)
}

/// Sends one message through a relay (RFC 5321 client: EHLO, STARTTLS when offered, AUTH PLAIN, MAIL, RCPT,
/// DATA), over SwiftNIO. Returns the recipients the relay refused for good (the others were accepted).
enum SMTPClient {
    static let timeout = TimeAmount.seconds(30)

    static func send(_ message: [UInt8], from: String, to recipients: [String], via relay: SMTPRelay,
                     hostname: String) async throws(SMTPSendError) -> [String] {
        do {
            return try await attempt(message, from: from, to: recipients, via: relay, hostname: hostname)
        } catch let error as SMTPSendError {
            throw error
        } catch {
            throw .temporary("\(relay.host):\(relay.port): \(error)")
        }
    }

    private static func tlsHandler(_ relay: SMTPRelay) throws -> NIOSSLClientHandler {
        let context = try NIOSSLContext(configuration: .makeClientConfiguration())
        return try NIOSSLClientHandler(context: context, serverHostname: relay.host)
    }

    private static func attempt(_ message: [UInt8], from: String, to recipients: [String], via relay: SMTPRelay,
                                hostname: String) async throws -> [String] {
        let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if relay.implicitTLS { try channel.pipeline.syncOperations.addHandler(try tlsHandler(relay)) }
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: timeout))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(MailLineDecoder()))
                    try channel.pipeline.syncOperations.addHandler(IdleCloser())
                }
            }
            .connect(host: relay.host, port: relay.port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await connection.executeThenClose { inbound, outbound in
            var lines = inbound.makeAsyncIterator()
            func reply() async throws -> (code: Int, text: String) {
                var text = ""
                while let line = try await lines.next() {
                    let current = String(buffer: line).trimmingCharacters(in: ["\r"])
                    text += current + "\n"
                    let marker = current.dropFirst(3).first
                    if marker != "-" { return (Int(current.prefix(3)) ?? 0, text.trimmingCharacters(in: .whitespacesAndNewlines)) }
                }
                throw SMTPSendError.temporary("the relay closed the connection")
            }
            func command(_ text: String) async throws -> (code: Int, text: String) {
                try await outbound.write(ByteBuffer(string: text + "\r\n"))
                return try await reply()
            }
            func expect(_ answer: (code: Int, text: String), _ accepted: ClosedRange<Int>, _ step: String) throws {
                guard !accepted.contains(answer.code) else { return }
                // The reply, never the command: AUTH's carries the password.
                let why = "\(step): \(answer.text)"
                throw answer.code >= 500 ? SMTPSendError.permanent(why) : SMTPSendError.temporary(why)
            }
            try expect(try await reply(), 220...220, "greeting")
            var hello = try await command("EHLO \(hostname)")
            try expect(hello, 250...250, "EHLO")
            if !relay.implicitTLS, hello.text.uppercased().contains("STARTTLS") {
                try expect(try await command("STARTTLS"), 220...220, "STARTTLS")
                let channel = connection.channel
                try await channel.eventLoop.submit {
                    try channel.pipeline.syncOperations.addHandler(try tlsHandler(relay), position: .first)
                }.get()
                hello = try await command("EHLO \(hostname)")
                try expect(hello, 250...250, "EHLO after STARTTLS")
            }
            if let user = relay.user {
                let secret = Data(([0] + Array(user.utf8) + [0] + Array((relay.password ?? "").utf8))).base64EncodedString()
                let answer = try await command("AUTH PLAIN \(secret)")
                // Refused credentials are the relay's configuration, not the message's fault: retried.
                if answer.code != 235 { throw SMTPSendError.temporary("AUTH: \(answer.text)") }
            }
            try expect(try await command("MAIL FROM:<\(from)>"), 250...250, "MAIL FROM")
            var refused: [String] = []
            for recipient in recipients {
                let answer = try await command("RCPT TO:<\(recipient)>")
                if answer.code >= 500 { refused.append(recipient); continue }
                try expect(answer, 250...251, "RCPT TO")
            }
            guard refused.count < recipients.count else { throw SMTPSendError.permanent("every recipient refused: \(refused.joined(separator: ", "))") }
            try expect(try await command("DATA"), 354...354, "DATA")
            var data = ByteBuffer()
            data.reserveCapacity(message.count + 64)
            // Dot-stuffing (RFC 5321 §4.5.2).
            var lineStart = true
            for byte in message {
                if lineStart && byte == UInt8(ascii: ".") { data.writeInteger(UInt8(ascii: ".")) }
                data.writeInteger(byte)
                lineStart = byte == 0x0A
            }
            if !lineStart { data.writeString("\r\n") }
            data.writeString(".\r\n")
            try await outbound.write(data)
            try expect(try await reply(), 250...250, "message")
            _ = try? await command("QUIT")
            return refused
        }
    }
}
