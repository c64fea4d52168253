/// What can happen to a conversation that may move its stage.
public enum StageInput: Hashable, Sendable, CustomStringConvertible {
    /// A customer (rev user) wrote an external comment.
    case customerMessage
    /// An agent (dev user) wrote an external comment.
    case agentPublicReply
    /// An agent wrote an internal or private comment.
    case internalNote
    /// Every dependency of the conversation is done.
    case dependenciesDone
    /// The spam filter, or an agent, judged the conversation to be spam.
    case spamVerdict
    /// The auto-archive timer of a resolved conversation elapsed (the lifecycle policy's `archiveAfter`).
    case archiveTimerElapsed
    /// An agent or the API asked for this stage.
    case explicit(Stage)

    /// Every input, for exhaustive checks: the automatic ones and one explicit request per stage.
    public static var all: [StageInput] {
        [.customerMessage, .agentPublicReply, .internalNote, .dependenciesDone, .spamVerdict, .archiveTimerElapsed]
            + Stage.allCases.map { .explicit($0) }
    }

    public var description: String {
        switch self {
        case .customerMessage: "customer message"
        case .agentPublicReply: "agent public reply"
        case .internalNote: "internal note"
        case .dependenciesDone: "all dependencies done"
        case .spamVerdict: "spam verdict"
        case .archiveTimerElapsed: "archive timer elapsed"
        case .explicit(let stage): "request for \(stage.rawValue)"
        }
    }
}

/// What the stage table says about one input in one stage.
public enum StageOutcome: Hashable, Sendable {
    /// The conversation moves to this stage.
    case moveTo(Stage)
    /// The input is accepted and the stage does not change.
    case stay
    /// The input is refused and nothing is written.
    case refuse(reason: String)
    /// A customer wrote to an archived conversation: a new conversation follows this one.
    case startFollowUp
}

/// The conversation stage machine of DESIGN §3, as a table: no state of its own, no I/O.
public enum StageMachine {
    /// Explicit transitions an agent or the API may ask for.
    public static let explicitTransitions: [Stage: [Stage]] = [
        .new: [.suspended, .resolved],
        .suspended: [.new, .archived],
        .waitingOnUser: [.resolved],
        .needsResponse: [.hold, .resolved],
        .hold: [.needsResponse, .resolved],
        .resolved: [.archived],
        .archived: [],
    ]

    /// The stages an explicit request may move a conversation in `stage` to.
    public static func allowedNextStages(from stage: Stage) -> [Stage] {
        explicitTransitions[stage] ?? []
    }

    public static func outcome(of input: StageInput, in stage: Stage) -> StageOutcome {
        switch (stage, input) {
        case (_, .internalNote):
            return .stay

        case (.new, .customerMessage): return .stay
        case (.new, .agentPublicReply): return .moveTo(.waitingOnUser)
        case (.new, .spamVerdict): return .moveTo(.suspended)

        case (.suspended, .customerMessage): return .stay
        case (.suspended, .agentPublicReply):
            return .refuse(reason: "conversation is suspended: approve it (move it to new) before replying")

        case (.waitingOnUser, .customerMessage): return .moveTo(.needsResponse)
        case (.waitingOnUser, .agentPublicReply): return .stay

        case (.needsResponse, .customerMessage): return .stay
        case (.needsResponse, .agentPublicReply): return .moveTo(.waitingOnUser)

        case (.hold, .customerMessage): return .moveTo(.needsResponse)
        case (.hold, .agentPublicReply): return .stay
        case (.hold, .dependenciesDone): return .moveTo(.needsResponse)

        case (.resolved, .customerMessage): return .moveTo(.needsResponse)
        case (.resolved, .agentPublicReply): return .stay
        case (.resolved, .archiveTimerElapsed): return .moveTo(.archived)

        case (.archived, .customerMessage): return .startFollowUp
        case (.archived, .agentPublicReply):
            return .refuse(reason: "conversation is archived, which is final: the customer's next message starts a follow-up")

        case (_, .dependenciesDone), (_, .spamVerdict), (_, .archiveTimerElapsed):
            // "–" in the table: the input does not apply to this stage.
            return .stay

        case (let from, .explicit(let to)):
            let allowed = allowedNextStages(from: from)
            if allowed.contains(to) { return .moveTo(to) }
            let list = allowed.isEmpty ? "none (\(from.rawValue) is final)" : allowed.map(\.rawValue).joined(separator: ", ")
            if from == to {
                return .refuse(reason: "conversation is already in stage \(from.rawValue); allowed next stages: \(list)")
            }
            return .refuse(reason: "cannot move conversation from stage \(from.rawValue) to \(to.rawValue); allowed next stages: \(list)")
        }
    }
}
