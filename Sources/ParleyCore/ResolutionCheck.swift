/// The resolution check (DESIGN §3, seed: "asks the customer to acknowledge"): an agent proposes a
/// resolution, the customer confirms or not, and the agent verifies and resolves.
public struct ResolutionCheck: Hashable, Sendable, Codable {
    public var awaitingConfirmation: Bool
    public var proposedAt: Date
    /// The customer's answer: nil until they give one.
    public var confirmed: Bool?
    public var answeredAt: Date?
}

extension Conversation {
    /// An agent's public reply asking the customer to confirm: → waiting_on_user, awaiting confirmation.
    public func proposingResolution(by agent: Actor, message: String? = nil, at now: Date) throws(DomainError) -> ConversationDecision {
        guard case .devUser = agent else { throw .forbidden("only agents propose a resolution") }
        guard [.new, .waitingOnUser, .needsResponse].contains(stage) else {
            throw .transitionRefused(current: stage, allowed: StageMachine.allowedNextStages(from: stage),
                                     message: "a resolution can be proposed in new, waiting_on_user or needs_response, not in \(stage.rawValue)")
        }
        guard case .append(var decision) = try receivingComment(by: agent, visibility: .external, body: message, at: now) else {
            throw .transitionRefused(current: stage, allowed: [], message: "cannot propose a resolution here")
        }
        decision.conversation.resolutionCheck = ResolutionCheck(awaitingConfirmation: true, proposedAt: now)
        decision.events.append(ChangeEvent(object: id, actor: agent, at: now, kind: .fieldChanged, field: "resolution_check",
                                           before: nil, after: .text("awaiting customer confirmation")))
        return decision
    }

    /// The customer's answer to a proposed resolution: → needs_response, marked confirmed or not.
    public func confirmingResolution(_ confirmed: Bool, by customer: Actor, withMessage: Bool, message: String? = nil,
                                     at now: Date) throws(DomainError) -> ConversationDecision {
        guard customer.isCustomer else { throw .forbidden("only the customer confirms a resolution") }
        guard var check = resolutionCheck, check.awaitingConfirmation else {
            throw .invalidField("id", message: "no resolution is awaiting confirmation on this conversation")
        }
        var decision: ConversationDecision
        if withMessage {
            guard case .append(let commented) = try receivingComment(by: customer, visibility: .external, body: message, at: now) else {
                throw .invalidField("id", message: "conversation is archived")
            }
            decision = commented
        } else {
            decision = try applying(.customerMessage, by: customer, at: now)
        }
        check.awaitingConfirmation = false
        check.confirmed = confirmed
        check.answeredAt = now
        decision.conversation.resolutionCheck = check
        decision.events.append(ChangeEvent(object: id, actor: customer, at: now, kind: .fieldChanged, field: "resolution_check",
                                           before: .text("awaiting customer confirmation"),
                                           after: .text(confirmed ? "customer confirmed" : "customer did not confirm")))
        if decision.conversation.version == version { decision.conversation.touch(by: customer, at: now) }
        return decision
    }
}
