import Foundation
import ParleyCore
import ParleyStore
import Testing

/// A use case's writes land whole, however a store sends them (the PostgreSQL store joins them into one
/// statement, decision 0014), and references read at once match the objects read kind by kind.
extension StorageContract {
    func everyPartOfOneChangeIsStored(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        let conversation = try await Self.open(store, "Printer jams", owners: [3])
        // One decision that changes the title, owners, members and tags (one removed, one changed, one added)
        // at once, twice over (the second undoes most of the first).
        func change(title: String, owners: [Int], members: [Actor], tags: [TagValue], at: Date) async throws -> Conversation {
            try await store.storeDecision(number: conversation.number) { current in
                var next = current
                next.title = title
                next.ownedBy = owners
                next.members = members
                next.tags = tags
                next.modifiedDate = at
                return ConversationDecision(conversation: next, events: [ChangeEvent(object: current.id, actor: .devUser(3), at: at,
                                                                                      kind: .fieldChanged, field: "title")])
            }
        }
        func listed(_ edit: (inout ConversationQuery) -> Void) async throws -> Bool {
            var query = ConversationQuery()
            edit(&query)
            return try await Self.everyPage(store, query).contains(conversation.number)
        }
        func owned(_ owners: [Int]) async throws -> [Bool] {
            var found: [Bool] = []
            for owner in owners { found.append(try await listed { $0.ownedBy = [owner] }) }
            return found
        }
        func tagged(_ tags: [Int]) async throws -> [Bool] {
            var found: [Bool] = []
            for tag in tags { found.append(try await listed { $0.tags = [tag] }) }
            return found
        }
        func found(_ words: [String]) async throws -> [Bool] {
            var found: [Bool] = []
            for word in words { found.append(try await listed { $0.text = word }) }
            return found
        }
        let members = conversation.members
        _ = try await change(title: "Printer jams", owners: [3], members: members, tags: [TagValue(tag: 1), TagValue(tag: 2, value: "a")],
                             at: t0 + 10)
        let first = try await change(title: "Scanner smokes", owners: [4, 5], members: members + [.devUser(4)],
                                     tags: [TagValue(tag: 2, value: "b"), TagValue(tag: 3)], at: t0 + 20)
        #expect(try await store.conversation(number: conversation.number) == first)
        #expect(try await owned([3, 4, 5]) == [false, true, true])
        #expect(try await listed { $0.members = [.devUser(4)] })
        #expect(try await tagged([1, 2, 3]) == [false, true, true])
        #expect(try await found(["printer", "scanner"]) == [false, true], "the title is searched as it is now")
        let second = try await change(title: "Printer jams again", owners: [3], members: members, tags: [TagValue(tag: 1)], at: t0 + 30)
        #expect(try await store.conversation(number: conversation.number) == second)
        #expect(try await owned([3, 4, 5]) == [true, false, false])
        #expect(try await listed { $0.members = [.devUser(4)] } == false)
        #expect(try await tagged([1, 2, 3]) == [true, false, false])
        #expect(try await found(["printer", "scanner"]) == [true, false])
        // Text with what SQL quoting must get right, stored and read back as it was.
        let awkward = "It's \\ 'quoted' $p$ $$ ends in $p E'\\x41' ; -- /* é 日本 \u{1F600}"
        let third = try await change(title: awkward, owners: [3], members: members, tags: [TagValue(tag: 1, value: "a'b\\")], at: t0 + 35)
        #expect(try await store.conversation(number: conversation.number) == third)
        #expect(third.title == awkward)
        let events = try await store.events(of: conversation.id)
        #expect(events.map(\.at) == events.map(\.at).sorted(), "events in the order they were recorded")
        #expect(events.suffix(4).map(\.at) == [t0 + 10, t0 + 20, t0 + 30, t0 + 35])
        // A comment and the conversation's change it causes, then the comment edited: each readable at once.
        let (entry, updated) = try await Self.comment(store, on: conversation.number, "Replaced the fuser", at: t0 + 40)
        #expect(try await store.conversation(number: conversation.number) == updated)
        #expect(try await store.timelineEntry(number: entry.number) == entry)
        #expect(try await listed { $0.text = "fuser" })
        let edited = try await store.updateTimelineEntry(number: entry.number) { current, _ in
            var next = current
            next.body = "Replaced the drum"
            return (next, ChangeEvent(object: ObjectID(.comment, current.number, parent: conversation.number), actor: .devUser(3),
                                      at: t0 + 50, kind: .commentEdited))
        }
        #expect(try await store.timelineEntry(number: entry.number) == edited)
        #expect(try await found(["fuser", "drum"]) == [false, true])
    }

