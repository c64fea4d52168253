import ParleyCore
import Testing

private func engine(_ rules: [RoutingConfiguration.Rule], fallback: RoutingConfiguration.Target? = nil) throws -> RoutingEngine {
    try RoutingEngine(RoutingConfiguration(rules: rules, fallback: fallback), version: 1)
}

private func decide(_ engine: RoutingEngine?, title: String = "", body: String = "", channel: String = "widget",
                    orgOwner: Int? = 5, orgAge days: Double? = 400, explicit: [Int]? = nil) -> RoutingDecision {
    RoutingDecision.decide(
        RoutingRequest(title: title, body: body, channel: channel, orgDefaultOwner: orgOwner,
                       orgCreatedAt: days.map { t0 - $0 * 86_400 }, explicitOwners: explicit),
        engine: engine, policy: PriorityPolicy(), at: t0)
}

@Suite("Keyword matching")
struct KeywordMatchingTests {
    @Test("tokens fold case, accents and width")
    func folding() {
        #expect(TextTokens.words("Crème BRÛLÉE, s'il vous plaît!") == ["creme", "brulee", "s", "il", "vous", "plait"])
        #expect(TextTokens.words("ＡＢＣ déjà-vu Ångström") == ["abc", "deja", "vu", "angstrom"])
        #expect(TextTokens.words("ΣΊΣΥΦΟΣ Привет") == ["σισυφοσ", "привет"] || TextTokens.words("ΣΊΣΥΦΟΣ Привет") == ["σισυφος", "привет"])
        #expect(TextTokens.words("e\u{301}te\u{301}") == ["ete"], "decomposed accents fold too")
        #expect(TextTokens.words("東京タワー") == ["東", "京", "タ", "ワ", "ー"] || TextTokens.words("東京タワー").count >= 4)
        #expect(TextTokens.words("fire🔥 now") == ["fire", "🔥", "now"])
        #expect(TextTokens.words("in\u{200B}voice") == ["invoice"], "zero-width characters do not split or hide words")
    }

    @Test("whole words and phrases, any case and accent", arguments: [
        ("Refund please", "refund", true),
        ("REFUNDS please", "refund", false),            // whole words only
        ("prefund", "refund", false),
        ("I want a réfund", "refund", true),            // accent-insensitive
        ("Need an INVOICE copy", "invoice copy", true),  // phrase
        ("invoice, copy", "invoice copy", true),         // punctuation between words
        ("copy invoice", "invoice copy", false),         // order matters in a phrase
        ("東京の支店", "東京", true),                      // CJK: no spaces, substring of ideographs
        ("京都", "東京", false),
        ("server on 🔥 again", "🔥", true),               // emoji
        ("Straße gesperrt", "strasse", true),            // ß folds to ss
        ("ÇA NE MARCHE PAS", "ça ne marche pas", true),
    ])
    func matching(text: String, keyword: String, expected: Bool) {
        let automaton = KeywordAutomaton(keywords: [TextTokens.hashes(keyword)])
        var found = false
        automaton.scan(text) { _ in found = true }
        #expect(found == expected, "'\(keyword)' in '\(text)'")
    }

    @Test("one pass finds every keyword, overlapping ones included")
    func overlapping() {
        let keywords = ["password reset", "reset", "password", "reset link expired", "link"]
        let automaton = KeywordAutomaton(keywords: keywords.map(TextTokens.hashes))
        var found = Set<Int>()
        automaton.scan("My password reset link expired today") { found.insert($0) }
        #expect(found == [0, 1, 2, 3, 4])
    }
}

@Suite("Routing decisions")
struct RoutingDecisionTests {
    let rules = [
        RoutingConfiguration.Rule(id: "billing", keywords: ["invoice", "refund", "credit card"], owner: "DEVU-10"),
        RoutingConfiguration.Rule(id: "sso", keywords: ["saml", "okta"], match: .all, fields: [.body], group: "GROUP-2"),
        RoutingConfiguration.Rule(id: "outage", keywords: ["down"], priority: .p0),
        RoutingConfiguration.Rule(id: "email-only", keywords: ["unsubscribe"], owner: "DEVU-11", channels: ["email"]),
    ]

    @Test("the first matching rule decides, with the keyword recorded")
    func firstRule() throws {
        let engine = try engine(rules)
        let decision = decide(engine, title: "Refund for my invoice")
        #expect(decision.owners == [10])
        #expect(decision.record == RoutingRecord(reason: .rule, rule: "billing", keyword: "invoice", priorityReason: "established org"))
    }

