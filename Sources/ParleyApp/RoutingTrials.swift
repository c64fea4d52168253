import Foundation
import ParleyCore
import ParleyStore

/// What proposed routing rules would do, before they are saved: for one message (explain) and for the
/// stored conversations (simulate). Nothing is written. The admin pages and `parley routing` use these.
public struct RoutingExplanation: Sendable {
    public var decision: RoutingDecision
    /// The customer org found by the email's domain, if any.
    public var account: Account?

    public init(decision: RoutingDecision, account: Account?) {
        self.decision = decision
        self.account = account
    }
}

public struct RoutingSimulation: Sendable {
    public struct Move: Sendable, Equatable {
        public var from: [Int]
        public var to: [Int]
        public var why: RoutingRecord
        public var count: Int
    }

    /// Conversations replayed (the newest `limit`), and how many would get another owner.
    public var replayed: Int
    public var changed: Int
    /// Who would lose conversations to whom, most first.
    public var moves: [Move]
}

extension ParleyApp {
    /// The owner, group and priority a message would get under `engine`, and why. With an email, the
    /// customer's org is found by its domain, as a new customer's would be.
    public func explainRouting(_ engine: RoutingEngine, title: String, body: String, email: String?, channel: String = "widget") async throws
        -> RoutingExplanation {
        var request = RoutingRequest(title: title, body: body, channel: channel)
        var account: Account?
        if let email, let at = email.lastIndex(of: "@") {
            let domain = String(email[email.index(after: at)...]).trimmed.lowercased()
            account = try await store.find(Account.self, key: "domain", value: domain).first
            if let account {
                request.revOrg = account.defaultRevOrg
                request.orgDefaultOwner = try await RoutingRequest.activeDefaultOwner(of: account, in: store)
                request.orgCreatedAt = account.createdDate
            }
        }
        return RoutingExplanation(decision: RoutingDecision.decide(request, engine: engine, policy: priorityPolicy, at: clock.now()),
                                  account: account)
    }

    /// Replays the newest `limit` stored conversations through `engine` (each as it arrived: its title,
    /// first public message and org) and counts who would own them instead.
    public func simulateRouting(_ engine: RoutingEngine, limit: Int = 2_000) async throws -> RoutingSimulation {
        var query = ConversationQuery()
        query.page.limit = min(limit, 500)
        query.sort = .createdDate(descending: true)
        struct Key: Hashable { var from: [Int], to: [Int], why: RoutingRecord }
        var moves: [Key: RoutingSimulation.Move] = [:]
        var replayed = 0, changed = 0
        var cursor: String?
        repeat {
            query.page.cursor = cursor
            let page = try await store.listConversations(query)
            for conversation in page.items where replayed < limit {
                let request = try await RoutingRequest.replaying(conversation, store: store, keepPriority: false)
                let decision = RoutingDecision.decide(request, engine: engine, policy: priorityPolicy, at: conversation.createdDate)
                replayed += 1
                guard decision.owners != conversation.ownedBy else { continue }
                changed += 1
                let key = Key(from: conversation.ownedBy, to: decision.owners, why: decision.record)
                moves[key, default: RoutingSimulation.Move(from: key.from, to: key.to, why: key.why, count: 0)].count += 1
            }
            cursor = page.nextCursor
        } while cursor != nil && replayed < limit
        return RoutingSimulation(replayed: replayed, changed: changed,
                                 moves: moves.values.sorted { ($0.count, $1.why.summary) > ($1.count, $0.why.summary) })
    }
}
