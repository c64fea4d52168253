/// Which database a store opens. SQLite is the zero-configuration default; other backends add a case.
public enum StoreConfiguration: Sendable, Equatable {
    /// One SQLite file (created and migrated on first open).
    case sqlite(path: String)
}
