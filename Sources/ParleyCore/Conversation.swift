import ParleyJSON

/// A tag on a conversation, optionally with a value (`Resolution: fixed`).
public struct TagValue: Hashable, Sendable, Codable {
    public var tag: Int
    public var value: String?

    public init(tag: Int, value: String? = nil) {
        self.tag = tag
        self.value = value
    }

    var recorded: String { value.map { "TAG-\(tag): \($0)" } ?? "TAG-\(tag)" }
}

/// Why a conversation has the owner it has.
public struct RoutingRecord: Hashable, Sendable, Codable {
    public enum Reason: String, Sendable, Codable {
        case explicit
        case orgDefaultOwner = "org_default_owner"
        case fallback
        case rule
        /// Suspended as spam: routed when a reviewer approves it.
        case pendingReview = "pending_review"
    }

    public var reason: Reason
    public var rule: String?
    public var keyword: String?
    /// Why the conversation started at its priority.
    public var priorityReason: String?

    public init(reason: Reason, rule: String? = nil, keyword: String? = nil, priorityReason: String? = nil) {
        self.reason = reason
        self.rule = rule
        self.keyword = keyword
        self.priorityReason = priorityReason
    }

    /// "rule billing (keyword 'invoice')", "org_default_owner", …
    public var summary: String {
        var text = reason.rawValue
        let match = [rule.map { "rule \($0)" }, keyword.map { "keyword '\($0)'" }].compactMap { $0 }.joined(separator: ", ")
        if reason == .rule {
            text += " \(rule ?? "")" + (keyword.map { " (keyword '\($0)')" } ?? "")
        } else if !match.isEmpty {
            text += " (priority from \(match))"
        }
        return text
    }
}

/// The clocks a conversation keeps for its metrics (DESIGN §6).
public struct ConversationMetrics: Hashable, Sendable, Codable {
    /// When the first New → Waiting on user transition happened: the initial response.
    public var firstResponseAt: Date?
    /// Seconds spent in New in intervals that have ended.
    public var completedSecondsInNew: Double = 0
    public var hasBeenInNew = false
    /// How many times a customer reopened a resolved conversation.
    public var reopenCount = 0

    public init() {}
}

/// A support conversation (DESIGN §2).
public struct Conversation: Hashable, Sendable, Codable {
    public var number: Int
    public var title: String
    public var description: String?
    public var sourceChannel: String
    public var stage: Stage
    public var stageEnteredAt: Date
    public var ownedBy: [Int]
    public var group: Int?
    public var members: [Actor]
    public var revOrg: Int?
    public var account: Int?
    public var priority: Priority
    public var tags: [TagValue]
    public var isSpam: Bool
    public var createdBy: Actor
    public var createdDate: Date
    public var modifiedBy: Actor
    public var modifiedDate: Date
    public var metrics: ConversationMetrics
    public var routing: RoutingRecord
    /// The archived conversation this one follows up, if any.
    public var followUpOf: Int?
    /// Since when a customer has been waiting for an agent (set on entering Needs response or New).
    public var waitingSince: Date?
    public var lastCustomerMessageAt: Date?
    public var lastAgentReplyAt: Date?
    /// Bumped on every change; a precondition for concurrent writers.
    public var version: Int
    /// The spam filter's judgement at creation, if it found anything.
    public var spam: SpamAssessment?
    /// The latest resolution check, if an agent proposed one.
    public var resolutionCheck: ResolutionCheck?
    /// The client's own id, unique among conversations (DevRev's `external_ref`).
    public var externalRef: String?
    /// The last comment or stage change (Stalled counts from it).
    public var lastActivityAt: Date?
    /// When the latest public messages were written (Fast Moving counts them); the newest few only.
    /// Added after the first documents were stored: read as empty where absent.
    @EmptyIfAbsent public var recentMessages: [Date] = []
    /// The latest public message, for list rows (absent in documents stored before it existed).
    public var lastMessage: MessagePreview?
    /// For conversations by mail: the addresses copied on the customers' mails (To and Cc besides the
    /// support address), who get the replies too. Kept per conversation, so nobody copied on one thread
    /// ever receives another's mail.
    @EmptyIfAbsent public var emailCC: [String] = []

