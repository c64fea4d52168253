/// How conversations age (DESIGN §3, §5): when they stall, when resolved ones archive themselves, and what
/// counts as a fast or slow exchange. Every timer of the server comes from these numbers.
public struct LifecyclePolicy: Sendable, Equatable {
    /// `Stalled`: no activity for this long while waiting on user or in hold.
    public var stalledAfter: Double
    /// A resolved conversation archives itself after this long, unless the customer writes.
    public var archiveAfter: Double
    /// `Slow Moving`: the customer has been waiting for an agent (new or needs_response) this long.
    public var slowAfter: Double
    /// `Fast Moving`: at least `fastMessages` public messages within `fastWindow`.
    public var fastWindow: Double
    public var fastMessages: Int

    public init(stalledAfter: Double = 72 * 3600, archiveAfter: Double = 7 * 86_400, slowAfter: Double = 24 * 3600,
                fastWindow: Double = 3600, fastMessages: Int = 4) {
        self.stalledAfter = stalledAfter
        self.archiveAfter = archiveAfter
        self.slowAfter = slowAfter
        self.fastWindow = fastWindow
        self.fastMessages = fastMessages
    }
}
