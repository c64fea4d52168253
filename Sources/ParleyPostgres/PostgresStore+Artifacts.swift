import Foundation
import ParleyCore
import ParleyStore

/// Files attached to comments: the metadata as a document, the content beside it (`bytea`) in the same row,
/// so every server reads them from the database and every backup of it holds them (decision 0011).
extension PostgresStore {
    public func createArtifact(content: [UInt8]?, make: @escaping @Sendable (Int) throws -> Artifact) async throws -> Artifact {
        try await write { db in
            let artifact = try make(try await db.nextNumber(.artifact))
            try await db.run("INSERT INTO artifacts (number, doc, comment, content) VALUES (?, ?, NULL, ?)",
                             [.integer(artifact.number), try Self.json(artifact), content.map { .bytes($0) } ?? .null])
            return artifact
        }
    }

    public func uploadArtifact(number: Int, content: [UInt8], decide: @escaping @Sendable (Artifact) throws -> Artifact) async throws -> Artifact {
        try await write { db in
            guard let row = try await db.query("SELECT doc FROM artifacts WHERE number = ? FOR UPDATE", [.integer(number)]).first else {
                throw DomainError.notFound(ObjectID(.artifact, number).displayID)
            }
            let artifact = try decide(try Self.decode(Artifact.self, row[0]))
            try await db.run("UPDATE artifacts SET doc = ?, content = ? WHERE number = ?",
                             [try Self.json(artifact), .bytes(content), .integer(number)])
            return artifact
        }
    }

    public func artifacts(numbers: Set<Int>) async throws -> [Int: Artifact] {
        guard !numbers.isEmpty else { return [:] }
        let rows = try await read { db in
            try await db.query("SELECT number, doc FROM artifacts WHERE number = ANY(?::bigint[])", [.integers(numbers.sorted())])
        }
        var found: [Int: Artifact] = [:]
        for row in rows {
            if let number = row[0].int { found[number] = try Self.decode(Artifact.self, row[1]) }
        }
        return found
    }

    public func artifactContent(number: Int) async throws -> [UInt8]? {
        try await read { db in
            guard case .bytes(let bytes)? = try await db.query("SELECT content FROM artifacts WHERE number = ?", [.integer(number)]).first?.first else {
                return nil
            }
            return bytes
        }
    }
}

extension PostgresWrite {
    /// In the comment's transaction: its artifacts become its own (see the contract). The row lock makes of
    /// two comments naming one artifact one winner.
    func attachArtifacts(to entry: TimelineEntry) async throws {
        for number in entry.artifacts {
            let row = try await query("SELECT doc FROM artifacts WHERE number = ? FOR UPDATE", [.integer(number)]).first
            guard let row else { throw DomainError.conflict("\(ObjectID(.artifact, number).displayID) does not exist") }
            var artifact = try PostgresStore.decode(Artifact.self, row[0])
            if let refusal = artifact.refusalToAttach(by: entry.author) { throw DomainError.conflict(refusal.description) }
            artifact.comment = entry.number
            artifact.conversation = entry.conversation
            try await run("UPDATE artifacts SET doc = ?, comment = ? WHERE number = ?",
                          [try PostgresStore.json(artifact), .integer(entry.number), .integer(number)])
        }
    }
}
