/// Which database a store opens. SQLite is the zero-configuration default; PostgreSQL is for several
/// servers on one database (`--database-url`).
public enum StoreConfiguration: Sendable, Equatable {
    /// One SQLite file (created and migrated on first open).
    case sqlite(path: String)
    /// A PostgreSQL database, by URL (`postgres://USER[:PASS]@HOST[:PORT]/DB[?sslmode=require]`).
    case postgres(url: String)
}

extension ParleyStore {
    /// Runs `body` (a command's work), then closes the store, whether `body` returned or threw.
    public func closing<Result>(after body: () async throws -> Result) async throws -> Result {
        do {
            let result = try await body()
            try await close()
            return result
        } catch {
            try? await close()
            throw error
        }
    }
}
