/// Everything the domain refuses, with what the caller needs to understand why.
/// The server maps each case to DevRev's error JSON in one place.
public enum DomainError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A stage transition or a timeline entry the stage machine refuses.
    case transitionRefused(current: Stage, allowed: [Stage], message: String)
    /// A field is missing.
    case missingField(String)
    /// A field has a value that is not allowed.
    case invalidField(String, message: String)
    /// An enum field has a value outside its allowed values.
    case invalidEnum(field: String, value: String, allowed: [String])
    /// An id field names nothing of the right kind.
    case invalidID(field: String, value: String)
    /// The object does not exist, or the caller may not see it.
    case notFound(String)
    /// The caller may not do this.
    case forbidden(String)
    /// It would duplicate something unique.
    case conflict(String)
    /// What was sent is larger than allowed (a file, or too many of them).
    case tooLarge(String)

    /// A conversation that does not exist, or that the caller may not see: the same words either way, so that
    /// an answer never tells which (every store and use case says it this way).
    public static func conversationNotFound(_ number: Int) -> DomainError {
        .notFound("conversation \(ObjectID(.conversation, number).displayID)")
    }

    public var description: String {
        switch self {
        case .transitionRefused(_, _, let message): message
        case .missingField(let field): "missing required field '\(field)'"
        case .invalidField(let field, let message): "invalid field '\(field)': \(message)"
        case .invalidEnum(let field, let value, let allowed):
            "invalid value '\(value)' for '\(field)'; allowed values: \(allowed.joined(separator: ", "))"
        case .invalidID(let field, let value): "'\(value)' is not a valid id for '\(field)'"
        case .notFound(let what): "\(what) not found"
        case .forbidden(let message): message
        case .conflict(let message): message
        case .tooLarge(let message): message
        }
    }
}
