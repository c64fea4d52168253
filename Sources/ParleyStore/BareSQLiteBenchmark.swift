/// The physical limit the store's durable writes are measured against: a bare loop of SQLite inserts with
/// the store's durability (WAL, `synchronous=FULL`), committed in batches, with none of the store's work
/// (no JSON, no events, no domain).
public enum BareSQLiteBenchmark {
    public struct Result: Sendable {
        public var batch: Int
        public var rows: Int
        public var seconds: Double
        public var rowsPerSecond: Double { Double(rows) / seconds }
        public var commitsPerSecond: Double { Double(rows) / Double(batch) / seconds }
    }

    /// Inserts `rows` rows of `bytes` bytes of text (one indexed column besides) into a fresh file at `path`,
    /// `batch` rows per transaction, and times it. The file is left for the caller to delete.
    public static func run(path: String, rows: Int, batch: Int, bytes: Int) throws -> Result {
        let db = try SQLiteConnection(path: path, readOnly: false)
        try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
        try db.execute("CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, doc TEXT NOT NULL)")
        try db.execute("CREATE INDEX IF NOT EXISTS bench_by_grp ON bench (grp, id)")
        let document = String(repeating: "x", count: max(1, bytes))
        let clock = ContinuousClock()
        let started = clock.now
        var written = 0
        while written < rows {
            let count = min(batch, rows - written)
            try db.execute("BEGIN IMMEDIATE")
            for index in 0..<count {
                try db.run("INSERT INTO bench (grp, doc) VALUES (?, ?)", [.integer(Int64((written + index) % 97)), .text(document)])
            }
            try db.execute("COMMIT")
            written += count
        }
        let elapsed = started.duration(to: clock.now)
        return Result(batch: batch, rows: rows,
                      seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
