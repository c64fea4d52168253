import Foundation
import NIOCore
import ParleyCore
import ParleyJSON
import ParleyStore
import PostgresNIO

/// What `parley copy` needs of the PostgreSQL store: whether the database holds anything, emptying it
/// (`--force`), rows written table by table as they are, the search index rebuilt from the copied rows, and
/// the numbering and outbox position carried over.
extension PostgresStore {
    /// The tables `parley copy` fills, in the order it fills them.
    package static let copiedTables = ["objects", "object_keys", "conversations", "conversation_owners", "conversation_members",
                                       "conversation_tags", "timeline_entries", "events", "outbox", "stage_counts", "deadlines",
                                       "tokens", "credentials", "artifacts", "configurations", "settings"]

    package func rowCount(_ table: String) async throws -> Int {
        guard Self.copiedTables.contains(table) || table == "conversation_text" else { throw StoreError(code: 0, message: "no table \(table)") }
        return try await read { db in try await db.scalar("SELECT count(*) FROM \(table)").int ?? 0 }
    }

    /// Whether any table holds a row (the system tags and settings a server's start writes count).
    package func holdsData() async throws -> Bool {
        for table in Self.copiedTables where try await rowCount(table) > 0 { return true }
        return false
    }

    /// Empties every table and starts every numbering again (the schema stays).
    package func empty() async throws {
        try await transaction { db in
            try await db.run("TRUNCATE \((Self.copiedTables + ["conversation_text", "leases"]).joined(separator: ", ")) RESTART IDENTITY")
            try await db.run("UPDATE outbox_position SET latest = 0, horizon = 0")
            for kind in ObjectKind.allCases { try await db.run("ALTER SEQUENCE number_\(kind.rawValue) RESTART") }
        }
    }

    /// Writes `rows` (values in `columns` order) with one `COPY … FROM STDIN` (text format): several times
    /// the rate of multi-row INSERTs, which PostgreSQL must parse and plan with a parameter per value.
    package func copyRows(_ table: String, columns: [String], rows: [[PGValue]]) async throws {
        guard !rows.isEmpty else { return }
        guard Self.copiedTables.contains(table) else { throw StoreError(code: 0, message: "no table \(table)") }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(rows.count * 256)
        for row in rows {
            for (index, value) in row.enumerated() {
                if index > 0 { buffer.writeInteger(UInt8(ascii: "\t")) }
                Self.writeCopyText(value, into: &buffer)
            }
            buffer.writeInteger(UInt8(ascii: "\n"))
        }
        let data = buffer
        let logger = logger
        do {
            try await withConnection { connection in
                try await connection.copyFrom(table: table, columns: columns, logger: logger) { writer in try await writer.write(data) }
            }
        } catch {
            throw Self.translate(error)
        }
    }

