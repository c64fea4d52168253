import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ParleyApp
import ParleyCore
import ParleyMail
import ParleyPostgres
import ParleySQLite
import ParleyStore
import ServiceLifecycle

/// How to run a Parley server.
public struct AppConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The SQLite database file (unless `databaseURL` names a PostgreSQL database).
    public var databasePath: String
    /// A PostgreSQL database (`--database-url`, `PARLEY_DATABASE_URL`), shared by every server using it.
    public var databaseURL: String?
    /// Connections this server keeps to PostgreSQL (`--database-connections`), besides one for `LISTEN`.
    public var databaseConnections = PostgresStore.defaultConnections
    /// Wait for a PostgreSQL database that cannot be reached at start (`parley serve`), rather than fail.
    public var waitsForDatabase = false
    /// The store these settings name.
    public var storeConfiguration: StoreConfiguration {
        databaseURL.map { .postgres(url: $0) } ?? .sqlite(path: databasePath)
    }
    /// The bootstrap admin's token (`PARLEY_ADMIN_TOKEN`); generated on first start when nil.
    public var adminToken: String?
    public var logLevel: Logger.Level
    /// Where new conversations' priorities start.
    public var priorityPolicy: PriorityPolicy
    /// A routing configuration file (JSON) to install at start, if it differs from the one in force.
    public var routingFile: String?
    /// When conversations stall, archive themselves, move fast or slow.
    public var lifecyclePolicy: LifecyclePolicy
    /// How long published events are kept (`--event-retention-days`).
    public var eventRetention = EventRetention()
    /// `--test-clock`: the server runs on this clock, and `test-clock.advance` moves it.
    public var testClock: ManualClock?
    /// Connections served at once; more wait in the listen backlog.
    public var maxConnections = 1024
    /// Seconds a connection may stay idle (or send nothing) before it is closed.
    public var idleTimeout = 60.0
    /// Connections one client address may hold open (`--max-connections-per-address`; IPv6 per /64;
    /// trusted proxies not counted).
    public var maxConnectionsPerAddress = 128
    /// Seconds a new connection has to send a complete request head (`--request-head-timeout`).
    public var requestHeadTimeout = 10.0
    /// Reverse proxies whose `X-Forwarded-For` is believed (`--trusted-proxy CIDR`, repeatable).
    public var trustedProxies: [String] = []
    /// Requests allowed per window, per token and per address.
    public var rateLimits = RateLimitPolicy()
    /// `--tls-cert` and `--tls-key` (PEM files): serve HTTPS.
    public var tlsCertificate: String?
    public var tlsKey: String?
    /// `--allow-private-webhooks`: deliver webhooks to loopback, private, link-local and other non-public
    /// addresses too (refused by default, at `webhooks.create` and before each delivery).
    public var allowPrivateWebhooks = false
    /// How large an attached file may be and how many one message may carry.
    public var attachmentLimits = AttachmentLimits()
    /// `HOST:PORT` to receive mail on with SMTP, and with LMTP, from the site's mail server (nil: not at all).
    public var smtpListen: String?
    public var lmtpListen: String?
    /// Seconds between IMAP polling rounds on servers without IDLE (`--imap-poll-seconds`), and a PEM file of
    /// CA certificates IMAP servers may be signed by besides the system's (`--imap-ca-file`).
    public var imapPollSeconds = 30.0
    public var imapCAFile: String?

    public init(host: String = "127.0.0.1", port: Int = 8080, databasePath: String = "./parley.sqlite",
                adminToken: String? = nil, logLevel: Logger.Level = .info, priorityPolicy: PriorityPolicy = PriorityPolicy(),
                routingFile: String? = nil, lifecyclePolicy: LifecyclePolicy = LifecyclePolicy(), testClock: ManualClock? = nil) {
        self.lifecyclePolicy = lifecyclePolicy
        self.testClock = testClock
        self.priorityPolicy = priorityPolicy
        self.routingFile = routingFile
        self.host = host
        self.port = port
        self.databasePath = databasePath
        self.adminToken = adminToken
        self.logLevel = logLevel
    }
}

/// A built server: the application to run, its store, and what bootstrapping produced.
public struct ParleyServerApp<App: ApplicationProtocol>: Sendable where App: Sendable {
    public var application: App
    /// The application layer the server's adapters call (tests call it too).
    public var app: ParleyApp
    public var store: any ParleyStore { app.store }
    public var bootstrap: AdminBootstrap.Outcome
    let webhooks: WebhookDelivery

    /// Stops what the server started outside its services (for tests that never run them).
    public func close() async throws {
        try await webhooks.shutdown()
        try await store.close()
    }
}

