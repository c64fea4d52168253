import _CryptoExtras
import Crypto
import Hummingbird
import NIOPosix
import ParleyApp
import ParleyCore
import ParleyStore

/// Passwords for the inbox's sign-in, stored as `pbkdf2-sha256$<rounds>$<salt hex>$<key hex>`
/// (OWASP's 600,000 rounds of PBKDF2-HMAC-SHA256, a random 16-byte salt per password).
public enum PasswordHash {
    public static let rounds = 600_000
    public static let minimumLength = 10
    /// A hash no password matches, checked when there is no account, to take as long as a real check.
    static let decoy = (try? make("no account has this password \(UInt64.random(in: 0...UInt64.max))")) ?? ""

    public static func make(_ password: String, rounds: Int = PasswordHash.rounds) throws -> String {
        guard password.count >= minimumLength else {
            throw APIError.invalidField("password", "must be at least \(minimumLength) characters")
        }
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let key = try derive(password, salt: salt, rounds: rounds)
        return "pbkdf2-sha256$\(rounds)$\(TokenSecret.hex(salt))$\(TokenSecret.hex(key))"
    }

    /// Whether `password` is the one `stored` was made from (compared in constant time).
    public static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$")
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let rounds = Int(parts[1]), rounds > 0, rounds <= 10_000_000,
              let salt = bytes(hex: parts[2]), let expected = bytes(hex: parts[3]),
              let key = try? derive(password, salt: salt, rounds: rounds) else { return false }
        return TokenSecret.constantTimeEqual(key, expected)
    }

    /// `make` on NIO's blocking-work threads: 600,000 rounds take a core for a noticeable moment, which must
    /// not stall an event loop (a server on PostgreSQL runs its tasks on them: decision 0015).
    public static func making(_ password: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { try make(password) }
    }

    /// `verify` on NIO's blocking-work threads, as `making`.
    public static func verifying(_ password: String, against stored: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { verify(password, against: stored) }
    }

    private static func derive(_ password: String, salt: [UInt8], rounds: Int) throws -> [UInt8] {
        let key = try KDF.Insecure.PBKDF2.deriveKey(from: Array(password.utf8), salt: salt, using: .sha256,
                                                    outputByteCount: 32, unsafeUncheckedRounds: rounds)
        return key.withUnsafeBytes { Array($0) }
    }

    private static func bytes(hex text: Substring) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var result: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            result.append(byte)
            index = next
        }
        return result
    }
}

/// A signed-in browser: the inbox's agent (cookie `parley_inbox`, path /inbox) or the widget's customer
/// (cookie `parley_widget`, path /widget). Cookies carry a random token whose SHA-256 the store keeps,
/// as for API tokens; forms carry a CSRF token derived from it, which another site cannot know.
struct WebSession: Sendable {
    static let inboxCookie = "parley_inbox"
    /// The sign-in form's double-submit token (set by the sign-in page, sent back with the form).
    static let signInCookie = "parley_sign_in"
    static let widgetCookie = "parley_widget"
    static let inboxLifetime: Double = 7 * 24 * 3600

    let token: String
    let caller: Caller
    /// When the session's token expires (nil: never), as stored when it was resolved.
    let expiresAt: Date?

    /// HMAC-SHA256 of a fixed label under the session token.
    var csrfToken: String {
        let code = HMAC<SHA256>.authenticationCode(for: Array("parley-csrf".utf8), using: SymmetricKey(data: Array(token.utf8)))
        return TokenSecret.hex(Array(code))
    }

    /// Refuses a form whose CSRF token is not this session's.
    func checkForm(_ form: FormData) throws(APIError) {
        guard let sent = form["_csrf"], TokenSecret.constantTimeEqual(sent.utf8, csrfToken.utf8) else {
            throw APIError(.forbidden, type: "forbidden", message: "the form has expired or did not come from this site: reload the page and try again")
        }
    }

    /// The session a cookie names, if it is current and of one of `kinds`, with the caller it stands for.
    static func resolve(_ token: String?, kinds: Set<TokenKind>, store: any ParleyStore, now: Date) async throws -> WebSession? {
        guard let token, !token.isEmpty, let credential = try await store.credential(hash: TokenSecret.hash(token)),
              kinds.contains(credential.token.kind), credential.token.subject != .system,
              case .admits(let caller) = Credential.check(credential, now: now) else { return nil }
        return WebSession(token: token, caller: caller, expiresAt: credential.token.expiresAt)
    }

    /// A cookie for `value`: HttpOnly, SameSite, Secure when served over TLS. A widget embedded in another
    /// site's page needs `SameSite=None`, which browsers accept only with `Secure` (so only over HTTPS).
    static func cookie(name: String, value: String, path: String, maxAge: Int?, secure: Bool, embeddable: Bool) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: path, secure: secure, httpOnly: true,
               sameSite: embeddable && secure ? .none : .lax)
    }
}
