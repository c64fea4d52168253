import ParleyCore
import ParleyStore

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

    /// The notes this caller's searches read: none for customers; internal notes and their own private
    /// notes for the support team (an admin acting as the system has none of their own).
    public var searchedNotes: SearchedNotes {
        guard isAgent else { return .none }
        if case .devUser(let agent) = actor { return .internalAndPrivate(of: agent) }
        return .internalAndPrivate(of: nil)
    }
}

