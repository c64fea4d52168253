import Foundation
import ParleyCore
import ParleyStore

extension SQLiteStore {
    // MARK: Tokens

    @discardableResult
    public func saveToken(hash: String, token: StoredToken, events: [ChangeEvent]) async throws -> Int {
        try await write { [self] db in
            let number = try nextNumber(db, .token)
            try db.run("INSERT INTO tokens (hash, subject, doc, number) VALUES (?, ?, ?, ?)",
                       [.text(hash), .text(token.subject.description), try json(token), .integer(Int64(number))])
            try record(db, events)
            return number
        }
    }

    public func token(hash: String) async throws -> StoredToken? {
        try lookup { [self] db in
            let value = try db.scalar("SELECT doc FROM tokens WHERE hash = ?", [.text(hash)])
            // Every request reads its token: decode it again only when its stored JSON changed (revoked).
            return value == .null ? nil : try decodeDocument(StoredToken.self, kind: "token \(hash)", number: 0, value)
        }
    }

    public func credential(hash: String) async throws -> StoredCredential? {
        try await credentialReadApart(hash: hash)
    }

    public func token(number: Int) async throws -> NumberedToken? {
        try lookup { [self] db in
            let value = try db.scalar("SELECT doc FROM tokens WHERE number = ?", [.integer(Int64(number))])
            return value == .null ? nil : NumberedToken(number: number, token: try decode(StoredToken.self, value))
        }
    }

    public func tokens(of subject: Actor) async throws -> [NumberedToken] {
        try await read { [self] db in
            try db.query("SELECT number, doc FROM tokens WHERE subject = ? ORDER BY number DESC", [.text(subject.description)])
                .map { NumberedToken(number: $0[0].int ?? 0, token: try decode(StoredToken.self, $0[1])) }
        }
    }

    public func revokeTokens(of subject: Actor) async throws {
        try await write { [self] db in try revokeAll(db, of: subject) }
    }

    /// Marks every token of `subject` revoked (those revoked already are left as they are).
    func revokeAll(_ db: SQLiteConnection, of subject: Actor) throws {
        for row in try db.query("SELECT hash, doc FROM tokens WHERE subject = ?", [.text(subject.description)]) {
            var token = try decode(StoredToken.self, row[1])
            guard !token.revoked else { continue }
            token.revoked = true
            try db.run("UPDATE tokens SET doc = ? WHERE hash = ?", [try json(token), row[0]])
        }
    }

    public func revokeToken(hash: String) async throws {
        try await write { [self] db in
            let value = try db.scalar("SELECT doc FROM tokens WHERE hash = ?", [.text(hash)])
            guard value != .null else { return }
            var token = try decode(StoredToken.self, value)
            token.revoked = true
            try db.run("UPDATE tokens SET doc = ? WHERE hash = ?", [try json(token), .text(hash)])
        }
    }

    @discardableResult
    public func revokeToken(number: Int, events: [ChangeEvent]) async throws -> Bool {
        try await write { [self] db in
            let value = try db.scalar("SELECT doc FROM tokens WHERE number = ?", [.integer(Int64(number))])
            guard value != .null else { return false }
            var token = try decode(StoredToken.self, value)
            guard !token.revoked else { return true }
            token.revoked = true
            try db.run("UPDATE tokens SET doc = ? WHERE number = ?", [try json(token), .integer(Int64(number))])
            try record(db, events)
            return true
        }
    }

    // MARK: Dev users' access

    public func updateDevUser(number: Int,
                              decide: @escaping @Sendable (DevUser, [DevUser]) throws -> AccessPlan?) async throws -> DevUser {
        try await write { [self] db in
            guard let current = try loadObject(db, DevUser.self, number) else {
                throw DomainError.notFound(ObjectID(.devUser, number).displayID)
            }
            let active = try db.query("""
                SELECT o.doc FROM object_keys k JOIN objects o ON o.kind = k.kind AND o.number = k.number
                WHERE k.kind = ? AND k.name = 'state' AND k.value = ? AND o.deleted = 0 ORDER BY o.number
                """, [.text(ObjectKind.devUser.rawValue), .text(UserState.active.rawValue)]).map { try decode(DevUser.self, $0[0]) }
            guard let plan = try decide(current, active) else { return current }
            try replaceObject(db, plan.user)
            if plan.revokesTokens { try revokeAll(db, of: .devUser(number)) }
            return plan.user.value
        }
    }
}
