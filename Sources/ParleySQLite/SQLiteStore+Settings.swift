import Foundation
import NIOPosix
import ParleyCore
import ParleyStore
import Synchronization

extension SQLiteStore {
    // MARK: Deadlines

    public func nextDeadline() async throws -> Date? {
        try await read { db in
            try db.scalar("SELECT MIN(due_ms) FROM deadlines").int.map { Date(timeIntervalSince1970: Double($0) / 1000) }
        }
    }

    public func conversationsDue(by date: Date, limit: Int) async throws -> [(conversation: Int, due: Date)] {
        try await read { db in
            try db.query("SELECT conversation, due_ms FROM deadlines WHERE due_ms <= ? ORDER BY due_ms, conversation LIMIT ?",
                         [Self.ms(date), .integer(Int64(limit))]).map {
                (conversation: $0[0].int ?? 0, due: Date(timeIntervalSince1970: Double($0[1].int ?? 0) / 1000))
            }
        }
    }

    public func setDeadline(conversation: Int, due: Date?) async throws {
        try await write { db in
            if let due {
                try db.run("INSERT OR REPLACE INTO deadlines (conversation, due_ms) VALUES (?, ?)",
                           [.integer(Int64(conversation)), Self.ms(due)])
            } else {
                try db.run("DELETE FROM deadlines WHERE conversation = ?", [.integer(Int64(conversation))])
            }
        }
    }

    // MARK: Configurations and settings

    func configuration(_ row: [SQLValue], kind: String) throws -> StoredConfiguration {
        guard let actorText = row[2].string, let id = ObjectID.parse(actorText), let actor = Actor(id) else {
            throw StoreError(code: 0, message: "bad configuration actor")
        }
        return StoredConfiguration(kind: kind, version: row[0].int ?? 0, document: row[1].string ?? "", actor: actor,
                                   createdDate: Date(timeIntervalSince1970: Double(row[3].int ?? 0) / 1000))
    }

    public func saveConfiguration(kind: String, document: String, actor: Actor, at: Date,
                                  record events: @escaping @Sendable (Int) -> [ChangeEvent]) async throws -> StoredConfiguration {
        try await write { [self] db in
            let version = (try db.scalar("SELECT COALESCE(MAX(version), 0) FROM configurations WHERE kind = ?", [.text(kind)]).int ?? 0) + 1
            try db.run("INSERT INTO configurations (kind, version, doc, actor, created_ms) VALUES (?, ?, ?, ?, ?)",
                       [.text(kind), .integer(Int64(version)), .text(document), .text(actor.description), Self.ms(at)])
            try record(db, events(version))
            return StoredConfiguration(kind: kind, version: version, document: document, actor: actor, createdDate: at)
        }
    }

    public func latestConfiguration(kind: String) async throws -> StoredConfiguration? {
        try lookup { [self] db in
            try db.query("SELECT version, doc, actor, created_ms FROM configurations WHERE kind = ? ORDER BY version DESC LIMIT 1",
                         [.text(kind)]).first.map { try configuration($0, kind: kind) }
        }
    }

    public func latestConfigurationVersions(kinds: [String]) async throws -> [String: Int] {
        try lookup { db in
            var versions: [String: Int] = [:]
            for kind in kinds {
                versions[kind] = try db.scalar("SELECT COALESCE(MAX(version), 0) FROM configurations WHERE kind = ?", [.text(kind)]).int ?? 0
            }
            return versions
        }
    }

    public func configurationHistory(kind: String) async throws -> [StoredConfiguration] {
        try await read { [self] db in
            try db.query("SELECT version, doc, actor, created_ms FROM configurations WHERE kind = ? ORDER BY version DESC",
                         [.text(kind)]).map { try configuration($0, kind: kind) }
        }
    }

    public func setting(_ name: String) async throws -> String? {
        try lookup { db in try db.scalar("SELECT value FROM settings WHERE name = ?", [.text(name)]).string }
    }

    public func setSetting(_ name: String, value: String) async throws {
        try await write { db in
            try db.run("INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)", [.text(name), .text(value)])
        }
    }

    // MARK: Leases

    public func acquireLease(_ name: String, holder: String, duration: Double) async throws -> Bool {
        try await write { db in
            let now = Self.ms(Date())
            let expires = Self.ms(Date() + duration)
            let granted = try db.scalar("""
                INSERT INTO leases (name, holder, expires_ms) VALUES (?, ?, ?)
                ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
                WHERE leases.holder = excluded.holder OR leases.expires_ms < ?
                RETURNING holder
                """, [.text(name), .text(holder), expires, now])
            return granted.string == holder
        }
    }

    public func releaseLease(_ name: String, holder: String) async throws {
        try await write { db in
            try db.run("DELETE FROM leases WHERE name = ? AND holder = ?", [.text(name), .text(holder)])
        }
    }

    // MARK: Presence

    public func markPresence(conversation: Int, agent: Int, state: String, now: Date, until: Date) async throws -> [PresenceEntry] {
        try await write { db in
            try db.run("DELETE FROM presence WHERE conversation = ? AND until_ms <= ?", [.integer(Int64(conversation)), Self.ms(now)])
            try db.run("""
                INSERT INTO presence (conversation, agent, state, until_ms) VALUES (?, ?, ?, ?)
                ON CONFLICT (conversation, agent) DO UPDATE SET state = excluded.state, until_ms = excluded.until_ms
                """, [.integer(Int64(conversation)), .integer(Int64(agent)), .text(state), Self.ms(until)])
            return try db.query("SELECT agent, state FROM presence WHERE conversation = ? AND agent <> ? ORDER BY agent",
                                [.integer(Int64(conversation)), .integer(Int64(agent))]).compactMap { row in
                guard let other = row[0].int, let state = row[1].string else { return nil }
                return PresenceEntry(agent: other, state: state)
            }
        }
    }

    // MARK: Inbox and credentials

    public func stageCounts() async throws -> [Stage: Int] {
        try lookup { db in try Self.stageCounts(db) }
    }

    static func stageCounts(_ db: SQLiteConnection) throws -> [Stage: Int] {
        var counts: [Stage: Int] = [:]
        for row in try db.query("SELECT stage, count FROM stage_counts") {
            if let stage = row[0].string.flatMap(Stage.init(rawValue:)) { counts[stage] = row[1].int ?? 0 }
        }
        return counts
    }

    public func passwordHash(of user: Int) async throws -> String? {
        try lookup { db in
            try db.scalar("SELECT doc FROM credentials WHERE subject = ?", [.text(Actor.devUser(user).description)]).string
        }
    }

    public func setPasswordHash(_ hash: String, of user: Int, at: Date, events: [ChangeEvent]) async throws {
        try await write { [self] db in
            let subject = Actor.devUser(user)
            try db.run("INSERT OR REPLACE INTO credentials (subject, doc, modified_ms) VALUES (?, ?, ?)",
                       [.text(subject.description), .text(hash), Self.ms(at)])
            try record(db, events)
        }
    }
}
