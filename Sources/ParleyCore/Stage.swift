/// A conversation's stage (DESIGN §3); the raw values are the names on the wire.
public enum Stage: String, Sendable, Codable, CaseIterable {
    case new
    case suspended
    case waitingOnUser = "waiting_on_user"
    case needsResponse = "needs_response"
    case hold
    case resolved
    case archived

    /// The stage's category, exposed as the conversation's `state`.
    public var state: StageState {
        switch self {
        case .new, .suspended: .open
        case .waitingOnUser, .needsResponse, .hold: .inProgress
        case .resolved, .archived: .closed
        }
    }

    /// A stable order for sorting and for DevRev's `stage.ordinal`.
    public var ordinal: Int {
        switch self {
        case .new: 1000
        case .suspended: 1500
        case .waitingOnUser: 2000
        case .needsResponse: 3000
        case .hold: 4000
        case .resolved: 6000
        case .archived: 7000
        }
    }

    /// How people read it ("Waiting on user").
    public var displayName: String {
        switch self {
        case .new: "New"
        case .suspended: "Suspended"
        case .waitingOnUser: "Waiting on user"
        case .needsResponse: "Needs response"
        case .hold: "Hold"
        case .resolved: "Resolved"
        case .archived: "Archived"
        }
    }
}

public enum StageState: String, Sendable, Codable {
    case open
    case inProgress = "in_progress"
    case closed
}

/// A conversation's priority, p0 highest.
public enum Priority: String, Sendable, Codable, CaseIterable, Comparable {
    case p0, p1, p2, p3

    public var rank: Int {
        switch self {
        case .p0: 0
        case .p1: 1
        case .p2: 2
        case .p3: 3
        }
    }

    public static func < (lhs: Priority, rhs: Priority) -> Bool { lhs.rank < rhs.rank }
}
