import ArgumentParser
import Foundation
import ParleyCore
import ParleyStore

/// Durable write throughput of the store itself (no HTTP): C concurrent tasks play the support workflow's
/// four writes straight on `SQLiteStore`, as the server's routes would. Reports writes/s and the mean
/// group-commit batch, to set against `parley bench sqlite` at that batch size.
struct StoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Time the store's durable writes (the workflow's four use cases) from C concurrent tasks, without HTTP.")

    @Option(help: "The SQLite file (a fresh scratch file if omitted).") var db: String?
    @Option(help: "Concurrent tasks.") var concurrency = 16
    @Option(help: "Workflows to run (4 writes each).") var workflows = 2_000

    func run() async throws {
        let path = db ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("parley-bench-store-\(UUID().uuidString).sqlite")
        defer {
            if db == nil { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        }
        try await SQLiteStore.using(path: path, now: Date()) { try await measure($0) }
    }

    private func measure(_ store: SQLiteStore) async throws {
        let agent = Actor.devUser(1), customer = Actor.revUser(1)
        let before = store.writeStatistics
        let started = ContinuousClock.now
        let total = workflows
        let perTask = (total + concurrency - 1) / concurrency
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    for _ in 0..<perTask {
                        let now = Date()
                        let conversation = try await store.createConversation(actor: customer, at: now) { number in
                            try Conversation.open(number: number, draft: ConversationDraft(title: "Bench conversation", sourceChannel: "widget",
                                                                                           messages: ["It does not work"]),
                                                  routing: RoutingDecision(owners: [1], record: RoutingRecord(reason: .orgDefaultOwner)),
                                                  by: customer, at: now)
                        }
                        for (author, body) in [(agent, "Which version?"), (customer, "2.3")] {
                            let draft = CommentDraft(author: author, body: body, visibility: .external, at: Date())
                            _ = try await store.addComment(to: conversation.number, draft: draft, externalRef: nil) { current in
                                guard case .append(let decision) = try current.receivingComment(by: author, visibility: .external, at: draft.at) else {
                                    throw DomainError.conflict("archived")
                                }
                                return .append(decision)
                            }
                        }
                        _ = try await store.updateConversation(number: conversation.number) { current in
                            try current.applying(ConversationChange(tags: TagChange(add: [TagValue(tag: SystemTag.resolution.number, value: "fixed")]),
                                                                    stage: .resolved), by: agent, at: Date())
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let seconds = FillBench.seconds(since: started)
        let after = store.writeStatistics
        let writes = after.writes - before.writes
        let transactions = after.transactions - before.transactions
        print(String(format: "store writes: %d tasks, %d workflows, %d writes in %.2f s: %.0f writes/s, %d transactions (mean batch %.1f)",
                     concurrency, perTask * concurrency, writes, seconds, Double(writes) / seconds, transactions,
                     Double(writes) / Double(max(transactions, 1))))
    }
}
