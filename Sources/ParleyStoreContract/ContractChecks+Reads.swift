import Foundation
import ParleyCore
import ParleyStore
import Testing

/// Lists, cursors, timelines, counters and search.
extension StorageContract {
    func keysetPagesCoverListsExactly(_ store: any ParleyStore) async throws {
        var expected = Set<Int>()
        for index in 0..<23 {
            // Equal timestamps in pairs, to exercise the tie-breaker.
            expected.insert(try await Self.open(store, "c\(index)", at: Self.t0 + Double(index / 2)).number)
        }
        for sort in [ConversationSort.createdDate(descending: false), .createdDate(descending: true), .modifiedDate(descending: true),
                     .priority(descending: false), .priority(descending: true)] {
            var query = ConversationQuery()
            query.sort = sort
            query.page.limit = 5
            var forward: [Int] = []
            var cursor: String?
            var last: Page<Conversation>?
            repeat {
                query.page.cursor = cursor
                let page = try await store.listConversations(query)
                forward += page.items.map(\.number)
                #expect(try await store.conversationNumbers(query) == page.items.map(\.number), "only the numbers, in the same order")
                cursor = page.nextCursor
                last = page
            } while cursor != nil
            #expect(forward.count == 23 && Set(forward) == expected, "\(sort)")
            var backward = last?.items.map(\.number) ?? []
            cursor = last?.prevCursor
            while let previous = cursor {
                query.page.cursor = previous
                let page = try await store.listConversations(query)
                backward = page.items.map(\.number) + backward
                #expect(try await store.conversationNumbers(query) == page.items.map(\.number), "backwards too")
                cursor = page.prevCursor
            }
            #expect(backward == forward, "walking back gives the same order (\(sort))")
        }
    }

    func commentsAndEventsAreStoredTogether(_ store: any ParleyStore) async throws {
        let conversation = try await Self.open(store, "A")
        let (entry, updated) = try await Self.comment(store, on: conversation.number, "On it", externalRef: "r1")
        #expect(updated.stage == .waitingOnUser)
        #expect(try await store.conversation(number: conversation.number) == updated, "visible once the write returned")
        #expect(try await store.timelineEntry(number: entry.number) == entry)
        let timeline = try await store.listTimeline(TimelineQuery(conversation: conversation.number, viewer: .devUser(3)))
        #expect(timeline.items.count == 2)
        var withEvents = TimelineQuery(conversation: conversation.number, viewer: .devUser(3))
        withEvents.includeEvents = true
        let all = try await store.listTimeline(withEvents).items
        #expect(all.contains { if case .event(_, let e) = $0 { e.kind == .stageChanged } else { false } })
        var customerView = withEvents
        customerView.viewer = .revUser(1)
        #expect(try await store.listTimeline(customerView).items.allSatisfy { if case .comment = $0 { true } else { false } })
        // A private note is its author's alone.
        try await Self.comment(store, on: conversation.number, "mine", .private, by: .devUser(3), at: Self.t0 + 70)
        var other = TimelineQuery(conversation: conversation.number, viewer: .devUser(4))
        other.includeEvents = false
        #expect(try await store.listTimeline(other).items.count == 2)
    }

    func followUpIsLinkedAndRecorded(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        let original = try await Self.open(store, "Old question")
        let archived = try await store.storeDecision(number: original.number) { current in
            try current.applying(ConversationChange(tags: TagChange(add: [TagValue(tag: SystemTag.resolution.number, value: "answered")]),
                                                    stage: .resolved), by: .devUser(3), at: t0 + 10)
        }
        _ = try await store.storeDecision(number: archived.number) { current in
            try current.applying(ConversationChange(stage: .archived), by: .devUser(3), at: t0 + 20)
        }
        let at = t0 + 30
        let (entry, followUp) = try await store.addComment(
            to: original.number, draft: CommentDraft(author: .revUser(1), body: "Same again", visibility: .external, at: at),
            externalRef: nil) { current in
            guard case .startFollowUp = try current.receivingComment(by: .revUser(1), visibility: .external, at: at) else {
                throw DomainError.conflict("expected a follow-up")
            }
            return .followUp { current.followUp(number: $0, by: .revUser(1), at: at) }
        }
        #expect(followUp.number != original.number)
        #expect(entry.conversation == followUp.number)
        #expect(try await store.conversation(number: original.number)?.stage == .archived, "the original is not changed")
        let links = try await store.find(Link.self, key: "target", value: original.id.don)
        #expect(links.map(\.linkType) == [.isFollowUpOf])
        #expect(links.first?.source == followUp.id)
        #expect(try await store.events(of: original.id).contains { $0.kind == .followUpStarted })
    }

    func stageCountsFollowEveryChange(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        let a = try await Self.open(store, "A", message: "one")
        let b = try await Self.open(store, "B", message: "two")
        _ = try await Self.open(store, "C", message: "three")
        #expect(try await store.stageCounts()[.new] == 3)
        try await Self.comment(store, on: a.number, "We are on it")
        _ = try await store.storeDecision(number: b.number) { current in
            try current.applying(ConversationChange(stage: .suspended), by: .devUser(3), at: t0 + 90)
        }
        var counts = try await store.stageCounts()
        #expect(counts[.new] == 1)
        #expect(counts[.waitingOnUser] == 1)
        #expect(counts[.suspended] == 1)
        try await store.deleteConversation(number: b.number, actor: .devUser(3), at: t0 + 100) { _ in }
        counts = try await store.stageCounts()
        #expect(counts[.suspended] ?? 0 == 0)
        #expect(counts.values.reduce(0, +) == 2)
    }

