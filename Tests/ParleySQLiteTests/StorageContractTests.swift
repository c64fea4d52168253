import Foundation
import ParleySQLite
import ParleyStore
import ParleyStoreContract
import Testing

/// The storage contract's suite (ParleyStoreContract), unchanged, against the SQLite store.
@Suite("Storage contract: SQLite")
struct StorageContractTests {
    @Test("the SQLite store keeps the storage contract", arguments: StorageContract.Check.allCases)
    func contract(_ check: StorageContract.Check) async throws {
        let path = "/tmp/parley-contract-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        try await StorageContract { try await SQLiteStore.seeded(path: path, now: Date(timeIntervalSince1970: 1_750_000_000)) }.run(check)
    }
}
