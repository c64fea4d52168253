import Foundation
import ParleyCore
import ParleyStore

extension PostgresStore {
    @discardableResult
    public func saveToken(hash: String, token: StoredToken, events: [ChangeEvent]) async throws -> Int {
        try await write { db in
            let number = try await db.nextNumber(.token)
            try await db.run("INSERT INTO tokens (hash, number, subject, doc) VALUES (?, ?, ?, ?)",
                             [.text(hash), .integer(number), .text(token.subject.description), try Self.json(token)])
            try await db.record(events)
            return number
        }
    }

    public func token(hash: String) async throws -> StoredToken? {
        try await read { db in
            let value = try await db.scalar("SELECT doc FROM tokens WHERE hash = ?", [.text(hash)])
            // Every request reads its token: decoded again only when its stored JSON changed (revoked).
            return value == .null ? nil : try self.cached(StoredToken.self, kind: "token \(hash)", number: 0, value)
        }
    }

    /// The token and its holder in one statement: the holder's kind and number are read off the token's
    /// subject (`DEVU-3`, `REVU-7`), and a deleted holder is left out as `object` leaves it out.
    public func credential(hash: String) async throws -> StoredCredential? {
        let values: [PGValue] = [.text(Self.devUserSubjectPrefix), .text(ObjectKind.devUser.rawValue),
                                 .text(Self.revUserSubjectPrefix), .text(ObjectKind.revUser.rawValue), .text(hash)]
        let row = try await read { db in
            try await db.query("""
                SELECT t.doc, o.kind, o.number, o.doc FROM tokens t
                LEFT JOIN objects o ON NOT o.deleted
                    AND o.kind = CASE WHEN starts_with(t.subject, ?) THEN ? WHEN starts_with(t.subject, ?) THEN ? END
                    AND o.number = CAST(substring(t.subject FROM '[0-9]+$') AS bigint)
                WHERE t.hash = ?
                """, values).first
        }
        guard let row else { return nil }
        let token = try cached(StoredToken.self, kind: "token \(hash)", number: 0, row[0])
        let number = row[2].int ?? 0
        switch row[1].string.flatMap(ObjectKind.init(rawValue:)) {
        case .devUser?:
            return StoredCredential(token: token, holder: .devUser(try cached(DevUser.self, kind: ObjectKind.devUser.rawValue,
                                                                               number: number, row[3])))
        case .revUser?:
            return StoredCredential(token: token, holder: .revUser(try cached(RevUser.self, kind: ObjectKind.revUser.rawValue,
                                                                               number: number, row[3])))
        default:
            return StoredCredential(token: token, holder: nil)
        }
    }

    /// What a subject of `kind` starts with as stored (`DEVU-`).
    static func subjectPrefix(_ kind: ObjectKind) -> String {
        String(ObjectID(kind, 1).displayID.dropLast())
    }

    static let devUserSubjectPrefix = subjectPrefix(.devUser)
    static let revUserSubjectPrefix = subjectPrefix(.revUser)

    public func token(number: Int) async throws -> NumberedToken? {
        try await read { db in
            let value = try await db.scalar("SELECT doc FROM tokens WHERE number = ?", [.integer(number)])
            return value == .null ? nil : NumberedToken(number: number, token: try Self.decode(StoredToken.self, value))
        }
    }

    public func tokens(of subject: Actor) async throws -> [NumberedToken] {
        try await read { db in
            try await db.query("SELECT number, doc FROM tokens WHERE subject = ? ORDER BY number DESC", [.text(subject.description)])
                .map { NumberedToken(number: $0[0].int ?? 0, token: try Self.decode(StoredToken.self, $0[1])) }
        }
    }

    public func revokeTokens(of subject: Actor) async throws {
        try await write { db in try await db.revokeAll(of: subject) }
    }

    public func revokeToken(hash: String) async throws {
        try await write { db in
            let value = try await db.scalar("SELECT doc FROM tokens WHERE hash = ? FOR UPDATE", [.text(hash)])
            guard value != .null else { return }
            var token = try Self.decode(StoredToken.self, value)
            token.revoked = true
            try await db.run("UPDATE tokens SET doc = ? WHERE hash = ?", [try Self.json(token), .text(hash)])
        }
    }

    @discardableResult
    public func revokeToken(number: Int, events: [ChangeEvent]) async throws -> Bool {
        try await write { db in
            let value = try await db.scalar("SELECT doc FROM tokens WHERE number = ? FOR UPDATE", [.integer(number)])
            guard value != .null else { return false }
            var token = try Self.decode(StoredToken.self, value)
            guard !token.revoked else { return true }
            token.revoked = true
            try await db.run("UPDATE tokens SET doc = ? WHERE number = ?", [try Self.json(token), .integer(number)])
            try await db.record(events)
            return true
        }
    }

    /// Changes a dev user with every active dev user as they are, one such change at a time (so "an active
    /// admin remains" holds however many servers change users at once).
    public func updateDevUser(number: Int,
                              decide: @escaping @Sendable (DevUser, [DevUser]) throws -> AccessPlan?) async throws -> DevUser {
        try await write { db in
            try await db.run("SELECT pg_advisory_xact_lock(?)", [.integer(Self.accessLock)])
            guard let current = try await db.loadObject(DevUser.self, number) else {
                throw DomainError.notFound(ObjectID(.devUser, number).displayID)
            }
            let active = try await db.query("""
                SELECT o.doc FROM object_keys k JOIN objects o ON o.kind = k.kind AND o.number = k.number
                WHERE k.kind = ? AND k.name = 'state' AND k.value = ? AND NOT o.deleted ORDER BY o.number
                """, [.text(ObjectKind.devUser.rawValue), .text(UserState.active.rawValue)]).map { try Self.decode(DevUser.self, $0[0]) }
            guard let plan = try decide(current, active) else { return current }
            try await db.replaceObject(plan.user)
            if plan.revokesTokens { try await db.revokeAll(of: .devUser(number)) }
            return plan.user.value
        }
    }
}

extension PostgresWrite {
    func revokeAll(of subject: Actor) async throws {
        for row in try await query("SELECT hash, doc FROM tokens WHERE subject = ? FOR UPDATE", [.text(subject.description)]) {
            var token = try PostgresStore.decode(StoredToken.self, row[1])
            guard !token.revoked else { continue }
            token.revoked = true
            try await run("UPDATE tokens SET doc = ? WHERE hash = ?", [try PostgresStore.json(token), row[0]])
        }
    }
}
