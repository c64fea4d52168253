import Foundation
import NIOSSL
import ParleyStore
import PostgresNIO

/// A PostgreSQL URL as operators write it: `postgres://USER[:PASS]@HOST[:PORT]/DB[?sslmode=MODE]`
/// (`postgresql://` too; user and password percent-encoded). `sslmode` follows libpq: `disable`, `prefer`
/// (the default: TLS when the server offers it), `require` (TLS, certificate not verified), `verify-full`
/// (TLS, certificate and host name verified against the system's trusted roots).
///
/// A PostgreSQL on the same machine is reached through its unix socket as libpq writes it: a `host` that is
/// a folder, as a parameter (`postgres://USER@/DB?host=/var/run/postgresql`, the port from `:PORT` or
/// `port=`) or percent-encoded in the host's place (`postgres://USER@%2Fvar%2Frun%2Fpostgresql/DB`); the
/// socket is that folder's `.s.PGSQL.PORT`. No TLS there (as libpq), so `sslmode=require` or `verify-full`
/// with a socket is refused rather than silently not honoured.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    /// The server's host name or address; for a unix socket, the folder it is in.
    public var host: String
    public var port: Int
    /// True when `host` is the folder of the server's unix socket.
    public var isSocket: Bool
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: String

    public init(_ text: String) throws(StoreError) {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? "") else {
            throw StoreError(code: 0, message: "not a PostgreSQL URL (postgres://USER[:PASS]@HOST[:PORT]/DB): \(Self.redacted(text))")
        }
        let parameter = { (name: String) in components.queryItems?.first(where: { $0.name == name })?.value }
        let encodedHost = components.percentEncodedHost?.removingPercentEncoding ?? ""
        guard let host = parameter("host") ?? (encodedHost.isEmpty ? nil : encodedHost) else {
            throw StoreError(code: 0, message: "not a PostgreSQL URL (postgres://USER[:PASS]@HOST[:PORT]/DB): \(Self.redacted(text))")
        }
        var port = components.port ?? 5432
        if let text = parameter("port") {
            guard let number = Int(text), (1...65535).contains(number) else {
                throw StoreError(code: 0, message: "port=\(text) is not a port number")
            }
            port = number
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, let user = components.user, !user.isEmpty else {
            throw StoreError(code: 0, message: "a PostgreSQL URL names a user and a database (postgres://USER@HOST/DB): \(Self.redacted(text))")
        }
        self.host = host
        self.port = port
        self.isSocket = host.hasPrefix("/")
        self.user = components.percentEncodedUser?.removingPercentEncoding ?? user
        self.password = components.percentEncodedPassword?.removingPercentEncoding
        self.database = database.removingPercentEncoding ?? database
        let mode = parameter("sslmode") ?? "prefer"
        guard ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(mode) else {
            throw StoreError(code: 0, message: "sslmode=\(mode) is not one of disable, prefer, require, verify-full")
        }
        if host.hasPrefix("/"), !["disable", "allow", "prefer"].contains(mode) {
            throw StoreError(code: 0, message: "sslmode=\(mode) asks for TLS, which a unix socket (host=\(host)) does not use: name the server's address instead, or leave sslmode out")
        }
        self.sslMode = mode
    }

    /// Where the database is, for logs and errors: never the password.
    public var description: String { isSocket ? "\(socketPath)/\(database) as \(user)" : "\(host):\(port)/\(database) as \(user)" }

    /// The unix socket's file, when `isSocket`: libpq's name for it in the folder `host`.
    public var socketPath: String { (host.hasSuffix("/") ? host : host + "/") + ".s.PGSQL.\(port)" }

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
        if isSocket {
            return PostgresClient.Configuration(unixSocketPath: socketPath, username: user, password: password, database: database)
        }
        return PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
    }

    /// For a connection of its own, outside the pool (the one that listens).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        if isSocket {
            return PostgresConnection.Configuration(unixSocketPath: socketPath, username: user, password: password, database: database)
        }
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
