/// Spam filter configuration (`spam-rules.set`): block lists, weighted patterns and a threshold.
public struct SpamConfiguration: Codable, Sendable, Equatable {
    public struct PatternRule: Codable, Sendable, Equatable {
        /// A regular expression, matched case-insensitively against the title and the first message, in
        /// time linear in the text (`LinearPattern`: no backreferences or lookaround).
        public var pattern: String
        public var weight: Double

        public init(pattern: String, weight: Double) {
            self.pattern = pattern
            self.weight = weight
        }
    }

    public var blockedDomains: [String]
    public var blockedSenders: [String]
    public var rules: [PatternRule]
    /// A score at or above this suspends the conversation.
    public var threshold: Double

    public init(blockedDomains: [String] = [], blockedSenders: [String] = [], rules: [PatternRule] = [], threshold: Double = 3) {
        self.blockedDomains = blockedDomains
        self.blockedSenders = blockedSenders
        self.rules = rules
        self.threshold = threshold
    }

    enum CodingKeys: String, CodingKey {
        case blockedDomains = "blocked_domains", blockedSenders = "blocked_senders", rules, threshold
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        blockedDomains = try container.decodeIfPresent([String].self, forKey: .blockedDomains) ?? []
        blockedSenders = try container.decodeIfPresent([String].self, forKey: .blockedSenders) ?? []
        rules = try container.decodeIfPresent([PatternRule].self, forKey: .rules) ?? []
        threshold = try container.decodeIfPresent(Double.self, forKey: .threshold) ?? 3
    }
}

/// The filter's judgement of a new conversation.
public struct SpamAssessment: Codable, Sendable, Hashable {
    public var score: Double
    public var threshold: Double
    public var reasons: [String]
    public var isSpam: Bool { score >= threshold }

    public init(score: Double, threshold: Double, reasons: [String]) {
        self.score = score
        self.threshold = threshold
        self.reasons = reasons
    }
}

/// Scores the first customer message and its sender: block lists, weighted patterns, and heuristics on
/// links and characters. Compiled once per configuration version; pure.
public struct SpamFilter: Sendable {
    public let configuration: SpamConfiguration
    public let version: Int
    private let blockedDomains: Set<String>
    private let blockedSenders: Set<String>
    /// The rules' patterns, compiled; nil for a stored pattern this version cannot compile (it never matches).
    private let patterns: [LinearPattern?]
    /// Stored patterns that no longer compile (accepted by an earlier version): they never match.
    public let unusablePatterns: [String]
    /// Steps one assessment may spend on all its patterns together (`LinearPattern.search`): a 1 MB message
    /// searched by a dozen ordinary patterns takes a small part of it; what runs out counts as no match.
    public static let stepBudget = 50_000_000

    /// Heuristic weights: fixed, documented in docs/routing.md.
    public static let linkWeight = 1.0, shoutingWeight = 1.0, invisibleWeight = 1.5, punctuationWeight = 0.5
    /// The largest rule weight and threshold a configuration may set (the default threshold is 3).
    public static let largestWeight = 1_000_000.0

    public init(_ configuration: SpamConfiguration, version: Int) throws(RoutingConfigurationError) {
        guard configuration.threshold > 0, configuration.threshold <= Self.largestWeight else {
            throw RoutingConfigurationError(field: "threshold", message: "must be greater than 0 and at most \(Int(Self.largestWeight))")
        }
        for (index, rule) in configuration.rules.enumerated() {
            guard !rule.pattern.isEmpty else { throw RoutingConfigurationError(field: "rules[\(index)].pattern", message: "must not be empty") }
            // A score is a sum of weights: bounded weights keep it a finite number that can be stored.
            guard abs(rule.weight) <= Self.largestWeight else {
                throw RoutingConfigurationError(field: "rules[\(index)].weight", message: "must be between -\(Int(Self.largestWeight)) and \(Int(Self.largestWeight))")
            }
            do {
                _ = try LinearPattern(rule.pattern)
            } catch {
                throw RoutingConfigurationError(field: "rules[\(index)].pattern", message: "'\(rule.pattern)' \(error.message)")
            }
        }
        for (index, domain) in configuration.blockedDomains.enumerated() where domain.trimmed.isEmpty || domain.contains("@") {
            throw RoutingConfigurationError(field: "blocked_domains[\(index)]", message: "'\(domain)' is not a domain")
        }
        for (index, sender) in configuration.blockedSenders.enumerated() where !sender.contains("@") {
            throw RoutingConfigurationError(field: "blocked_senders[\(index)]", message: "'\(sender)' is not an email address")
        }
        self.init(checked: configuration, version: version)
    }

