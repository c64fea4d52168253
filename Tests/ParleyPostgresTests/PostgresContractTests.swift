import Foundation
import Logging
import ParleyPostgres
import ParleyStore
import ParleyStoreContract
import Testing

/// The storage contract's suite (ParleyStoreContract), unchanged, against the PostgreSQL store: each check
/// on a fresh database of the server `PARLEY_TEST_DATABASE_URL` names (`scripts/test` starts a throwaway
/// cluster and sets it; without it these tests are skipped and say so).
@Suite("Storage contract: PostgreSQL", .enabled(if: PostgresTestDatabase.url != nil, "PARLEY_TEST_DATABASE_URL is not set"))
struct PostgresContractTests {
    @Test("the PostgreSQL store keeps the storage contract", arguments: StorageContract.Check.allCases)
    func contract(_ check: StorageContract.Check) async throws {
        try await PostgresTestDatabase.withFresh { url in
            try await StorageContract {
                let store = try await PostgresStore.open(url: url, logger: PostgresTestDatabase.logger)
                try await store.seedSystemTags(at: Date(timeIntervalSince1970: 1_750_000_000))
                return store
            }.run(check)
        }
    }
}

/// Fresh databases on the test server, dropped afterwards.
enum PostgresTestDatabase {
    static let url: DatabaseURL? = ProcessInfo.processInfo.environment["PARLEY_TEST_DATABASE_URL"].flatMap { try? DatabaseURL($0) }
    static let logger: Logger = {
        var logger = Logger(label: "parley-tests")
        logger.logLevel = .warning
        return logger
    }()

    static func withFresh(_ body: (DatabaseURL) async throws -> Void) async throws {
        guard let url else { return }
        let name = "parley_test_\(UUID().uuidString.lowercased().replacing("-", with: ""))"
        try await PostgresStore.createDatabase(named: name, at: url, logger: logger)
        do {
            try await body(url.naming(database: name))
        } catch {
            try? await PostgresStore.dropDatabase(named: name, at: url, logger: logger)
            throw error
        }
        try await PostgresStore.dropDatabase(named: name, at: url, logger: logger)
    }
}
