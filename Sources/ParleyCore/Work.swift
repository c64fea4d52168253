public enum WorkType: String, Sendable, Codable, CaseIterable {
    case ticket, issue, task

    public var displayPrefix: String {
        switch self {
        case .ticket: "TKT"
        case .issue: "ISS"
        case .task: "TASK"
        }
    }
}

/// A work item a conversation can depend on (DevRev's works): a ticket, an issue, or a task such as
/// "someone else's review", owned by whoever must do it.
public struct Work: DirectoryObject {
    public static let kind = ObjectKind.work
    /// Stages in which a work is done: a conversation waiting on it may go on.
    public static let closedStages: Set<String> = ["resolved", "completed", "canceled", "duplicate"]
    public static let openStages: Set<String> = ["open", "queued", "in_development", "in_review", "in_progress", "awaiting_customer_response", "triage", "backlog"]

    public var number: Int
    public var type: WorkType
    public var title: String
    public var body: String?
    public var ownedBy: [Int]
    public var stage: String
    public var createdBy: Actor
    public var createdDate: Date
    public var modifiedBy: Actor
    public var modifiedDate: Date

    public init(number: Int, type: WorkType, title: String, body: String?, ownedBy: [Int], stage: String = "open",
                createdBy: Actor, at: Date) {
        self.number = number
        self.type = type
        self.title = title
        self.body = body
        self.ownedBy = ownedBy
        self.stage = stage
        self.createdBy = createdBy
        self.createdDate = at
        self.modifiedBy = createdBy
        self.modifiedDate = at
    }

    public var isClosed: Bool { Self.closedStages.contains(stage) }

    /// `TKT-5`, `ISS-5`, `TASK-5`.
    public var displayID: String { "\(type.displayPrefix)-\(number)" }
    /// `don:core:dvrv-us-1:devo/parley:ticket/5`.
    public var don: String { id.don.replacing("/work/", with: "/\(type.rawValue)/") }

    public var indexKeys: [IndexKey] {
        [IndexKey("type", type.rawValue), IndexKey("stage", stage), IndexKey("state", isClosed ? "closed" : "open")]
            + ownedBy.map { IndexKey("owned_by", String($0)) }
    }
}

extension Conversation {
    /// The conversation's dependencies changed or one of them closed: recompute what follows from them.
    /// In hold with every dependency done → needs_response (the event names the work that closed it);
    /// `Blocked` is on exactly while in hold with at least one open dependency.
    public func reconcilingDependencies(open: Int, total: Int, closedBy: String?, at now: Date) throws(DomainError) -> ConversationDecision {
        var decision = ConversationDecision(conversation: self, events: [])
        if total > 0, open == 0, case .moveTo(let next) = StageMachine.outcome(of: .dependenciesDone, in: stage) {
            var moved = self
            let event = moved.move(to: next, by: .system, at: now,
                                   because: closedBy.map { "all dependencies done: \($0) closed" } ?? "all dependencies done")
            moved.touch(by: .system, at: now)
            decision = ConversationDecision(conversation: moved, events: [event])
        }
        decision.setSystemTag(.blocked, on: decision.conversation.stage == .hold && open > 0,
                              reason: open > 0 ? "\(open) open dependencies" : "no open dependency", at: now)
        return decision
    }
}

extension ConversationDecision {
    /// Puts a system tag on or off, recording the change and why.
    public mutating func setSystemTag(_ tag: SystemTag, on: Bool, value: String? = nil, reason: String, at now: Date) {
        let has = conversation.tags.contains { $0.tag == tag.number }
        guard has != on else { return }
        let before = conversation.tags.map(\.recorded)
        if on { conversation.tags.append(TagValue(tag: tag.number, value: value)) } else { conversation.tags.removeAll { $0.tag == tag.number } }
        events.append(ChangeEvent(object: conversation.id, actor: .system, at: now, kind: .fieldChanged,
                                  field: "tags (\(tag.name) \(on ? "on" : "off"): \(reason))",
                                  before: .list(before), after: .list(conversation.tags.map(\.recorded))))
        conversation.version += 1
    }
}
