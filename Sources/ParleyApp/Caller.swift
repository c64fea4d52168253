import ParleyCore

/// Who is acting: the authenticated user and what they may do. Every use case takes one.
public struct Caller: Sendable, Equatable {
    public enum Role: String, Sendable {
        case admin, agent, customer
    }

    public var actor: Actor
    public var role: Role

    public init(actor: Actor, role: Role) {
        self.actor = actor
        self.role = role
    }

    public var isAgent: Bool { role != .customer }
    public var isAdmin: Bool { role == .admin }
}

