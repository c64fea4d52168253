import ParleyCore
import ParleyStore

/// A sort order whose last column is unique, so that a cursor (the sort values of one row) marks a
/// position and a page is found by an index seek, not by counting rows.
struct Keyset {
    struct Column {
        var expression: String
        var descending: Bool
    }

    var columns: [Column]

    /// Names the order, so that a cursor is only accepted by the list and sort that made it.
    var signature: String {
        var hash: UInt32 = 2_166_136_261
        for byte in columns.map({ "\($0.expression) \($0.descending)" }).joined(separator: ",").utf8 {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        return String(hash, radix: 36)
    }

    /// `ORDER BY` for reading forward (`after`) or backward (`before`).
    func orderBy(forward: Bool) -> String {
        columns.map { "\($0.expression) \($0.descending == forward ? "DESC" : "ASC")" }.joined(separator: ", ")
    }

    /// Rows strictly after (forward) or before (backward) the position `values`.
    func condition(after values: [SQLValue], forward: Bool) -> (String, [SQLValue]) {
        // All columns one way: a row-value comparison, which SQLite turns into an index range (page k costs
        // what page 1 does); mixed directions need the expanded form.
        if let first = columns.first, columns.allSatisfy({ $0.descending == first.descending }) {
            let marks = SQLiteConnection.placeholders(columns.count)
            let greater = first.descending != forward
            return ("((\(columns.map(\.expression).joined(separator: ", "))) \(greater ? ">" : "<") (\(marks)))", values)
        }
        var alternatives: [String] = []
        var binds: [SQLValue] = []
        for index in columns.indices {
            var parts: [String] = []
            for previous in 0..<index {
                parts.append("\(columns[previous].expression) = ?")
                binds.append(values[previous])
            }
            let greater = columns[index].descending != forward
            parts.append("\(columns[index].expression) \(greater ? ">" : "<") ?")
            binds.append(values[index])
            alternatives.append("(" + parts.joined(separator: " AND ") + ")")
        }
        return ("(" + alternatives.joined(separator: " OR ") + ")", binds)
    }
}

/// Opaque cursors: the sort values of a row and the direction to read from it.
enum Cursor {
    struct Position: Codable {
        var values: [Value]
        var before: Bool
        var order: String?

        enum Value: Codable {
            case integer(Int64)
            case text(String)
            case null

            init(_ value: SQLValue) {
                switch value {
                case .integer(let v): self = .integer(v)
                case .text(let v): self = .text(v)
                case .real(let v): self = .integer(Int64(v))
                case .blob, .null: self = .null
                }
            }

            var sql: SQLValue {
                switch self {
                case .integer(let v): .integer(v)
                case .text(let v): .text(v)
                case .null: .null
                }
            }

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if container.decodeNil() { self = .null }
                else if let v = try? container.decode(Int64.self) { self = .integer(v) }
                else { self = .text(try container.decode(String.self)) }
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.singleValueContainer()
                switch self {
                case .integer(let v): try container.encode(v)
                case .text(let v): try container.encode(v)
                case .null: try container.encodeNil()
                }
            }
        }
    }

    static func encode(_ values: [SQLValue], before: Bool, order: String) -> String {
        let data = (try? JSONEncoder().encode(Position(values: values.map(Position.Value.init), before: before, order: order))) ?? Data()
        return data.base64EncodedString()
            .replacing("+", with: "-")
            .replacing("/", with: "_")
            .replacing("=", with: "")
    }

    static func decode(_ text: String, width: Int, order: String) throws(DomainError) -> Position {
        var base64 = text.replacing("-", with: "+").replacing("_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
              let position = try? JSONDecoder().decode(Position.self, from: data),
              position.values.count == width else {
            throw .invalidField("cursor", message: "not a cursor this list returned")
        }
        guard position.order == order else {
            throw .invalidField("cursor", message: "this cursor belongs to another list or sort order; start again without it")
        }
        return position
    }
}

extension SQLiteConnection {
    /// Reads one page of `select` (whose last columns are the keyset's expressions, in order).
    func page<Item>(select: String, conditions: [String], binds: [SQLValue], keyset: Keyset, page: PageRequest,
                    decode: ([SQLValue]) throws -> Item) throws -> Page<Item> {
        var conditions = conditions
        var binds = binds
        var forward = page.mode == .after
        let width = keyset.columns.count
        if let cursor = page.cursor {
            let position = try Cursor.decode(cursor, width: width, order: keyset.signature)
            forward = !position.before
            let (condition, values) = keyset.condition(after: position.values.map(\.sql), forward: forward)
            conditions.append(condition)
            binds += values
        }
        let limit = max(1, page.limit)
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let sql = "\(select)\(whereClause) ORDER BY \(keyset.orderBy(forward: forward)) LIMIT \(limit + 1)"
        var rows = try query(sql, binds)
        let more = rows.count > limit
        if more { rows.removeLast() }
        if !forward { rows.reverse() }
        let items = try rows.map(decode)
        func position(_ row: [SQLValue]) -> [SQLValue] { Array(row.suffix(width)) }
        let hasNext = forward ? more : page.cursor != nil
        let hasPrev = forward ? page.cursor != nil : more
        return Page(
            items: items,
            nextCursor: hasNext ? rows.last.map { Cursor.encode(position($0), before: false, order: keyset.signature) } : nil,
            prevCursor: hasPrev ? rows.first.map { Cursor.encode(position($0), before: true, order: keyset.signature) } : nil)
    }
}