    public var id: ObjectID { ObjectID(.conversation, number) }

    /// Seconds from creation to the initial response, once it happened.
    public var timeToInitialResponseSeconds: Double? {
        metrics.firstResponseAt.map { Self.seconds($0.timeIntervalSince(createdDate)) }
    }

    /// Durations to the millisecond, the precision times are kept at (no floating-point noise on the wire).
    static func seconds(_ interval: Double) -> Double { (interval * 1000).rounded() / 1000 }

    /// Total seconds spent in New, once the conversation has left New; nil while it is in New or never was.
    public var timeInNewSeconds: Double? {
        guard metrics.hasBeenInNew, stage != .new else { return nil }
        return Self.seconds(metrics.completedSecondsInNew)
    }

    public func isMember(_ actor: Actor) -> Bool { members.contains(actor) }
}

/// The new state of a conversation and the events that record how it got there.
public struct ConversationDecision: Sendable, Equatable {
    public var conversation: Conversation
    public var events: [ChangeEvent]

    public init(conversation: Conversation, events: [ChangeEvent]) {
        self.conversation = conversation
        self.events = events
    }
}

/// What a new comment does to its conversation.
public enum CommentOutcome: Sendable, Equatable {
    /// The comment joins this conversation, which changed as decided.
    case append(ConversationDecision)
    /// The conversation is archived: the comment starts a follow-up conversation.
    case startFollowUp
}

extension Conversation {
    /// Moves to `stage`, keeping the metrics' clocks; records the change.
    mutating func move(to next: Stage, by actor: Actor, at now: Date, because reason: String?) -> ChangeEvent {
        let previous = stage
        if previous == .new {
            metrics.completedSecondsInNew += max(0, now.timeIntervalSince(stageEnteredAt))
        }
        if next == .new { metrics.hasBeenInNew = true }
        if previous == .new, next == .waitingOnUser, metrics.firstResponseAt == nil {
            metrics.firstResponseAt = now
        }
        if previous == .resolved, next == .needsResponse { metrics.reopenCount += 1 }
        if next == .suspended { isSpam = true }
        if previous == .suspended, next == .new { isSpam = false }
        waitingSince = (next == .needsResponse || next == .new) ? now : nil
        stage = next
        stageEnteredAt = now
        lastActivityAt = now
        return ChangeEvent(object: id, actor: actor, at: now, kind: .stageChanged, field: reason,
                           before: .text(previous.rawValue), after: .text(next.rawValue))
    }

    mutating func touch(by actor: Actor, at now: Date) {
        modifiedBy = actor
        modifiedDate = max(modifiedDate, now)
        version += 1
    }

    /// Applies one stage input: the table decides, this records.
    public func applying(_ input: StageInput, by actor: Actor, at now: Date) throws(DomainError) -> ConversationDecision {
        var next = self
        var events: [ChangeEvent] = []
        switch StageMachine.outcome(of: input, in: stage) {
        case .refuse(let reason):
            throw .transitionRefused(current: stage, allowed: StageMachine.allowedNextStages(from: stage), message: reason)
        case .startFollowUp:
            throw .transitionRefused(current: stage, allowed: [],
                                     message: "conversation is archived: a customer message starts a follow-up conversation")
        case .stay:
            break
        case .moveTo(let target):
            if target == .resolved, !tags.contains(where: { $0.tag == SystemTag.resolution.number && $0.value != nil }) {
                let allowed = StageMachine.allowedNextStages(from: stage)
                throw .transitionRefused(
                    current: stage, allowed: allowed,
                    message: "cannot move conversation from stage \(stage.rawValue) to resolved without a 'Resolution: <value>' tag (TAG-\(SystemTag.resolution.number), e.g. fixed or answered; add it in the same update); allowed next stages: \(allowed.map(\.rawValue).joined(separator: ", "))")
            }
            var reason = input.description
            if target == .resolved {
                switch resolutionCheck?.confirmed {
                case true?: reason += "; customer confirmed the resolution"
                case false?: reason += "; customer did not confirm the resolution"
                case nil: reason += resolutionCheck?.awaitingConfirmation == true ? "; customer has not answered yet" : "; customer was not asked"
                }
            }
            events.append(next.move(to: target, by: actor, at: now, because: reason))
            if stage == .hold, let index = next.tags.firstIndex(where: { $0.tag == SystemTag.blocked.number }) {
                let before = next.tags.map(\.recorded)
                next.tags.remove(at: index)
                events.append(ChangeEvent(object: id, actor: .system, at: now, kind: .fieldChanged,
                                          field: "tags (Blocked off: left hold)", before: .list(before), after: .list(next.tags.map(\.recorded))))
            }
        }
        if !events.isEmpty { next.touch(by: actor, at: now) }
        return ConversationDecision(conversation: next, events: events)
    }

