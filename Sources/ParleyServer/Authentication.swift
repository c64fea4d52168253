import HTTPTypes
import Crypto
import Hummingbird
import ParleyApp
import ParleyCore
import ParleyStore

/// Tokens are random 256-bit strings given to their holder once; the store keeps only their SHA-256.
public enum TokenSecret {
    public static func generate(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return prefix + hex(bytes)
    }

    public static func hash(_ token: String) -> String { hex(Array(SHA256.hash(data: Array(token.utf8)))) }

    /// What a token list shows of a secret: its last four characters (16 of its 256 random bits).
    public static func hint(_ token: String) -> String { "…" + token.suffix(4) }

    /// Lowercase hex, two digits a byte (every authenticated request hashes its token and writes this).
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: bytes.count * 2) { text in
            for (index, byte) in bytes.enumerated() {
                text[2 * index] = digits[Int(byte >> 4)]
                text[2 * index + 1] = digits[Int(byte & 0x0f)]
            }
            return bytes.count * 2
        }
    }

    /// Equal contents, compared in time that does not depend on where they differ.
    static func constantTimeEqual(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        a.count == b.count && zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

/// Reads `Authorization: Bearer <token>` (or a bare token), and sets the caller on the context.
/// Requests without a token go on without a caller; routes that need one refuse them.
/// Rate limits apply here too: per token, per address without one, and failed authentications per address.
/// The client's address is worked out here (`ClientAddresses`: behind a trusted proxy, the forwarded one).
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = ParleyRequestContext
    let store: any ParleyStore
    let clock: any ParleyClock
    let limiter: RateLimiter
    let addresses: ClientAddresses
    /// Served over TLS (the links the API hands out, such as upload and download URLs, are https).
    var servesTLS = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.ifMatch = request.headers[.ifMatch]
        // Behind a proxy that ends TLS, its `X-Forwarded-Proto` says so.
        let secure = servesTLS || request.headers[.xForwardedProto]?.lowercased() == "https"
        context.origin = (secure ? "https://" : "http://") + (request.head.authority ?? "localhost")
        context.clientAddress = addresses.client(peer: context.remoteAddress, forwardedFor: request.headers[values: .xForwardedFor])
        let now = Date()
        let address = context.clientAddress
        let policy = limiter.policy
        guard let header = request.headers[.authorization] else {
            // Inbox and widget pages: a signed-in browser is counted per session, like a token (agents behind
            // one office address would otherwise share one address's limit).
            if let session = try await webSession(of: request) {
                context.webSession = session
                let verdict = limiter.check("session:\(TokenSecret.hash(session.token))", limit: policy.perToken, at: now)
                guard verdict.allowed else { return RateLimiter.tooManyRequests(verdict, now: now, message: "too many requests for this session") }
                return try await next(request, context)
            }
            let verdict = limiter.check("ip:\(address)", limit: policy.perAddress, at: now)
            guard verdict.allowed else { return RateLimiter.tooManyRequests(verdict, now: now, message: "too many requests from this address") }
            return try await next(request, context)
        }
        var token = header.trimmed
        if token.lowercased().hasPrefix("bearer ") { token = String(token.dropFirst(7)).trimmed }
        let hash = TokenSecret.hash(token)
        // A browser session's cookie is not an API token (the API has no CSRF defence; it needs none for bearer tokens).
        // An address that failed too often gets 429 for further failures until its window passes; a valid
        // token from it still passes (one client cannot lock out everyone who shares its address). Tokens are
        // 256-bit random: what the limit stops is the load and noise of guessing, not a guess that works.
        let credential = token.isEmpty ? nil : try await store.credential(hash: hash)
        guard let credential, credential.token.kind != .webSession else {
            let failures = limiter.check("fail:\(address)", limit: policy.failedAuthentications, at: now)
            if !failures.allowed {
                return RateLimiter.tooManyRequests(failures, now: now, message: "too many failed authentications from this address")
            }
            throw APIError.unauthenticated
        }
        let verdict = limiter.check("token:\(hash)", limit: policy.perToken, at: now)
        guard verdict.allowed else { return RateLimiter.tooManyRequests(verdict, now: now, message: "too many requests for this token") }
        switch Credential.check(credential, now: clock.now()) {
        case .admits(let caller):
            context.caller = caller
            context.tokenHash = hash
        case .revoked:
            throw APIError(.unauthorized, type: "token_revoked", message: "token has been revoked")
        case .expired:
            throw APIError(.unauthorized, type: "token_expired", message: "token has expired")
        case .inactive:
            throw APIError(.unauthorized, type: "unauthenticated", message: "the token's user is not active")
        case .unknown:
            throw APIError.unauthenticated
        }
        var response = try await next(request, context)
        RateLimiter.headers(verdict, into: &response.headers)
        return response
    }
}

