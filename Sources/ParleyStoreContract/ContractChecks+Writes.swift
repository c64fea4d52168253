import Foundation
import ParleyCore
import ParleyStore
import Testing

/// Atomicity, unique keys, versions, numbering.
extension StorageContract {
    static let vipTag = "VIP"

    func seedIsIdempotentAndNumbersFollow(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        let tags = try await store.list(Tag.self, query: DirectoryQuery())
        #expect(tags.items.map(\.name) == SystemTag.allCases.map(\.name), "the seed's tags exist from the start")
        #expect(tags.items.allSatisfy { $0.isSystem })
        try await store.seedSystemTags(at: t0 + 10)
        #expect(try await store.list(Tag.self, query: DirectoryQuery()).items.count == SystemTag.allCases.count, "seeding again adds nothing")
        let vip = try await store.insert(Tag.self, actor: .system, at: t0) { number in
            Tag(number: number, name: Self.vipTag, description: nil, allowedValues: [], createdBy: .system, at: t0)
        }
        #expect(vip.number == SystemTag.allCases.count + 1, "user tags number after the seeded ones")
    }

    func failedDecisionWritesNothing(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        let conversation = try await Self.open(store, "A")
        let outboxBefore = try await store.latestOutboxSequence()
        await #expect(throws: DomainError.self) {
            _ = try await store.storeDecision(number: conversation.number) { current in
                try current.applying(ConversationChange(title: "B", stage: .hold), by: .devUser(3), at: t0 + 5)
            }
        }
        let stored = try #require(try await store.conversation(number: conversation.number))
        #expect(stored == conversation)
        #expect(try await store.events(of: conversation.id).count == 3, "created, routed, commented")
        #expect(try await store.latestOutboxSequence() == outboxBefore, "nothing published")
        // A decision that changes nothing writes nothing either.
        let unchanged = try await store.updateConversation(number: conversation.number) { _ in nil }
        #expect(unchanged == conversation)
        #expect(try await store.latestOutboxSequence() == outboxBefore)
    }

    func uniqueKeysRefuseDuplicates(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        func user(_ email: String) async throws -> DevUser {
            try await store.insert(DevUser.self, actor: .system, at: t0) { number in
                DevUser(number: number, email: email, displayName: email, fullName: nil, role: .agent, createdBy: .system, at: t0)
            }
        }
        _ = try await user("a@x.test")
        await #expect(throws: DomainError.self) { _ = try await user("a@x.test") }
        let all = try await store.list(DevUser.self, query: DirectoryQuery())
        #expect(all.items.count == 1)
        #expect(try await store.find(DevUser.self, key: "email", value: "a@x.test").count == 1)
        // An update onto another object's key is refused too, and leaves both as they were.
        let other = try await user("b@x.test")
        await #expect(throws: DomainError.self) {
            _ = try await store.update(DevUser.self, number: other.number) { current in
                var next = current
                next.email = "a@x.test"
                return Recorded(next, events: [])
            }
        }
        #expect(try await store.object(DevUser.self, number: other.number)?.email == "b@x.test")
    }

    func conversationExternalRefIsUnique(_ store: any ParleyStore) async throws {
        let first = try await Self.open(store, "first", externalRef: "ticket-7")
        let before = try await store.latestOutboxSequence()
        await #expect(throws: DomainError.conflict("conversation \(first.id.displayID) already has external_ref 'ticket-7'")) {
            try await Self.open(store, "again", externalRef: "ticket-7")
        }
        #expect(try await Self.everyPage(store, ConversationQuery()) == [first.number], "the retry stored nothing")
        #expect(try await store.latestOutboxSequence() == before)
        #expect(try await store.conversation(externalRef: "ticket-7")?.number == first.number, "found by its reference")
        #expect(try await store.conversation(externalRef: "ticket-8") == nil)
    }

    func commentExternalRefIsUniqueWithinItsConversation(_ store: any ParleyStore) async throws {
        let a = try await Self.open(store, "A")
        let b = try await Self.open(store, "B")
        let (entry, _) = try await Self.comment(store, on: a.number, "once", externalRef: "msg-1")
        await #expect(throws: DomainError.self) {
            try await Self.comment(store, on: a.number, "twice", externalRef: "msg-1")
        }
        // The same reference on another conversation is another message.
        try await Self.comment(store, on: b.number, "elsewhere", externalRef: "msg-1")
        var query = TimelineQuery(conversation: a.number, viewer: .devUser(3))
        query.includeEvents = false
        let comments = try await store.listTimeline(query).items.compactMap { item -> TimelineEntry? in
            if case .comment(let comment) = item { comment } else { nil }
        }
        #expect(comments.map(\.body) == ["hello", "once"])
        #expect(comments.last == entry)
        // Found by its reference on any conversation, oldest first.
        let found = try await store.timelineEntries(externalRef: "msg-1")
        #expect(found.map(\.body) == ["once", "elsewhere"])
        #expect(found.map(\.conversation) == [a.number, b.number])
        #expect(try await store.timelineEntries(externalRef: "msg-2").isEmpty)
    }

    func optimisticVersionsLetOneWriterWin(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        let conversation = try await Self.open(store, "race")
        let seen = conversation.version
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    do {
                        _ = try await store.storeDecision(number: conversation.number) { current in
                            guard current.version == seen else { throw DomainError.conflict("version \(current.version), not \(seen)") }
                            return try current.applying(ConversationChange(title: "writer \(writer)"), by: .devUser(3), at: t0 + 1)
                        }
                        return true
                    } catch is DomainError {
                        return false
                    }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 1, "exactly one writer that saw version \(seen) wins")
        let stored = try #require(try await store.conversation(number: conversation.number))
        #expect(stored.version == seen + 1)
    }

    func importWithTakenRefFailsWhole(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        @Sendable func draft(_ title: String) -> ConversationDraft {
            var draft = ConversationDraft(title: title, messages: ["m"])
            draft.externalRef = "ticket-1"
            return draft
        }
        let routing = RoutingDecision(owners: [3], record: RoutingRecord(reason: .orgDefaultOwner))
        let first = try await store.createConversation(actor: .revUser(1), at: t0) { number in
            try Conversation.open(number: number, draft: draft("first"), routing: routing, by: .revUser(1), at: t0)
        }
        await #expect(throws: (any Error).self) {
            _ = try await store.importCreations(count: 2) { number in
                try Conversation.open(number: number, draft: number == first.number + 2 ? draft("imported") : ConversationDraft(title: "fine", messages: ["m"]),
                                      routing: routing, by: .revUser(1), at: t0)
            }
        }
        #expect(try await store.conversation(number: first.number)?.title == "first")
        #expect(try await store.listConversations(ConversationQuery()).items.map(\.title) == ["first"], "the import left nothing behind")
        #expect(try await store.stageCounts().values.reduce(0, +) == 1)
    }
}
