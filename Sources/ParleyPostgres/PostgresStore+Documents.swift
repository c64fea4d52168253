import Foundation
import ParleyCore
import ParleyStore

/// Documents as the SQLite store writes them (the same JSON), numbers, events and search words.
extension PostgresStore {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func json<T: Encodable>(_ value: T) throws -> PGValue {
        .text(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ value: PGValue) throws -> T {
        guard case .text(let text) = value else { throw StoreError(code: 0, message: "missing document") }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(type, from: Data(text.utf8))
    }

    /// Decodes the document of (`kind`, `number`), or returns the copy decoded from the very same JSON before.
    func cached<T: Decodable & Sendable>(_ type: T.Type, kind: String, number: Int, _ value: PGValue) throws -> T {
        guard case .text(let json) = value else { throw StoreError(code: 0, message: "missing document") }
        return try documents.decode(type, kind: kind, number: number, json: json) { try Self.decode(type, .text($0)) }
    }

    static func date(_ value: PGValue) -> Date { Date(timeIntervalSince1970: Double(value.int ?? 0) / 1000) }

    /// The words a text is found by, as `SearchWords` reads queries: lower case, without diacritics
    /// (SQLite's `unicode61 remove_diacritics 2`), each once.
    static func searchWords(_ text: String) -> [String] {
        var seen = Set<String>()
        var words: [String] = []
        for word in SearchWords.split(text) {
            let folded = String(fold(word).prefix(200))
            if seen.insert(folded).inserted { words.append(folded) }
        }
        return words
    }

    static func fold(_ word: String) -> String {
        // ASCII words (most) need only lower case; Foundation's folding is for the rest.
        if word.utf8.allSatisfy({ $0 < 0x80 }) {
            return String(decoding: word.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
        }
        return word.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil).lowercased()
    }

    /// A `tsquery` of the words asked for (letters and digits only, so quoting each is safe).
    static func tsquery(_ search: SearchWords) -> String {
        search.words.map { "'\(fold($0.text))'" + ($0.isPrefix ? ":*" : "") }.joined(separator: " & ")
    }

    /// Who may find a comment by search: 0 everyone, 1 the support team, minus the author's number for a
    /// private note (only its author).
    static func searchReaders(of entry: TimelineEntry) -> Int {
        switch (entry.visibility, entry.author) {
        case (.private, .devUser(let author)): -author
        case (let visibility, _): visibility.isNote ? 1 : 0
        }
    }
}

extension PostgresWrite {
    /// The next number of `kind`: one taken ahead with another statement (`reserve`), or a sequence's next.
    func nextNumber(_ kind: ObjectKind) async throws -> Int {
        if let number = takeReserved(kind) { return number }
        guard let number = try await scalarAside("SELECT nextval(?::regclass)", [.text("number_\(kind.rawValue)")]).int else {
            throw StoreError(code: 0, message: "sequence for \(kind.rawValue) failed")
        }
        return number
    }

    /// The next number of `kind`, and one of `also` kept for the transaction's next `nextNumber(also)`, in one
    /// statement (a conversation and its first comment). A number kept and never used is a gap, which
    /// numbers may have.
    func nextNumber(_ kind: ObjectKind, reserving also: ObjectKind) async throws -> Int {
        let row = try await session.query("SELECT nextval(?::regclass), nextval(?::regclass)",
                                          [.text("number_\(kind.rawValue)"), .text("number_\(also.rawValue)")]).first
        guard let number = row?[0].int, let reserved = row?[1].int else {
            throw StoreError(code: 0, message: "sequence for \(kind.rawValue) failed")
        }
        reserve(reserved, of: also)
        return number
    }

    func record(_ events: [ChangeEvent]) async throws {
        guard !events.isEmpty else { return }
        try await later("INSERT INTO events (object, at_ms, doc) SELECT * FROM unnest(?::text[], ?::bigint[], ?::text[])",
                      [.texts(events.map(\.object.don)), .integers(events.map { PGValue.ms($0.at).int ?? 0 }),
                       .texts(events.map { StoredDocument.json($0) })])
    }

    /// Indexes a title (id -number) or comment (its number) for search, replacing what was indexed before.
    func index(id: Int, conversation: Int, readers: Int, text: String) async throws {
        try await later("""
            INSERT INTO conversation_text (id, conversation, readers, words) VALUES (?, ?, ?, array_to_tsvector(?::text[]))
            ON CONFLICT (id) DO UPDATE SET readers = excluded.readers, words = excluded.words
            """, [.integer(id), .integer(conversation), .integer(readers), .texts(PostgresStore.searchWords(text))], key: "text:\(id)")
    }
}
