import Foundation
import Logging
import NIOCore
import ParleyCore
import ParleyStore
import PostgresNIO

/// A value bound to, or read from, a statement: the few types the store's tables use.
package enum PGValue: Sendable, Equatable {
    case integer(Int)
    case text(String)
    case bool(Bool)
    case integers([Int])
    case texts([String])
    case bools([Bool])
    case bytes([UInt8])
    case null

    var int: Int? {
        switch self {
        case .integer(let value): value
        case .bool(let value): value ? 1 : 0
        default: nil
        }
    }

    var string: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    static func optional(_ value: Int?) -> PGValue { value.map { .integer($0) } ?? .null }
    static func optional(_ value: String?) -> PGValue { value.map { .text($0) } ?? .null }
    static func ms(_ date: Date) -> PGValue { .integer(Int((date.timeIntervalSince1970 * 1000).rounded())) }
}

/// One connection's statements, inside a transaction or not. Statements are written with `?` placeholders
/// (as the SQLite store's are), numbered `$1…` here.
struct PostgresSession {
    let connection: PostgresConnection
    let logger: Logger
    /// Where statements are prepared once per connection; nil: every statement is sent unnamed.
    var prepared: PreparedStatements?

    /// How PostgreSQL plans a statement: once for every value (prepared, the default), or for the values it
    /// runs with, every time (sent unnamed).
    enum Planning {
        case once
        case withValues
    }

    @discardableResult
    func query(_ sql: String, _ values: [PGValue] = [], planning: Planning = .once) async throws -> [[PGValue]] {
        let statement: PostgresQuery
        if planning == .once, let prepared, let name = try await prepared.name(for: sql, values, on: connection, logger: logger) {
            // PostgreSQL takes no bound values in EXECUTE's arguments: they are written as literals.
            let arguments = values.isEmpty ? "" : "(" + values.map(\.literal).joined(separator: ", ") + ")"
            statement = PostgresQuery(unsafeSQL: "EXECUTE \(name)\(arguments)")
        } else {
            statement = Self.statement(sql, values)
        }
        let rows = try await connection.query(statement, logger: logger)
        var result: [[PGValue]] = []
        for try await row in rows {
            result.append(try row.map(Self.value))
        }
        return result
    }

    func scalar(_ sql: String, _ values: [PGValue] = []) async throws -> PGValue {
        try await query(sql, values).first?.first ?? .null
    }

    /// Runs a statement; returns how many rows it returned (write `RETURNING 1` to count changed rows).
    @discardableResult
    func run(_ sql: String, _ values: [PGValue] = []) async throws -> Int {
        try await query(sql, values).count
    }

    static func statement(_ sql: String, _ values: [PGValue]) -> PostgresQuery {
        PostgresQuery(unsafeSQL: numbered(sql), binds: bindings(values))
    }

    /// `sql` with its `?` placeholders numbered `$1…` (outside quoted literals).
    static func numbered(_ sql: String) -> String {
        // Bytes, not Characters: statements are ASCII around their quoted literals, and this runs per statement.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        var quoted = false
        for byte in sql.utf8 {
            if byte == UInt8(ascii: "'") { quoted.toggle() }
            if byte == UInt8(ascii: "?"), !quoted {
                number += 1
                bytes.append(UInt8(ascii: "$"))
                bytes.append(contentsOf: String(number).utf8)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func bindings(_ values: [PGValue]) -> PostgresBindings {
        var binds = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .integer(let v): binds.append(v)
            case .text(let v): binds.append(v)
            case .bool(let v): binds.append(v)
            case .integers(let v): binds.append(v)
            case .texts(let v): binds.append(v)
            case .bools(let v): binds.append(v)
            case .bytes(let v): binds.append(ByteBuffer(bytes: v))
            case .null: binds.appendNull()
            }
        }
        return binds
    }

    static func value(_ cell: PostgresCell) throws -> PGValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int8, .int4, .int2: return .integer(try cell.decode(Int.self))
        case .bool: return .bool(try cell.decode(Bool.self))
        case .int8Array, .int4Array: return .integers(try cell.decode([Int].self))
        case .textArray, .varcharArray: return .texts(try cell.decode([String].self))
        case .bytea: return .bytes(Array(try cell.decode(ByteBuffer.self).readableBytesView))
        default: return .text(try cell.decode(String.self))
        }
    }
}

extension PostgresStore {
    /// What a failure inside PostgreSQL means to the caller: a unique key taken (a conflict), a database
    /// that cannot be reached or is shutting down (unavailable: 503), a full disk (507), or an internal error.
    static func translate(_ error: any Error) -> any Error {
        if error is DomainError || error is StoreError || error is CancellationError { return error }
        if error is ConnectionWatch.NoConnectionInTime {
            return StoreError(code: 0, message: "database unavailable: no connection in time", kind: .unavailable)
        }
        guard let error = error as? PSQLError else {
            return StoreError(code: 0, message: String(describing: error), kind: .other)
        }
        let state = error.serverInfo?[.sqlState] ?? ""
        let message = error.serverInfo?[.message] ?? "\(error.code)"
        if error.code == .server {
            switch state {
            case "23505":
                let detail = error.serverInfo?[.detail] ?? message
                return DomainError.conflict("already taken: \(detail)")
            case "53100": return StoreError(code: 53100, message: message, kind: .storageFull)
            case _ where state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300":
                return StoreError(code: 0, message: "database unavailable: \(message) (\(state))", kind: .unavailable)
            default:
                return StoreError(code: 0, message: "\(message) (\(state))", kind: .other)
            }
        }
        return StoreError(code: 0, message: "database unavailable: \(error.code)", kind: .unavailable)
    }
}
