import ParleyBenchmarks
import ParleyCore
@testable import ParleySQLite
import ParleyStore
import ParleyStoreContract
import Testing

private let t0 = Date(timeIntervalSince1970: 1_750_000_000)

private struct Refused: Error {}

private func scratchPath() -> String { "/tmp/parley-recording-\(UUID().uuidString).sqlite" }

private func remove(_ path: String) {
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
}

/// `parley bench store` compares the store with a bare replay of what it wrote: that yardstick is only fair if
/// the replay writes the same rows, and nothing a rolled-back use case wrote.
@Suite("Recording the writer's statements and replaying them bare")
struct WriteRecordingTests {
    @Test("a replay on a fresh store leaves the same conversations, timeline, counters and search index; rolled-back use cases are not recorded")
    func replayWritesWhatTheStoreWrote() async throws {
        let recordedPath = scratchPath(), replayPath = scratchPath()
        defer { remove(recordedPath); remove(replayPath) }
        let customer = Actor.revUser(1), agent = Actor.devUser(2)
        let resolution = ConversationChange(tags: TagChange(add: [TagValue(tag: SystemTag.resolution.number, value: "fixed")]), stage: .resolved)

        let recorded = try await SQLiteStore.using(path: recordedPath) { store in
            store.startRecordingWrites()
            var numbers: [Int] = []
            for title in ["Refund for order 12", "Webhook timeout", "Invoice declined"] {
                let conversation = try await store.createConversation(actor: customer, at: t0) { number in
                    try Conversation.open(number: number, draft: ConversationDraft(title: title, messages: ["Please help with \(title)"]),
                                          routing: RoutingDecision(owners: [2], record: RoutingRecord(reason: .orgDefaultOwner)),
                                          by: customer, at: t0)
                }
                numbers.append(conversation.number)
            }
            let reply = CommentDraft(author: agent, body: "Which gateway declined it?", visibility: .external, at: t0 + 60)
            _ = try await store.addComment(to: numbers[2], draft: reply, externalRef: nil) { current in
                guard case .append(let decision) = try current.receivingComment(by: agent, visibility: .external, at: reply.at) else {
                    throw Refused()
                }
                return .append(decision)
            }
            await #expect(throws: Refused.self) {
                _ = try await store.storeDecision(number: numbers[0]) { _ in throw Refused() }
            }
            let resolved = try await store.storeDecision(number: numbers[1]) { current in
                try current.applying(resolution, by: agent, at: t0 + 120)
            }
            #expect(resolved.stage == .resolved)
            let writes = store.stopRecordingWrites()
            // Not recorded any more.
            _ = try await store.storeDecision(number: numbers[0]) { current in
                try current.applying(resolution, by: agent, at: t0 + 180)
            }
            return writes
        }
        #expect(recorded.count == 5, "three creations, a reply, a resolution; not the refused change nor what followed the stop")
        #expect(recorded.statements > 5 * 4)
        #expect(recorded.boundTextBytes > 1_000)

        try await SQLiteStore.using(path: replayPath) { _ in }
        let result = try BareSQLiteBenchmark.replay(recorded, path: replayPath, batch: 2)
        #expect(result.useCases == 5)

        try await SQLiteStore.using(path: replayPath) { store in
            let conversations = try await store.listConversations(ConversationQuery()).items
            #expect(conversations.map(\.title).sorted() == ["Invoice declined", "Refund for order 12", "Webhook timeout"])
            let byTitle = Dictionary(uniqueKeysWithValues: conversations.map { ($0.title, $0) })
            #expect(byTitle["Webhook timeout"]?.stage == .resolved)
            #expect(byTitle["Refund for order 12"]?.stage == .new, "the change made after the recording stopped is not replayed")
            #expect(byTitle["Invoice declined"]?.stage == .waitingOnUser)
            let counts = try await store.stageCounts()
            #expect(counts[.new] == 1 && counts[.resolved] == 1 && counts[.waitingOnUser] == 1)
            var search = ConversationQuery()
            search.text = "gateway"
            #expect(try await store.listConversations(search).items.map(\.title) == ["Invoice declined"])
            let timeline = try await store.listTimeline(TimelineQuery(conversation: byTitle["Invoice declined"]!.number, viewer: agent))
            #expect(timeline.items.count == 2)
        }
    }
}
