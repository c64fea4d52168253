import Hummingbird
import Logging
import ParleyPostgres
import ParleyServer

/// While `parley serve` waits for a PostgreSQL database that is down (or still starting), its port answers
/// every request, `/health` included, with 503: a load balancer sees a server that is not ready rather than
/// one that is gone, and nothing is accepted that could not be stored.
enum DatabaseWait {
    static func serving503<Result: Sendable>(host: String, port: Int, while configuration: AppConfiguration,
                                             _ body: () async throws -> Result) async throws -> Result {
        guard let text = configuration.databaseURL else { return try await body() }
        // Reachable now (the usual case): no stand-in server at all.
        if (try? await PostgresStore.probe(try DatabaseURL(text), logger: Logger(label: "parley-probe"))) != nil {
            return try await body()
        }
        let router = Router()
        router.get("/health") { _, _ in Response(status: .serviceUnavailable) }
        router.addMiddleware {
            UnavailableMiddleware()
        }
        var logger = Logger(label: "parley-waiting")
        logger.logLevel = .critical  // its shutdown, when the database is up, is routine
        let waiting = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "parley"),
                                  logger: logger)
        let task = Task { try await waiting.runService(gracefulShutdownSignals: []) }
        defer { task.cancel() }
        let result = try await body()
        task.cancel()
        _ = await task.result
        return result
    }
}

/// Answers 503 with DevRev's error body to everything.
struct UnavailableMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.retryAfter] = "2"
        return Response(status: .serviceUnavailable, headers: headers, body: .init(byteBuffer: ByteBuffer(
            string: #"{"type":"service_unavailable","message":"the server is waiting for its database; try again shortly"}"#)))
    }
}
