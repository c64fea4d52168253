import Foundation
import NIOPosix
import ParleyCore
import ParleyStore
import Synchronization

extension SQLiteStore {
    // MARK: Encoding

    func json<T: Encodable>(_ value: T) throws -> SQLValue {
        .text(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    func decode<T: Decodable>(_ type: T.Type, _ value: SQLValue) throws -> T {
        guard case .text(let text) = value else { throw StoreError(code: 0, message: "missing document") }
        return try decoder.decode(type, from: Data(text.utf8))
    }

    /// Decodes the document of (`kind`, `number`), or returns the copy decoded from the very same JSON before.
    func decodeDocument<T: Decodable & Sendable>(_ type: T.Type, kind: String, number: Int, _ value: SQLValue) throws -> T {
        guard case .text(let text) = value else { throw StoreError(code: 0, message: "missing document") }
        let key = DocumentKey(kind: kind, number: number)
        if let known = decodedDocuments.withLock({ $0[key] }), let object = known.value as? T,
           known.json.hasSameBytes(as: text) {
            return object
        }
        let object = try decoder.decode(type, from: Data(text.utf8))
        decodedDocuments.withLock { known in
            if known.count >= Self.decodedDocumentLimit, known[key] == nil { known.removeAll(keepingCapacity: true) }
            known[key] = DecodedDocument(json: text, value: object)
        }
        return object
    }

    /// On the writer, inside a use case: `value` is being stored as `json` under (`kind`, `number`).
    func wrote(_ value: some Sendable, json: String, kind: String, number: Int) {
        uncommitted.withLock { $0.documents.append((DocumentKey(kind: kind, number: number), DecodedDocument(json: json, value: value))) }
    }

    /// Before a COMMIT, outside every savepoint: the full-text index changes of the whole transaction.
    func applyTextChanges(_ db: SQLiteConnection) throws {
        let changes = uncommitted.withLock { pending in
            defer { pending.textChanges.removeAll(keepingCapacity: true) }
            return pending.textChanges
        }
        for change in changes {
            switch change {
            case .title(let conversation, let title, let isNew):
                if !isNew { try db.run("DELETE FROM conversation_text WHERE rowid = ?", [.integer(Int64(-conversation))]) }
                try db.run("INSERT INTO conversation_text (rowid, text, conversation, is_note) VALUES (?, ?, ?, 0)",
                           [.integer(Int64(-conversation)), .text(title), .integer(Int64(conversation))])
            case .comment(let entry, let isNew):
                if !isNew { try db.run("DELETE FROM conversation_text WHERE rowid = ?", [.integer(Int64(entry.number))]) }
                guard !entry.isDeleted else { continue }
                try db.run("INSERT INTO conversation_text (rowid, text, conversation, is_note) VALUES (?, ?, ?, ?)",
                           [.integer(Int64(entry.number)), .text(entry.body), .integer(Int64(entry.conversation)),
                            .integer(Self.searchReaders(of: entry))])
            case .removed(let conversation, let comments):
                for rowid in [-conversation] + comments {
                    try db.run("DELETE FROM conversation_text WHERE rowid = ?", [.integer(Int64(rowid))])
                }
            }
        }
    }

    /// After a COMMIT: what the transaction stored becomes what readers find decoded.
    func publishCommittedDocuments() {
        let written = uncommitted.withLock { pending in
            defer { pending.documents.removeAll(keepingCapacity: true) }
            return pending.documents
        }
        guard !written.isEmpty else { return }
        // A bulk import writes tens of thousands: the newest are kept, within the cache's bound.
        let kept = written.suffix(Self.decodedDocumentLimit)
        decodedDocuments.withLock { known in
            if known.count + kept.count > Self.decodedDocumentLimit { known.removeAll(keepingCapacity: true) }
            for (key, document) in kept { known[key] = document }
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds) * 1_000_000_000 + Int(duration.components.attoseconds / 1_000_000_000)
    }

    static func ms(_ date: Date) -> SQLValue { .integer(Int64((date.timeIntervalSince1970 * 1000).rounded())) }

    func nextNumber(_ db: SQLiteConnection, _ kind: ObjectKind) throws -> Int {
        let value = try db.scalar("""
            INSERT INTO sequences (kind, next) VALUES (?, 2)
            ON CONFLICT(kind) DO UPDATE SET next = next + 1 RETURNING next - 1
            """, [.text(kind.rawValue)])
        guard let number = value.int else { throw StoreError(code: 0, message: "sequence for \(kind.rawValue) failed") }
        return number
    }

    func record(_ db: SQLiteConnection, _ events: [ChangeEvent]) throws {
        for event in events {
            try db.run("INSERT INTO events (object, at_ms, doc) VALUES (?, ?, ?)",
                       [.text(event.object.don), Self.ms(event.at), .text(StoredDocument.json(event))])
        }
    }

}

extension SQLiteStore {
    /// Who may find a comment by search, as `conversation_text.is_note` keeps it: 0 everyone, 1 the support
    /// team, minus the author's number for a private note (only its author).
    static func searchReaders(of entry: TimelineEntry) -> Int64 {
        switch (entry.visibility, entry.author) {
        case (.private, .devUser(let author)): -Int64(author)
        case (let visibility, _): visibility.isNote ? 1 : 0
        }
    }
}