    /// What a comment by `author` with `visibility` does: the stage input it is, and the bookkeeping around it.
    /// `body` (the message) becomes the conversation's preview when it is public.
    public func receivingComment(by author: Actor, visibility: Visibility, body: String? = nil, at now: Date) throws(DomainError) -> CommentOutcome {
        let input: StageInput
        switch (author, visibility.isNote) {
        case (.revUser, true):
            throw .invalidField("visibility", message: "customers can only write external comments")
        case (.revUser, false): input = .customerMessage
        case (.devUser, false): input = .agentPublicReply
        case (.devUser, true), (.system, _): input = .internalNote
        }
        if StageMachine.outcome(of: input, in: stage) == .startFollowUp { return .startFollowUp }
        var decision = try applying(input, by: author, at: now)
        var conversation = decision.conversation
        // Whoever writes to the customer takes part in the conversation; a note's author does not.
        if case .system = author {} else if !visibility.isNote, !conversation.members.contains(author) {
            conversation.members.append(author)
            decision.events.append(ChangeEvent(object: id, actor: author, at: now, kind: .memberAdded,
                                               after: .text(author.objectID.displayID)))
        }
        conversation.lastActivityAt = now
        if !visibility.isNote {
            conversation.recentMessages = Array((conversation.recentMessages + [now]).suffix(8))
            if let body { conversation.lastMessage = MessagePreview(author: author, body: body, at: now) }
        }
        if let stalled = conversation.tags.firstIndex(where: { $0.tag == SystemTag.stalled.number }) {
            let before = conversation.tags.map(\.recorded)
            conversation.tags.remove(at: stalled)
            decision.events.append(ChangeEvent(object: id, actor: .system, at: now, kind: .fieldChanged,
                                               field: "tags (Stalled off: activity)", before: .list(before),
                                               after: .list(conversation.tags.map(\.recorded))))
        }
        switch input {
        case .customerMessage:
            conversation.lastCustomerMessageAt = now
            // The customer writing after answering a proposed resolution: that answer no longer stands (the
            // inbox would say "customer confirmed: verify and resolve", the widget "thanks for confirming").
            if let check = conversation.resolutionCheck, let confirmed = check.confirmed {
                conversation.resolutionCheck = nil
                decision.events.append(ChangeEvent(object: id, actor: author, at: now, kind: .fieldChanged, field: "resolution_check",
                                                   before: .text(confirmed ? "customer confirmed" : "customer did not confirm"),
                                                   after: nil))
            }
            if conversation.stage == .new || conversation.stage == .needsResponse, conversation.waitingSince == nil {
                conversation.waitingSince = now
            }
        case .agentPublicReply: conversation.lastAgentReplyAt = now
        default: break
        }
        decision.events.append(ChangeEvent(object: id, actor: author, at: now, kind: .commentAdded,
                                           field: visibility.rawValue))
        conversation.touch(by: author, at: now)
        decision.conversation = conversation
        return .append(decision)
    }
}

