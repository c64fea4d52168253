import PostgresNIO
import Synchronization

/// Statements prepared on each pooled connection (`PREPARE`, then `EXECUTE`), so that PostgreSQL parses and
/// plans each of the store's statements once per connection rather than every time it runs (its parser and
/// planner were most of its CPU per workflow: BENCHMARKS.md). A statement is known by its text and the
/// types of its values (a null is `unknown`: PostgreSQL infers it from where it stands, as it does for an
/// unnamed statement's null). Only SELECT, INSERT, UPDATE, DELETE and WITH statements of at most
/// `maximumValues` values are prepared (not a bulk insert's, whose every batch differs), at most `limit` a
/// connection; the rest run unnamed, as before. A connection that closes takes its statements with it, and
/// the pool's next connection has a new id, so nothing here names a statement a connection lacks.
///
/// Each connection plans its prepared statements generically (`plan_cache_mode = force_generic_plan`, set
/// when it is first leased, `setUp`): left to choose, PostgreSQL planned a use case's last statement (its
/// writes and the outbox, in one `WITH`) again on every run, a fifth of its CPU per workflow, because it
/// cannot see how long the arrays it unnests are. What is best planned with its values (the conversation
/// lists: which index serves depends on the stage, the filters, the cursor) is sent unnamed instead
/// (`PostgresSession.Planning.withValues`).
final class PreparedStatements: Sendable {
    private struct State {
        var names: [PostgresConnection.ID: [String: String]] = [:]
        var next = 0
    }

    private let state = Mutex(State())
    let limit: Int

    static let maximumValues = 100

    init(limit: Int = 400) {
        self.limit = limit
    }

    /// The name `sql` with `values` is prepared under on `connection`, preparing it first if needed; nil when
    /// it is not to be prepared.
    func name(for sql: String, _ values: [PGValue], on connection: PostgresConnection, logger: Logger) async throws -> String? {
        guard values.count <= Self.maximumValues, Self.preparable(sql) else { return nil }
        let key = values.map(\.preparedType).joined(separator: ",") + "|" + sql
        let id = connection.id
        let found = state.withLock { state -> (name: String?, full: Bool) in
            if let name = state.names[id]?[key] { return (name, false) }
            return (nil, (state.names[id]?.count ?? 0) >= limit)
        }
        if let name = found.name { return name }
        if found.full { return nil }
        let name = state.withLock { state -> String in
            state.next += 1
            return "parley_\(state.next)"
        }
        let types = values.isEmpty ? "" : "(" + values.map(\.preparedType).joined(separator: ", ") + ")"
        let text = PostgresSession.numbered(sql)
        try await connection.query(PostgresQuery(unsafeSQL: "PREPARE \(name)\(types) AS \(text)"), logger: logger)
        state.withLock { $0.names[id, default: [:]][key] = name }
        return name
    }

    /// Sets a connection's session up the first time it is leased (then it is known here, with no statement
    /// prepared yet). Run outside any transaction, so that no rollback undoes it.
    func setUp(_ connection: PostgresConnection, logger: Logger) async throws {
        let known = state.withLock { $0.names[connection.id] != nil }
        if known { return }
        try await connection.query("SET plan_cache_mode = force_generic_plan", logger: logger)
        state.withLock { $0.names[connection.id] = $0.names[connection.id] ?? [:] }
    }

    static func preparable(_ sql: String) -> Bool {
        var start = sql.utf8.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") }
        start = start.prefix(6)
        let head = String(decoding: start, as: UTF8.self).uppercased()
        return ["SELECT", "INSERT", "UPDATE", "DELETE"].contains(head) || head.hasPrefix("WITH ")
    }
}

extension PGValue {
    /// The value as an SQL literal of its type. Text is written as an escape string (`E'…'`, every `\` and
    /// `'` doubled), which reads the same whatever `standard_conforming_strings` says; nothing of the text
    /// can end it early.
    var literal: String {
        switch self {
        case .integer(let value): "\(value)::int8"
        case .text(let value): Self.quoted(value) + "::text"
        case .bool(let value): value ? "true" : "false"
        case .integers(let values): "ARRAY[" + values.map { String($0) }.joined(separator: ",") + "]::int8[]"
        case .texts(let values): "ARRAY[" + values.map(Self.quoted).joined(separator: ",") + "]::text[]"
        case .bools(let values): "ARRAY[" + values.map { $0 ? "true" : "false" }.joined(separator: ",") + "]::bool[]"
        case .bytes(let bytes):
            "decode('" + bytes.map { byte in
                let hex = String(byte, radix: 16)
                return byte < 16 ? "0" + hex : hex
            }.joined() + "', 'hex')"
        case .null: "NULL"
        }
    }

    static func quoted(_ text: String) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "E"), UInt8(ascii: "'")]
        bytes.reserveCapacity(text.utf8.count + 8)
        for byte in text.utf8 {
            if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\\") { bytes.append(byte) }
            bytes.append(byte)
        }
        bytes.append(UInt8(ascii: "'"))
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension PGValue {
    /// The type a prepared statement declares for this value (what PostgresNIO binds it as).
    var preparedType: String {
        switch self {
        case .integer: "int8"
        case .text: "text"
        case .bool: "bool"
        case .integers: "int8[]"
        case .texts: "text[]"
        case .bools: "bool[]"
        case .bytes: "bytea"
        case .null: "unknown"
        }
    }
}