    func referencesAreReadAsObjectsWouldBe(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        let agent = try await store.insert(DevUser.self, actor: .system, at: t0) { number in
            DevUser(number: number, email: "agent@x.test", displayName: "Agent", fullName: nil, role: .agent, createdBy: .system, at: t0)
        }
        let org = try await store.insert(RevOrg.self, actor: .system, at: t0) { number in
            RevOrg(number: number, displayName: "Acme", description: nil, account: 1, externalRef: nil, tier: nil, environment: nil,
                   createdBy: .system, at: t0)
        }
        let customer = try await store.insert(RevUser.self, actor: .system, at: t0) { number in
            RevUser(number: number, displayName: "Cust", fullName: nil, email: "c@acme.test", externalRef: nil, revOrg: org.number,
                    phoneNumbers: [], description: nil, createdBy: .system, at: t0)
        }
        let group = try await store.insert(Group.self, actor: .system, at: t0) { number in
            Group(number: number, name: "Billing", description: nil, memberType: "dev_user", owner: nil, createdBy: .system, at: t0)
        }
        var wanted = ReferenceNumbers()
        wanted.devUsers = [agent.number, 999]
        wanted.revUsers = [customer.number]
        wanted.groups = [group.number]
        wanted.tags = [1, 2]
        wanted.artifacts = [12345]
        let found = try await store.references(wanted)
        #expect(found.devUsers == [agent.number: agent], "one missing number is left out")
        #expect(found.revUsers == [customer.number: customer])
        #expect(found.revOrgs == [org.number: org], "a rev user's org comes with them, though not asked for")
        #expect(found.groups == [group.number: group])
        #expect(found.tags.count == 2 && found.tags.values.allSatisfy(\.isSystem))
        #expect(found.artifacts.isEmpty && found.accounts.isEmpty && found.works.isEmpty)
        let kindByKind = try await store.referencesKindByKind(wanted)
        #expect(kindByKind.devUsers == found.devUsers && kindByKind.revUsers == found.revUsers && kindByKind.revOrgs == found.revOrgs
                && kindByKind.groups == found.groups && kindByKind.tags == found.tags)
        #expect(try await store.references(ReferenceNumbers()).devUsers.isEmpty)
    }

    func customersComeWithWhatRoutesThem(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        func agent(_ email: String) async throws -> DevUser {
            try await store.insert(DevUser.self, actor: .system, at: t0) { number in
                DevUser(number: number, email: email, displayName: email, fullName: nil, role: .agent, createdBy: .system, at: t0)
            }
        }
        let first = try await agent("first@x.test"), second = try await agent("second@x.test"), gone = try await agent("gone@x.test")
        let account = try await store.insert(Account.self, actor: .system, at: t0) { number in
            Account(number: number, displayName: "Acme", description: nil, domains: ["acme.test"],
                    ownedBy: [first.number, second.number, gone.number], externalRefs: [], websites: [], tier: nil, createdBy: .system, at: t0)
        }
        try await store.delete(DevUser.self, number: gone.number) { _ in [] }
        func org(_ name: String) async throws -> RevOrg {
            try await store.insert(RevOrg.self, actor: .system, at: t0) { number in
                RevOrg(number: number, displayName: name, description: nil, account: account.number, externalRef: nil, tier: nil,
                       environment: nil, createdBy: .system, at: t0)
            }
        }
        let acme = try await org("Acme"), closed = try await org("Closed")
        try await store.delete(RevOrg.self, number: closed.number) { _ in [] }
        func customer(_ email: String, in revOrg: Int?) async throws -> RevUser {
            try await store.insert(RevUser.self, actor: .system, at: t0) { number in
                RevUser(number: number, displayName: email, fullName: nil, email: email, externalRef: nil, revOrg: revOrg,
                        phoneNumbers: [], description: nil, createdBy: .system, at: t0)
            }
        }
        let member = try await customer("m@acme.test", in: acme.number)
        let loner = try await customer("l@elsewhere.test", in: nil)
        let stranded = try await customer("s@closed.test", in: closed.number)
        // Moved to another org after it was stored: what is read follows the move.
        let moved = try await customer("v@acme.test", in: closed.number)
        let movedNow = try await store.update(RevUser.self, number: moved.number) { current in
            var next = current
            next.revOrg = acme.number
            return Recorded(next, events: [])
        }
        let found = try await store.customerDirectory(revUser: member.number)
        #expect(found.revUsers == [member.number: member])
        #expect(found.revOrgs == [acme.number: acme])
        #expect(found.accounts == [account.number: account])
        #expect(found.devUsers == [first.number: first, second.number: second], "a deleted owner is left out")
        #expect(try await store.customerDirectory(revUser: movedNow.number).revOrgs.keys.sorted() == [acme.number])
        let alone = try await store.customerDirectory(revUser: loner.number)
        #expect(alone.revUsers == [loner.number: loner] && alone.revOrgs.isEmpty && alone.accounts.isEmpty && alone.devUsers.isEmpty)
        let cut = try await store.customerDirectory(revUser: stranded.number)
        #expect(cut.revUsers.count == 1 && cut.revOrgs.isEmpty && cut.accounts.isEmpty, "a deleted org ends the chain")
        #expect(try await store.customerDirectory(revUser: 999).revUsers.isEmpty)
        try await store.delete(RevUser.self, number: loner.number) { _ in [] }
        #expect(try await store.customerDirectory(revUser: loner.number).revUsers.isEmpty, "a deleted customer is none")
        for number in [member.number, movedNow.number, stranded.number, loner.number, 999] {
            let once = try await store.customerDirectory(revUser: number)
            let oneByOne = try await store.customerDirectoryOneByOne(revUser: number)
            #expect(once.revUsers == oneByOne.revUsers && once.revOrgs == oneByOne.revOrgs && once.accounts == oneByOne.accounts
                    && once.devUsers == oneByOne.devUsers)
        }
    }

    func configurationsAreVersionedPerKind(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        #expect(try await store.latestConfigurationVersions(kinds: ["routing", "spam"]) == ["routing": 0, "spam": 0])
        #expect(try await store.latestConfiguration(kind: "routing") == nil)
        var recorded: [Int] = []
        for (kind, document) in [("routing", #"{"rules":[]}"#), ("routing", #"{"rules":["it's \ \"quoted\""]}"#), ("spam", "{}")] {
            let saved = try await store.saveConfiguration(kind: kind, document: document, actor: .devUser(1), at: t0) { version in
                [ChangeEvent(object: ObjectID(.devUser, 1), actor: .devUser(1), at: t0, kind: .configurationChanged, field: kind, after: .number(version))]
            }
            recorded.append(saved.version)
            #expect(saved.document == document && saved.kind == kind)
        }
        #expect(recorded == [1, 2, 1], "versions count per kind from 1")
        #expect(try await store.latestConfigurationVersions(kinds: ["routing", "spam", "other"]) == ["routing": 2, "spam": 1, "other": 0])
        #expect(try await store.latestConfigurationVersions(kinds: []) == [:])
        let latest = try await store.latestConfiguration(kind: "routing")
        #expect(latest?.version == 2 && latest?.document == #"{"rules":["it's \ \"quoted\""]}"# && latest?.actor == .devUser(1))
        #expect(try await store.configurationHistory(kind: "routing").map(\.version) == [2, 1])
    }

    func credentialsComeWithTheirHolder(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        let agent = try await store.insert(DevUser.self, actor: .system, at: t0) { number in
            DevUser(number: number, email: "a@x.test", displayName: "A", fullName: nil, role: .agent, createdBy: .system, at: t0)
        }
        let customer = try await store.insert(RevUser.self, actor: .system, at: t0) { number in
            RevUser(number: number, displayName: "C", fullName: nil, email: "c@x.test", externalRef: nil, revOrg: nil,
                    phoneNumbers: [], description: nil, createdBy: .system, at: t0)
        }
        try await store.saveToken(hash: "agent", token: Self.token(.devUser(agent.number), .pat), events: [])
        try await store.saveToken(hash: "customer", token: Self.token(.revUser(customer.number), .session), events: [])
        try await store.saveToken(hash: "system", token: Self.token(.system, .pat), events: [])
        try await store.saveToken(hash: "nobody", token: Self.token(.devUser(999), .pat), events: [])
        #expect(try await store.credential(hash: "agent") == StoredCredential(token: Self.token(.devUser(agent.number), .pat),
                                                                               holder: .devUser(agent)))
        #expect(try await store.credential(hash: "customer")?.holder == .revUser(customer))
        #expect(try await store.credential(hash: "system") == StoredCredential(token: Self.token(.system, .pat), holder: nil))
        #expect(try await store.credential(hash: "nobody")?.holder == nil, "a holder that does not exist is none")
        #expect(try await store.credential(hash: "unknown") == nil)
        // As stored now: a deactivated agent comes as deactivated, a deleted customer not at all.
        let deactivated = try await store.update(DevUser.self, number: agent.number) { current in
            var next = current
            next.state = .deactivated
            return Recorded(next, events: [])
        }
        #expect(try await store.credential(hash: "agent")?.holder == .devUser(deactivated))
        try await store.delete(RevUser.self, number: customer.number) { _ in [] }
        #expect(try await store.credential(hash: "customer")?.holder == nil)
        for hash in ["agent", "customer", "system", "nobody", "unknown"] {
            #expect(try await store.credential(hash: hash) == store.credentialReadApart(hash: hash), "\(hash): as read apart")
        }
    }
}
