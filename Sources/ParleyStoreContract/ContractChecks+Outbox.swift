import Foundation
import ParleyCore
import ParleyStore
import Synchronization
import Testing

/// Deadlines, the outbox rule under concurrent writers, and retention.
extension StorageContract {
    /// A conversation whose plan carries `deadline`.
    private static func open(_ store: any ParleyStore, _ title: String, deadline: Date?) async throws -> Conversation {
        try await store.createConversation { number in
            let creation = try Conversation.open(number: number, draft: ConversationDraft(title: title, messages: ["m"]),
                                                 routing: RoutingDecision(owners: [3], record: RoutingRecord(reason: .orgDefaultOwner)),
                                                 by: .revUser(1), at: t0)
            return NewConversation(plan: ConversationPlan(conversation: creation.decision.conversation, events: creation.decision.events,
                                                          deadline: deadline, publishes: [.conversationCreated]),
                                   comments: creation.comments.map { NewComment($0) })
        }
    }

    func deadlinesAreKeptWithTheirConversation(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        #expect(try await store.nextDeadline() == nil)
        let a = try await Self.open(store, "A", deadline: t0 + 100)
        let b = try await Self.open(store, "B", deadline: t0 + 50)
        _ = try await Self.open(store, "C", deadline: nil)
        #expect(try await store.nextDeadline() == t0 + 50)
        #expect(try await store.conversationsDue(by: t0 + 60, limit: 10).map(\.conversation) == [b.number])
        #expect(try await store.conversationsDue(by: t0 + 100, limit: 10).map(\.conversation) == [b.number, a.number], "earliest first")
        // A plan without a deadline takes the conversation's away.
        _ = try await store.updateConversation(number: b.number) { current in
            var next = current
            next.title = "B2"
            return ConversationPlan(conversation: next, events: [], deadline: nil, publishes: [])
        }
        #expect(try await store.nextDeadline() == t0 + 100)
        try await store.setDeadline(conversation: a.number, due: t0 + 10)
        #expect(try await store.conversationsDue(by: t0 + 20, limit: 10).map(\.conversation) == [a.number])
        try await store.setDeadline(conversation: a.number, due: nil)
        #expect(try await store.nextDeadline() == nil)
    }

    func outboxCarriesWhatPlansPublish(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        let start = try await store.latestOutboxSequence()
        let conversation = try await Self.open(store, "Published", message: "first message")
        let (entry, replied) = try await Self.comment(store, on: conversation.number, "a reply")
        let events = try await Self.outbox(store, after: start)
        #expect(events.map(\.kind) == [.conversationCreated, .timelineEntryCreated, .conversationUpdated, .timelineEntryCreated])
        #expect(events.map(\.sequence) == events.map(\.sequence).sorted() && Set(events.map(\.sequence)).count == 4)
        #expect(events[0].conversation == conversation)
        #expect(events[1].entry?.body == "first message")
        #expect(events[2].conversation == replied && events[2].oldConversation == conversation, "an update carries what it replaced")
        #expect(events[3].entry == entry)
        #expect(try await store.latestOutboxSequence() == events.last?.sequence)
        // A plan that publishes nothing publishes nothing.
        _ = try await store.updateConversation(number: conversation.number) { current in
            var next = current
            next.title = "quietly"
            return ConversationPlan(conversation: next, events: [], deadline: nil, publishes: [])
        }
        #expect(try await store.outbox(after: events.last?.sequence ?? 0, limit: 10).isEmpty)
        try await store.deleteConversation(number: conversation.number, actor: .devUser(3), at: t0 + 5) { _ in }
        #expect(try await store.outbox(after: events.last?.sequence ?? 0, limit: 10).map(\.kind) == [.conversationDeleted])
    }