    /// A filter for a configuration stored earlier: never refused, since conversations must keep being
    /// assessed; a pattern this version cannot compile is left out and listed in `unusablePatterns`.
    public init(stored configuration: SpamConfiguration, version: Int) {
        self.init(checked: configuration, version: version)
    }

    private init(checked configuration: SpamConfiguration, version: Int) {
        self.configuration = configuration
        self.version = version
        patterns = configuration.rules.map { try? LinearPattern($0.pattern) }
        unusablePatterns = zip(configuration.rules, patterns).filter { $0.1 == nil }.map(\.0.pattern)
        self.blockedDomains = Set(configuration.blockedDomains.map { $0.trimmed.lowercased() })
        self.blockedSenders = Set(configuration.blockedSenders.map { $0.trimmed.lowercased() })
    }

    /// Whether assessing runs patterns (which may take a while on a large message) or only cheap checks.
    public var hasPatterns: Bool { patterns.contains { $0 != nil } }

    public func assess(title: String, body: String, senderEmail: String?) -> SpamAssessment {
        assessed(title: title, body: body, senderEmail: senderEmail).assessment
    }

    /// The assessment, and the patterns whose search ran out of steps (counted as no match; to be logged).
    public func assessed(title: String, body: String, senderEmail: String?) -> (assessment: SpamAssessment, outOfSteps: [String]) {
        var outOfSteps: [String] = []
        var score = 0.0
        var reasons: [String] = []
        func add(_ weight: Double, _ reason: String) {
            score += weight
            reasons.append("\(reason) (+\(weight))")
        }
        if let email = senderEmail?.lowercased() {
            if blockedSenders.contains(email) { add(configuration.threshold, "blocked sender \(email)") }
            if let at = email.lastIndex(of: "@") {
                let domain = String(email[email.index(after: at)...])
                if let blocked = blockedDomains.first(where: { domain == $0 || domain.hasSuffix("." + $0) }) {
                    add(configuration.threshold, "blocked domain \(blocked)")
                }
            }
        }
        let text = title + "\n" + body
        if hasPatterns {
            let folded = FoldedText(text)
            var budget = Self.stepBudget
            for (rule, pattern) in zip(configuration.rules, patterns) {
                guard let pattern else { continue }
                switch pattern.search(in: folded, budget: &budget) {
                case .match: add(rule.weight, "matches /\(rule.pattern)/")
                case .noMatch: break
                case .outOfSteps: outOfSteps.append(rule.pattern)
                }
            }
        }
        let links = text.split(whereSeparator: \.isWhitespace).filter { $0.lowercased().hasPrefix("http://") || $0.lowercased().hasPrefix("https://") || $0.lowercased().hasPrefix("www.") }.count
        if links >= 3 { add(Self.linkWeight * Double(min(links - 2, 3)), "\(links) links") }
        var letters = 0, upper = 0, invisible = 0
        let prose = text.split(whereSeparator: \.isWhitespace).filter { !$0.contains("://") && !$0.lowercased().hasPrefix("www.") }.joined(separator: " ")
        for scalar in prose.unicodeScalars {
            if scalar.properties.isAlphabetic {
                letters += 1
                if scalar.properties.isUppercase { upper += 1 }
            }
        }
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x200B...0x200F, 0x2060...0x2064, 0xFEFF, 0x202A...0x202E: invisible += 1
            default: break
            }
        }
        if letters >= 20, Double(upper) / Double(letters) > 0.7 { add(Self.shoutingWeight, "mostly capital letters") }
        if invisible > 0 { add(Self.invisibleWeight, "\(invisible) invisible characters") }
        if text.contains("!!!") || text.contains("$$$") { add(Self.punctuationWeight, "runs of !!! or $$$") }
        return (SpamAssessment(score: (score * 1000).rounded() / 1000, threshold: configuration.threshold, reasons: reasons), outOfSteps)
    }
}
