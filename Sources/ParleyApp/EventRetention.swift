import ParleyCore
import ParleyStore

/// How long published events (the outbox) are kept: long enough for a disconnected stream to resume and a
/// failing webhook to be fixed, not forever (a workflow publishes about 8 KB).
public struct EventRetention: Sendable, Equatable {
    /// Events published longer ago than this are pruned (`--event-retention-days`, default 7).
    public var period: Double
    /// Events removed per transaction, so that pruning never holds the writer long.
    public var batch: Int

    public init(days: Double = 7, batch: Int = 500) {
        self.period = days * 86_400
        self.batch = batch
    }
}

extension ParleyApp {
    /// Prunes the events published before the retention period, never one that a webhook has yet to
    /// deliver (every webhook's cursor bounds it; a failing webhook holds events back until it delivers or is
    /// deleted). Runs in batches; returns how many events went. Follows the server's clock, so the test clock
    /// moves it too.
    @discardableResult
    public func pruneEvents(_ retention: EventRetention) async throws -> Int {
        let cutoff = clock.now() - retention.period
        var bound = Int.max
        var query = DirectoryQuery()
        query.page.limit = 100
        while true {
            let page = try await store.list(Webhook.self, query: query)
            for webhook in page.items { bound = min(bound, webhook.cursor) }
            guard let next = page.nextCursor else { break }
            query.page.cursor = next
        }
        var pruned = 0
        while true {
            let removed = try await store.pruneOutbox(before: cutoff, throughSequence: bound, limit: retention.batch)
            pruned += removed
            if removed < retention.batch { return pruned }
            await Task.yield()
        }
    }
}
