import Foundation
import ParleyCore
import ParleyStore

/// Files attached to comments: the metadata as a document, the content beside it in the same row (so the
/// database file, and every backup of it, holds them; decision 0011).
extension SQLiteStore {
    public func createArtifact(content: [UInt8]?, make: @escaping @Sendable (Int) throws -> Artifact) async throws -> Artifact {
        try await write { [self] db in
            let artifact = try make(try nextNumber(db, .artifact))
            try db.run("INSERT INTO artifacts (number, doc, comment, content) VALUES (?, ?, NULL, ?)",
                       [.integer(Int64(artifact.number)), try json(artifact), content.map { .blob($0) } ?? .null])
            return artifact
        }
    }

    public func uploadArtifact(number: Int, content: [UInt8], decide: @escaping @Sendable (Artifact) throws -> Artifact) async throws -> Artifact {
        try await write { [self] db in
            guard let row = try db.query("SELECT doc FROM artifacts WHERE number = ?", [.integer(Int64(number))]).first else {
                throw DomainError.notFound(ObjectID(.artifact, number).displayID)
            }
            let artifact = try decide(try decode(Artifact.self, row[0]))
            try db.run("UPDATE artifacts SET doc = ?, content = ? WHERE number = ?",
                       [try json(artifact), .blob(content), .integer(Int64(number))])
            return artifact
        }
    }

    public func artifacts(numbers: Set<Int>) async throws -> [Int: Artifact] {
        guard !numbers.isEmpty else { return [:] }
        let list = numbers.sorted()
        return try lookup { db in
            let rows = try db.query("SELECT number, doc FROM artifacts WHERE number IN (\(list.map { _ in "?" }.joined(separator: ",")))",
                                    list.map { .integer(Int64($0)) })
            var found: [Int: Artifact] = [:]
            for row in rows {
                if let number = row[0].int { found[number] = try decode(Artifact.self, row[1]) }
            }
            return found
        }
    }

    public func artifactContent(number: Int) async throws -> [UInt8]? {
        try await read { db in
            guard case .blob(let bytes)? = try db.query("SELECT content FROM artifacts WHERE number = ?", [.integer(Int64(number))]).first?.first else {
                return nil
            }
            return bytes
        }
    }

    /// In the comment's transaction: its artifacts become its own (see the contract).
    func attachArtifacts(_ db: SQLiteConnection, to entry: TimelineEntry) throws {
        for number in entry.artifacts {
            let row = try db.query("SELECT doc FROM artifacts WHERE number = ?", [.integer(Int64(number))]).first
            guard let row else { throw DomainError.conflict("\(ObjectID(.artifact, number).displayID) does not exist") }
            var artifact = try decode(Artifact.self, row[0])
            if let refusal = artifact.refusalToAttach(by: entry.author) { throw DomainError.conflict(refusal.description) }
            artifact.comment = entry.number
            artifact.conversation = entry.conversation
            try db.run("UPDATE artifacts SET doc = ?, comment = ? WHERE number = ?",
                       [try json(artifact), .integer(Int64(entry.number)), .integer(Int64(number))])
        }
    }
}
