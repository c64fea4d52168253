import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ParleyApp
import ParleyCore
import ParleyDemo
import ParleyPostgres
import ParleyServer
import ParleySQLite
import ParleyStore

@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "Parley: a support-conversation server with a DevRev-compatible API.",
        discussion: """
        Start a server on an embedded SQLite database:
          parley serve --port 8080 --db ./parley.sqlite --demo

        The first start creates an admin and prints its token once, unless PARLEY_ADMIN_TOKEN is set.
        """,
        subcommands: [Serve.self, Migrate.self, Copy.self, Users.self, Routing.self, Bench.self])

    /// Some commands run Swift concurrency's jobs on NIO's event loop threads, the ones their sockets are
    /// read and written on, rather than on Swift's own pool: the load generator (`bench workflow`), which
    /// then takes about a fifth less of the CPU it shares with the server it measures, and a server on
    /// PostgreSQL, whose every statement's answer arrives on an event loop and then had to wake a thread of
    /// Swift's pool (server CPU per workflow about a tenth less with one server; two servers on one machine
    /// 15–20% faster; BENCHMARKS.md, 2026-12-03). A server on SQLite keeps Swift's pool: its statements run
    /// on the pool's threads, and on the event loops it measured 8–18% slower.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if runsOnEventLoops(command) {
                NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
            }
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    /// The PostgreSQL database a command was given: `--database-url`, else `PARLEY_DATABASE_URL`; nil: the
    /// SQLite file.
    static func databaseURL(_ option: String?) -> String? {
        option ?? Environment().get("PARLEY_DATABASE_URL")
    }

    static func runsOnEventLoops(_ command: any ParsableCommand) -> Bool {
        if command is WorkflowBench { return true }
        if let serve = command as? Serve { return databaseURL(serve.databaseURL) != nil }
        return false
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP server.",
        discussion: "Set PARLEY_ADMIN_TOKEN to choose the bootstrap admin's token; otherwise one is generated on first start and printed once.")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8080
    @Option(name: .customLong("db"), help: "SQLite database file (created if missing).") var database = "./parley.sqlite"
    @Option(help: "A PostgreSQL database shared by several servers, instead of the SQLite file: postgres://USER[:PASS]@HOST[:PORT]/DB[?sslmode=require] (or PARLEY_DATABASE_URL).")
    var databaseURL: String?
    @Option(help: "Connections to PostgreSQL this server keeps (one more listens for other servers' events).")
    var databaseConnections = 8
    @Flag(help: "Fill an empty database with a small support team, customers and conversations in every stage, and print tokens to try.")
    var demo = false
    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).") var logLevel = "info"
    @Option(help: "Routing rules (JSON) to put in force at start; see docs/routing.md.") var routing: String?
    @Option(help: "Priority of conversations from established customer orgs (p0 … p3).") var defaultPriority = "p2"
    @Option(help: "Customer orgs younger than this many days are new: their conversations start one priority lower.")
    var newOrgDays = 30
    @Option(help: "Hours without activity after which a conversation waiting on the user or in hold is tagged Stalled.")
    var stalledAfterHours = 72.0
    @Option(help: "Days after which a resolved conversation archives itself (a customer reply before then reopens it).")
    var archiveAfterDays = 7.0
    @Option(help: "Days published events are kept for live streams to resume and webhooks to catch up; older ones are pruned (never before every webhook delivered them).")
    var eventRetentionDays = 7.0
    @Flag(help: "Run on a test clock that starts at the real time and moves only by the admin-only test-clock.advance endpoint.")
    var testClock = false
    @Option(help: "Requests a minute allowed for one token (429 past it).") var rateLimitPerToken = 6000
    @Option(help: "Requests a minute allowed from one address without a token.") var rateLimitPerAddress = 600
    @Option(help: "Connections served at once (more wait).") var maxConnections = 1024
    @Option(help: "Seconds a connection may stay idle before it is closed.") var idleTimeout = 60.0
    @Option(help: "Connections one client address may hold open (IPv6: per /64; trusted proxies are not counted).")
    var maxConnectionsPerAddress = 128
    @Option(help: "Seconds a new connection has to send a complete request head before it is closed.")
    var requestHeadTimeout = 10.0
    @Option(help: "A reverse proxy (IP or CIDR, repeatable) whose X-Forwarded-For names the real client, for per-address limits.")
    var trustedProxy: [String] = []
    @Option(help: "TLS certificate chain (PEM): with --tls-key, serve HTTPS.") var tlsCert: String?
    @Option(help: "TLS private key (PEM).") var tlsKey: String?
    @Flag(help: "Let webhooks target loopback, private, link-local and other non-public addresses (refused by default, at webhooks.create and before each delivery).")
    var allowPrivateWebhooks = false
    @Option(help: "The largest attached file accepted, in bytes (larger: 413).") var attachmentMaxBytes = 10 << 20
    @Option(help: "How many files one message may carry.") var attachmentsPerMessage = 5
    @Option(help: "Receive mail with SMTP on HOST:PORT (for the site's mail server; e.g. 127.0.0.1:2525).") var smtpListen: String?
    @Option(help: "Receive mail with LMTP on HOST:PORT (e.g. 127.0.0.1:2424).") var lmtpListen: String?
    @Option(help: "Seconds between checks of IMAP mailboxes whose server cannot IDLE (mailboxes' imap URL; docs/email.md).")
    var imapPollSeconds = 30.0
    @Option(help: "CA certificates (PEM) IMAP servers may be signed by, besides the system's (a site's own CA).") var imapCAFile: String?

    func run() async throws {
        let environment = Environment()
        guard let standard = Priority(rawValue: defaultPriority) else {
            throw ValidationError("--default-priority must be one of p0, p1, p2, p3")
        }
        var configuration = AppConfiguration(
            host: host, port: port, databasePath: database, adminToken: environment.get("PARLEY_ADMIN_TOKEN"),
            logLevel: .init(rawValue: logLevel) ?? .info,
            priorityPolicy: PriorityPolicy(standard: standard, newOrgDays: newOrgDays), routingFile: routing,
            lifecyclePolicy: LifecyclePolicy(stalledAfter: stalledAfterHours * 3600, archiveAfter: archiveAfterDays * 86_400),
            testClock: testClock ? ManualClock(Date()) : nil)
        configuration.rateLimits = RateLimitPolicy(perToken: rateLimitPerToken, perAddress: rateLimitPerAddress)
        guard eventRetentionDays > 0 else { throw ValidationError("--event-retention-days must be more than 0") }
        configuration.eventRetention = EventRetention(days: eventRetentionDays)
        configuration.maxConnections = maxConnections
        configuration.idleTimeout = idleTimeout
        guard maxConnectionsPerAddress > 0, requestHeadTimeout > 0 else {
            throw ValidationError("--max-connections-per-address and --request-head-timeout must be more than 0")
        }
        configuration.maxConnectionsPerAddress = maxConnectionsPerAddress
        configuration.requestHeadTimeout = requestHeadTimeout
        configuration.trustedProxies = trustedProxy
        configuration.tlsCertificate = tlsCert
        configuration.tlsKey = tlsKey
        configuration.allowPrivateWebhooks = allowPrivateWebhooks
        guard attachmentMaxBytes > 0, attachmentsPerMessage > 0 else {
            throw ValidationError("--attachment-max-bytes and --attachments-per-message must be more than 0")
        }
        configuration.attachmentLimits = AttachmentLimits(maxBytes: attachmentMaxBytes, maxFilesPerMessage: attachmentsPerMessage)
        configuration.smtpListen = smtpListen
        configuration.lmtpListen = lmtpListen
        guard imapPollSeconds > 0 else { throw ValidationError("--imap-poll-seconds must be more than 0") }
        configuration.imapPollSeconds = imapPollSeconds
        configuration.imapCAFile = imapCAFile
        configuration.databaseURL = Parley.databaseURL(databaseURL)
        guard databaseConnections > 0 else { throw ValidationError("--database-connections must be more than 0") }
        configuration.databaseConnections = databaseConnections
        configuration.waitsForDatabase = true
        let server = try await DatabaseWait.serving503(host: host, port: port, while: configuration) {
            try await buildApplication(configuration)
        }
        if let token = server.bootstrap.generatedToken {
            print("""
            Created the admin user \(server.bootstrap.admin.email). Its token, shown this once:

                \(token)

            Keep it: requests send it as 'Authorization: Bearer <token>'.
            """)
        }
        if demo {
            let url = "\(tlsCert == nil ? "http" : "https")://\(host):\(port)"
            if let demoTokens = try await DemoData.load(into: server.app) {
                print(demoTokens.summary(url: url))
            } else if let welcome = try await DemoData.welcomeBack(to: server.app, url: url) {
                print(welcome)
            } else {
                print("--demo: the database already has conversations, not the demo's; left as it is.")
            }
        }
        let where_ = configuration.databaseURL.map { (try? DatabaseURL($0).description) ?? "PostgreSQL" } ?? database
        print("Parley listening on \(tlsCert == nil ? "http" : "https")://\(host):\(port) (database \(where_))")
        fflush(nil)  // what was printed reaches a pipe or a log now, not at exit
        try await server.application.runService()
        print("Parley stopped (\(where_) closed).")
        fflush(nil)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the database schema, then exit.")

    @Option(name: .customLong("db"), help: "SQLite database file.") var database = "./parley.sqlite"
    @Option(help: "A PostgreSQL database instead (or PARLEY_DATABASE_URL).") var databaseURL: String?

    func run() async throws {
        if let url = Parley.databaseURL(databaseURL) {
            let logger = Logger(label: "parley")
            let store = PostgresStore(url: try DatabaseURL(url), connections: 1, logger: logger, listening: false)
            try await store.closing {
                try await store.waitUntilReachable(retrying: false)
                let before = try await store.schemaVersion().database
                try await store.migrate()
                let after = try await store.schemaVersion()
                print(before == after.database
                      ? "\(store.url) is up to date (schema version \(after.database))."
                      : "\(store.url): migrated from schema version \(before) to \(after.database).")
            }
            return
        }
        let applied = try SQLiteStore.migrate(path: database)
        if applied.isEmpty {
            print("\(database) is up to date (schema version \(SQLiteStore.schemaVersion)).")
        } else {
            print("\(database): applied migrations \(applied.map(String.init).joined(separator: ", ")); schema version \(SQLiteStore.schemaVersion).")
        }
    }
}
