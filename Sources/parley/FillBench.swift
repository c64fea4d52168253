import ArgumentParser
import Foundation
import ParleyApp
import ParleyCore
import ParleyServer
import ParleySQLite
import ParleyStore

/// Fills a database with realistic support traffic through the storage layer (no HTTP): agents, customer
/// orgs and their people, then conversations that went through the domain's own transitions (customer
/// message, agent reply, customer reply, resolution), in big transactions, with a progress bar.
struct FillBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fill",
        abstract: "Fill a database with N realistic conversations through the store (for the scaling benchmarks).")

    @Option(help: "The SQLite file to fill (created if missing; conversations are added to what is there).") var db: String?
    @Option(help: "A PostgreSQL database to fill instead: postgres://USER[:PASS]@HOST[:PORT]/DB.") var databaseURL: String?
    @Option(help: "Conversations to add.") var conversations = 10_000
    @Option(help: "Conversations per transaction.") var batch = 2_000
    @Option(help: "Agents (dev users) to create.") var agents = 50
    @Option(help: "Customer orgs (account + rev org) to create.") var orgs = 500
    @Option(help: "Customers (rev users) per org.") var customersPerOrg = 20
    @Option(help: "Days of history the conversations spread over, ending now.") var days = 365.0
    @Option(help: "Seed of the generator: the same seed and counts give the same conversations.") var seed: UInt64 = 7

    func validate() throws {
        guard (db == nil) != (databaseURL == nil) else { throw ValidationError("give either --db FILE or --database-url URL") }
    }

    func run() async throws {
        try await StoreOpening.using(databaseURL.map { .postgres(url: $0) } ?? .sqlite(path: db ?? "")) { store in
            let app = ParleyApp(store: store, clock: SystemClock())
            try await app.prepare()
            try await fill(app)
        }
    }

    private func fill(_ app: ParleyApp) async throws {
        let started = ContinuousClock.now
        let now = Date().wholeMilliseconds
        let directory = try await makeDirectory(app, at: now.addingTimeInterval(-days * 86_400 - 3_600))
        let directorySeconds = Self.seconds(since: started)
        FileHandle.standardError.write(Data(String(format: "directory: %d agents, %d orgs, %d customers in %.1f s\n",
                                                   directory.agents.count, directory.orgs.count, directory.customers.count,
                                                   directorySeconds).utf8))
        let plan = FillConversations(directory: directory, start: now.addingTimeInterval(-days * 86_400), span: days * 86_400,
                                    total: conversations, seed: seed)
        let progress = ProgressBar(total: conversations, unit: "conversations")
        let fillStarted = ContinuousClock.now
        var done = 0
        while done < conversations {
            let count = min(batch, conversations - done)
            _ = try await app.importConversations(count: count, withTimers: false) { number in try plan.conversation(number: number) }
            done += count
            progress.show(done, rate: Double(done) / Self.seconds(since: fillStarted))
        }
        progress.finish()
        let seconds = Self.seconds(since: fillStarted)
        let size = db.flatMap { (try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int).flatMap { $0 } } ?? 0
        print(String(format: "filled %d conversations in %.1f s (%.0f conversations/s), %d transactions; database %.1f MB",
                     conversations, seconds, Double(conversations) / max(seconds, 0.001),
                     (conversations + batch - 1) / max(batch, 1), Double(size) / 1_048_576))
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = start.duration(to: .now)
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Agents, orgs (each owned by an agent, who is its default owner) and customers, created concurrently
    /// so that group commit batches them.
    private func makeDirectory(_ app: ParleyApp, at date: Date) async throws -> FillDirectory {
        let agentCount = agents, orgCount = orgs, perOrg = customersPerOrg
        let agentNumbers = try await Self.concurrently(agentCount) { index in
            try await app.insert(DevUser.self, actor: .system, at: date) { number in
                DevUser(number: number, email: "agent\(number)-\(UUID().uuidString.prefix(8))@fill.example", displayName: "Agent \(number)",
                        fullName: "Agent Number \(number)", role: .agent, createdBy: .system, at: date)
            }.number
        }
        let orgPairs = try await Self.concurrently(orgCount) { index in
            let owner = agentNumbers[index % agentNumbers.count]
            let (account, org) = try await app.insertPair(Account.self, RevOrg.self, actor: .system, at: date) { accountNumber, orgNumber in
                var account = Account(number: accountNumber, displayName: "Customer \(accountNumber)", description: nil,
                                      domains: [], ownedBy: [owner], externalRefs: [], websites: [],
                                      tier: ["free", "pro", "enterprise"][accountNumber % 3], createdBy: .system, at: date)
                account.defaultRevOrg = orgNumber
                let org = RevOrg(number: orgNumber, displayName: "Customer \(accountNumber)", description: nil, account: accountNumber,
                                 externalRef: nil, tier: nil, environment: nil, createdBy: .system, at: date)
                return (account, org)
            }
            return FillDirectory.Org(account: account.number, revOrg: org.number, owner: owner)
        }
        let customerNumbers = try await Self.concurrently(orgCount * perOrg) { index in
            let org = orgPairs[index / perOrg].revOrg
            return try await app.insert(RevUser.self, actor: .system, at: date) { number in
                RevUser(number: number, displayName: "Customer \(number)", fullName: nil, email: "customer\(number)@org\(org).fill.example",
                        externalRef: nil, revOrg: org, phoneNumbers: [], description: nil, createdBy: .system, at: date)
            }.number
        }
        let customers = customerNumbers.enumerated().map { index, number in
            FillDirectory.Customer(number: number, org: orgPairs[index / perOrg])
        }
        return FillDirectory(agents: agentNumbers, orgs: orgPairs, customers: customers)
    }

    /// Runs `body` for 0..<count with up to 128 calls in flight; results in index order.
    static func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
        var results = [T?](repeating: nil, count: count)
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            var next = 0
            while next < min(count, 128) {
                let index = next
                group.addTask { (index, try await body(index)) }
                next += 1
            }
            while let (index, value) = try await group.next() {
                results[index] = value
                if next < count {
                    let index = next
                    group.addTask { (index, try await body(index)) }
                    next += 1
                }
            }
        }
        return results.map { $0! }
    }
}

