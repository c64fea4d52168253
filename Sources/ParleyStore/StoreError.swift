/// A failure inside the database (SQLite's or a server's): not the caller's fault, reported as an internal
/// error, except a full disk, which the server reports as such (507), and a database that cannot be reached (503).
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The database has no room to write (a full disk, or a size limit): writes fail, reads go on, and
        /// writing resumes once there is space again.
        case storageFull
        /// The database cannot be reached (a server that is down or restarting): the request may succeed
        /// if tried again; the server answers 503 meanwhile.
        case unavailable
        case other
    }

    public var code: Int32
    public var message: String
    public var kind: Kind
    public var description: String { "database error \(code): \(message)" }

    public init(code: Int32, message: String, kind: Kind = .other) {
        self.code = code
        self.message = message
        self.kind = kind
    }
}
