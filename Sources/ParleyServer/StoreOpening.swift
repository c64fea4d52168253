import ParleySQLite
import ParleyStore

/// Opens the store a configuration names: the composition root's one place that knows the backends, used
/// by `buildApplication`, the CLI and the tests, which all hold `any ParleyStore` afterwards.
public enum StoreOpening {
    public static func open(_ configuration: StoreConfiguration) throws -> any ParleyStore {
        switch configuration {
        case .sqlite(let path): try SQLiteStore(path: path)
        }
    }

    /// Opens the store for `body` (a command's work) and closes it, whether `body` returns or throws.
    public static func using<Result>(_ configuration: StoreConfiguration,
                                     _ body: (any ParleyStore) async throws -> Result) async throws -> Result {
        let store = try open(configuration)
        return try await store.closing { try await body(store) }
    }
}
