/// A failure inside the database (SQLite's or a server's): not the caller's fault, reported as an internal
/// error, except a full disk, which the server reports as such (507).
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The database has no room to write (a full disk, or a size limit): writes fail, reads go on, and
        /// writing resumes once there is space again.
        case storageFull
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
