#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// One live stream (`GET /events.stream`) held open by the load generator, as an inbox tab holds one: it
/// reads what the server sends and remembers how many events came and the last event id.
final class BenchStream: Sendable {
    struct Progress: Sendable {
        var events = 0
        var lastID = 0
    }

    /// What the stream's handler counted, read by the load generator.
    final class Counts: Sendable {
        let value = Mutex(Progress())
    }

    private let channel: any Channel
    private let progress: Counts

    private init(channel: any Channel, progress: Counts) {
        self.channel = channel
        self.progress = progress
    }

    var current: Progress { progress.value.withLock { $0 } }

    /// Opens `/events.stream` on `host:port` with a bearer `token`; returns once the server has answered, so
    /// that the stream starts before whatever the caller does next.
    static func open(host: String, port: Int, token: String) async throws -> BenchStream {
        let progress = Counts()
        // The promise lives on the channel's own event loop, where the handler completes it.
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let answered = loop.makePromise(of: Void.self)
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(EventCounter(progress: progress, answered: answered))
                }
            }
            .connect(host: host, port: port).get()
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "Authorization", value: "Bearer \(token)")
        headers.add(name: "Accept", value: "text/event-stream")
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/events.stream", headers: headers)), promise: nil)
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        try await answered.futureResult.get()
        return BenchStream(channel: channel, progress: progress)
    }

    func close() async {
        try? await channel.close()
    }

    /// Counts the `id: N` lines of the event stream as they arrive, looking only at line starts, so that the
    /// load generator spends little of the machine the server shares. A line split between two reads is
    /// carried over (its first bytes: all an `id:` line needs).
    private final class EventCounter: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        let progress: Counts
        /// Completed by the stream's first bytes (the server's `: connected` line).
        let answered: EventLoopPromise<Void>
        private var carried: [UInt8] = []
        private static let kept = 24

        init(progress: Counts, answered: EventLoopPromise<Void>) {
            self.progress = progress
            self.answered = answered
        }

        func channelInactive(context: ChannelHandlerContext) {
            answered.fail(ChannelError.ioOnClosedChannel)
            context.fireChannelInactive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .body(let buffer) = unwrapInboundIn(data) else { return }
            answered.succeed()
            var found = 0, last = 0
            buffer.withUnsafeReadableBytes { raw in
                let bytes = raw.bindMemory(to: UInt8.self)
                var start = 0
                while start < bytes.count {
                    // memchr: the streams carry megabytes a second, and a byte loop cost the load generator half again.
                    let end = memchr(bytes.baseAddress! + start, Int32(UInt8(ascii: "\n")), bytes.count - start)
                        .map { $0.assumingMemoryBound(to: UInt8.self) - UnsafeMutablePointer(mutating: bytes.baseAddress!) } ?? bytes.count
                    carried += bytes[start..<min(end, start + max(Self.kept - carried.count, 0))]
                    guard end < bytes.count else { break }
                    if let id = Self.id(carried) {
                        found += 1
                        last = id
                    }
                    carried.removeAll(keepingCapacity: true)
                    start = end + 1
                }
            }
            if found > 0 {
                progress.value.withLock { $0.events += found; $0.lastID = max($0.lastID, last) }
            }
        }

        /// N of a line `id: N`.
        private static func id(_ line: [UInt8]) -> Int? {
            guard line.starts(with: "id: ".utf8) else { return nil }
            return Int(String(decoding: line.dropFirst(4), as: UTF8.self))
        }
    }
}
