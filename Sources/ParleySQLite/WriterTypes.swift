import Foundation
import ParleyCore
import ParleyStore


/// A use case waiting for the writer.
struct WriteJob: Sendable {
    /// What running a job left to do once its transaction's fate is known.
    enum Outcome {
        /// It ran: answer with its result if the transaction commits (nil), else with the commit's error.
        case succeeded(@Sendable ((any Error)?) -> Void)
        /// It threw (its savepoint is rolled back): answer with its error.
        case failed(@Sendable () -> Void)
    }

    /// Runs the use case on the writer's connection, inside its savepoint.
    let run: @Sendable (SQLiteConnection) -> Outcome
    /// Answers the caller with `error` without running the use case.
    let reject: @Sendable (any Error) -> Void
    /// Thousands of statements (an import): runs in a transaction of its own.
    var isBulk = false
}

/// The writer's queue: jobs in arrival order, and whether a drain is scheduled or running.
struct WriteQueue {
    var jobs: [WriteJob] = []
    var draining = false
}

/// What the transaction being written leaves for its end; rolled back with a use case's savepoint, dropped
/// with a transaction that rolls back.
struct Uncommitted {
    /// Documents stored (conversations and comments, with their JSON): after COMMIT they go into the readers'
    /// `decodedDocuments`, so the next read of a conversation just written finds it decoded (a reply reads
    /// its conversation first).
    var documents: [(DocumentKey, DecodedDocument)] = []
    /// Full-text index changes, applied after the last savepoint and before COMMIT (schema 8): FTS5 flushes
    /// what it holds at every savepoint, so indexing inside each use case's savepoint wrote one index segment
    /// per use case and merged them on later writes.
    var textChanges: [TextIndexChange] = []

    struct Mark {
        var documents: Int
        var textChanges: Int
    }

    /// Where a use case starts.
    var mark: Mark { Mark(documents: documents.count, textChanges: textChanges.count) }

    /// A use case failed: what it added goes.
    mutating func rollBack(to mark: Mark) {
        documents.removeSubrange(mark.documents...)
        textChanges.removeSubrange(mark.textChanges...)
    }
}

/// A change to the full-text index (`conversation_text`: titles at rowid -number, comments at their number).
enum TextIndexChange: Sendable {
    case title(conversation: Int, title: String, isNew: Bool)
    case comment(TimelineEntry, isNew: Bool)
    /// A deleted conversation leaves the index with its comments: searches read a bounded number of matches,
    /// which rows nobody can see any more would crowd out.
    case removed(conversation: Int, comments: [Int])
}

/// The statements the writer runs around a batch and around each use case in it (`RecordedWrites` splits a
/// recording of the writer at them).
package enum BatchStatement {
    package static let begin = "BEGIN IMMEDIATE"
    package static let commit = "COMMIT"
    package static let beginUseCase = "SAVEPOINT write_job"
    package static let endUseCase = "RELEASE write_job"
    package static let undoUseCase = "ROLLBACK TO write_job"
}

/// A conversation with the JSON it is stored as.
struct StoredConversation: Sendable {
    var conversation: Conversation
    var json: String
}

struct DocumentKey: Hashable {
    var kind: String
    var number: Int
}

/// A decoded document and the JSON it was decoded from.
struct DecodedDocument: Sendable {
    var json: String
    var value: any Sendable
}
