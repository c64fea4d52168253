import ParleyCore

/// A token with its holder as stored now: what every request is authenticated by.
public struct StoredCredential: Sendable, Equatable {
    public var token: StoredToken
    /// The dev user or customer the token stands for, as stored now; nil when the holder is deleted or
    /// gone, and for the system.
    public var holder: Holder?

    public enum Holder: Sendable, Equatable {
        case devUser(DevUser)
        case revUser(RevUser)
    }

    public init(token: StoredToken, holder: Holder?) {
        self.token = token
        self.holder = holder
    }
}

extension ParleyStore {
    /// The default: the token, then its holder (`object`, which leaves deleted ones out).
    public func credentialReadApart(hash: String) async throws -> StoredCredential? {
        guard let token = try await token(hash: hash) else { return nil }
        switch token.subject {
        case .devUser(let number):
            return StoredCredential(token: token, holder: try await object(DevUser.self, number: number).map { .devUser($0) })
        case .revUser(let number):
            return StoredCredential(token: token, holder: try await object(RevUser.self, number: number).map { .revUser($0) })
        case .system:
            return StoredCredential(token: token, holder: nil)
        }
    }
}
