import Foundation
import ParleyCore
import ParleyStore
import Testing

/// Tokens by number, and a dev user's access changed together with their tokens.
extension StorageContract {
    static func token(_ subject: Actor, _ kind: TokenKind, at: Date = t0, hint: String? = nil) -> StoredToken {
        StoredToken(subject: subject, kind: kind, createdDate: at, expiresAt: at + 3600, hint: hint)
    }

    func tokensAreNumberedListedAndRevokedByNumber(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        let agent = Actor.devUser(3)
        let pat = Self.token(agent, .pat, hint: "…ab12")
        let browser = Self.token(agent, .webSession, at: t0 + 10)
        let session = Self.token(.revUser(1), .session)
        let first = try await store.saveToken(hash: "hash-pat", token: pat, events: [])
        let second = try await store.saveToken(hash: "hash-browser", token: browser, events: [])
        let third = try await store.saveToken(hash: "hash-session", token: session, events: [])
        #expect(first >= 1 && second > first && third > second, "numbers come from a sequence")

        #expect(try await store.tokens(of: agent) == [NumberedToken(number: second, token: browser), NumberedToken(number: first, token: pat)],
                "a holder's tokens, every kind, newest first; nobody else's")
        #expect(try await store.tokens(of: .devUser(4)).isEmpty)
        #expect(try await store.token(number: third) == NumberedToken(number: third, token: session))
        #expect(try await store.token(number: third + 100) == nil)

        let revocation = ChangeEvent(object: agent.objectID, actor: .devUser(1), at: t0 + 20, kind: .tokenRevoked,
                                     field: "pat", after: .text(ObjectID(.token, first).displayID))
        #expect(try await store.revokeToken(number: first, events: [revocation]))
        #expect(try await store.token(hash: "hash-pat")?.revoked == true, "the hash finds it revoked: requests with it stop")
        #expect(try await store.token(number: first)?.token.revoked == true)
        #expect(try await store.token(hash: "hash-browser")?.revoked == false, "only that token")
        #expect(try await store.token(hash: "hash-session")?.revoked == false)
        #expect(try await store.events(of: agent.objectID).filter { $0.kind == .tokenRevoked } == [revocation], "recorded with it")
        #expect(try await store.revokeToken(number: first, events: [revocation]), "revoking again is harmless")
        #expect(try await store.events(of: agent.objectID).filter { $0.kind == .tokenRevoked }.count == 1, "and records nothing")
        #expect(try await store.revokeToken(number: third + 100, events: [revocation]) == false, "an unknown number")
        #expect(try await store.events(of: agent.objectID).filter { $0.kind == .tokenRevoked }.count == 1)
    }

    func accessChangesAreDecidedAndStoredWithTheirRevocations(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        func user(_ email: String, _ role: DevUserRole, _ state: UserState = .active) async throws -> DevUser {
            try await store.insert(DevUser.self, actor: .system, at: t0) { number in
                DevUser(number: number, email: email, displayName: email, fullName: nil, state: state, role: role, createdBy: .system, at: t0)
            }
        }
        let admin = try await user("admin@x.test", .admin)
        let agent = try await user("agent@x.test", .agent)
        let gone = try await user("gone@x.test", .agent, .deactivated)
        try await store.saveToken(hash: "agent-pat", token: Self.token(.devUser(agent.number), .pat), events: [])
        try await store.saveToken(hash: "agent-browser", token: Self.token(.devUser(agent.number), .webSession), events: [])
        try await store.saveToken(hash: "admin-pat", token: Self.token(.devUser(admin.number), .pat), events: [])

        // A decision that fails writes nothing: neither the user nor a revocation.
        await #expect(throws: DomainError.self) {
            _ = try await store.updateDevUser(number: agent.number) { _, _ in throw DomainError.forbidden("no") }
        }
        #expect(try await store.object(DevUser.self, number: agent.number) == agent)
        #expect(try await store.token(hash: "agent-pat")?.revoked == false)
        // Nil: nothing changes.
        #expect(try await store.updateDevUser(number: agent.number) { _, _ in nil } == agent)

        // The decision sees the user and the active dev users as the transaction does; a revoking plan takes
        // every token of the user with it, and only theirs.
        let deactivated = try await store.updateDevUser(number: agent.number) { current, active in
            #expect(current == agent)
            #expect(active.map(\.number) == [admin.number, agent.number], "active ones only: not \(gone.id.displayID)")
            var next = current
            next.state = .deactivated
            next.modifiedDate = t0 + 30
            return AccessPlan(user: Recorded(next, events: [ChangeEvent(object: next.id, actor: .devUser(admin.number), at: t0 + 30,
                                                                        kind: .fieldChanged, field: "state")]), revokesTokens: true)
        }
        #expect(deactivated.state == .deactivated)
        #expect(try await store.object(DevUser.self, number: agent.number) == deactivated)
        #expect(try await store.find(DevUser.self, key: "state", value: "deactivated").map(\.number).sorted() == [agent.number, gone.number],
                "its keys follow")
        #expect(try await store.token(hash: "agent-pat")?.revoked == true)
        #expect(try await store.token(hash: "agent-browser")?.revoked == true)
        #expect(try await store.token(hash: "admin-pat")?.revoked == false, "only the user's")
        #expect(try await store.events(of: agent.id).contains { $0.kind == .fieldChanged && $0.field == "state" })
        // The next decision no longer counts them active.
        _ = try await store.updateDevUser(number: admin.number) { _, active in
            #expect(active.map(\.number) == [admin.number])
            return nil
        }
        await #expect(throws: DomainError.self) {
            _ = try await store.updateDevUser(number: 999) { _, _ in nil }
        }
    }
}
