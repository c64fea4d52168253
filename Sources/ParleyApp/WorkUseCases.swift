import ParleyCore
import ParleyStore

/// Works (tickets, issues, tasks) that conversations depend on, and what their closing does to them.
extension ParleyApp {
    /// The works a conversation depends on.
    public func dependencies(of conversation: ObjectID) async throws -> [Work] {
        let links = try await store.find(Link.self, key: "source", value: conversation.don)
            .filter { $0.linkType == .isDependentOn && $0.target.kind == .work }
        return Array(try await store.objects(Work.self, numbers: Set(links.map(\.target.number))).values)
    }

    /// Changes a work; when that closes or reopens it, every conversation depending on it follows.
    public func updateWork(_ number: Int, actor: Actor, change: @escaping @Sendable (Work) throws -> Work) async throws -> Work {
        let before = try await store.object(Work.self, number: number)
        let work = try await update(Work.self, number: number, actor: actor, at: clock.now(), change: change)
        if before?.isClosed != work.isClosed {
            try await reconcileDependents(of: work.id, closedBy: work.isClosed ? work.displayID : nil)
        }
        return work
    }

    /// Links a conversation to what it depends on (or any other link); a dependency recomputes the hold.
    public func link(_ linkType: LinkType, source: ObjectID, target: ObjectID, by actor: Actor) async throws -> Link {
        let now = clock.now()
        let link = try await insert(Link.self, actor: actor, at: now) { number in
            Link(number: number, linkType: linkType, source: source, target: target, createdBy: actor, at: now)
        }
        if linkType == .isDependentOn { try await reconcileDependents(of: nil, conversation: source, closedBy: nil) }
        return link
    }

    /// Removes a link; a removed dependency recomputes the hold.
    public func unlink(_ link: Link, by actor: Actor) async throws {
        try await delete(Link.self, number: link.number, actor: actor, at: clock.now())
        if link.linkType == .isDependentOn { try await reconcileDependents(of: nil, conversation: link.source, closedBy: nil) }
    }

    /// A work closed or reopened, or a dependency was added or removed: every conversation depending on it
    /// recomputes what follows (hold → needs_response when all are done; `Blocked`), each in its own transaction.
    public func reconcileDependents(of work: ObjectID?, conversation: ObjectID? = nil, closedBy: String?) async throws {
        var conversations: [ObjectID] = conversation.map { [$0] } ?? []
        if let work {
            conversations += try await store.find(Link.self, key: "target", value: work.don)
                .filter { $0.linkType == .isDependentOn }.map(\.source)
        }
        for id in conversations {
            let works = try await dependencies(of: id)
            let open = works.filter { !$0.isClosed }.count
            let now = clock.now()
            let app = self
            let updated = try await store.updateConversation(number: id.number) { current in
                app.plan(try current.reconcilingDependencies(open: open, total: works.count, closedBy: closedBy, at: now),
                         from: current, at: now, publishes: [.conversationUpdated])
            }
            committed(updated)
        }
    }

    // MARK: Timers

    /// Fires every deadline at or before `now` (Stalled, Slow/Fast Moving, auto-archive); returns how many
    /// conversations it looked at.
    @discardableResult
    public func fireDueDeadlines(at now: Date) async throws -> Int {
        var fired = 0
        let policy = lifecyclePolicy
        let app = self
        while true {
            let due = try await store.conversationsDue(by: now, limit: 200)
            if due.isEmpty { break }
            for (number, _) in due {
                let updated = try await store.updateConversation(number: number) { current in
                    app.planAsDecided(current.applyingTimers(policy, at: now), from: current)
                }
                // A deadline that fired and changed nothing must not fire again at once.
                let next = updated.nextDeadline(policy)
                if next.map({ $0 <= now }) ?? true { try await store.setDeadline(conversation: number, due: next.flatMap { $0 > now ? $0 : nil }) }
                fired += 1
            }
        }
        return fired
    }
}
