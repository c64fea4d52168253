/// Keyword routing configuration (DESIGN §4): an ordered list of rules and a fallback.
/// This is what `routing-rules.set` and `--routing FILE` carry, with ids as the client wrote them.
public struct RoutingConfiguration: Codable, Sendable, Equatable {
    public struct Rule: Codable, Sendable, Equatable {
        public enum Match: String, Codable, Sendable, CaseIterable { case any, all }
        public enum Field: String, Codable, Sendable, CaseIterable { case title, body }

        public var id: String
        public var keywords: [String]
        public var match: Match?
        public var fields: [Field]?
        public var owner: String?
        public var group: String?
        public var priority: Priority?
        /// Conditions: the rule applies only to these channels, customer orgs (rev orgs) or tags.
        public var channels: [String]?
        public var orgs: [String]?
        public var tags: [String]?

        public init(id: String, keywords: [String], match: Match? = nil, fields: [Field]? = nil, owner: String? = nil,
                    group: String? = nil, priority: Priority? = nil, channels: [String]? = nil, orgs: [String]? = nil,
                    tags: [String]? = nil) {
            self.id = id
            self.keywords = keywords
            self.match = match
            self.fields = fields
            self.owner = owner
            self.group = group
            self.priority = priority
            self.channels = channels
            self.orgs = orgs
            self.tags = tags
        }
    }

    public struct Target: Codable, Sendable, Equatable {
        public var owner: String?
        public var group: String?

        public init(owner: String? = nil, group: String? = nil) {
            self.owner = owner
            self.group = group
        }
    }

    public var rules: [Rule]
    public var fallback: Target?

    public init(rules: [Rule] = [], fallback: Target? = nil) {
        self.rules = rules
        self.fallback = fallback
    }
}

/// A configuration found wrong: which rule, which field, and why.
public struct RoutingConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public var field: String
    public var message: String
    public var description: String { "\(field): \(message)" }
}

/// A validated rule, with ids resolved to numbers.
public struct RoutingRule: Sendable, Equatable {
    public var id: String
    public var keywords: [String]
    public var matchAll: Bool
    public var inTitle: Bool
    public var inBody: Bool
    public var owner: Int?
    public var group: Int?
    public var priority: Priority?
    public var channels: Set<String>?
    public var orgs: Set<Int>?
    public var tags: Set<Int>?
}

/// A configuration version, validated and compiled: one automaton over every rule's keywords.
public struct RoutingEngine: Sendable {
    public let version: Int
    public let rules: [RoutingRule]
    public let fallbackOwner: Int?
    public let fallbackGroup: Int?
    /// Keyword i of the automaton belongs to rule `keywordRule[i]`, as its `keywordSlot[i]`-th keyword.
    private let keywordRule: [Int32]
    private let keywordSlot: [Int32]
    private let automaton: KeywordAutomaton

