import Foundation
import NIOPosix
import ParleyCore
import ParleyStore
import Synchronization

extension SQLiteStore {
    // MARK: Migrations

    /// The schema version this binary writes.
    public static var schemaVersion: Int { Schema.migrations.map(\.version).max() ?? 0 }

    /// Applies the migrations the file lacks, each in its own transaction; returns the versions applied.
    /// "Lacks" is by version, not "above the highest applied": branches land migrations out of order, and a
    /// file that got version 7 before version 6 existed still gets 6.
    @discardableResult
    static func migrate(_ db: SQLiteConnection) throws -> [Int] {
        try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)")
        let current = try db.scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").int ?? 0
        if current > schemaVersion {
            throw StoreError(code: 0, message: "database schema version \(current) is newer than this binary's (\(schemaVersion))")
        }
        let present = Set(try db.query("SELECT version FROM schema_migrations").compactMap { $0.first?.int })
        var applied: [Int] = []
        for migration in Schema.migrations where !present.contains(migration.version) {
            try db.execute("BEGIN IMMEDIATE")
            do {
                try db.execute(migration.sql)
                try db.run("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)",
                           [.integer(Int64(migration.version)), .text(migration.name),
                            .integer(Int64(Date().timeIntervalSince1970 * 1000))])
                try db.execute("COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
            applied.append(migration.version)
        }
        return applied
    }

    /// Opens the file, applies missing migrations and returns their versions (`parley migrate`).
    public static func migrate(path: String) throws -> [Int] {
        let connection = try SQLiteConnection(path: path, readOnly: false)
        try connection.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
        return try migrate(connection)
    }
}
