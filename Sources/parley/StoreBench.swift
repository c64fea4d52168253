import ArgumentParser
import Foundation
import ParleyBenchmarks
import ParleyCore
import ParleySQLite
import ParleyStore

/// Durable write throughput of the store itself (no HTTP): C concurrent tasks play the support workflow's
/// four writes straight on `SQLiteStore`, as the server's routes would. Reports writes/s and the mean
/// group-commit batch; then records what those use cases write on a fresh store and replays exactly those
/// statements bare (`BareSQLiteBenchmark.replay`) one at a time and at the mean batch: what the same rows
/// cost SQLite alone. `parley bench sqlite` is the other yardstick (one 2 KB row per write).
struct StoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Time the store's durable writes (the workflow's four use cases) from C concurrent tasks, without HTTP, against a bare replay of the same statements.")

    @Option(help: "The SQLite file (a fresh scratch file if omitted).") var db: String?
    @Option(help: "Concurrent tasks.") var concurrency = 16
    @Option(help: "Workflows to run (4 writes each).") var workflows = 2_000
    @Flag(help: "Skip the bare replay of the same writes.") var noReplay = false

    func run() async throws {
        let path = db ?? Self.scratchPath("store")
        defer { if db == nil { Self.remove(path) } }
        let measured = try await SQLiteStore.using(path: path) { try await measure($0) }
        guard !noReplay else { return }

        // The same workload again on a fresh store, recorded (recording costs the writer a little, so it is
        // not the measured run), then replayed on fresh copies of that store's starting state.
        let recordingPath = Self.scratchPath("record")
        defer { Self.remove(recordingPath) }
        let writes = try await SQLiteStore.using(path: recordingPath) { store in
            store.startRecordingWrites()
            try await play(on: store)
            return store.stopRecordingWrites()
        }
        print(String(format: "recorded: %d use cases, %.1f statements and %.0f bytes of bound text per use case",
                     writes.count, Double(writes.statements) / Double(max(writes.count, 1)),
                     Double(writes.boundTextBytes) / Double(max(writes.count, 1))))
        let meanBatch = max(1, Int((measured.meanBatch).rounded()))
        for batch in Set([1, meanBatch]).sorted() {
            let replayPath = Self.scratchPath("replay")
            defer { Self.remove(replayPath) }
            try await SQLiteStore.using(path: replayPath) { _ in }
            let result = try BareSQLiteBenchmark.replay(writes, path: replayPath, batch: batch)
            let comparison = batch == meanBatch
                ? String(format: " (the store: %.0f%% of it)", 100 * measured.writesPerSecond / result.useCasesPerSecond) : ""
            print(String(format: "bare replay, %d use cases per transaction: %.0f use cases/s in %.2f s%@",
                         batch, result.useCasesPerSecond, result.seconds, comparison))
        }
    }

    /// A database file of its own for one benchmark run, in `directory`.
    static func scratchPath(_ name: String, in directory: String = NSTemporaryDirectory()) -> String {
        (directory as NSString).appendingPathComponent("parley-bench-\(name)-\(UUID().uuidString).sqlite")
    }

    /// Deletes a scratch database with its WAL and shared-memory files.
    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    private func measure(_ store: SQLiteStore) async throws -> (writesPerSecond: Double, meanBatch: Double) {
        let before = store.writeStatistics
        let started = ContinuousClock.now
        let played = try await play(on: store)
        let seconds = FillBench.seconds(since: started)
        let after = store.writeStatistics
        let writes = after.writes - before.writes
        let transactions = after.transactions - before.transactions
        let meanBatch = Double(writes) / Double(max(transactions, 1))
        print(String(format: "store writes: %d tasks, %d workflows, %d writes in %.2f s: %.0f writes/s, %d transactions (mean batch %.1f)",
                     concurrency, played, writes, seconds, Double(writes) / seconds, transactions, meanBatch))
        let executing = after.executingSeconds - before.executingSeconds, committing = after.committingSeconds - before.committingSeconds
        print(String(format: "writer: %.0f%% of the time running use cases (%.1f µs each), %.0f%% committing (%.0f µs per commit)",
                     100 * executing / seconds, 1e6 * executing / Double(max(writes, 1)),
                     100 * committing / seconds, 1e6 * committing / Double(max(transactions, 1))))
        return (Double(writes) / seconds, meanBatch)
    }

    /// Plays the workflow's four writes from `concurrency` tasks; returns how many workflows ran.
    @discardableResult
    private func play(on store: SQLiteStore) async throws -> Int {
        let agent = Actor.devUser(1), customer = Actor.revUser(1)
        let perTask = (workflows + concurrency - 1) / concurrency
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    for _ in 0..<perTask {
                        let now = Date().wholeMilliseconds
                        // The plans the application layer makes for these four writes (no timers: the store is
                        // what is measured).
                        let conversation = try await store.createConversation { number in
                            let creation = try Conversation.open(number: number, draft: ConversationDraft(title: "Bench conversation", sourceChannel: "widget",
                                                                                                          messages: ["It does not work"]),
                                                                 routing: RoutingDecision(owners: [1], record: RoutingRecord(reason: .orgDefaultOwner)),
                                                                 by: customer, at: now)
                            return NewConversation(plan: ConversationPlan(conversation: creation.decision.conversation, events: creation.decision.events,
                                                                          deadline: nil, publishes: [.conversationCreated]),
                                                   comments: creation.comments.map { NewComment($0) })
                        }
                        for (author, body) in [(agent, "Which version?"), (customer, "2.3")] {
                            let draft = CommentDraft(author: author, body: body, visibility: .external, at: Date().wholeMilliseconds)
                            _ = try await store.addComment(to: conversation.number) { current in
                                guard case .append(let decision) = try current.receivingComment(by: author, visibility: .external, at: draft.at) else {
                                    throw DomainError.conflict("archived")
                                }
                                return .append(ConversationPlan(conversation: decision.conversation, events: decision.events, deadline: nil,
                                                                publishes: decision.conversation == current ? [] : [.conversationUpdated]),
                                               NewComment(draft))
                            }
                        }
                        _ = try await store.updateConversation(number: conversation.number) { current in
                            let decision = try current.applying(ConversationChange(tags: TagChange(add: [TagValue(tag: SystemTag.resolution.number, value: "fixed")]),
                                                                                   stage: .resolved), by: agent, at: Date().wholeMilliseconds)
                            return ConversationPlan(conversation: decision.conversation, events: decision.events, deadline: nil,
                                                    publishes: [.conversationUpdated])
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        return perTask * concurrency
    }
}
