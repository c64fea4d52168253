import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import ParleyMail

/// Why an IMAP session ended early: one line for the log, naming neither password nor token.
struct IMAPFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What the connection hands the session: a framed response, or a clock tick (once a second, so that
/// IDLE is renewed, polling rounds start and silent servers are given up on, all decided by the session).
enum IMAPInbound: Sendable {
    case response([UInt8])
    case tick
}

/// What a session's owner does with what the session asks for.
struct IMAPSessionHandlers: Sendable {
    /// Stores a message; throwing ends the session (the message is taken again next time).
    var deliver: @Sendable (_ uid: UInt32, _ message: [UInt8]) async throws -> Void
    var checkpoint: @Sendable (IMAPCheckpoint) async throws -> Void
    /// `selected`, `passedOver`, `warning`, `idling`: for the log.
    var note: @Sendable (IMAPSession.Action) -> Void
}

/// One IMAP connection running an `IMAPSession` (ParleyMail), over SwiftNIO: TLS from the start for
/// `imaps://`, STARTTLS when a plain server offers it; certificates verified (against the system's roots,
/// plus `caFile` when given). Returns when the session ended by itself (LOGOUT after `stop`, i.e. the task
/// was cancelled); throws `IMAPFailure` or the connection's error otherwise.
enum IMAPConnection {
    static func run(_ configuration: IMAPSession.Configuration, caFile: String?, uptime: @escaping @Sendable () -> Double,
                    handlers: IMAPSessionHandlers) async throws {
        let account = configuration.account
        // A message's literal may be its size plus a little (servers count CRLFs their own way).
        let framing = IMAPFraming(maxLiteral: configuration.maxMessageBytes + 64 * 1024)
        let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if account.implicitTLS {
                        try channel.pipeline.syncOperations.addHandler(try tlsHandler(host: account.host, caFile: caFile))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(IMAPFrameDecoder(framing: framing)))
                    try channel.pipeline.syncOperations.addHandler(IMAPTicker())
                }
            }
            .connect(host: account.host, port: account.port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<IMAPInbound, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        try await connection.executeThenClose { inbound, outbound in
            var session = IMAPSession(configuration, now: uptime())
            for try await item in inbound {
                var actions: [IMAPSession.Action]
                switch item {
                case .response(let bytes):
                    guard let response = IMAPResponse(bytes) else {
                        throw IMAPFailure("an unreadable response: \(String(decoding: bytes.prefix(80), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
                    }
                    actions = session.receive(response, now: uptime())
                case .tick:
                    actions = Task.isCancelled ? session.stop(now: uptime()) : session.tick(now: uptime())
                }
                var index = 0
                while index < actions.count {
                    let action = actions[index]
                    index += 1
                    switch action {
                    case .send(let command):
                        try await outbound.write(ByteBuffer(string: command.line + "\r\n"))
                    case .startTLS:
                        let channel = connection.channel
                        try await channel.eventLoop.submit {
                            try channel.pipeline.syncOperations.addHandler(try tlsHandler(host: account.host, caFile: caFile), position: .first)
                        }.get()
                        actions += session.tlsStarted(now: uptime())
                    case .deliver(let uid, let message):
                        try await handlers.deliver(uid, message)
                        actions += session.delivered(uid: uid, now: uptime())
                    case .checkpoint(let checkpoint):
                        try await handlers.checkpoint(checkpoint)
                    case .fail(let why):
                        throw IMAPFailure(why)
                    case .close:
                        return
                    case .selected, .passedOver, .warning, .idling:
                        handlers.note(action)
                    }
                }
            }
            throw IMAPFailure("the server closed the connection")
        }
    }

    static func tlsHandler(host: String, caFile: String?) throws -> NIOSSLClientHandler {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile { configuration.additionalTrustRoots = [.file(caFile)] }
        let context = try NIOSSLContext(configuration: configuration)
        // An IP address is checked against the certificate's IP names; SNI takes host names only.
        let isAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        return try NIOSSLClientHandler(context: context, serverHostname: isAddress ? nil : host)
    }
}

/// Cuts the byte stream into responses (`IMAPFraming`: a line, with its literals and what follows them),
/// refusing lines and literals over their limits rather than buffering them.
struct IMAPFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let framing: IMAPFraming

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = try framing.responseLength(in: buffer.readableBytesView), let response = buffer.readSlice(length: length) else {
            return .needMoreData
        }
        context.fireChannelRead(Self.wrapInboundOut(response))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Turns responses into `IMAPInbound.response` and adds a tick every second while the channel is open.
final class IMAPTicker: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = IMAPInbound
    private var ticks: RepeatedTask?

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        ticks = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            bound.value.fireChannelRead(NIOAny(IMAPInbound.tick))
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        ticks?.cancel()
        ticks = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        ticks?.cancel()
        ticks = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let response = unwrapInboundIn(data)
        context.fireChannelRead(wrapInboundOut(.response(Array(response.readableBytesView))))
    }
}

@available(*, unavailable)
extension IMAPTicker: Sendable {}