    /// Validates `configuration`; every error names the rule (by position and id) and the field.
    public init(_ configuration: RoutingConfiguration, version: Int) throws(RoutingConfigurationError) {
        var rules: [RoutingRule] = []
        var seen = Set<String>()
        var keywordHashes: [[UInt64]] = []
        var keywordRule: [Int32] = []
        var keywordSlot: [Int32] = []
        func ids(_ texts: [String]?, _ kinds: Set<ObjectKind>, _ field: String) throws(RoutingConfigurationError) -> Set<Int>? {
            guard let texts else { return nil }
            var numbers = Set<Int>()
            for (index, text) in texts.enumerated() {
                guard let id = ObjectID.parse(text, as: kinds) else {
                    throw RoutingConfigurationError(field: "\(field)[\(index)]", message: "'\(text)' is not a \(kinds.map(\.rawValue).sorted().joined(separator: " or ")) id")
                }
                numbers.insert(id.number)
            }
            return numbers
        }
        for (position, spec) in configuration.rules.enumerated() {
            let name = "rules[\(position)]"
            let id = spec.id.trimmed
            guard !id.isEmpty else { throw RoutingConfigurationError(field: "\(name).id", message: "every rule needs an id") }
            let label = "\(name) (\(id))"
            guard seen.insert(id).inserted else {
                throw RoutingConfigurationError(field: "\(label).id", message: "duplicate rule id '\(id)'")
            }
            guard !spec.keywords.isEmpty else {
                throw RoutingConfigurationError(field: "\(label).keywords", message: "a rule needs at least one keyword or phrase")
            }
            for (index, keyword) in spec.keywords.enumerated() {
                let hashes = TextTokens.hashes(keyword)
                guard !hashes.isEmpty else {
                    throw RoutingConfigurationError(field: "\(label).keywords[\(index)]", message: "'\(keyword)' has no letters, digits or symbols to match")
                }
                keywordHashes.append(hashes)
                keywordRule.append(Int32(rules.count))
                keywordSlot.append(Int32(index))
            }
            let fields = spec.fields ?? [.title, .body]
            guard !fields.isEmpty else {
                throw RoutingConfigurationError(field: "\(label).fields", message: "name at least one of title, body")
            }
            var owner: Int?
            if let text = spec.owner {
                guard let parsed = ObjectID.parse(text, as: [.devUser]) else {
                    throw RoutingConfigurationError(field: "\(label).owner", message: "'\(text)' is not a dev user id (DEVU-<n>)")
                }
                owner = parsed.number
            }
            var group: Int?
            if let text = spec.group {
                guard let parsed = ObjectID.parse(text, as: [.group]) else {
                    throw RoutingConfigurationError(field: "\(label).group", message: "'\(text)' is not a group id (GROUP-<n>)")
                }
                group = parsed.number
            }
            guard owner != nil || group != nil || spec.priority != nil else {
                throw RoutingConfigurationError(field: "\(label)", message: "a rule needs an owner, a group or a priority to set")
            }
            rules.append(RoutingRule(
                id: id, keywords: spec.keywords, matchAll: spec.match == .all, inTitle: fields.contains(.title),
                inBody: fields.contains(.body), owner: owner, group: group, priority: spec.priority,
                channels: spec.channels.map { Set($0.map { $0.lowercased() }) },
                orgs: try ids(spec.orgs, [.revOrg], "\(label).orgs"), tags: try ids(spec.tags, [.tag], "\(label).tags")))
        }
        var fallbackOwner: Int?
        var fallbackGroup: Int?
        if let fallback = configuration.fallback {
            if let text = fallback.owner {
                guard let parsed = ObjectID.parse(text, as: [.devUser]) else {
                    throw RoutingConfigurationError(field: "fallback.owner", message: "'\(text)' is not a dev user id (DEVU-<n>)")
                }
                fallbackOwner = parsed.number
            }
            if let text = fallback.group {
                guard let parsed = ObjectID.parse(text, as: [.group]) else {
                    throw RoutingConfigurationError(field: "fallback.group", message: "'\(text)' is not a group id (GROUP-<n>)")
                }
                fallbackGroup = parsed.number
            }
        }
        self.version = version
        self.rules = rules
        self.fallbackOwner = fallbackOwner
        self.fallbackGroup = fallbackGroup
        self.keywordRule = keywordRule
        self.keywordSlot = keywordSlot
        self.automaton = KeywordAutomaton(keywords: keywordHashes)
    }

    /// Every dev user and group the configuration names (the server checks that they exist).
    public var referencedDevUsers: Set<Int> { Set(rules.compactMap(\.owner) + [fallbackOwner].compactMap { $0 }) }
    public var referencedGroups: Set<Int> { Set(rules.compactMap(\.group) + [fallbackGroup].compactMap { $0 }) }

    /// The first rule (in order) that matches, with the keyword that made it match.
    public func firstMatch(title: String, body: String, channel: String, revOrg: Int?, tags: [Int]) -> (rule: RoutingRule, keyword: String)? {
        // The keywords found in each field (automaton indices); usually few, so plain arrays.
        var inTitle: [Int] = []
        var inBody: [Int] = []
        automaton.scan(title) { inTitle.append($0) }
        automaton.scan(body) { inBody.append($0) }
        if inTitle.isEmpty, inBody.isEmpty { return nil }
        let candidates = Set((inTitle + inBody).map { keywordRule[$0] }).sorted()
        for index in candidates {
            let rule = rules[Int(index)]
            var found = Set<Int32>()
            if rule.inTitle { for keyword in inTitle where keywordRule[keyword] == index { found.insert(keywordSlot[keyword]) } }
            if rule.inBody { for keyword in inBody where keywordRule[keyword] == index { found.insert(keywordSlot[keyword]) } }
            guard !found.isEmpty else { continue }
            if rule.matchAll, found.count < rule.keywords.count { continue }
            if let channels = rule.channels, !channels.contains(channel.lowercased()) { continue }
            if let orgs = rule.orgs, !orgs.contains(revOrg ?? -1) { continue }
            if let required = rule.tags, required.isDisjoint(with: tags) { continue }
            let slot = rule.matchAll ? 0 : Int(found.min()!)
            return (rule, rule.matchAll ? rule.keywords.joined(separator: " + ") : rule.keywords[slot])
        }
        return nil
    }
}