/// What a stored token admits now: checked on every request, and again and again by the responses that
/// outlive one (event streams), so a revoked token or a deactivated user stops everything at once.
enum Credential {
    case admits(Caller)
    case unknown, revoked, expired
    /// Its dev user is not active (deactivated), or its customer was deleted.
    case inactive

    /// What a token with its holder as stored now admits at `now` (a pure decision).
    static func check(_ credential: StoredCredential?, now: Date) -> Credential {
        guard let credential else { return .unknown }
        let stored = credential.token
        if stored.revoked { return .revoked }
        if let expiry = stored.expiresAt, expiry <= now { return .expired }
        switch (stored.subject, credential.holder) {
        case (.devUser, .devUser(let user)?):
            guard user.state == .active else { return .inactive }
            return .admits(Caller(actor: stored.subject, role: user.role == .admin ? .admin : .agent))
        case (.revUser, .revUser?):
            return .admits(Caller(actor: stored.subject, role: .customer))
        case (.system, _):
            return .admits(Caller(actor: .system, role: .admin))
        default:
            return .inactive
        }
    }

    /// Whether the token whose hash is `hash` still admits someone.
    static func stillAdmits(hash: String, store: any ParleyStore, now: Date) async throws -> Bool {
        if case .admits = check(try await store.credential(hash: hash), now: now) { return true }
        return false
    }
}

extension AuthenticationMiddleware {
    /// The session a page request's cookie names: the inbox's under /inbox, the widget's under /widget.
    func webSession(of request: Request) async throws -> WebSession? {
        let path = request.uri.path
        if path == "/inbox" || path.hasPrefix("/inbox/") {
            return try await WebSession.resolve(request.cookies[WebSession.inboxCookie]?.value, kinds: [.webSession], store: store, now: clock.now())
        }
        if path == "/widget" || path.hasPrefix("/widget/") {
            return try await WebSession.resolve(request.cookies[WebSession.widgetCookie]?.value, kinds: [.session], store: store, now: clock.now())
        }
        return nil
    }
}

/// The bootstrap admin: created on first start; its token comes from `PARLEY_ADMIN_TOKEN` or is generated once.
public enum AdminBootstrap {
    public struct Outcome: Sendable {
        public var admin: DevUser
        /// A token generated now: shown once, never again.
        public var generatedToken: String?
    }

    static let adminSetting = "bootstrap_admin"
    static let adminEmail = "admin@parley.local"
    static let tokenSetting = "bootstrap_admin_token_hash"

    public static func run(app: ParleyApp, adminToken: String?, now: Date) async throws -> Outcome {
        let store = app.store
        let admin: DevUser
        if let number = try await store.setting(adminSetting).flatMap(Int.init),
           let existing = try await store.object(DevUser.self, number: number) {
            admin = existing
        } else if let existing = try await store.find(DevUser.self, key: "email", value: adminEmail).first {
            // A first start that stopped between creating the admin and recording it.
            admin = existing
            try await store.setSetting(adminSetting, value: String(admin.number))
        } else {
            do {
                admin = try await app.insert(DevUser.self, actor: .system, at: now) { number in
                    DevUser(number: number, email: adminEmail, displayName: "Admin", fullName: "Parley Admin",
                            role: .admin, createdBy: .system, at: now)
                }
            } catch DomainError.conflict(_) {
                // Another server sharing the database created it a moment ago.
                guard let existing = try await store.find(DevUser.self, key: "email", value: adminEmail).first else { throw DomainError.conflict(adminEmail) }
                admin = existing
            }
            try await store.setSetting(adminSetting, value: String(admin.number))
        }
        let previousHash = try await store.setting(tokenSetting)
        var generated: String?
        let token: String
        if let adminToken, !adminToken.isEmpty {
            token = adminToken
        } else if previousHash != nil {
            return Outcome(admin: admin, generatedToken: nil)
        } else {
            token = TokenSecret.generate(prefix: "parley_admin_")
            generated = token
        }
        let hash = TokenSecret.hash(token)
        if hash != previousHash {
            // A new PARLEY_ADMIN_TOKEN replaces the previous one.
            if let previousHash { try await store.revokeToken(hash: previousHash) }
            if try await store.token(hash: hash) == nil {
                do {
                    try await app.issueToken(hash: hash, token: StoredToken(subject: .devUser(admin.number), kind: .pat,
                                                                             createdDate: now, expiresAt: nil, hint: TokenSecret.hint(token)))
                } catch DomainError.conflict(_) {
                    // Another server starting with the same PARLEY_ADMIN_TOKEN stored it first.
                }
            }
            try await store.setSetting(tokenSetting, value: hash)
        }
        return Outcome(admin: admin, generatedToken: generated)
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