    /// A value as COPY's text format has it: `\N` for NULL, `t`/`f`, arrays as literals, `bytea` as hex, and
    /// backslash, tab, newline and carriage return escaped.
    static func writeCopyText(_ value: PGValue, into buffer: inout ByteBuffer) {
        // Runs of ordinary bytes are written whole; only the four special bytes are written one by one.
        func escaped(_ text: String, _ buffer: inout ByteBuffer) {
            var text = text
            text.withUTF8 { bytes in
                var start = 0
                for index in bytes.indices {
                    let replacement: UInt8
                    switch bytes[index] {
                    case UInt8(ascii: "\\"): replacement = UInt8(ascii: "\\")
                    case UInt8(ascii: "\t"): replacement = UInt8(ascii: "t")
                    case UInt8(ascii: "\n"): replacement = UInt8(ascii: "n")
                    case UInt8(ascii: "\r"): replacement = UInt8(ascii: "r")
                    default: continue
                    }
                    buffer.writeBytes(UnsafeBufferPointer(rebasing: bytes[start..<index]))
                    buffer.writeBytes([UInt8(ascii: "\\"), replacement])
                    start = index + 1
                }
                buffer.writeBytes(UnsafeBufferPointer(rebasing: bytes[start...]))
            }
        }
        /// An array element in an array literal: quoted, with `"` and `\` escaped by a backslash.
        func element(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        switch value {
        case .null: buffer.writeString("\\N")
        case .integer(let number): buffer.writeString(String(number))
        case .bool(let flag): buffer.writeString(flag ? "t" : "f")
        case .text(let text): escaped(text, &buffer)
        case .integers(let numbers): buffer.writeString("{" + numbers.map(String.init).joined(separator: ",") + "}")
        case .bools(let flags): buffer.writeString("{" + flags.map { $0 ? "t" : "f" }.joined(separator: ",") + "}")
        case .texts(let texts): escaped("{" + texts.map(element).joined(separator: ",") + "}", &buffer)
        case .bytes(let bytes):
            let digits = Array("0123456789abcdef".utf8)
            buffer.writeString("\\\\x")
            for byte in bytes {
                buffer.writeInteger(digits[Int(byte >> 4)])
                buffer.writeInteger(digits[Int(byte & 0x0f)])
            }
        }
    }

    /// Indexes copied titles and comments for search, as the store indexes new ones. The documents are read
    /// for the few fields the index needs (`CopiedText`), not decoded whole: `JSONDecoder` took two thirds of
    /// the copy's time.
    package func indexCopied(conversations: [(number: Int, json: String)], comments: [String]) async throws {
        var rows: [(Int, Int, Int, [String])] = []
        for (number, json) in conversations {
            rows.append((-number, number, 0, Self.searchWords(try CopiedText.title(json))))
        }
        for json in comments {
            let entry = try CopiedText.comment(json)
            guard !entry.isDeleted else { continue }
            rows.append((entry.number, entry.conversation, Self.searchReaders(of: entry), Self.searchWords(entry.body)))
        }
        guard !rows.isEmpty else { return }
        let sql = "INSERT INTO conversation_text (id, conversation, readers, words) VALUES "
            + Array(repeating: "(?, ?, ?, array_to_tsvector(?::text[]))", count: rows.count).joined(separator: ", ")
        let values = rows.flatMap { [PGValue.integer($0.0), .integer($0.1), .integer($0.2), .texts($0.3)] }
        try await transaction { db in try await db.run(sql, values) }
    }

    /// After a copy: each kind's numbering continues after `next - 1`, the events' after the highest copied,
    /// and the outbox stands where the source's did.
    package func finishCopy(sequences: [String: Int], outboxHorizon: Int) async throws {
        try await transaction { db in
            for (kind, next) in sequences where next > 1 && ObjectKind(rawValue: kind) != nil {
                try await db.run("SELECT setval(?::regclass, ?)", [.text("number_\(kind)"), .integer(next - 1)])
            }
            try await db.run("SELECT setval(pg_get_serial_sequence('events', 'seq'), GREATEST((SELECT MAX(seq) FROM events), 1))")
            try await db.run("UPDATE outbox_position SET latest = GREATEST((SELECT COALESCE(MAX(seq), 0) FROM outbox), ?), horizon = ?",
                             [.integer(outboxHorizon), .integer(outboxHorizon)])
        }
    }
}

/// The fields of stored documents the search index needs, read with the store's own JSON parser.
enum CopiedText {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func object(_ json: String) throws -> [String: JSONValue] {
        guard case .object(let fields) = try JSONParser.parse(Array(json.utf8)) else { throw Failure(description: "not an object: \(json.prefix(80))") }
        return fields
    }

    /// A conversation document's title.
    static func title(_ json: String) throws -> String {
        guard case .string(let title)? = try object(json)["title"] else { throw Failure(description: "a conversation without a title") }
        return title
    }

    /// A comment document's number, conversation, author, visibility, body and deletion: a `TimelineEntry`
    /// with what the index reads (the rest left at its defaults).
    static func comment(_ json: String) throws -> TimelineEntry {
        let fields = try object(json)
        guard case .number(let number)? = fields["number"], case .number(let conversation)? = fields["conversation"],
              case .string(let author)? = fields["author"], let actor = ObjectID.parse(author).flatMap(Actor.init),
              case .string(let visibilityName)? = fields["visibility"], let visibility = Visibility(rawValue: visibilityName),
              case .string(let body)? = fields["body"] else {
            throw Failure(description: "a comment document without its fields: \(json.prefix(80))")
        }
        var entry = TimelineEntry(number: Int(number), conversation: Int(conversation), author: actor, body: body, visibility: visibility,
                                  at: Date(timeIntervalSince1970: 0))
        if case .bool(true)? = fields["isDeleted"] { entry.isDeleted = true }
        return entry
    }
}
