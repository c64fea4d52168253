/// What routing knows about a new conversation.
public struct RoutingRequest: Sendable, Equatable {
    public var title: String
    /// The first customer message.
    public var body: String
    public var channel: String
    public var revOrg: Int?
    public var tags: [Int]
    /// The customer org's default owner, if the org is known and its owner is active.
    public var orgDefaultOwner: Int?
    /// When the customer org (its account) was created; nil for an unidentified customer.
    public var orgCreatedAt: Date?
    /// Owners given explicitly on create: they win.
    public var explicitOwners: [Int]?
    /// A priority given explicitly on create: it wins.
    public var explicitPriority: Priority?

    public init(title: String, body: String, channel: String, revOrg: Int? = nil, tags: [Int] = [], orgDefaultOwner: Int? = nil,
                orgCreatedAt: Date? = nil, explicitOwners: [Int]? = nil, explicitPriority: Priority? = nil) {
        self.title = title
        self.body = body
        self.channel = channel
        self.revOrg = revOrg
        self.tags = tags
        self.orgDefaultOwner = orgDefaultOwner
        self.orgCreatedAt = orgCreatedAt
        self.explicitOwners = explicitOwners
        self.explicitPriority = explicitPriority
    }
}

/// How priorities start (DESIGN §4): established orgs at `standard`, new or unidentified ones one lower.
public struct PriorityPolicy: Sendable, Equatable {
    public var standard: Priority
    /// An org younger than this is new.
    public var newOrgDays: Int

    public init(standard: Priority = .p2, newOrgDays: Int = 30) {
        self.standard = standard
        self.newOrgDays = newOrgDays
    }
}

extension Priority {
    /// One level lower (p2 → p3), or the lowest.
    public var lowered: Priority { Priority.allCases[min(rank + 1, Priority.allCases.count - 1)] }
    /// One level higher (p2 → p1), or the highest.
    public var raised: Priority { Priority.allCases[max(rank - 1, 0)] }
}

/// Where a new conversation goes, at which priority, and why.
public struct RoutingDecision: Sendable, Equatable {
    public var owners: [Int]
    public var group: Int?
    public var priority: Priority
    public var record: RoutingRecord

    public init(owners: [Int], group: Int? = nil, priority: Priority = .p2, record: RoutingRecord) {
        self.owners = owners
        self.group = group
        self.priority = priority
        self.record = record
    }

    /// Routing without rules: the explicit owner, else the org's default owner, else unassigned.
    public static func byOrgDefault(_ request: RoutingRequest, policy: PriorityPolicy = PriorityPolicy(), at now: Date) -> RoutingDecision {
        decide(request, engine: nil, policy: policy, at: now)
    }

    /// The routing decision of DESIGN §4: explicit owners win; else the first matching keyword rule;
    /// else the customer org's default owner; else the configured fallback (or the unassigned queue).
    public static func decide(_ request: RoutingRequest, engine: RoutingEngine?, policy: PriorityPolicy, at now: Date) -> RoutingDecision {
        var decision: RoutingDecision
        let match = engine?.firstMatch(title: request.title, body: request.body, channel: request.channel,
                                       revOrg: request.revOrg, tags: request.tags)
        if let explicit = request.explicitOwners, !explicit.isEmpty {
            decision = RoutingDecision(owners: explicit, group: match?.rule.group, record: RoutingRecord(reason: .explicit))
        } else if let match, match.rule.owner != nil || match.rule.group != nil {
            decision = RoutingDecision(owners: match.rule.owner.map { [$0] } ?? request.orgDefaultOwner.map { [$0] } ?? [],
                                       group: match.rule.group,
                                       record: RoutingRecord(reason: .rule, rule: match.rule.id, keyword: match.keyword))
        } else if let owner = request.orgDefaultOwner {
            decision = RoutingDecision(owners: [owner], record: RoutingRecord(reason: .orgDefaultOwner))
        } else {
            decision = RoutingDecision(owners: engine?.fallbackOwner.map { [$0] } ?? [], group: engine?.fallbackGroup,
                                       record: RoutingRecord(reason: .fallback))
        }
        // Priority: explicit, else the rule's, else by the org's standing.
        if let explicit = request.explicitPriority {
            decision.priority = explicit
            decision.record.priorityReason = "explicit"
        } else if let priority = match?.rule.priority {
            decision.priority = priority
            decision.record.priorityReason = "rule \(match!.rule.id)"
        } else if let created = request.orgCreatedAt {
            let ageDays = now.timeIntervalSince(created) / 86_400
            if ageDays < Double(policy.newOrgDays) {
                decision.priority = policy.standard.lowered
                decision.record.priorityReason = "new org (under \(policy.newOrgDays) days old)"
            } else {
                decision.priority = policy.standard
                decision.record.priorityReason = "established org"
            }
        } else {
            decision.priority = policy.standard.lowered
            decision.record.priorityReason = "unidentified org"
        }
        if decision.record.reason != .rule, let match, match.rule.owner == nil, match.rule.group == nil {
            // A rule that only sets a priority still says why.
            decision.record.rule = match.rule.id
            decision.record.keyword = match.keyword
        }
        return decision
    }
}