/// Builds the whole server (store, bootstrap admin, routes, middleware), as `parley serve` and the tests use it.
public func buildApplication(_ configuration: AppConfiguration, clock: any ParleyClock = SystemClock())
    async throws -> ParleyServerApp<some ApplicationProtocol & Sendable> {
    var logger = Logger(label: "parley") { ServerLogHandler(label: $0) }
    logger.logLevel = configuration.logLevel
    let clock = configuration.testClock ?? clock
    let policy = configuration.lifecyclePolicy
    let store = try await StoreOpening.open(configuration.storeConfiguration, connections: configuration.databaseConnections,
                                            logger: logger, retrying: configuration.waitsForDatabase)
    let app = ParleyApp(store: store, clock: clock, priorityPolicy: configuration.priorityPolicy, lifecyclePolicy: policy,
                        logger: logger, attachmentLimits: configuration.attachmentLimits)
    try await app.prepare()
    let leases = BackgroundLeases(store: store, logger: logger)
    let timers = LifecycleTimers(app: app, waitsOnRealTime: configuration.testClock == nil, leases: leases)
    let bootstrap = try await AdminBootstrap.run(app: app, adminToken: configuration.adminToken, now: clock.now())
    if let routingFile = configuration.routingFile {
        let json: String
        do {
            json = try String(contentsOfFile: routingFile, encoding: .utf8)
        } catch {
            throw APIError.badRequest("cannot read routing file \(routingFile)")
        }
        let version = try await RoutingConfigurationLoader.install(json: json, app: app, actor: .system, at: clock.now())
        logger.info("routing rules from \(routingFile) in force as version \(version)")
    }
    let webhooks = WebhookDelivery(app: app, clock: clock, policy: WebhookAddressPolicy(allowsPrivate: configuration.allowPrivateWebhooks),
                                   logger: logger, leases: leases)
    let pruning = EventPruning(app: app, retention: configuration.eventRetention, waitsOnRealTime: configuration.testClock == nil,
                               logger: logger, leases: leases)
    var proxies: [AddressRange] = []
    for text in configuration.trustedProxies {
        guard let range = AddressRange(text) else {
            throw APIError.badRequest("--trusted-proxy \(text) is not an IP address or CIDR range (10.0.0.0/8, 2001:db8::/32)")
        }
        proxies.append(range)
    }
    let addresses = ClientAddresses(trustedProxies: proxies)
    let router = makeRouter(app: app, timers: timers, webhooks: webhooks, pruning: pruning, testClock: configuration.testClock,
                            rateLimits: configuration.rateLimits, secureCookies: configuration.tlsCertificate != nil,
                            clientAddresses: addresses)
    // One address holds at most so many connections, a new one must send its request head in time, and one
    // idle this long is closed: slow, stalled or flooding clients cannot hold the server's connections.
    let counts = ConnectionCounts(limit: configuration.maxConnectionsPerAddress, addresses: addresses)
    let headTimeout = TimeAmount.milliseconds(Int64(configuration.requestHeadTimeout * 1000))
    let http1 = HTTP1Channel.Configuration(
        additionalChannelHandlers: [ConnectionGuard(counts: counts, headTimeout: headTimeout)],
        idleTimeout: .milliseconds(Int64(configuration.idleTimeout * 1000)))
    var server: HTTPServerBuilder = .http1(configuration: http1)
    if let certificate = configuration.tlsCertificate, let key = configuration.tlsKey {
        let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
        let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain,
                                                           privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        server = try .tls(.http1(configuration: http1), tlsConfiguration: tls)
    } else if configuration.tlsCertificate != nil || configuration.tlsKey != nil {
        throw APIError.badRequest("--tls-cert and --tls-key go together")
    }
    let mailDelivery = MailDelivery(app: app, logger: logger, leases: leases)
    try await mailDelivery.start()
    // The largest message taken in (SMTP, LMTP, IMAP): the attachments' limit times their count, plus the text.
    let maxMailBytes = configuration.attachmentLimits.maxBytes * configuration.attachmentLimits.maxFilesPerMessage * 4 / 3 + (1 << 20)
    let imap = MailboxPolling(app: app, leases: leases, logger: logger, pollSeconds: configuration.imapPollSeconds,
                              maxMessageBytes: maxMailBytes, caFile: configuration.imapCAFile)
    var services: [any Service] = [StoreService(store: store), leases, timers, webhooks, pruning, mailDelivery, imap]
    for (listen, mode) in [(configuration.smtpListen, SMTPSession.Mode.smtp), (configuration.lmtpListen, .lmtp)] {
        guard let listen else { continue }
        guard let address = MailListener.address(listen) else {
            throw APIError.badRequest("--\(mode == .smtp ? "smtp" : "lmtp")-listen \(listen): expected HOST:PORT, such as 127.0.0.1:2525")
        }
        services.append(MailListener(app: app, host: address.host, port: address.port, mode: mode, logger: logger,
                                     maxMessageBytes: maxMailBytes))
    }
    let application = Application(
        router: router,
        server: server,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "parley",
                             availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections)),
        services: services,
        logger: logger)
    return ParleyServerApp(application: application, app: app, bootstrap: bootstrap, webhooks: webhooks)
}
