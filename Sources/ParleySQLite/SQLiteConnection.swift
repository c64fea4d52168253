import ParleyStore
import VaporCSQLite

/// A value bound to or read from a SQLite statement.
package enum SQLValue: Sendable, Hashable {
    case integer(Int64)
    case text(String)
    case real(Double)
    case blob([UInt8])
    case null

    package var int: Int? { if case .integer(let v) = self { Int(v) } else { nil } }
    package var string: String? { if case .text(let v) = self { v } else { nil } }
}

private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection. Not thread-safe itself: the store hands each connection to one thread at a
/// time (the writer under its mutex, a reader taken out of the pool), which is why it may be sent.
package final class SQLiteConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]
    /// While set, every statement `run` and `query` execute is appended to it with its values (benchmarks
    /// record what the store's writer runs, for `parley bench store` to replay it bare).
    package var statementLog: StatementLog?

    package init(path: String, readOnly: Bool) throws {
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE))
            | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        let status = sqlite_nio_sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "cannot open"
            if let db { sqlite_nio_sqlite3_close_v2(db) }
            throw StoreError(code: status, message: "\(message) (\(path))")
        }
        handle = db
        sqlite_nio_sqlite3_busy_timeout(handle, 10_000)
        sqlite_nio_sqlite3_extended_result_codes(handle, 1)
    }

    deinit {
        for statement in statements.values { sqlite_nio_sqlite3_finalize(statement) }
        sqlite_nio_sqlite3_close_v2(handle)
    }

    /// Whether a transaction is open (SQLite may end one by itself after an I/O error or a full disk).
    var isInTransaction: Bool { sqlite_nio_sqlite3_get_autocommit(handle) == 0 }

    private func failure(_ code: Int32) -> StoreError {
        Self.error(code, String(cString: sqlite_nio_sqlite3_errmsg(handle)))
    }

    /// SQLite's result code as a store error; SQLITE_FULL (a full disk, or `max_page_count`) is `storageFull`.
    static func error(_ code: Int32, _ message: String) -> StoreError {
        StoreError(code: code, message: message, kind: code & 0xFF == SQLITE_FULL ? .storageFull : .other)
    }

    /// `?, ?, ?` for `count` values (an `IN (…)` list).
    static func placeholders(_ count: Int) -> String {
        Array(repeating: "?", count: count).joined(separator: ", ")
    }

    /// Runs one or more statements without binds (schema, pragmas, transaction control).
    package func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let status = sqlite_nio_sqlite3_exec(handle, sql, nil, nil, &error)
        if status != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "error"
            sqlite_nio_sqlite3_free(error)
            throw Self.error(status, message)
        }
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] {
            // Every use binds every parameter again, so the old values need no clearing; and
            // sqlite3_clear_bindings expires any statement whose plan looked at a bound value (an equality
            // on a column no index serves does), which then recompiled on every use.
            sqlite_nio_sqlite3_reset(statement)
            return statement
        }
        if statements.count >= 256 {
            // Many distinct list queries: start the cache over rather than let it grow without bound.
            for cached in statements.values { sqlite_nio_sqlite3_finalize(cached) }
            statements.removeAll()
        }
        var statement: OpaquePointer?
        let status = sqlite_nio_sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else { throw failure(status) }
        statements[sql] = statement
        return statement
    }

    private func bind(_ values: [SQLValue], to statement: OpaquePointer) throws {
        // Every parameter gets a value on every use (nothing is left over from the previous one).
        guard sqlite_nio_sqlite3_bind_parameter_count(statement) == Int32(values.count) else {
            throw StoreError(code: SQLITE_RANGE, message: "\(values.count) values for \(sqlite_nio_sqlite3_bind_parameter_count(statement)) parameters")
        }
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .integer(let v): status = sqlite_nio_sqlite3_bind_int64(statement, index, v)
            case .real(let v): status = sqlite_nio_sqlite3_bind_double(statement, index, v)
            case .null: status = sqlite_nio_sqlite3_bind_null(statement, index)
            case .text(let v):
                status = sqlite_nio_sqlite3_bind_text64(statement, index, v, UInt64(v.utf8.count), transient, UInt8(SQLITE_UTF8))
            case .blob(let v):
                status = v.withUnsafeBytes { bytes in
                    sqlite_nio_sqlite3_bind_blob64(statement, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64(v.count), transient)
                }
            }
            guard status == SQLITE_OK else { throw failure(status) }
        }
    }

    private func column(_ statement: OpaquePointer, _ index: Int32) -> SQLValue {
        switch sqlite_nio_sqlite3_column_type(statement, index) {
        case SQLITE_INTEGER: return .integer(sqlite_nio_sqlite3_column_int64(statement, index))
        case SQLITE_FLOAT: return .real(sqlite_nio_sqlite3_column_double(statement, index))
        case SQLITE_NULL: return .null
        case SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, index))
            guard count > 0, let bytes = sqlite_nio_sqlite3_column_blob(statement, index) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default:
            guard let text = sqlite_nio_sqlite3_column_text(statement, index) else { return .null }
            return .text(String(cString: text))
        }
    }

    /// Runs a statement that returns no rows; returns the number of rows changed.
    @discardableResult
    package func run(_ sql: String, _ values: [SQLValue] = []) throws -> Int {
        statementLog?.statements.append((sql, values))
        let statement = try prepared(sql)
        defer { sqlite_nio_sqlite3_reset(statement) }
        try bind(values, to: statement)
        var status = sqlite_nio_sqlite3_step(statement)
        while status == SQLITE_ROW { status = sqlite_nio_sqlite3_step(statement) }
        guard status == SQLITE_DONE else { throw failure(status) }
        return Int(sqlite_nio_sqlite3_changes(handle))
    }

    /// Runs a query and returns its rows, each as an array of column values.
    package func query(_ sql: String, _ values: [SQLValue] = []) throws -> [[SQLValue]] {
        statementLog?.statements.append((sql, values))
        let statement = try prepared(sql)
        defer { sqlite_nio_sqlite3_reset(statement) }
        try bind(values, to: statement)
        var rows: [[SQLValue]] = []
        let count = sqlite_nio_sqlite3_column_count(statement)
        while true {
            let status = sqlite_nio_sqlite3_step(statement)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else { throw failure(status) }
            rows.append((0..<count).map { column(statement, $0) })
        }
        return rows
    }

    package func scalar(_ sql: String, _ values: [SQLValue] = []) throws -> SQLValue {
        try query(sql, values).first?.first ?? .null
    }
}

/// Statements as a connection ran them, in order (see `SQLiteConnection.statementLog`).
package final class StatementLog {
    package var statements: [(sql: String, values: [SQLValue])] = []
    package init() {}
}
