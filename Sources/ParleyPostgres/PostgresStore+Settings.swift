import Foundation
import ParleyCore
import ParleyStore

extension PostgresStore {
    // MARK: Deadlines

    public func nextDeadline() async throws -> Date? {
        try await read { db in
            let value = try await db.scalar("SELECT due_ms FROM deadlines ORDER BY due_ms LIMIT 1")
            return value == .null ? nil : Self.date(value)
        }
    }

    public func conversationsDue(by date: Date, limit: Int) async throws -> [(conversation: Int, due: Date)] {
        let rows = try await read { db in
            try await db.query("SELECT conversation, due_ms FROM deadlines WHERE due_ms <= ? ORDER BY due_ms, conversation LIMIT ?",
                               [.ms(date), .integer(limit)])
        }
        return rows.map { (conversation: $0[0].int ?? 0, due: Self.date($0[1])) }
    }

    public func setDeadline(conversation: Int, due: Date?) async throws {
        try await write { db in
            if let due {
                try await db.run("""
                    INSERT INTO deadlines (conversation, due_ms) VALUES (?, ?)
                    ON CONFLICT (conversation) DO UPDATE SET due_ms = excluded.due_ms
                    """, [.integer(conversation), .ms(due)])
            } else {
                try await db.run("DELETE FROM deadlines WHERE conversation = ?", [.integer(conversation)])
            }
        }
    }

    // MARK: Configurations

    static func configuration(_ row: [PGValue], kind: String) throws -> StoredConfiguration {
        guard let actorText = row[2].string, let id = ObjectID.parse(actorText), let actor = Actor(id) else {
            throw StoreError(code: 0, message: "bad configuration actor")
        }
        return StoredConfiguration(kind: kind, version: row[0].int ?? 0, document: row[1].string ?? "", actor: actor,
                                   createdDate: date(row[3]))
    }

    public func saveConfiguration(kind: String, document: String, actor: Actor, at: Date,
                                  record events: @escaping @Sendable (Int) -> [ChangeEvent]) async throws -> StoredConfiguration {
        try await write { db in
            // Versions of one kind are numbered one save at a time.
            try await db.run("SELECT pg_advisory_xact_lock(hashtext(?))", [.text("parley configuration \(kind)")])
            let version = (try await db.scalar("SELECT COALESCE(MAX(version), 0) FROM configurations WHERE kind = ?", [.text(kind)]).int ?? 0) + 1
            try await db.run("INSERT INTO configurations (kind, version, doc, actor, created_ms) VALUES (?, ?, ?, ?, ?)",
                             [.text(kind), .integer(version), .text(document), .text(actor.description), .ms(at)])
            try await db.record(events(version))
            return StoredConfiguration(kind: kind, version: version, document: document, actor: actor, createdDate: at)
        }
    }

    public func latestConfiguration(kind: String) async throws -> StoredConfiguration? {
        try await read { db in
            try await db.query("SELECT version, doc, actor, created_ms FROM configurations WHERE kind = ? ORDER BY version DESC LIMIT 1",
                               [.text(kind)]).first.map { try Self.configuration($0, kind: kind) }
        }
    }

    public func latestConfigurationVersions(kinds: [String]) async throws -> [String: Int] {
        let rows = try await read { db in
            try await db.query("""
                SELECT w.kind, COALESCE((SELECT MAX(version) FROM configurations c WHERE c.kind = w.kind), 0)
                FROM unnest(?::text[]) AS w(kind)
                """, [.texts(kinds)])
        }
        var versions: [String: Int] = [:]
        for row in rows { if let kind = row[0].string { versions[kind] = row[1].int ?? 0 } }
        return versions
    }

    public func configurationHistory(kind: String) async throws -> [StoredConfiguration] {
        try await read { db in
            try await db.query("SELECT version, doc, actor, created_ms FROM configurations WHERE kind = ? ORDER BY version DESC",
                               [.text(kind)]).map { try Self.configuration($0, kind: kind) }
        }
    }

    // MARK: Settings

    public func setting(_ name: String) async throws -> String? {
        try await read { db in try await db.scalar("SELECT value FROM settings WHERE name = ?", [.text(name)]).string }
    }

    public func setSetting(_ name: String, value: String) async throws {
        try await write { db in
            try await db.run("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                             [.text(name), .text(value)])
        }
    }

    // MARK: Leases

    public func acquireLease(_ name: String, holder: String, duration: Double) async throws -> Bool {
        try await read { db in
            // The database's clock, so that servers whose clocks differ agree on expiry.
            let granted = try await db.scalar("""
                INSERT INTO leases (name, holder, expires_ms)
                VALUES (?, ?, (extract(epoch FROM clock_timestamp()) * 1000)::bigint + ?)
                ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_ms = excluded.expires_ms
                WHERE leases.holder = excluded.holder OR leases.expires_ms < (extract(epoch FROM clock_timestamp()) * 1000)::bigint
                RETURNING holder
                """, [.text(name), .text(holder), .integer(Int(duration * 1000))])
            return granted.string == holder
        }
    }

    public func releaseLease(_ name: String, holder: String) async throws {
        try await read { db in
            try await db.run("DELETE FROM leases WHERE name = ? AND holder = ?", [.text(name), .text(holder)])
        }
    }

    // MARK: Presence

    /// One statement, no transaction (a page's load and every heartbeat): expired entries of others go, this
    /// agent's is set, and the others' unexpired entries are read (the read sees the table as it was when the
    /// statement began, which is why it filters on expiry itself; this agent's own row is never deleted
    /// here, so no row is changed twice by one statement).
    public func markPresence(conversation: Int, agent: Int, state: String, now: Date, until: Date) async throws -> [PresenceEntry] {
        try await read { db in
            try await db.query("""
                WITH expired AS (DELETE FROM presence WHERE conversation = ? AND until_ms <= ? AND agent <> ?),
                mine AS (
                    INSERT INTO presence (conversation, agent, state, until_ms) VALUES (?, ?, ?, ?)
                    ON CONFLICT (conversation, agent) DO UPDATE SET state = excluded.state, until_ms = excluded.until_ms)
                SELECT agent, state FROM presence WHERE conversation = ? AND agent <> ? AND until_ms > ? ORDER BY agent
                """, [.integer(conversation), .ms(now), .integer(agent),
                      .integer(conversation), .integer(agent), .text(state), .ms(until),
                      .integer(conversation), .integer(agent), .ms(now)]).compactMap { row in
                guard let other = row[0].int, let state = row[1].string else { return nil }
                return PresenceEntry(agent: other, state: state)
            }
        }
    }

    // MARK: Credentials

    public func passwordHash(of user: Int) async throws -> String? {
        try await read { db in
            try await db.scalar("SELECT doc FROM credentials WHERE subject = ?", [.text(Actor.devUser(user).description)]).string
        }
    }

    public func setPasswordHash(_ hash: String, of user: Int, at: Date, events: [ChangeEvent]) async throws {
        try await write { db in
            try await db.run("""
                INSERT INTO credentials (subject, doc, modified_ms) VALUES (?, ?, ?)
                ON CONFLICT (subject) DO UPDATE SET doc = excluded.doc, modified_ms = excluded.modified_ms
                """, [.text(Actor.devUser(user).description), .text(hash), .ms(at)])
            try await db.record(events)
        }
    }
}
