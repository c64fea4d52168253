import Logging
import ParleyCore
import ParleyStore
import Synchronization

/// Parley's application layer: every use case, for every caller (the HTTP API, the web pages, the CLI,
/// later email). A use case loads what the domain needs, lets the pure domain decide, hands the store one
/// plan (objects, events, outbox messages, the next deadline) to persist in one transaction, then tells
/// whoever waits on its effects (the timers). It builds no JSON and knows no HTTP; its errors are
/// `DomainError`s, which each adapter maps in one place.
public struct ParleyApp: Sendable {
    public let store: any ParleyStore
    public let clock: any ParleyClock
    public let priorityPolicy: PriorityPolicy
    public let lifecyclePolicy: LifecyclePolicy
    /// The routing rules and spam filter in force, compiled once per stored version.
    public let configurations: CompiledConfigurations
    /// Told of every deadline a use case wrote, after it committed.
    public let deadlines: DeadlineSignal
    public let logger: Logger
    /// How large attached files may be, and how many a message may carry.
    public let attachmentLimits: AttachmentLimits

    public init(store: any ParleyStore, clock: any ParleyClock, priorityPolicy: PriorityPolicy = PriorityPolicy(),
                lifecyclePolicy: LifecyclePolicy = LifecyclePolicy(), deadlines: DeadlineSignal = DeadlineSignal(),
                logger: Logger = Logger(label: "parley"), attachmentLimits: AttachmentLimits = AttachmentLimits()) {
        self.attachmentLimits = attachmentLimits
        self.store = store
        self.clock = clock
        self.priorityPolicy = priorityPolicy
        self.lifecyclePolicy = lifecyclePolicy
        self.configurations = CompiledConfigurations(logger: logger)
        self.deadlines = deadlines
        self.logger = logger
    }

    /// Makes the store ready for use: the system tags exist (once; later starts find them).
    public func prepare() async throws {
        let now = clock.now()
        _ = try await store.seed(SystemTag.allCases.map { tag in
            let made = tag.makeTag(at: now)
            return Recorded(made, events: [ChangeEvent(object: made.id, actor: .system, at: now, kind: .created)])
        })
    }

    // MARK: Plans

    /// The plan that stores a decision: the conversation with its timers as they stand at `now`, its next
    /// deadline, and `publishes`. Nil when the decision changes nothing (nothing is written or published).
    func plan(_ decision: ConversationDecision, from current: Conversation?, at now: Date,
              publishes: [OutboxEvent.Kind]) -> ConversationPlan? {
        planAsDecided(decision.withTimers(lifecyclePolicy, at: now), from: current, publishes: publishes)
    }

    /// The plan of a comment's conversation: always stored with the comment, published as updated only if it
    /// changed.
    func appendPlan(_ decision: ConversationDecision, to current: Conversation, at now: Date) -> ConversationPlan {
        // Without a conversation to compare with, there is always a plan.
        var plan = plan(decision, from: nil, at: now, publishes: [.conversationUpdated])!
        if plan.conversation == current { plan.publishes = [] }
        return plan
    }

    /// The plan of a decision as it stands (the timers' own decisions have their timers applied already).
    func planAsDecided(_ decision: ConversationDecision, from current: Conversation?,
                       publishes: [OutboxEvent.Kind] = [.conversationUpdated]) -> ConversationPlan? {
        if let current, decision.conversation == current { return nil }
        return ConversationPlan(conversation: decision.conversation, events: decision.events,
                                deadline: decision.conversation.nextDeadline(lifecyclePolicy), publishes: publishes)
    }

    /// After a conversation write committed: wakes the timers for its deadline.
    func committed(_ conversation: Conversation) {
        if let due = conversation.nextDeadline(lifecyclePolicy) { deadlines.wrote(due) }
    }
}

/// Where the timers hear of deadlines written (they sleep until the earliest). Kept outside the store: a
/// store calls nobody back; the use case that wrote a deadline signals it after its commit.
public final class DeadlineSignal: Sendable {
    /// The listener, boxed: a closure kept directly in a `Mutex` is re-abstracted each time `withLock` hands
    /// it out and writes it back, so every signal wrapped it in two more thunks and made the next one slower
    /// (the workflow benchmark slowed down run after run until it stalled).
    private struct Listener: Sendable {
        let hear: @Sendable (Date) -> Void
    }

    private let listener = Mutex<Listener?>(nil)

    public init() {}

    /// Who hears of deadlines (the timers of this server).
    public func listen(_ body: @escaping @Sendable (Date) -> Void) { listener.withLock { $0 = Listener(hear: body) } }

    func wrote(_ due: Date) {
        let current = listener.withLock { $0 }
        current?.hear(due)
    }
}
