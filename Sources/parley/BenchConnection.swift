import NIOCore
import NIOHTTP1
import NIOPosix

/// One keep-alive HTTP/1.1 connection of the load generator, one request at a time, on NIO's event loops.
/// The load generator shares the machine's two cores with the server it measures, so every microsecond it
/// spends is one the server does not get: this is NIO's HTTP/1 codec and a promise per request, without a
/// general client's connection pool, redirects, header validation or streamed bodies.
final class BenchConnection: Sendable {
    struct Response: Sendable {
        var status: Int
        var body: ByteBuffer
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        /// The request never left: the connection was already closed (the server closes idle ones).
        var notSent = false
    }

    private let channel: any Channel
    private let host: String

    private init(channel: any Channel, host: String) {
        self.channel = channel
        self.host = host
    }

    /// Connects to `host:port` (plain HTTP).
    static func connect(host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> BenchConnection {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ExchangeHandler())
                }
            }
            .connect(host: host, port: port).get()
        return BenchConnection(channel: channel, host: "\(host):\(port)")
    }

    /// POSTs `body` (JSON) to `path` with a bearer `token` and waits for the whole answer.
    func post(_ path: String, body: String, token: String) async throws -> Response {
        var headers = HTTPHeaders()
        headers.reserveCapacity(4)
        headers.add(name: "Host", value: host)
        headers.add(name: "Authorization", value: "Bearer \(token)")
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        return try await send(HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers), body: ByteBuffer(string: body))
    }

    /// GETs `path` without credentials and waits for the whole answer.
    func get(_ path: String) async throws -> Response {
        try await send(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: ["Host": host]), body: ByteBuffer())
    }

    private func send(_ head: HTTPRequestHead, body: ByteBuffer) async throws -> Response {
        guard channel.isActive else { throw Failure(description: "the connection is closed", notSent: true) }
        let exchange = Exchange(head: head, body: body, answer: channel.eventLoop.makePromise())
        // A write the channel refuses (it closed meanwhile) never reaches the handler: fail the answer, or
        // the caller would wait forever.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { exchange.answer.fail(Failure(description: "the request could not be written: \($0)")) }
        channel.writeAndFlush(exchange, promise: written)
        return try await exchange.answer.futureResult.get()
    }

    func close() async {
        try? await channel.close()
    }

    /// A request and the promise its answer completes.
    struct Exchange: Sendable {
        var head: HTTPRequestHead
        var body: ByteBuffer
        var answer: EventLoopPromise<Response>
    }

    /// Writes each exchange's request and completes its promise with the response; fails it if the
    /// connection fails or closes first.
    private final class ExchangeHandler: ChannelDuplexHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundIn = Exchange
        typealias OutboundOut = HTTPClientRequestPart

        private var waiting: EventLoopPromise<Response>?
        private var status = 0
        private var body = ByteBuffer()

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            let exchange = unwrapOutboundIn(data)
            guard waiting == nil else {
                exchange.answer.fail(Failure(description: "a request is already waiting on this connection"))
                return
            }
            waiting = exchange.answer
            context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
            if exchange.body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(exchange.body))), promise: nil) }
            context.write(wrapOutboundOut(.end(nil)), promise: promise)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                status = Int(head.status.code)
                body.clear()
            case .body(var part):
                body.writeBuffer(&part)
            case .end:
                let answer = waiting
                waiting = nil
                answer?.succeed(Response(status: status, body: body))
                body = ByteBuffer()
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            fail(Failure(description: "connection failed: \(error)"))
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            fail(Failure(description: "the server closed the connection"))
            context.fireChannelInactive()
        }

        private func fail(_ error: any Error) {
            let answer = waiting
            waiting = nil
            answer?.fail(error)
        }
    }
}