    @Test("match all, fields and conditions")
    func ruleOptions() throws {
        let engine = try engine(rules)
        #expect(decide(engine, body: "Okta login fails").record.reason == .orgDefaultOwner, "all keywords needed")
        #expect(decide(engine, title: "SAML okta", body: "").record.reason == .orgDefaultOwner, "body only")
        let sso = decide(engine, body: "SAML assertion from Okta is rejected")
        #expect(sso.group == 2 && sso.owners == [5] && sso.record.rule == "sso")
        #expect(decide(engine, title: "unsubscribe me", channel: "widget").record.reason == .orgDefaultOwner)
        #expect(decide(engine, title: "unsubscribe me", channel: "email").owners == [11])
    }

    @Test("a rule may set only the priority; the owner is then the org's default")
    func priorityRule() throws {
        let decision = decide(try engine(rules), title: "Everything is down")
        #expect(decision.priority == .p0 && decision.owners == [5])
        #expect(decision.record.reason == .orgDefaultOwner && decision.record.rule == "outage")
    }

    @Test("no rule: the org's default owner; no org: the fallback, else unassigned")
    func defaults() throws {
        #expect(decide(try engine(rules), title: "hello").owners == [5])
        let withFallback = try engine(rules, fallback: .init(owner: "DEVU-99", group: "GROUP-7"))
        let fallback = decide(withFallback, title: "hello", orgOwner: nil, orgAge: nil)
        #expect(fallback.owners == [99] && fallback.group == 7 && fallback.record.reason == .fallback)
        #expect(decide(nil, title: "hello", orgOwner: nil, orgAge: nil).owners.isEmpty)
    }

    @Test("explicit owners win and are recorded as such")
    func explicit() throws {
        let decision = decide(try engine(rules), title: "refund", explicit: [3])
        #expect(decision.owners == [3] && decision.record.reason == .explicit)
    }

    @Test("new and unidentified orgs start one priority lower")
    func priorities() {
        #expect(decide(nil, orgAge: 400).priority == .p2)
        #expect(decide(nil, orgAge: 400).record.priorityReason == "established org")
        #expect(decide(nil, orgAge: 3).priority == .p3)
        #expect(decide(nil, orgAge: 3).record.priorityReason?.hasPrefix("new org") == true)
        #expect(decide(nil, orgOwner: nil, orgAge: nil).priority == .p3)
        #expect(decide(nil, orgOwner: nil, orgAge: nil).record.priorityReason == "unidentified org")
        let policy = PriorityPolicy(standard: .p1, newOrgDays: 7)
        let custom = RoutingDecision.decide(RoutingRequest(title: "", body: "", channel: "api", orgCreatedAt: t0 - 10 * 86_400),
                                            engine: nil, policy: policy, at: t0)
        #expect(custom.priority == .p1)
    }

