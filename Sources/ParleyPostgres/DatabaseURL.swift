import Foundation
import NIOSSL
import ParleyStore
import PostgresNIO

/// A PostgreSQL URL as operators write it: `postgres://USER[:PASS]@HOST[:PORT]/DB[?sslmode=MODE]`
/// (`postgresql://` too; user and password percent-encoded). `sslmode` follows libpq: `disable`, `prefer`
/// (the default: TLS when the server offers it), `require` (TLS, certificate not verified), `verify-full`
/// (TLS, certificate and host name verified against the system's trusted roots).
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: String

    public init(_ text: String) throws(StoreError) {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw StoreError(code: 0, message: "not a PostgreSQL URL (postgres://USER[:PASS]@HOST[:PORT]/DB): \(Self.redacted(text))")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, let user = components.user, !user.isEmpty else {
            throw StoreError(code: 0, message: "a PostgreSQL URL names a user and a database (postgres://USER@HOST/DB): \(Self.redacted(text))")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.user = components.percentEncodedUser?.removingPercentEncoding ?? user
        self.password = components.percentEncodedPassword?.removingPercentEncoding
        self.database = database.removingPercentEncoding ?? database
        let mode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        guard ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(mode) else {
            throw StoreError(code: 0, message: "sslmode=\(mode) is not one of disable, prefer, require, verify-full")
        }
        self.sslMode = mode
    }

    /// Where the database is, for logs and errors: never the password.
    public var description: String { "\(host):\(port)/\(database) as \(user)" }

    /// The same URL naming another database on the same server (the tests' fresh databases).
    public func naming(database: String) -> DatabaseURL {
        var url = self
        url.database = database
        return url
    }

    /// What `sslmode` asks for, decided once: no TLS; TLS when the server offers it (unverified, as libpq's
    /// `prefer`); TLS required, unverified (`require`) or verified against the system's roots (`verify-full`).
    private enum TLSUse {
        case disable
        case prefer(TLSConfiguration)
        case require(TLSConfiguration)
    }

    private var tlsUse: TLSUse {
        var unverified = TLSConfiguration.makeClientConfiguration()
        unverified.certificateVerification = .none
        switch sslMode {
        case "disable": return .disable
        case "allow", "prefer": return .prefer(unverified)
        case "require": return .require(unverified)
        default: return .require(.makeClientConfiguration())
        }
    }

    var clientConfiguration: PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS = switch tlsUse {
        case .disable: .disable
        case .prefer(let configuration): .prefer(configuration)
        case .require(let configuration): .require(configuration)
        }
        return PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
    }

    /// For a connection of its own, outside the pool (the one that listens).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS = switch tlsUse {
        case .disable: .disable
        case .prefer(let configuration): .prefer(try NIOSSLContext(configuration: configuration))
        case .require(let configuration): .require(try NIOSSLContext(configuration: configuration))
        }
        return PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
    }

    /// `text` with any password replaced, for error messages.
    static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "…"
        return components.string ?? "(unreadable URL)"
    }
}
