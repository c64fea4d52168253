import Foundation
import ParleyCore
import ParleyStore

/// A sort order whose last column is unique, all columns one way, so that a cursor (the sort values of one
/// row) marks a position and a page is found by an index range: `(a, b) > (?, ?)`.
struct PostgresKeyset {
    var columns: [String]
    var descending: Bool

    /// Names the order, so that a cursor is only accepted by the list and sort that made it.
    var signature: String {
        var hash: UInt32 = 2_166_136_261
        for byte in (columns.joined(separator: ",") + " \(descending)").utf8 {
            hash = (hash ^ UInt32(byte)) &* 16_777_619
        }
        return String(hash, radix: 36)
    }

    func orderBy(forward: Bool) -> String {
        columns.map { "\($0) \(descending == forward ? "DESC" : "ASC")" }.joined(separator: ", ")
    }

    func condition(forward: Bool) -> String {
        let marks = Array(repeating: "?", count: columns.count).joined(separator: ", ")
        return "((\(columns.joined(separator: ", "))) \(descending != forward ? ">" : "<") (\(marks)))"
    }
}

/// Opaque cursors: the sort values of a row (integers; texts never sort a list here) and the direction to
/// read from it.
enum PostgresCursor {
    struct Position: Codable {
        var values: [Int]
        var before: Bool
        var order: String
    }

    static func encode(_ values: [Int], before: Bool, order: String) -> String {
        let data = (try? JSONEncoder().encode(Position(values: values, before: before, order: order))) ?? Data()
        return data.base64EncodedString().replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
    }

    static func decode(_ text: String, width: Int, order: String) throws(DomainError) -> Position {
        var base64 = text.replacing("-", with: "+").replacing("_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let position = try? JSONDecoder().decode(Position.self, from: data),
              position.values.count == width else {
            throw .invalidField("cursor", message: "not a cursor this list returned")
        }
        guard position.order == order else {
            throw .invalidField("cursor", message: "this cursor belongs to another list or sort order; start again without it")
        }
        return position
    }
}

extension PostgresSession {
    /// Reads one page of `select` (whose last columns are the keyset's, in order), planned as `planning` says.
    func page<Item>(select: String, conditions: [String], binds: [PGValue], keyset: PostgresKeyset, page: PageRequest,
                    planning: Planning = .once, decode: ([PGValue]) throws -> Item) async throws -> Page<Item> {
        var conditions = conditions
        var binds = binds
        var forward = page.mode == .after
        let width = keyset.columns.count
        if let cursor = page.cursor {
            let position = try PostgresCursor.decode(cursor, width: width, order: keyset.signature)
            forward = !position.before
            conditions.append(keyset.condition(forward: forward))
            binds += position.values.map { .integer($0) }
        }
        let limit = max(1, page.limit)
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        var rows = try await query("\(select)\(whereClause) ORDER BY \(keyset.orderBy(forward: forward)) LIMIT \(limit + 1)", binds, planning: planning)
        let more = rows.count > limit
        if more { rows.removeLast() }
        if !forward { rows.reverse() }
        let items = try rows.map(decode)
        func position(_ row: [PGValue]) -> [Int] { row.suffix(width).map { $0.int ?? 0 } }
        let hasNext = forward ? more : page.cursor != nil
        let hasPrev = forward ? page.cursor != nil : more
        return Page(
            items: items,
            nextCursor: hasNext ? rows.last.map { PostgresCursor.encode(position($0), before: false, order: keyset.signature) } : nil,
            prevCursor: hasPrev ? rows.first.map { PostgresCursor.encode(position($0), before: true, order: keyset.signature) } : nil)
    }
}
