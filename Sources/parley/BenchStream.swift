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

    /// Opens `/events.stream` on `host:port` with a bearer `token`.
    static func open(host: String, port: Int, token: String) async throws -> BenchStream {
        let progress = Counts()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(EventCounter(progress: progress))
                }
            }
            .connect(host: host, port: port).get()
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "Authorization", value: "Bearer \(token)")
        headers.add(name: "Accept", value: "text/event-stream")
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/events.stream", headers: headers)), promise: nil)
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        return BenchStream(channel: channel, progress: progress)
    }

    func close() async {
        try? await channel.close()
    }

    /// Counts the `id: N` lines of the event stream as they arrive, looking only at line starts (memchr
    /// for newlines), so that the load generator spends little of the machine the server shares. A line
    /// split between two reads is carried over.
    private final class EventCounter: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        let progress: Counts
        /// The start of a line that ended a read, up to the bytes an `id:` line needs.
        private var carried: [UInt8] = []

        init(progress: Counts) {
            self.progress = progress
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .body(let buffer) = unwrapInboundIn(data) else { return }
            var found = 0, last = 0
            buffer.withUnsafeReadableBytes { bytes in
                guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
                var start = 0
                let end = bytes.count
                // The line carried from the previous read, completed by this one.
                if !carried.isEmpty {
                    let newline = memchr(base, Int32(UInt8(ascii: "\n")), end).map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base } ?? end
                    carried += UnsafeBufferPointer(start: base, count: min(newline, 24))
                    guard newline < end else { return }
                    if let id = Self.id(carried[...]) { found += 1; last = id }
                    carried.removeAll(keepingCapacity: true)
                    start = newline + 1
                }
                while start < end {
                    let newline = memchr(base + start, Int32(UInt8(ascii: "\n")), end - start)
                        .map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) - base } ?? end
                    if newline == end {
                        carried = Array(UnsafeBufferPointer(start: base + start, count: min(end - start, 24)))
                        break
                    }
                    if newline - start > 4, base[start] == UInt8(ascii: "i"), base[start + 1] == UInt8(ascii: "d"),
                       let id = Self.id(ArraySlice(UnsafeBufferPointer(start: base + start, count: min(newline - start, 24)))) {
                        found += 1
                        last = id
                    }
                    start = newline + 1
                }
            }
            if found > 0 {
                progress.value.withLock { $0.events += found; $0.lastID = max($0.lastID, last) }
            }
        }

        /// N of a line `id: N`.
        private static func id(_ line: ArraySlice<UInt8>) -> Int? {
            guard line.starts(with: "id: ".utf8) else { return nil }
            return Int(String(decoding: line.dropFirst(4), as: UTF8.self))
        }
    }
}