    func unassignedViewFollowsOwners(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        var nobodys: [Int] = []
        for index in 0..<9 {
            let owners = index % 3 == 0 ? [] : [3]
            let c = try await Self.open(store, "C\(index)", at: t0 + Double(index), owners: owners)
            if owners.isEmpty { nobodys.append(c.number) }
        }
        func unassigned(_ sort: ConversationSort) async throws -> [Int] {
            var query = ConversationQuery()
            query.unassigned = true
            query.sort = sort
            return try await Self.everyPage(store, query, limit: 2)
        }
        #expect(try await unassigned(.createdDate(descending: false)) == nobodys)
        #expect(try await unassigned(.createdDate(descending: true)) == nobodys.reversed())
        _ = try await store.storeDecision(number: nobodys[0]) { try $0.applying(ConversationChange(ownedBy: [3]), by: .devUser(3), at: t0 + 60) }
        #expect(try await unassigned(.createdDate(descending: false)) == Array(nobodys.dropFirst()))
    }

    func deletedConversationsLeaveListsSearchAndDeadlines(_ store: any ParleyStore) async throws {
        let gone = try await Self.open(store, "Refund for a lost parcel", message: "refund please")
        try await Self.comment(store, on: gone.number, "refund sent")
        let kept = try await Self.open(store, "Refund twice", message: "charged twice")
        try await store.setDeadline(conversation: gone.number, due: Self.t0 + 3_600)
        try await store.deleteConversation(number: gone.number, actor: .devUser(3), at: Self.t0 + 120) { _ in }
        var query = ConversationQuery()
        query.text = "refund"
        #expect(try await store.listConversations(query).items.map(\.number) == [kept.number])
        #expect(try await Self.everyPage(store, ConversationQuery()) == [kept.number])
        #expect(try await store.conversation(number: gone.number) == nil)
        #expect(try await store.conversationsDue(by: Self.t0 + 7_200, limit: 10).isEmpty)
        #expect(try await store.events(of: gone.id).contains { $0.kind == .deleted }, "its record stays")
    }

    func searchSeesWordsTitlesAndNotesAsAllowed(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        func search(_ text: String, notes: Bool = false, agent: Int? = 3) async throws -> [Int] {
            var query = ConversationQuery()
            query.text = text
            query.searchedNotes = notes ? .internalAndPrivate(of: agent) : .none
            return try await store.listConversations(query).items.map(\.number).sorted()
        }
        let refund = try await Self.open(store, "Refund for order 1234", message: "I was charged twice")
        let login = try await Self.open(store, "Cannot sign in", message: "The password reset mail never arrives")
        try await Self.comment(store, on: login.number, "Customer is on the legacy SSO plan", .internal)
        #expect(try await search("REFUND") == [refund.number], "whole words, any case")
        #expect(try await search("refu").isEmpty, "not a word of the text")
        #expect(try await search("refu*") == [refund.number], "the beginning of a word, asked for")
        #expect(try await search("charged") == [refund.number])
        #expect(try await search("password mail") == [login.number])
        #expect(try await search("legacy").isEmpty, "internal notes are not searched for customers")
        #expect(try await search("legacy", notes: true) == [login.number])
        // A private note: its author finds it, no other agent does (issue 15, item 8).
        try await Self.comment(store, on: refund.number, "zebrasecret refund code", .private, by: .devUser(3))
        #expect(try await search("zebrasecret", notes: true, agent: 3) == [refund.number], "its author finds it")
        #expect(try await search("zebrasecret", notes: true, agent: 4).isEmpty, "another agent does not")
        #expect(try await search("zebrasecret", notes: true, agent: nil).isEmpty, "nor a caller with no private notes")
        #expect(try await search("zebrasecret").isEmpty, "nor a customer")
        #expect(try await search("\"; DROP TABLE conversations; --").isEmpty)
        #expect(try await search("*()").isEmpty, "no words: nothing matches")
        _ = try await store.storeDecision(number: refund.number) { current in
            try current.applying(ConversationChange(title: "Double charge"), by: .devUser(3), at: t0 + 120)
        }
        #expect(try await search("refund").isEmpty)
        #expect(try await search("double") == [refund.number])
        let (note, _) = try await Self.comment(store, on: refund.number, "Card ending 4242 was declined", .internal)
        #expect(try await search("declined", notes: true) == [refund.number])
        _ = try await store.updateTimelineEntry(number: note.number) { current, _ in
            try current.editing(body: "Card ending 4242 was accepted", by: .devUser(3), at: t0 + 130)
        }
        #expect(try await search("declined", notes: true).isEmpty, "an edit takes the old words out")
        #expect(try await search("accepted", notes: true) == [refund.number])
        _ = try await store.updateTimelineEntry(number: note.number) { current, _ in
            try current.deleting(by: .devUser(3), at: t0 + 140)
        }
        #expect(try await search("accepted", notes: true).isEmpty, "a deleted comment is not found")
    }
}
