/// A failure inside the database (SQLite's or a server's): not the caller's fault, reported as an internal
/// error.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String
    public var description: String { "database error \(code): \(message)" }

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }
}
