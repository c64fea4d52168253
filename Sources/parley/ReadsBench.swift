import ArgumentParser
import Foundation
import ParleyCore
import ParleySQLite
import ParleyStore

/// The store's share of the read paths on a filled database (no HTTP, no rendering): the agent's first
/// inbox page, a conversation with its timeline, and a full-text search, timed one after another.
struct ReadsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reads",
        abstract: "Time the store's inbox page, conversation + timeline and search on a filled database (no HTTP).")

    @Option(help: "A database filled by `parley bench fill`.") var db: String
    @Option(help: "Timed reads of each kind.") var iterations = 500
    @Option(help: "Search words (each a search, cycled through).") var search: [String] = ["refund", "password reset", "invoice declined", "webhook timeout"]

    func run() async throws {
        try await SQLiteStore.using(path: db) { try await measure($0) }
    }

    private func measure(_ store: SQLiteStore) async throws {
        var newest = ConversationQuery()
        newest.page = PageRequest(limit: 1)
        let highest = try await store.listConversations(newest).items.first?.number ?? 1
        var generator = SplitMix(seed: 11)
        var samples: [String: [Double]] = [:]
        var rows: [String: Int] = [:]
        func time<T>(_ kind: String, _ body: () async throws -> T) async rethrows -> T {
            let started = ContinuousClock.now
            let result = try await body()
            samples[kind, default: []].append(FillBench.seconds(since: started))
            return result
        }
        for index in 0..<iterations {
            var inbox = ConversationQuery()
            inbox.stages = [.needsResponse]
            inbox.sort = .priority(descending: false)
            inbox.page = PageRequest(limit: 50)
            let page = try await time("inbox page") { try await store.listConversations(inbox) }
            rows["inbox page", default: 0] += page.items.count
            // A conversation an agent opens: any of them, with all its messages and events.
            let number = 1 + Int(generator.next() % UInt64(max(highest, 1)))
            let items = try await time("conversation + timeline") { () async throws -> Int in
                guard let conversation = try await store.conversation(number: number) else { return 0 }
                var timeline = TimelineQuery(conversation: conversation.number, viewer: .devUser(1))
                timeline.includeEvents = true
                timeline.page = PageRequest(limit: 100)
                return try await store.listTimeline(timeline).items.count
            }
            rows["conversation + timeline", default: 0] += items
            var query = ConversationQuery()
            query.text = search[index % search.count]
            query.searchedNotes = .internalAndPrivate(of: 1)
            query.page = PageRequest(limit: 50)
            let found = try await time("search") { try await store.listConversations(query) }
            rows["search", default: 0] += found.items.count
        }
        print("store reads on \(db) (\(highest) conversations), \(iterations) of each, one at a time")
        print("kind\tp50 ms\tp90 ms\tp99 ms\tmax ms\tmean items")
        for kind in ["inbox page", "conversation + timeline", "search"] {
            let sorted = (samples[kind] ?? []).sorted()
            guard !sorted.isEmpty else { continue }
            func ms(_ q: Double) -> String { String(format: "%.2f", sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] * 1000) }
            print("\(kind)\t\(ms(0.5))\t\(ms(0.9))\t\(ms(0.99))\t\(String(format: "%.2f", sorted.last! * 1000))\t\(String(format: "%.1f", Double(rows[kind] ?? 0) / Double(sorted.count)))")
        }
    }
}
