import Foundation
import ParleyCore
import ParleyStore
import Testing

/// Files attached to comments: stored with their content, uploaded once, attached to exactly one comment in
/// that comment's transaction, and only by their uploader.
extension StorageContract {
    func artifactsAreStoredAndAttachedOnce(_ store: any ParleyStore) async throws {
        let t0 = Self.t0
        let limits = AttachmentLimits()
        let content: [UInt8] = Array(0...255).map(UInt8.init) + Array("tail".utf8)
        // In one step (content at once), and prepared then uploaded.
        let direct = try await store.createArtifact(content: content) { number in
            try Artifact(number: number, fileName: "dump.bin", uploader: .devUser(3), at: t0).storing(content, at: t0, limits: limits)
        }
        let prepared = try await store.createArtifact(content: nil) { number in
            var artifact = Artifact(number: number, fileName: "log.txt", uploader: .revUser(1), at: t0)
            artifact.uploadKeyHash = "h"
            return artifact
        }
        #expect(prepared.number > direct.number, "numbered from the kind's sequence")
        #expect(try await store.artifactContent(number: prepared.number) == nil, "no content until uploaded")
        #expect(try await store.artifactContent(number: direct.number) == content, "bytes read back exactly, NUL and high bytes included")
        let text = Array("a log line\n".utf8)
        let uploaded = try await store.uploadArtifact(number: prepared.number, content: text) { stored in
            try stored.storing(text, at: t0 + 1, limits: limits)
        }
        #expect(uploaded.size == text.count && uploaded.contentType == "text/plain")
        // A refused decision stores nothing (a second upload).
        await #expect(throws: DomainError.self) {
            try await store.uploadArtifact(number: prepared.number, content: [1]) { stored in try stored.storing([1], at: t0 + 2, limits: limits) }
        }
        #expect(try await store.artifactContent(number: prepared.number) == text)
        await #expect(throws: DomainError.self) {
            try await store.uploadArtifact(number: 9_999, content: [1]) { $0 }
        }
        #expect(try await store.artifacts(numbers: [direct.number, prepared.number, 9_999]).keys.sorted() == [direct.number, prepared.number])

        // Attached with the comment, in its transaction.
        let conversation = try await Self.open(store, "files")
        let entry = try await Self.comment(store, on: conversation.number, by: .revUser(1), at: t0 + 60, artifacts: [prepared.number])
        #expect(entry.artifacts == [prepared.number])
        #expect(try await store.timelineEntry(number: entry.number)?.artifacts == [prepared.number])
        let attached = try #require(try await store.artifacts(numbers: [prepared.number])[prepared.number])
        #expect(attached.comment == entry.number && attached.conversation == conversation.number)

        // A second comment naming it, or one by someone who did not upload the file, is refused whole.
        for (author, number) in [(Actor.revUser(1), prepared.number), (.revUser(2), direct.number), (.revUser(1), 9_999)] {
            await #expect(throws: DomainError.self) {
                try await Self.comment(store, on: conversation.number, by: author, at: t0 + 70, artifacts: [number])
            }
        }
        var query = TimelineQuery(conversation: conversation.number, viewer: .devUser(3))
        query.includeEvents = false
        #expect(try await store.listTimeline(query).items.count == 2, "the refused comments wrote nothing")
        #expect(try await store.artifacts(numbers: [direct.number])[direct.number]?.isAttached == false)

        // Two comments racing for one file: exactly one gets it.
        let contested = try await store.createArtifact(content: [7]) { number in
            try Artifact(number: number, fileName: "x", uploader: .devUser(3), at: t0).storing([7], at: t0, limits: limits)
        }
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for writer in 0..<6 {
                group.addTask {
                    do {
                        try await Self.comment(store, on: conversation.number, by: .devUser(3), .internal, at: t0 + 80 + Double(writer),
                                               artifacts: [contested.number])
                        return true
                    } catch is DomainError {
                        return false
                    }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
    }

    /// A comment carrying files, appended as the stage machine takes it.
    @discardableResult
    static func comment(_ store: any ParleyStore, on conversation: Int, by author: Actor, _ visibility: Visibility = .external,
                        at: Date, artifacts: [Int]) async throws -> TimelineEntry {
        let draft = CommentDraft(author: author, body: "files", visibility: visibility, at: at, artifacts: artifacts)
        return try await store.addComment(to: conversation, draft: draft, externalRef: nil) { current in
            guard case .append(let decision) = try current.receivingComment(by: author, visibility: visibility, at: at) else {
                throw DomainError.conflict("unexpected follow-up")
            }
            return .append(decision)
        }.0
    }
}
