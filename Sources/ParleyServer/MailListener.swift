import Foundation
import Logging
import NIOCore
import NIOPosix
import ParleyApp
import ParleyMail
import ServiceLifecycle

/// `parley serve --smtp-listen HOST:PORT` / `--lmtp-listen HOST:PORT`: a site's mail server delivers here.
/// Each connection runs an `SMTPSession`; a message is acknowledged (250) only once `ParleyApp.receiveMail`
/// stored it for every recipient, else 451 so that the sending server keeps it and tries again. Meant for
/// loopback or a private network behind the site's MTA (no TLS, no AUTH: the MTA does those).
struct MailListener: Service {
    let app: ParleyApp
    let host: String
    let port: Int
    let mode: SMTPSession.Mode
    let logger: Logger
    /// The largest message accepted (bigger: 552): the attachments' limit times their count, plus the text.
    let maxMessageBytes: Int
    /// Connections idle this long are closed.
    static let idleTimeout = TimeAmount.seconds(300)

    /// `127.0.0.1:2525`, `[::1]:2525`, `localhost:24`.
    static func address(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    func run() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: Self.idleTimeout))
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(MailLineDecoder()))
                    try channel.pipeline.syncOperations.addHandler(IdleCloser())
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        logger.info("receiving mail (\(mode == .lmtp ? "LMTP" : "SMTP")) on \(host):\(server.channel.localAddress?.port ?? port)")
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let hostname = ProcessInfo.processInfo.hostName
        do {
            try await connection.executeThenClose { lines, replies in
                var session = SMTPSession(mode: mode, hostname: hostname, maxMessageBytes: maxMessageBytes)
                try await replies.write(ByteBuffer(string: session.greeting + "\r\n"))
                for try await line in lines {
                    var action = session.receive(Array(line.readableBytesView))
                    while true {
                        switch action {
                        case .none:
                            break
                        case .reply(let text):
                            try await replies.write(ByteBuffer(string: text + "\r\n"))
                        case .replyAndClose(let text):
                            try await replies.write(ByteBuffer(string: text + "\r\n"))
                            return
                        case .checkRecipient(let address):
                            let known = (try? await app.mailbox(address: address)) != nil
                            action = session.recipient(address, accepted: known)
                            continue
                        case .deliver(let message, let recipients):
                            var results: [(recipient: String, failure: String?)] = []
                            for recipient in recipients {
                                do {
                                    let outcome = try await app.receiveMail(message, to: recipient)
                                    logger.info("mail received", metadata: ["mailbox": "\(recipient)", "outcome": "\(outcome)"])
                                    results.append((recipient, nil))
                                } catch {
                                    logger.warning("mail not stored", metadata: ["mailbox": "\(recipient)", "error": "\(error)"])
                                    results.append((recipient, "the database could not store it"))
                                }
                            }
                            action = session.delivered(results)
                            continue
                        }
                        break
                    }
                }
            }
        } catch {
            logger.debug("mail connection ended", metadata: ["error": "\(error)"])
        }
    }
}

/// Lines ending in LF (CRLF's CR is left for the session), at most 64 KiB each: a client that sends more
/// without a line break is disconnected rather than buffered without end.
struct MailLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    static let maxLine = 64 * 1024

    struct LineTooLong: Error {}

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: 0x0A) else {
            if buffer.readableBytes > Self.maxLine { throw LineTooLong() }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex
        guard let line = buffer.readSlice(length: length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 1)
        context.fireChannelRead(Self.wrapInboundOut(line))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Closes a connection the idle handler reports idle.
final class IdleCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