    /// A customer's catch-up read: only messages about their conversations, in order, up to the bound.
    func outboxAboutOneMemberKeepsOrderAndBound(_ store: any ParleyStore) async throws {
        let start = try await store.latestOutboxSequence()
        let mine = try await Self.open(store, "Mine", customer: 1)
        _ = try await Self.open(store, "Someone else's", customer: 2)
        try await Self.comment(store, on: mine.number, "a reply")
        let latest = try await store.latestOutboxSequence()
        let all = try await Self.outbox(store, after: start)
        let expected = all.filter { $0.conversation.number == mine.number }.map(\.sequence)
        let about = try await store.outbox(after: start, through: latest, limit: 100, about: .revUser(1))
        #expect(about.map(\.sequence) == expected && !expected.isEmpty, "only the member's conversations, in order")
        #expect(try await store.outbox(after: start, through: latest, limit: 2, about: .revUser(1)).map(\.sequence) == Array(expected.prefix(2)))
        #expect(try await store.outbox(after: start, through: expected[0], limit: 100, about: .revUser(1)).map(\.sequence) == [expected[0]],
                "nothing past the bound")
        #expect(try await store.outbox(after: start, through: latest, limit: 100, about: .revUser(9)).isEmpty)
    }

    /// The outbox rule: many writers commit concurrently while a follower reads by cursor; the follower must
    /// see every published message exactly once, in increasing sequence order, and each conversation's
    /// messages in the order its writes happened.
    func outboxFollowerSeesEveryCommitOnceInOrder(_ store: any ParleyStore) async throws {
        let writers = 8, rounds = 20
        let start = try await store.latestOutboxSequence()
        let writing = WritersRunning()
        async let followed: [OutboxEvent] = {
            var seen: [OutboxEvent] = []
            var cursor = start
            var quietReads = 0
            while true {
                let page = try await store.outbox(after: cursor, limit: 7)
                if let last = page.last {
                    seen += page
                    cursor = last.sequence
                    quietReads = 0
                } else if !writing.value.load(ordering: .acquiring) {
                    // One more read after the writers finished, so nothing committed last is left behind.
                    quietReads += 1
                    if quietReads > 1 { return seen }
                } else {
                    try await Task.sleep(for: .microseconds(200))
                }
            }
        }()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for round in 0..<rounds {
                            let at = Self.t0 + Double(round)
                            let conversation = try await Self.open(store, "w\(writer) r\(round)", at: at, customer: writer + 1)
                            try await Self.comment(store, on: conversation.number, "reply", at: at + 1)
                            _ = try await store.storeDecision(number: conversation.number) { current in
                                try current.applying(ConversationChange(title: "done"), by: .devUser(3), at: at + 2)
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            writing.value.store(false, ordering: .releasing)
            _ = try? await followed
            throw error
        }
        writing.value.store(false, ordering: .releasing)
        let seen = try await followed
        let sequences = seen.map(\.sequence)
        #expect(zip(sequences, sequences.dropFirst()).allSatisfy { $0 < $1 }, "strictly increasing: no message twice, none out of order")
        #expect(seen.count == writers * rounds * 5, "every message once: \(seen.count) of \(writers * rounds * 5)")
        #expect(seen.map(\.sequence) == (try await Self.outbox(store, after: start)).map(\.sequence), "what a reader finds afterwards")
        let perConversation = Dictionary(grouping: seen, by: \.conversation.number)
        #expect(perConversation.count == writers * rounds)
        let expected: [OutboxEvent.Kind] = [.conversationCreated, .timelineEntryCreated, .conversationUpdated, .timelineEntryCreated, .conversationUpdated]
        #expect(perConversation.values.allSatisfy { $0.map(\.kind) == expected }, "each conversation's messages in the order written")
    }

    func outboxRetentionPrunesOnlyWhatIsAllowed(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        #expect(try await store.outboxHorizon() == 0)
        for index in 0..<3 { try await Self.open(store, "old \(index)") }
        try await Self.open(store, "young", at: t0 + 100)
        let all = try await Self.outbox(store).map(\.sequence)
        try #require(all.count == 8)
        // Only messages at or below the sequence every webhook has passed go.
        #expect(try await store.pruneOutbox(before: t0 + 50, throughSequence: all[3], limit: 100) == 4)
        #expect(try await store.outboxHorizon() == all[3])
        #expect(try await Self.outbox(store).map(\.sequence) == Array(all[4...]))
        // In batches of at most `limit`.
        #expect(try await store.pruneOutbox(before: t0 + 50, throughSequence: all[7], limit: 1) == 1)
        #expect(try await store.outboxHorizon() == all[4])
        // Only those published before the date.
        #expect(try await store.pruneOutbox(before: t0 + 50, throughSequence: all[7], limit: 100) == 1)
        #expect(try await Self.outbox(store).map(\.sequence) == Array(all[6...]))
        // Never the newest: its sequence is never handed out again.
        #expect(try await store.pruneOutbox(before: t0 + 1_000, throughSequence: all[7], limit: 100) == 1)
        #expect(try await store.outboxHorizon() == all[6])
        #expect(try await Self.outbox(store).map(\.sequence) == [all[7]])
        try await Self.open(store, "after pruning", at: t0 + 200)
        let next = try await Self.outbox(store, after: all[7]).map(\.sequence)
        #expect(next.count == 2 && next.allSatisfy { $0 > all[7] })
        #expect(try await store.outboxHorizon() == all[6], "the horizon never moves back")
    }
}

/// Whether the writers of the outbox check are still writing (read by its follower).
private final class WritersRunning: Sendable {
    let value = Atomic<Bool>(true)
}
