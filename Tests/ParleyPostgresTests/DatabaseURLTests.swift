import Foundation
import ParleyPostgres
import ParleyStore
import ParleyStoreContract
import Testing

/// How `--database-url` is read: a server's address, or the unix socket of a PostgreSQL on the same
/// machine, as libpq writes both.
@Suite("Database URLs")
struct DatabaseURLTests {
    @Test("a server's address, with its port, user, password and TLS mode")
    func address() throws {
        let url = try DatabaseURL("postgres://parley:p%40ss@db.internal:6543/support?sslmode=require")
        #expect(url.host == "db.internal" && url.port == 6543 && !url.isSocket)
        #expect(url.user == "parley" && url.password == "p@ss" && url.database == "support" && url.sslMode == "require")
        #expect(url.description == "db.internal:6543/support as parley")
        #expect(try DatabaseURL("postgresql://parley@127.0.0.1/parley").port == 5432)
    }

    @Test("a unix socket's folder, as a host parameter or percent-encoded in the host's place")
    func socket() throws {
        let parameter = try DatabaseURL("postgres://parley@/support?host=/var/run/postgresql")
        #expect(parameter.isSocket && parameter.host == "/var/run/postgresql" && parameter.port == 5432)
        #expect(parameter.socketPath == "/var/run/postgresql/.s.PGSQL.5432")
        #expect(parameter.description == "/var/run/postgresql/.s.PGSQL.5432/support as parley")

        let withPort = try DatabaseURL("postgres://parley:secret@:5433/support?host=/tmp/pg/")
        #expect(withPort.socketPath == "/tmp/pg/.s.PGSQL.5433" && withPort.password == "secret")
        #expect(try DatabaseURL("postgres://parley@/support?host=/tmp/pg&port=6000").socketPath == "/tmp/pg/.s.PGSQL.6000")

        let encoded = try DatabaseURL("postgres://parley@%2Fvar%2Frun%2Fpostgresql/support")
        #expect(encoded.isSocket && encoded.socketPath == "/var/run/postgresql/.s.PGSQL.5432")
    }

    @Test("what is refused, with a reason and never the password")
    func refused() throws {
        func message(_ text: String) -> String {
            do {
                _ = try DatabaseURL(text)
                return "accepted"
            } catch {
                return error.message
            }
        }
        #expect(message("postgres://parley:secret@/support").contains("not a PostgreSQL URL"))
        #expect(!message("postgres://parley:secret@/support").contains("secret"))
        #expect(message("mysql://parley@db/support").contains("not a PostgreSQL URL"))
        #expect(message("postgres://db.internal/support").contains("names a user and a database"))
        #expect(message("postgres://parley@db.internal/support?sslmode=sometimes").contains("sslmode=sometimes"))
        #expect(message("postgres://parley@/support?host=/tmp/pg&port=http").contains("port=http is not a port number"))
        // TLS asked for where none can be: refused rather than silently not honoured.
        #expect(message("postgres://parley@/support?host=/tmp/pg&sslmode=require").contains("a unix socket"))
        #expect(message("postgres://parley@/support?host=/tmp/pg&sslmode=disable") == "accepted")
    }

    /// Over the test cluster's own socket (`scripts/test` sets `PARLEY_TEST_DATABASE_SOCKET` to its folder):
    /// the store, its outbox follower and its listening connection work there as over TCP.
    @Test("the store keeps the contract over a unix socket",
          .enabled(if: PostgresTestDatabase.url != nil && socketFolder != nil, "PARLEY_TEST_DATABASE_URL or PARLEY_TEST_DATABASE_SOCKET is not set"),
          arguments: [StorageContract.Check.commentsAndEventsAreStoredTogether, .outboxFollowerSeesEveryCommitOnceInOrder])
    func overSocket(_ check: StorageContract.Check) async throws {
        try await PostgresTestDatabase.withFresh { tcp in
            var query = URLComponents()
            query.queryItems = [URLQueryItem(name: "host", value: Self.socketFolder)]
            let password = tcp.password.map { ":" + ($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") } ?? ""
            let url = try DatabaseURL("postgres://\(tcp.user)\(password)@:\(tcp.port)/\(tcp.database)\(query.string ?? "")")
            #expect(url.isSocket)
            try await StorageContract {
                let store = try await PostgresStore.open(url: url, logger: PostgresTestDatabase.logger)
                try await store.seedSystemTags(at: Date(timeIntervalSince1970: 1_750_000_000))
                return store
            }.run(check)
        }
    }

    static let socketFolder = ProcessInfo.processInfo.environment["PARLEY_TEST_DATABASE_SOCKET"]
}
