import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Synchronization

/// The connections each client address holds open, against `--max-connections-per-address`: one client
/// cannot take every connection the server serves (1,100 idle connections from one address used to hold
/// all 1,024 and leave `/health` waiting for a minute). Trusted proxies are not counted, since every client
/// behind one shares its address. IPv6 clients count per /64.
final class ConnectionCounts: Sendable {
    let limit: Int
    let addresses: ClientAddresses
    private let open = Mutex<[String: Int]>([:])

    init(limit: Int, addresses: ClientAddresses) {
        self.limit = limit
        self.addresses = addresses
    }

    enum Admission {
        /// Counted under this key until it closes.
        case counted(String)
        /// Not counted: a trusted proxy, or a peer without an IP address.
        case uncounted
        /// Its address already holds `limit` connections.
        case refused
    }

    /// Admits (and counts) a new connection from `peer`, or refuses it.
    func admit(from peer: SocketAddress?) -> Admission {
        guard let address = IPAddressBytes(peer), !addresses.isTrustedProxy(address) else { return .uncounted }
        let key = address.limitKey
        return open.withLock { open in
            let count = open[key, default: 0]
            guard count < limit else { return .refused }
            open[key] = count + 1
            return .counted(key)
        }
    }

    func closed(_ key: String) {
        open.withLock { open in
            let count = open[key, default: 1] - 1
            open[key] = count > 0 ? count : nil
        }
    }
}

/// First in each connection's HTTP pipeline: refuses a connection over its address's limit, and closes one
/// that has not sent a complete request head within `headTimeout` of connecting (an idle or trickling
/// connection otherwise holds its place until the idle timeout, a minute). Later requests on a kept-alive
/// connection are bounded by the idle timeout as before.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let counts: ConnectionCounts
    private let headTimeout: TimeAmount
    private var started = false
    private var key: String?
    private var headTimer: Scheduled<Void>?

    init(counts: ConnectionCounts, headTimeout: TimeAmount) {
        self.counts = counts
        self.headTimeout = headTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Hummingbird adds this after its HTTP/1 codec; the HTTP/1.0 check must see the head before it.
        if let codec = try? context.pipeline.syncOperations.handler(type: HTTP1ToHTTPServerCodec.self) {
            try? context.pipeline.syncOperations.addHandler(HTTP10ConnectionClose(), position: .before(codec))
        }
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        switch counts.admit(from: context.channel.remoteAddress) {
        case .refused:
            context.close(promise: nil)
            return
        case .counted(let counted): key = counted
        case .uncounted: break
        }
        let channel = context.channel
        headTimer = context.eventLoop.scheduleTask(in: headTimeout) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data), let timer = headTimer {
            timer.cancel()
            headTimer = nil
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
    }

    private func finish() {
        headTimer?.cancel()
        headTimer = nil
        if let key {
            counts.closed(key)
            self.key = nil
        }
    }
}

/// HTTP/1.0 closes a connection after each response unless the request asks to keep it
/// (`Connection: keep-alive`); the version is gone once Hummingbird's codec has turned the head into an
/// `HTTPRequest`, so this handler, placed before that codec, marks such a request `Connection: close`,
/// which Hummingbird honours.
final class HTTP10ConnectionClose: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data), head.version.major == 1, head.version.minor == 0,
              !head.isKeepAlive else {
            context.fireChannelRead(data)
            return
        }
        head.headers.replaceOrAdd(name: "connection", value: "close")
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}
