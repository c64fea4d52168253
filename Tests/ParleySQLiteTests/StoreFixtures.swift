import Foundation
import ParleySQLite
import ParleyStore
import ParleyStoreContract

extension SQLiteStore {
    /// A store on `path` with the system tags in it, as a server's start leaves it.
    static func seeded(path: String, now: Date) async throws -> SQLiteStore {
        let store = try SQLiteStore(path: path)
        try await store.seedSystemTags(at: now)
        return store
    }
}
