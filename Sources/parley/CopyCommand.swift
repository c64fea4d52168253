import ArgumentParser
import Foundation
import Logging
import ParleyPostgres
import ParleySQLite
import ParleyStore

/// `parley copy`: everything in a SQLite database into an empty PostgreSQL one (directory, conversations,
/// timelines, events, the outbox and its position, configurations, tokens, password hashes, settings), table
/// by table with a progress line, then the row counts of both compared. Stop the server first.
struct Copy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy a SQLite database into a PostgreSQL database (stop the server first).",
        discussion: "Refuses a target that holds anything unless --force (which empties it). Ends by comparing row counts per table.")

    @Option(help: "The SQLite database file to copy.") var from: String
    @Option(help: "The PostgreSQL database to fill: postgres://USER[:PASS]@HOST[:PORT]/DB.") var to: String
    @Flag(help: "Empty the target first if it holds anything.") var force = false

    /// A table as both stores have it: its columns, their PostgreSQL types (`bool` columns are SQLite's 0/1),
    /// and the key it is read in order of.
    struct Table {
        var name: String
        var columns: [(name: String, type: String)]
        var key: [String]
        var condition = ""
        /// Rows per `COPY`: files (up to the attachment limit each) go a few at a time.
        var batch = 5_000
    }

    static let tables: [Table] = [
        Table(name: "objects", columns: [("kind", "text"), ("number", "bigint"), ("doc", "text"), ("created_ms", "bigint"),
                                         ("modified_ms", "bigint"), ("deleted", "bool")], key: ["kind", "number"]),
        Table(name: "object_keys", columns: [("kind", "text"), ("name", "text"), ("value", "text"), ("number", "bigint"),
                                             ("is_unique", "bool")], key: ["kind", "name", "value", "number"]),
        Table(name: "conversations", columns: [("number", "bigint"), ("doc", "text"), ("stage", "text"), ("priority", "int"),
                                               ("grp", "bigint"), ("rev_org", "bigint"), ("source_channel", "text"), ("is_spam", "bool"),
                                               ("created_ms", "bigint"), ("modified_ms", "bigint"), ("waiting_ms", "bigint"),
                                               ("deleted", "bool"), ("external_ref", "text"), ("unassigned", "bool")], key: ["number"]),
        Table(name: "conversation_owners", columns: [("owner", "bigint"), ("conversation", "bigint")], key: ["owner", "conversation"]),
        Table(name: "conversation_members", columns: [("member", "text"), ("conversation", "bigint")], key: ["member", "conversation"]),
        Table(name: "conversation_tags", columns: [("tag", "bigint"), ("conversation", "bigint"), ("value", "text")], key: ["tag", "conversation"]),
        Table(name: "timeline_entries", columns: [("number", "bigint"), ("conversation", "bigint"), ("doc", "text"), ("visibility", "text"),
                                                  ("author", "text"), ("created_ms", "bigint"), ("external_ref", "text")], key: ["number"]),
        Table(name: "events", columns: [("seq", "bigint"), ("object", "text"), ("at_ms", "bigint"), ("doc", "text")], key: ["seq"]),
        Table(name: "outbox", columns: [("seq", "bigint"), ("type", "text"), ("conversation", "bigint"), ("at_ms", "bigint"), ("doc", "text")],
              key: ["seq"]),
        Table(name: "stage_counts", columns: [("stage", "text"), ("count", "bigint")], key: ["stage"]),
        Table(name: "deadlines", columns: [("conversation", "bigint"), ("due_ms", "bigint")], key: ["conversation"]),
        Table(name: "tokens", columns: [("hash", "text"), ("number", "bigint"), ("subject", "text"), ("doc", "text")], key: ["hash"]),
        Table(name: "credentials", columns: [("subject", "text"), ("doc", "text"), ("modified_ms", "bigint")], key: ["subject"]),
        Table(name: "artifacts", columns: [("number", "bigint"), ("doc", "text"), ("comment", "bigint"), ("content", "bytea")],
              key: ["number"], batch: 4),
        Table(name: "configurations", columns: [("kind", "text"), ("version", "int"), ("doc", "text"), ("actor", "text"),
                                                ("created_ms", "bigint")], key: ["kind", "version"]),
        // The outbox's horizon is kept as a setting on SQLite and beside the outbox on PostgreSQL.
        Table(name: "settings", columns: [("name", "text"), ("value", "text")], key: ["name"], condition: "name != 'outbox_horizon'"),
    ]

    func run() async throws {
        guard FileManager.default.fileExists(atPath: from) else { throw ValidationError("no SQLite database at \(from)") }
        _ = try SQLiteStore.migrate(path: from)
        let source = try SQLiteConnection(path: from, readOnly: true)
        var logger = Logger(label: "parley")
        logger.logLevel = .warning
        let target = try await PostgresStore.open(url: try DatabaseURL(to), connections: 2, logger: logger)
        try await target.closing {
            if try await target.holdsData() {
                guard force else {
                    throw ValidationError("\(target.url) already holds data: copy into an empty database, or pass --force to empty it first")
                }
                print("emptying \(target.url) (--force)")
                try await target.empty()
            }
            let started = Date()
            var mismatches: [String] = []
            var report: [(String, Int, Int)] = []
            for table in Self.tables {
                let total = try source.scalar("SELECT count(*) FROM \(table.name)" + (table.condition.isEmpty ? "" : " WHERE \(table.condition)")).int ?? 0
                try await copy(table, total: total, from: source, to: target)
                let copied = try await target.rowCount(table.name)
                report.append((table.name, total, copied))
                if copied != total { mismatches.append(table.name) }
            }
            let sequences = Dictionary(try source.query("SELECT kind, next FROM sequences").compactMap { row -> (String, Int)? in
                guard let kind = row[0].string, let next = row[1].int else { return nil }
                return (kind, next)
            }, uniquingKeysWith: { $1 })
            let horizon = try source.scalar("SELECT value FROM settings WHERE name = 'outbox_horizon'").string.flatMap { Int($0) } ?? 0
            try await target.finishCopy(sequences: sequences, outboxHorizon: horizon)
            let seconds = Date().timeIntervalSince(started)
            print("\ntable                    SQLite rows   PostgreSQL rows")
            for (name, source, copied) in report {
                print(name.padding(toLength: 24, withPad: " ", startingAt: 0) + " " + String(source).leftPadded(11) + "   "
                      + String(copied).leftPadded(15) + (source == copied ? "" : "   DIFFERENT"))
            }
            let rows = report.map(\.1).reduce(0, +)
            print(String(format: "copied %d rows in %.1f s (%.0f rows/s); search index rebuilt (%d entries)", rows, seconds,
                         Double(rows) / max(seconds, 0.001), try await target.rowCount("conversation_text")))
            guard mismatches.isEmpty else { throw ValidationError("row counts differ for \(mismatches.joined(separator: ", "))") }
        }
    }

    /// Copies one table in key order, `batch` rows at a time, with a progress line.
    private func copy(_ table: Table, total: Int, from source: SQLiteConnection, to target: PostgresStore) async throws {
        let columns = table.columns.map(\.name)
        let keyIndexes = table.key.compactMap { columns.firstIndex(of: $0) }
        var after: [SQLValue]?
        var done = 0
        let started = Date()
        while true {
            var conditions = table.condition.isEmpty ? [] : [table.condition]
            if after != nil {
                conditions.append("(\(table.key.joined(separator: ", "))) > (\(Array(repeating: "?", count: table.key.count).joined(separator: ", ")))")
            }
            let rows = try source.query("SELECT \(columns.joined(separator: ", ")) FROM \(table.name)"
                                        + (conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND "))
                                        + " ORDER BY \(table.key.joined(separator: ", ")) LIMIT \(table.batch)", after ?? [])
            guard let last = rows.last else { break }
            after = keyIndexes.map { last[$0] }
            let values = rows.map { row in zip(row, table.columns).map { value, column in Self.value(value, as: column.type) } }
            try await target.copyRows(table.name, columns: columns, rows: values)
            if table.name == "conversations" {
                try await target.indexCopied(conversations: rows.compactMap { row in
                    guard row[11].int == 0, let number = row[0].int, let json = row[1].string else { return nil }
                    return (number, json)
                }, comments: [])
            } else if table.name == "timeline_entries" {
                try await target.indexCopied(conversations: [], comments: rows.compactMap { $0[2].string })
            }
            done += rows.count
            let rate = Double(done) / max(Date().timeIntervalSince(started), 0.001)
            let width = 30, filled = total > 0 ? min(width, done * width / total) : width
            FileHandle.standardError.write(Data(("\r" + table.name.padding(toLength: 22, withPad: " ", startingAt: 0)
                + " [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
                + "\(done)/\(total) (\(Int(rate)) rows/s)   ").utf8))
            if rows.count < table.batch { break }
        }
        FileHandle.standardError.write(Data("\r\(table.name.padding(toLength: 22, withPad: " ", startingAt: 0)) \(done)/\(total) copied\(String(repeating: " ", count: 40))\n".utf8))
    }

    static func value(_ value: SQLValue, as type: String) -> PGValue {
        switch value {
        case .null: return .null
        case .integer(let number): return type == "bool" ? .bool(number != 0) : .integer(Int(number))
        case .real(let number): return .integer(Int(number))
        case .text(let text): return .text(text)
        case .blob(let bytes): return .bytes(bytes)
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
