import Logging
import ParleyPostgres
import ParleySQLite
import ParleyStore

/// Opens the store a configuration names: the composition root's one place that knows the backends, used
/// by `buildApplication`, the CLI and the tests, which all hold `any ParleyStore` afterwards.
public enum StoreOpening {
    /// Opens (and migrates) the store. A PostgreSQL database that cannot be reached fails at once, unless
    /// `retrying`: then it is tried again with backoff, a log line per attempt, until it answers.
    public static func open(_ configuration: StoreConfiguration, connections: Int = PostgresStore.defaultConnections,
                            logger: Logger = Logger(label: "parley"), retrying: Bool = false) async throws -> any ParleyStore {
        switch configuration {
        case .sqlite(let path):
            return try SQLiteStore(path: path)
        case .postgres(let text):
            return try await PostgresStore.open(url: try DatabaseURL(text), connections: connections, logger: logger, retrying: retrying)
        }
    }

    /// Opens the store for `body` (a command's work) and closes it, whether `body` returns or throws.
    public static func using<Result>(_ configuration: StoreConfiguration,
                                     _ body: (any ParleyStore) async throws -> Result) async throws -> Result {
        let store = try await open(configuration)
        return try await store.closing { try await body(store) }
    }
}
