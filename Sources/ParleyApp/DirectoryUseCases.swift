import Foundation
import ParleyCore
import ParleyStore

/// Directory changes (people, orgs, groups, tags, links, works, webhooks), tokens, passwords and
/// configurations: the objects come from the caller's closures; the events that record them are made here.
extension ParleyApp {
    /// Creates the object `make` builds from its number; records its creation by `actor`.
    public func insert<Object: DirectoryObject>(_ type: Object.Type, actor: Actor, at: Date,
                                                make: @escaping @Sendable (Int) throws -> Object) async throws -> Object {
        try await store.insert(type) { number in
            let object = try make(number)
            return Recorded(object, events: [Self.created(object, by: actor, at: at)])
        }
    }

    /// Creates two objects that refer to each other (an account and its default rev org) in one transaction.
    public func insertPair<First: DirectoryObject, Second: DirectoryObject>(
        _ first: First.Type, _ second: Second.Type, actor: Actor, at: Date,
        make: @escaping @Sendable (Int, Int) throws -> (First, Second)) async throws -> (First, Second) {
        try await store.insertPair(first, second) { firstNumber, secondNumber in
            let (a, b) = try make(firstNumber, secondNumber)
            return (Recorded(a, events: [Self.created(a, by: actor, at: at)]), Recorded(b, events: [Self.created(b, by: actor, at: at)]))
        }
    }

    /// Replaces an object with what `change` makes of it, stamped with who changed it and when; a change
    /// that changes nothing writes nothing. Kinds that record updates keep the object before and after.
    public func update<Object: DirectoryObject>(_ type: Object.Type, number: Int, actor: Actor, at: Date,
                                                change: @escaping @Sendable (Object) throws -> Object) async throws -> Object {
        try await store.update(type, number: number) { current in
            var next = try change(current)
            if next == current { return nil }
            next.modifiedBy = actor
            next.modifiedDate = at
            guard Object.recordsUpdates else { return Recorded(next, events: []) }
            let event = ChangeEvent(object: next.id, actor: actor, at: at, kind: .fieldChanged,
                                    before: .text(try Self.recordedJSON(current)), after: .text(try Self.recordedJSON(next)))
            return Recorded(next, events: [event])
        }
    }

    /// Deletes an object; records who did.
    /// Deletes a customer (kept on record as deleted) and revokes every session token they hold, at once.
    public func deleteCustomer(_ number: Int, by caller: Caller) async throws {
        guard caller.isAgent else { throw DomainError.forbidden("only the support team deletes customers") }
        try await delete(RevUser.self, number: number, actor: caller.actor, at: clock.now())
        try await store.revokeTokens(of: .revUser(number))
    }

    public func delete<Object: DirectoryObject>(_ type: Object.Type, number: Int, actor: Actor, at: Date) async throws {
        try await store.delete(type, number: number) { current in
            [ChangeEvent(object: current.id, actor: actor, at: at, kind: .deleted)]
        }
    }

    static func created<Object: DirectoryObject>(_ object: Object, by actor: Actor, at: Date) -> ChangeEvent {
        ChangeEvent(object: object.id, actor: actor, at: at, kind: .created)
    }

    /// An object as its update events record it: sorted keys, dates in milliseconds.
    static func recordedJSON<Object: Encodable>(_ object: Object) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(object), as: UTF8.self)
    }

    // MARK: Tokens, passwords, configurations

    /// Stores a token (by its hash); records that it was issued; returns its number (its id).
    @discardableResult
    public func issueToken(hash: String, token: StoredToken) async throws -> Int {
        try await store.saveToken(hash: hash, token: token, events: [
            ChangeEvent(object: token.subject.objectID, actor: .system, at: token.createdDate,
                        kind: .tokenIssued, field: token.kind.rawValue, after: .text(token.subject.description)),
        ])
    }

    /// Sets a dev user's password hash; records that it was set (never the hash).
    public func setPasswordHash(_ hash: String, of user: Int, at now: Date) async throws {
        try await store.setPasswordHash(hash, of: user, at: now, events: [
            ChangeEvent(object: Actor.devUser(user).objectID, actor: .system, at: now, kind: .passwordSet, field: "password"),
        ])
    }

    /// Stores the next version of a configuration (routing rules, spam rules); records the change on the
    /// system user.
    public func saveConfiguration(kind: String, document: String, actor: Actor, at now: Date) async throws -> StoredConfiguration {
        return try await store.saveConfiguration(kind: kind, document: document, actor: actor, at: now) { version in
            [ChangeEvent(object: Actor.system.objectID, actor: actor, at: now, kind: .configurationChanged,
                         field: kind, after: .number(version))]
        }
    }
}
