import ParleyApp
import ParleyCore
import ParleyServer
import ParleyStore

/// A small, realistic support team for `parley serve --demo`: agents, groups, customer orgs,
/// customers and conversations in every stage, with tokens to try them.
public enum DemoData {
    public struct Tokens: Sendable {
        public var agents: [(email: String, token: String)]
        public var customers: [(email: String, token: String)]

        /// What to print: tokens, and where to try them on the server at `url` (http://host:port).
        public func summary(url: String) -> String {
            var lines = ["Demo data loaded. Tokens to try (each valid for 30 days):"]
            for (email, token) in agents { lines.append("  agent    \(email): \(token)") }
            for (email, token) in customers { lines.append("  customer \(email): \(token)") }
            lines.append("The inbox: \(url)/inbox, sign in as any agent above with the password '\(DemoData.agentPassword)'.")
            if let customer = customers.first {
                lines.append("The widget, as \(customer.email): \(url)/widget?token=\(customer.token)")
            }
            lines.append("The API: curl -H 'Authorization: Bearer <agent token>' '\(url)/conversations.list?stage.name=needs_response'")
            return lines.joined(separator: "\n")
        }
    }

    /// Every demo agent's inbox password (a demo, not a secret).
    public static let agentPassword = "parley-demo"
    static let firstAgent = "maya@support.example"
    static let firstCustomer = "wile@acme.example"

    /// On a later start with `--demo` (the demo already loaded): where to sign in, and a widget link with a new
    /// session token (a day long) for the first demo customer; nil when this database is not the demo's.
    public static func welcomeBack(to server: ParleyApp, url: String) async throws -> String? {
        let store = server.store
        guard try await !store.find(DevUser.self, key: "email", value: firstAgent).isEmpty,
              let customer = try await store.find(RevUser.self, key: "email", value: firstCustomer).first else { return nil }
        let now = server.clock.now()
        let token = TokenSecret.generate(prefix: "parley_session_")
        try await server.issueToken(hash: TokenSecret.hash(token), token: StoredToken(
            subject: .revUser(customer.number), kind: .session, createdDate: now, expiresAt: now.addingTimeInterval(24 * 3600)))
        return [
            "--demo: the demo data is already loaded (left as it is).",
            "The inbox: \(url)/inbox, sign in as \(firstAgent) (or tomas@, priya@support.example) with the password '\(agentPassword)'.",
            "The widget, as \(firstCustomer) (a new link each start, valid for a day): \(url)/widget?token=\(token)",
        ].joined(separator: "\n")
    }