// The timer rules sit beside the fields they read: a new timed field (a snooze's wake-up time, say), its
// rule and its deadline are one change to this file.
extension Conversation {
    /// The system tags and automatic moves that depend on time, as they should be at `now`:
    /// Stalled, Fast Moving, Slow Moving, and the archiving of resolved conversations.
    public func applyingTimers(_ policy: LifecyclePolicy, at now: Date) -> ConversationDecision {
        var decision = ConversationDecision(conversation: self, events: [])
        if stage == .resolved, now.timeIntervalSince(stageEnteredAt) >= policy.archiveAfter,
           case .moveTo(let next) = StageMachine.outcome(of: .archiveTimerElapsed, in: stage) {
            var archived = self
            let event = archived.move(to: next, by: .system, at: now,
                                      because: "resolved for \(Int(policy.archiveAfter / 3600)) hours without a customer reply")
            archived.touch(by: .system, at: now)
            decision = ConversationDecision(conversation: archived, events: [event])
        }
        let c = decision.conversation
        let quiet = now.timeIntervalSince(c.lastActivityAt ?? c.stageEnteredAt)
        decision.setSystemTag(.stalled, on: [.waitingOnUser, .hold].contains(c.stage) && quiet >= policy.stalledAfter,
                              reason: [.waitingOnUser, .hold].contains(c.stage)
                                  ? (quiet >= policy.stalledAfter ? "no activity for \(Int(quiet / 3600)) hours" : "activity")
                                  : "left \(stage.rawValue)", at: now)
        let waiting = c.waitingSince.map { now.timeIntervalSince($0) } ?? 0
        let slow = [.new, .needsResponse].contains(c.stage) && c.waitingSince != nil && waiting >= policy.slowAfter
        decision.setSystemTag(.slowMoving, on: slow,
                              reason: slow ? "customer waiting for \(Int(waiting / 3600)) hours" : "customer not waiting", at: now)
        let recent = c.recentMessages.filter { now.timeIntervalSince($0) < policy.fastWindow }
        let fast = !slow && recent.count >= policy.fastMessages
        decision.setSystemTag(.fastMoving, on: fast,
                              reason: "\(recent.count) messages in the last \(Int(policy.fastWindow / 60)) minutes", at: now)
        return decision
    }

    /// When `applyingTimers` will next change something, if ever: the deadline the server stores and waits for.
    /// Computed for every conversation written (in its plan, and to wake the timers after the commit), so it
    /// keeps the earliest candidate as it goes instead of collecting them.
    public func nextDeadline(_ policy: LifecyclePolicy) -> Date? {
        var earliest: Date?
        func consider(_ date: Date) { earliest = min(earliest ?? date, date) }
        func hasTag(_ tag: SystemTag) -> Bool { tags.contains { $0.tag == tag.number } }
        if stage == .resolved { consider(stageEnteredAt + policy.archiveAfter) }
        if stage == .waitingOnUser || stage == .hold, !hasTag(.stalled) {
            consider((lastActivityAt ?? stageEnteredAt) + policy.stalledAfter)
        }
        if stage == .new || stage == .needsResponse, let since = waitingSince, !hasTag(.slowMoving) {
            consider(since + policy.slowAfter)
        }
        if hasTag(.fastMoving) {
            // Off when the window no longer holds enough messages.
            let sorted = recentMessages.sorted(by: >)
            if sorted.count >= policy.fastMessages { consider(sorted[policy.fastMessages - 1] + policy.fastWindow) }
            else { consider(stageEnteredAt) }
        }
        return earliest
    }
}

extension ConversationDecision {
    /// This decision with the time-dependent tags brought up to date as of `now` (a comment can make an
    /// exchange fast, a reply ends a slow wait).
    public func withTimers(_ policy: LifecyclePolicy, at now: Date) -> ConversationDecision {
        let timed = conversation.applyingTimers(policy, at: now)
        return ConversationDecision(conversation: timed.conversation, events: events + timed.events)
    }
}

