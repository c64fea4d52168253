import ArgumentParser
import Foundation
import ParleyBenchmarks
import ParleySQLite
import ParleyStore

/// The physical limit of durable writes on this machine: bare SQLite inserts with the store's durability
/// (WAL, synchronous=FULL), committed in batches of K.
struct SQLiteBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sqlite",
        abstract: "Time bare durable SQLite inserts (WAL, synchronous=FULL) in batches of K: the limit group commit works against.")

    @Option(help: "Rows per transaction to measure.") var batch: [Int] = [1, 4, 16, 64, 256]
    @Option(help: "Rows written per batch size.") var rows = 4_000
    @Option(help: "Bytes of text per row (a stored conversation document is 1–3 KB).") var bytes = 2_048
    @Option(help: "Directory for the scratch database files.") var directory = NSTemporaryDirectory()

    func run() throws {
        print("bare SQLite inserts, WAL, synchronous=FULL, \(bytes)-byte rows, \(rows) rows per batch size")
        print("batch\trows/s\tcommits/s\tseconds")
        for size in batch {
            let path = StoreBench.scratchPath("sqlite", in: directory)
            defer { StoreBench.remove(path) }
            // Small batches fsync per row: fewer rows keep the run short; the rate is what is compared.
            let count = size < 16 ? max(size, rows / 4) : rows
            let result = try BareSQLiteBenchmark.run(path: path, rows: count, batch: size, bytes: bytes)
            print("\(size)\t\(Int(result.rowsPerSecond))\t\(Int(result.commitsPerSecond))\t\(String(format: "%.2f", result.seconds))")
        }
    }
}