    @Test("invalid configurations are refused, naming the rule and the field", arguments: [
        (RoutingConfiguration.Rule(id: "", keywords: ["x"], owner: "DEVU-1"), "rules[0].id"),
        (RoutingConfiguration.Rule(id: "a", keywords: [], owner: "DEVU-1"), "rules[0] (a).keywords"),
        (RoutingConfiguration.Rule(id: "a", keywords: ["ok", "!!!"], owner: "DEVU-1"), "rules[0] (a).keywords[1]"),
        (RoutingConfiguration.Rule(id: "a", keywords: ["x"], owner: "GROUP-1"), "rules[0] (a).owner"),
        (RoutingConfiguration.Rule(id: "a", keywords: ["x"], group: "bob"), "rules[0] (a).group"),
        (RoutingConfiguration.Rule(id: "a", keywords: ["x"]), "rules[0] (a)"),
        (RoutingConfiguration.Rule(id: "a", keywords: ["x"], fields: [], owner: "DEVU-1"), "rules[0] (a).fields"),
        (RoutingConfiguration.Rule(id: "a", keywords: ["x"], owner: "DEVU-1", orgs: ["ACC-1"]), "rules[0] (a).orgs[0]"),
    ])
    func invalid(rule: RoutingConfiguration.Rule, field: String) {
        #expect(throws: RoutingConfigurationError.self) { try engine([rule]) }
        do {
            _ = try engine([rule])
        } catch let error as RoutingConfigurationError {
            #expect(error.field == field, "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("duplicate rule ids are refused")
    func duplicates() {
        let rule = RoutingConfiguration.Rule(id: "a", keywords: ["x"], owner: "DEVU-1")
        #expect(throws: RoutingConfigurationError.self) { try engine([rule, rule]) }
    }
}

@Suite("Spam filter")
struct SpamFilterTests {
    @Test("an ordinary message is not spam")
    func ordinary() throws {
        let filter = try SpamFilter(SpamConfiguration(), version: 0)
        let verdict = filter.assess(title: "Login loops", body: "Since this morning the login page loops. See https://app.example/login",
                                    senderEmail: "alice@acme.test")
        #expect(!verdict.isSpam && verdict.score == 0 && verdict.reasons.isEmpty)
    }

    @Test("block lists, patterns and heuristics add up, with reasons")
    func scoring() throws {
        let configuration = SpamConfiguration(blockedDomains: ["spam.test"], blockedSenders: ["bad@evil.test"],
                                              rules: [.init(pattern: "cheap (watches|pills)", weight: 2)], threshold: 3)
        let filter = try SpamFilter(configuration, version: 1)
        #expect(filter.assess(title: "hi", body: "hello", senderEmail: "x@mail.spam.test").isSpam)
        #expect(filter.assess(title: "hi", body: "hello", senderEmail: "BAD@evil.test").isSpam)
        let pattern = filter.assess(title: "CHEAP WATCHES", body: "best prices", senderEmail: "a@b.test")
        #expect(pattern.score == 2 && !pattern.isSpam)
        let heavy = filter.assess(title: "CHEAP WATCHES!!!", body: "BUY NOW AT http://a.test http://b.test http://c.test http://d.test TODAY",
                                  senderEmail: "a@b.test")
        #expect(heavy.isSpam)
        #expect(heavy.reasons.contains { $0.contains("links") } && heavy.reasons.contains { $0.contains("capital") })
        #expect(filter.assess(title: "in\u{200B}voice", body: "pay", senderEmail: nil).reasons.contains { $0.contains("invisible") })
    }

    @Test("bad configurations are refused with the field")
    func invalid() throws {
        #expect(throws: RoutingConfigurationError.self) { try SpamFilter(SpamConfiguration(rules: [.init(pattern: "(", weight: 1)]), version: 0) }
        #expect(throws: RoutingConfigurationError.self) { try SpamFilter(SpamConfiguration(threshold: 0), version: 0) }
        // A weight of 1e306 made the score +infinity (it is rounded through score × 1000), which no JSON document can hold.
        #expect(throws: RoutingConfigurationError.self) { try SpamFilter(SpamConfiguration(rules: [.init(pattern: "buy", weight: 1e306)]), version: 0) }
        #expect(throws: RoutingConfigurationError.self) { try SpamFilter(SpamConfiguration(rules: [.init(pattern: "buy", weight: -.infinity)]), version: 0) }
        #expect(throws: RoutingConfigurationError.self) { try SpamFilter(SpamConfiguration(threshold: .nan), version: 0) }
        #expect(throws: RoutingConfigurationError.self) { try SpamFilter(SpamConfiguration(threshold: 2e6), version: 0) }
        let largest = try SpamFilter(SpamConfiguration(rules: [.init(pattern: "buy", weight: SpamFilter.largestWeight)],
                                                       threshold: SpamFilter.largestWeight), version: 0)
        #expect(largest.assess(title: "buy buy", body: "buy", senderEmail: nil).isSpam)
        #expect(throws: RoutingConfigurationError.self) { try SpamFilter(SpamConfiguration(blockedSenders: ["nobody"]), version: 0) }
    }

    @Test("a conversation judged spam starts suspended and unrouted; approval routes it")
    func suspendedThenApproved() throws {
        let draft = ConversationDraft(title: "CHEAP", messages: ["buy"])
        let spam = SpamAssessment(score: 5, threshold: 3, reasons: ["blocked domain x (+3)"])
        var c = try Conversation.open(number: 1, draft: draft, routing: route(draft, owner: 7), spam: spam, by: customer, at: t0)
            .decision.conversation
        #expect(c.stage == .suspended && c.isSpam && c.ownedBy.isEmpty && c.routing.reason == .pendingReview)
        #expect(c.spam == spam)
        var approve = ConversationChange(stage: .new)
        approve.routingOnApproval = route(draft, owner: 7)
        c = try c.applying(approve, by: agent, at: t0 + 60).conversation
        #expect(c.stage == .new && !c.isSpam && c.ownedBy == [7] && c.routing.reason == .orgDefaultOwner)
    }

    @Test("Priority/Escalated raises the priority one level while it is on")
    func escalation() throws {
        var c = try open()
        #expect(c.priority == .p2)
        c = try c.applying(ConversationChange(tags: TagChange(add: [TagValue(tag: SystemTag.priorityEscalated.number)])), by: agent, at: t0 + 1).conversation
        #expect(c.priority == .p1)
        c = try c.applying(ConversationChange(tags: TagChange(remove: [SystemTag.priorityEscalated.number])), by: agent, at: t0 + 2).conversation
        #expect(c.priority == .p2)
    }
}