    /// Loads the demo through `server`'s use cases into its store; returns nil (and changes nothing) if the
    /// store has conversations. Each conversation is played on a clock of its own, moved to each step's
    /// time (three days ago onwards), so that its timers and records read as if they had happened then.
    public static func load(into server: ParleyApp) async throws -> Tokens? {
        let store = server.store
        guard try await store.listConversations(ConversationQuery()).items.isEmpty else { return nil }
        let now = server.clock.now()
        let start = now.addingTimeInterval(-3 * 24 * 3600)
        @Sendable func at(_ hours: Double) -> Date { start.addingTimeInterval(hours * 3600).wholeMilliseconds }
        let app = server

        var agents: [DevUser] = []
        for (email, name) in [("maya@support.example", "Maya Chen"), ("tomas@support.example", "Tomás Rivera"),
                              ("priya@support.example", "Priya Natarajan")] {
            agents.append(try await app.insert(DevUser.self, actor: .system, at: at(0)) { number in
                DevUser(number: number, email: email, displayName: name.components(separatedBy: " ")[0], fullName: name,
                        role: .agent, createdBy: .system, at: at(0))
            })
        }
        let billingOwner = agents[1].number, platformOwner = agents[2].number
        let mayaNumber = agents[0].number
        let billing = try await app.insert(Group.self, actor: .system, at: at(0)) { number in
            var group = Group(number: number, name: "Billing", description: "Invoices, refunds and plans", memberType: "dev_user",
                              owner: billingOwner, createdBy: .system, at: at(0))
            group.members = [billingOwner, mayaNumber]
            return group
        }
        _ = try await app.insert(Group.self, actor: .system, at: at(0)) { number in
            var group = Group(number: number, name: "Platform", description: "API, SSO and integrations", memberType: "dev_user",
                              owner: platformOwner, createdBy: .system, at: at(0))
            group.members = [platformOwner]
            return group
        }
        var customers: [RevUser] = []
        for (index, (orgName, domain, people)) in [
            ("Acme Corp", "acme.example", ["Wile Coyote", "Road Runner"]),
            ("Globex", "globex.example", ["Hank Scorpio"]),
            ("Initech", "initech.example", ["Peter Gibbons"]),
        ].enumerated() {
            let owner = agents[index % agents.count].number
            // Acme and Globex are long-standing customers; Initech signed up last week (a new org: lower priority).
            let since = index == 2 ? at(-96) : at(-24 * 400)
            let account = try await app.insert(Account.self, actor: .system, at: since) { number in
                Account(number: number, displayName: orgName, description: nil, domains: [domain], ownedBy: [owner],
                        externalRefs: [domain], websites: ["https://\(domain)"], tier: index == 0 ? "enterprise" : "standard",
                        createdBy: .system, at: since)
            }
            let org = try await app.insert(RevOrg.self, actor: .system, at: at(0)) { number in
                RevOrg(number: number, displayName: orgName, description: nil, account: account.number, externalRef: "org-\(domain)",
                       tier: nil, environment: "production", createdBy: .system, at: at(0))
            }
            _ = try await app.update(Account.self, number: account.number, actor: .system, at: at(0)) { account in
                var account = account
                account.defaultRevOrg = org.number
                return account
            }
            for person in people {
                let email = person.lowercased().components(separatedBy: " ")[0] + "@" + domain
                customers.append(try await app.insert(RevUser.self, actor: .system, at: at(0)) { number in
                    RevUser(number: number, displayName: person, fullName: person, email: email, externalRef: email,
                            revOrg: org.number, phoneNumbers: [], description: nil, createdBy: .system, at: at(0))
                })
            }
        }

        /// Opens a conversation as `customer` and plays `steps` on it.
        func conversation(_ title: String, _ message: String, customer: RevUser, hour: Double, group: Int? = nil,
                          steps: [(Double, Step)]) async throws {
            let customerCaller = Caller(actor: .revUser(customer.number), role: .customer)
            let past = ManualClock(at(hour))
            let app = ParleyApp(store: store, clock: past, priorityPolicy: server.priorityPolicy,
                                lifecyclePolicy: server.lifecyclePolicy, deadlines: server.deadlines)
            let draft = ConversationDraft(title: title, sourceChannel: "widget", group: group, messages: [message])
            let created = try await app.openConversation(ConversationOpening(draft: draft), by: customerCaller)
            for (offset, step) in steps {
                past.move(to: at(hour + offset))
                switch step {
                case .customer(let body):
                    _ = try await app.addComment(to: created.number, body: body, visibility: .external, externalRef: nil, by: customerCaller)
                case .agent(let body, let agent):
                    _ = try await app.addComment(to: created.number, body: body, visibility: .external, externalRef: nil,
                                                 by: Caller(actor: .devUser(agent), role: .agent))
                case .note(let body, let agent):
                    _ = try await app.addComment(to: created.number, body: body, visibility: .internal, externalRef: nil,
                                                 by: Caller(actor: .devUser(agent), role: .agent))
                case .change(let change, let agent):
                    _ = try await app.updateConversation(created.number, change: change, expectedVersion: nil,
                                                         by: Caller(actor: .devUser(agent), role: .agent))
                }
            }
        }

        let maya = agents[0].number, tomas = agents[1].number, priya = agents[2].number
        let resolution = { (value: String) in TagChange(add: [TagValue(tag: SystemTag.resolution.number, value: value)]) }
        try await conversation("Can't log in with SSO", "Since this morning our Okta login loops back to the sign-in page.",
                               customer: customers[0], hour: 60, steps: [])
        try await conversation("Invoice shows the wrong VAT number", "Our March invoice has last year's VAT number on it.",
                               customer: customers[2], hour: 50, group: billing.number, steps: [
                                   (1, .agent("Thanks Hank, I've asked billing to reissue it. Which email should we send it to?", tomas)),
                                   (3, .customer("accounts@globex.example please.")),
                               ])
        try await conversation("Webhook deliveries are delayed", "Webhooks arrive 10 minutes late since the last release.",
                               customer: customers[1], hour: 40, steps: [
                                   (0.5, .agent("Looking into it now: which endpoint are you sending them to?", maya)),
                               ])
        try await conversation("Export to CSV times out", "Exporting 200k rows times out after 30 seconds.",
                               customer: customers[3], hour: 30, steps: [
                                   (2, .agent("Reproduced it; I'm raising it with the platform team.", priya)),
                                   (4, .customer("Thanks, we need it for the quarter close on Friday.")),
                                   (5, .note("Waiting on PLAT-231 (export streaming).", priya)),
                                   (5.1, .change(ConversationChange(stage: .hold), priya)),
                               ])
        try await conversation("How do I add a second admin?", "Where do I give a colleague admin rights?",
                               customer: customers[0], hour: 20, steps: [
                                   (0.3, .agent("Settings → Members → Make admin. Did that work?", maya)),
                                   (1, .customer("Yes, found it. Thank you!")),
                                   (1.2, .change(ConversationChange(tags: resolution("answered"), stage: .resolved), maya)),
                               ])
        try await conversation("Old question about plans", "Do you offer a non-profit discount?",
                               customer: customers[2], hour: 2, steps: [
                                   (1, .agent("We do: 30% off any plan. I've applied it to your account.", tomas)),
                                   (2, .change(ConversationChange(tags: resolution("answered"), stage: .resolved), tomas)),
                                   (3, .change(ConversationChange(stage: .archived), tomas)),
                               ])
        try await conversation("CHEAP WATCHES!!! click here", "Buy now at http://spam.example/watches",
                               customer: customers[1], hour: 65, steps: [
                                   (0.1, .change(ConversationChange(isSpam: true), maya)),
                               ])

        var agentTokens: [(String, String)] = []
        for agent in agents {
            let token = TokenSecret.generate(prefix: "parley_pat_")
            try await server.issueToken(hash: TokenSecret.hash(token), token: StoredToken(
                subject: .devUser(agent.number), kind: .pat, createdDate: now, expiresAt: now.addingTimeInterval(30 * 24 * 3600)))
            agentTokens.append((agent.email, token))
            try await server.setPasswordHash(try PasswordHash.make(agentPassword), of: agent.number, at: now)
        }
        var customerTokens: [(String, String)] = []
        for customer in customers {
            let token = TokenSecret.generate(prefix: "parley_session_")
            try await server.issueToken(hash: TokenSecret.hash(token), token: StoredToken(
                subject: .revUser(customer.number), kind: .session, createdDate: now, expiresAt: now.addingTimeInterval(30 * 24 * 3600)))
            customerTokens.append((customer.email ?? "REVU-\(customer.number)", token))
        }
        return Tokens(agents: agentTokens, customers: customerTokens)
    }

    enum Step: Sendable {
        case customer(String)
        case agent(String, Int)
        case note(String, Int)
        case change(ConversationChange, Int)
    }
}