/// The people and orgs conversations are drawn from.
struct FillDirectory: Sendable {
    struct Org: Sendable {
        var account: Int
        var revOrg: Int
        var owner: Int
    }

    struct Customer: Sendable {
        var number: Int
        var org: Org
    }

    var agents: [Int]
    var orgs: [Org]
    var customers: [Customer]
}

/// Makes conversation number `n` as a pure function of its number and the seed: who writes, when, how many
/// messages, and where it ends up, through the domain's own transitions.
struct FillConversations: Sendable {
    var directory: FillDirectory
    var start: Date
    var span: Double
    var total: Int
    var seed: UInt64

    private static let words = [
        "login", "password", "reset", "invoice", "billing", "refund", "export", "import", "report", "dashboard",
        "error", "timeout", "crash", "slow", "sync", "mobile", "android", "iphone", "browser", "chrome", "safari",
        "upload", "download", "file", "attachment", "email", "notification", "webhook", "integration", "api", "token",
        "account", "user", "team", "permission", "admin", "setting", "plan", "upgrade", "trial", "subscription",
        "payment", "card", "declined", "charge", "receipt", "tax", "address", "shipping", "order", "delivery",
        "please", "help", "thanks", "since", "yesterday", "today", "again", "still", "cannot", "works", "broken",
        "the", "a", "is", "not", "when", "after", "we", "our", "my", "it", "this", "with", "from", "on", "in", "and",
        "version", "update", "release", "screen", "button", "page", "link", "search", "filter", "calendar", "time",
    ]

    private static let channels = ["widget", "widget", "widget", "email", "email", "api"]

    /// A stage mix close to a live support desk: most conversations closed, a working set open.
    private enum Ending: CaseIterable {
        case new, waitingOnUser, needsResponse, hold, resolved, archived
    }

    private func ending(_ roll: UInt64) -> Ending {
        switch roll % 100 {
        case 0..<6: .new
        case 6..<18: .waitingOnUser
        case 18..<30: .needsResponse
        case 30..<33: .hold
        case 33..<80: .resolved
        default: .archived
        }
    }

    private func priority(_ roll: UInt64) -> Priority {
        switch roll % 100 {
        case 0..<4: .p0
        case 4..<20: .p1
        case 20..<75: .p2
        default: .p3
        }
    }

    private static func text(_ generator: inout SplitMix, words count: Int) -> String {
        var text = ""
        text.reserveCapacity(count * 7)
        for index in 0..<count {
            if index > 0 { text += generator.next() % 11 == 0 ? ". " : " " }
            text += words[Int(generator.next() % UInt64(words.count))]
        }
        return text + "."
    }

