import Foundation
import ParleySQLite
import ParleyStore

/// What the store's writer wrote while recording, use case by use case: the statements that change rows
/// (inserts, updates, deletes, with their values), without the reads, the transactions and the savepoints
/// around them, and without use cases that rolled back. Replayed by `BareSQLiteBenchmark.replay`.
public struct RecordedWrites: Sendable {
    package var useCases: [[RecordedStatement]]

    package struct RecordedStatement: Sendable {
        package var sql: String
        package var values: [SQLValue]
    }

    /// Use cases recorded.
    public var count: Int { useCases.count }
    /// Statements recorded, over all use cases.
    public var statements: Int { useCases.reduce(0) { $0 + $1.count } }
    /// Bytes of text bound to those statements.
    public var boundTextBytes: Int {
        useCases.reduce(0) { total, statements in
            statements.reduce(total) { sum, statement in
                statement.values.reduce(sum) { if case .text(let text) = $1 { $0 + text.utf8.count } else { $0 } }
            }
        }
    }

    /// Splits the writer's statements at each use case's savepoint; what runs after a batch's last use
    /// case and before its COMMIT (the search index) stays with that use case.
    init(_ log: [(sql: String, values: [SQLValue])]) {
        var useCases: [[RecordedStatement]] = []
        var current: [RecordedStatement]?
        for (sql, values) in log {
            switch sql {
            case BatchStatement.beginUseCase:
                if let current { useCases.append(current) }
                current = []
            case BatchStatement.undoUseCase:
                current = nil
            case BatchStatement.begin, BatchStatement.commit, BatchStatement.endUseCase:
                continue
            default:
                if sql.hasPrefix("SELECT") { continue }
                current?.append(RecordedStatement(sql: sql, values: values))
            }
        }
        if let current { useCases.append(current) }
        self.useCases = useCases
    }
}


extension SQLiteStore {
    /// Starts recording every statement the writer runs, with its values, until `stopRecordingWrites`
    /// (`parley bench store` replays them bare, as the yardstick for the store's overhead).
    public func startRecordingWrites() {
        logWriterStatements(to: StatementLog())
    }

    /// Stops recording and returns the writes recorded since `startRecordingWrites`, by use case.
    public func stopRecordingWrites() -> RecordedWrites {
        RecordedWrites(logWriterStatements(to: nil)?.statements ?? [])
    }
}
