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