    func conversation(number: Int) throws -> ConversationCreation {
        var generator = SplitMix(seed: seed &* 0x100_0000_01B3 ^ UInt64(number))
        let customer = directory.customers[Int(generator.next() % UInt64(directory.customers.count))]
        let customerActor = Actor.revUser(customer.number)
        let agent = Actor.devUser(customer.org.owner)
        // Spread over the history in number order, a few minutes of jitter.
        let position = Double(number % max(total, 1)) / Double(max(total, 1))
        var at = start.addingTimeInterval(position * span + Double(generator.next() % 600)).wholeMilliseconds
        let title = Self.text(&generator, words: 4 + Int(generator.next() % 6))
        let first = Self.text(&generator, words: 20 + Int(generator.next() % 120))
        let draft = ConversationDraft(title: title, sourceChannel: Self.channels[Int(generator.next() % UInt64(Self.channels.count))],
                                      revOrg: customer.org.revOrg, account: customer.org.account, messages: [first])
        let routing = RoutingDecision(owners: [customer.org.owner], priority: priority(generator.next()),
                                      record: RoutingRecord(reason: .orgDefaultOwner))
        var creation = try Conversation.open(number: number, draft: draft, routing: routing, by: customerActor, at: at)
        var conversation = creation.decision.conversation
        var events = creation.decision.events
        var comments = creation.comments

        func comment(by author: Actor, words: Int, visibility: Visibility = .external) throws {
            at = at.addingTimeInterval(Double(60 + generator.next() % 7_200))
            let body = Self.text(&generator, words: words)
            guard case .append(let decision) = try conversation.receivingComment(by: author, visibility: visibility, at: at) else { return }
            conversation = decision.conversation
            events += decision.events
            comments.append(CommentDraft(author: author, body: body, visibility: visibility, at: at))
        }
        func change(_ change: ConversationChange, by author: Actor) throws {
            at = at.addingTimeInterval(Double(60 + generator.next() % 3_600))
            let decision = try conversation.applying(change, by: author, at: at)
            conversation = decision.conversation
            events += decision.events
        }

        let ending = ending(generator.next())
        // Back-and-forth rounds before the ending: 0–3 (an agent reply and a customer answer each).
        let rounds = ending == .new ? 0 : Int(generator.next() % 4)
        for _ in 0..<rounds {
            if generator.next() % 5 == 0 { try comment(by: agent, words: 10 + Int(generator.next() % 30), visibility: .internal) }
            try comment(by: agent, words: 15 + Int(generator.next() % 60))
            try comment(by: customerActor, words: 8 + Int(generator.next() % 60))
        }
        switch ending {
        case .new:
            break
        case .waitingOnUser:
            try comment(by: agent, words: 15 + Int(generator.next() % 60))
        case .needsResponse:
            if rounds == 0 {
                try comment(by: agent, words: 15 + Int(generator.next() % 60))
                try comment(by: customerActor, words: 8 + Int(generator.next() % 60))
            }
        case .hold:
            if rounds == 0 {
                try comment(by: agent, words: 15 + Int(generator.next() % 60))
                try comment(by: customerActor, words: 8 + Int(generator.next() % 60))
            }
            try change(ConversationChange(stage: .hold), by: agent)
        case .resolved, .archived:
            try comment(by: agent, words: 15 + Int(generator.next() % 60))
            try change(ConversationChange(tags: TagChange(add: [TagValue(tag: SystemTag.resolution.number, value: "fixed")]),
                                          stage: .resolved), by: agent)
            if ending == .archived { try change(ConversationChange(stage: .archived), by: .system) }
        }
        creation.decision = ConversationDecision(conversation: conversation, events: events)
        creation.comments = comments
        return creation
    }
}

/// A one-line progress bar on standard error, redrawn in place.
struct ProgressBar {
    var total: Int
    var unit: String

    func show(_ done: Int, rate: Double) {
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let remaining = rate > 0 ? Double(total - done) / rate : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        let percent = total == 0 ? 100 : 100 * done / total
        let line = "\r[\(bar)] \(percent)% \(done)/\(total) \(unit), \(Int(rate))/s, ETA \(Int(remaining)) s "
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() { FileHandle.standardError.write(Data("\n".utf8)) }
}