extension StoredDocument {
    /// The stored JSON of a conversation: what its `Codable` conformance writes through `JSONEncoder` with
    /// the stores' settings, written in one pass (see `StoredDocument`). A new field goes here too.
    public static func document(_ c: Conversation) throws -> Written {
        var exact = true
        let numbers = [c.metrics.completedSecondsInNew, c.spam?.score ?? 0, c.spam?.threshold ?? 0]
        if let invalid = numbers.first(where: { !$0.isFinite }) {
            throw EncodingError.invalidValue(invalid, EncodingError.Context(codingPath: [], debugDescription:
                "conversation \(c.number): \(invalid) cannot be written as JSON"))
        }
        var w = JSONWriter(capacity: 1_536)
        w.object { w in
            w.field("account", c.account)
            actor(c.createdBy, "createdBy", &w)
            date(c.createdDate, "createdDate", &w, &exact)
            w.field("description", c.description)
            w.key("emailCC")
            w.strings(c.emailCC.lazy)
            w.field("externalRef", c.externalRef)
            w.field("followUpOf", c.followUpOf)
            w.field("group", c.group)
            w.field("isSpam", c.isSpam)
            date(c.lastActivityAt, "lastActivityAt", &w, &exact)
            date(c.lastAgentReplyAt, "lastAgentReplyAt", &w, &exact)
            date(c.lastCustomerMessageAt, "lastCustomerMessageAt", &w, &exact)
            if let message = c.lastMessage {
                w.key("lastMessage")
                w.object { w in
                    date(message.at, "at", &w, &exact)
                    actor(message.author, "author", &w)
                    w.field("text", message.text)
                }
            }
            w.key("members")
            w.strings(c.members.lazy.map(\.description))
            w.key("metrics")
            w.object { w in
                w.key("completedSecondsInNew")
                w.number(c.metrics.completedSecondsInNew)
                date(c.metrics.firstResponseAt, "firstResponseAt", &w, &exact)
                w.field("hasBeenInNew", c.metrics.hasBeenInNew)
                w.field("reopenCount", c.metrics.reopenCount)
            }
            actor(c.modifiedBy, "modifiedBy", &w)
            date(c.modifiedDate, "modifiedDate", &w, &exact)
            w.field("number", c.number)
            w.key("ownedBy")
            w.array { w in
                for owner in c.ownedBy {
                    w.element()
                    w.int(owner)
                }
            }
            w.field("priority", c.priority.rawValue)
            w.key("recentMessages")
            w.array { w in
                for message in c.recentMessages {
                    w.element()
                    w.number(milliseconds(message))
                    exact = exact && readsBack(message)
                }
            }
            if let check = c.resolutionCheck {
                w.key("resolutionCheck")
                w.object { w in
                    date(check.answeredAt, "answeredAt", &w, &exact)
                    w.field("awaitingConfirmation", check.awaitingConfirmation)
                    if let confirmed = check.confirmed { w.field("confirmed", confirmed) }
                    date(check.proposedAt, "proposedAt", &w, &exact)
                }
            }
            w.field("revOrg", c.revOrg)
            w.key("routing")
            w.object { w in
                w.field("keyword", c.routing.keyword)
                w.field("priorityReason", c.routing.priorityReason)
                w.field("reason", c.routing.reason.rawValue)
                w.field("rule", c.routing.rule)
            }
            w.field("sourceChannel", c.sourceChannel)
            if let spam = c.spam {
                w.key("spam")
                w.object { w in
                    w.key("reasons")
                    w.strings(spam.reasons)
                    w.key("score")
                    w.number(spam.score)
                    w.key("threshold")
                    w.number(spam.threshold)
                }
            }
            w.field("stage", c.stage.rawValue)
            date(c.stageEnteredAt, "stageEnteredAt", &w, &exact)
            w.key("tags")
            w.array { w in
                for tag in c.tags {
                    w.element()
                    w.object { w in
                        w.field("tag", tag.tag)
                        w.field("value", tag.value)
                    }
                }
            }
            w.field("title", c.title)
            w.field("version", c.version)
            date(c.waitingSince, "waitingSince", &w, &exact)
        }
        return Written(json: String(decoding: w.bytes, as: UTF8.self), readsBackExactly: exact)
    }
}

/// A list field added to a stored document type after documents were written: decodes as empty when the
/// key is absent, so documents written by an earlier version still load.
@propertyWrapper
public struct EmptyIfAbsent<Element: Codable & Hashable & Sendable>: Codable, Hashable, Sendable {
    public var wrappedValue: [Element]

    public init(wrappedValue: [Element]) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws {
        wrappedValue = try decoder.singleValueContainer().decode([Element].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue)
    }
}

extension KeyedDecodingContainer {
    public func decode<Element>(_ type: EmptyIfAbsent<Element>.Type, forKey key: Key) throws -> EmptyIfAbsent<Element> {
        try decodeIfPresent(type, forKey: key) ?? EmptyIfAbsent(wrappedValue: [])
    }
}
