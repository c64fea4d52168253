import Foundation
import ParleyCore
import Testing

let t0 = Date(timeIntervalSince1970: 1_700_000_000)
let customer = Actor.revUser(1)
let agent = Actor.devUser(2)
let resolutionTag = TagChange(add: [TagValue(tag: SystemTag.resolution.number, value: "fixed")])

/// Routing as the server does it without rules: explicit owners, else the org's default owner.
func route(_ draft: ConversationDraft, owner: Int?) -> RoutingDecision {
    RoutingDecision.byOrgDefault(RoutingRequest(title: draft.title, body: draft.messages.first ?? "", channel: draft.sourceChannel,
                                                orgDefaultOwner: owner, orgCreatedAt: t0 - 365 * 86_400,
                                                explicitOwners: draft.ownedBy, explicitPriority: draft.priority), at: t0)
}

func open(_ draft: ConversationDraft = ConversationDraft(title: "Login loops", messages: ["I can't log in"]),
          by creator: Actor = customer, owner: Int? = 7) throws -> Conversation {
    try Conversation.open(number: 1, draft: draft, routing: route(draft, owner: owner), by: creator, at: t0).decision.conversation
}

func comment(_ c: Conversation, _ author: Actor, _ visibility: Visibility = .external, at seconds: Double) throws -> ConversationDecision {
    guard case .append(let decision) = try c.receivingComment(by: author, visibility: visibility, at: t0 + seconds) else {
        Issue.record("expected the comment to append")
        return ConversationDecision(conversation: c, events: [])
    }
    return decision
}

/// Brings a conversation into `stage` the way the product would.
func conversation(in stage: Stage) throws -> Conversation {
    var c = try open()
    switch stage {
    case .new: return c
    case .suspended: return try c.applying(.spamVerdict, by: agent, at: t0 + 1).conversation
    case .archived:
        c = try conversation(in: .resolved)
        return try c.applying(ConversationChange(stage: .archived), by: agent, at: t0 + 50).conversation
    default: break
    }
    c = try comment(c, agent, at: 10).conversation
    if stage == .waitingOnUser { return c }
    c = try comment(c, customer, at: 20).conversation
    if stage == .needsResponse { return c }
    if stage == .hold { return try c.applying(ConversationChange(stage: .hold), by: agent, at: t0 + 30).conversation }
    return try c.applying(ConversationChange(tags: resolutionTag, stage: .resolved), by: agent, at: t0 + 40).conversation
}

@Suite("Conversations")
struct ConversationTests {
    @Test("opens in New, routed to the org's default owner, with the customer as member")
    func opens() throws {
        let draft = ConversationDraft(title: "Hi", messages: ["Hello"])
        let creation = try Conversation.open(number: 1, draft: draft, routing: route(draft, owner: 7), by: customer, at: t0)
        let c = creation.decision.conversation
        #expect(c.stage == .new)
        #expect(c.ownedBy == [7])
        #expect(c.routing.reason == .orgDefaultOwner)
        #expect(c.members == [customer])
        #expect(creation.comments.count == 1)
        #expect(creation.decision.events.map(\.kind).contains(.created))
        #expect(c.timeToInitialResponseSeconds == nil && c.timeInNewSeconds == nil)
    }

    @Test("explicit owner wins; no owner falls back to unassigned")
    func routingReasons() throws {
        let explicit = try open(ConversationDraft(title: "x", ownedBy: [3]), owner: 7)
        #expect(explicit.ownedBy == [3] && explicit.routing.reason == .explicit)
        let fallback = try open(ConversationDraft(title: "x"), owner: nil)
        #expect(fallback.ownedBy.isEmpty && fallback.routing.reason == .fallback)
    }

    @Test("spam starts in Suspended")
    func spamStartsSuspended() throws {
        let c = try open(ConversationDraft(title: "buy now", isSpam: true))
        #expect(c.stage == .suspended && c.isSpam)
    }

    @Test("initial response: New → Waiting on user, measured both ways")
    func initialResponse() throws {
        let c = try comment(try open(), agent, at: 90).conversation
        #expect(c.stage == .waitingOnUser)
        #expect(c.timeToInitialResponseSeconds == 90)
        #expect(c.timeInNewSeconds == 90)
        #expect(c.metrics.firstResponseAt == t0 + 90)
    }

    @Test("time in New differs from time to initial response when it sat in Suspended first")
    func suspendedFirst() throws {
        var c = try open(ConversationDraft(title: "maybe spam", isSpam: true))
        c = try c.applying(ConversationChange(stage: .new), by: agent, at: t0 + 100).conversation
        #expect(c.stage == .new && !c.isSpam)
        c = try comment(c, agent, at: 130).conversation
        #expect(c.timeToInitialResponseSeconds == 130)
        #expect(c.timeInNewSeconds == 30)
    }

    @Test("the customer and the agent take turns: WOU ⇄ NR")
    func exchange() throws {
        var c = try comment(try open(), agent, at: 10).conversation
        c = try comment(c, customer, at: 20).conversation
        #expect(c.stage == .needsResponse)
        c = try comment(c, customer, at: 25).conversation
        #expect(c.stage == .needsResponse)
        c = try comment(c, agent, at: 30).conversation
        #expect(c.stage == .waitingOnUser)
        #expect(c.timeToInitialResponseSeconds == 10, "the initial response is measured once")
    }

    @Test("internal notes move nothing, in every stage", arguments: Stage.allCases)
    func notes(stage: Stage) throws {
        let c = try conversation(in: stage)
        guard case .append(let decision) = try c.receivingComment(by: agent, visibility: .internal, at: t0 + 500) else {
            Issue.record("a note is always appended")
            return
        }
        #expect(decision.conversation.stage == stage)
        #expect(!decision.events.contains { $0.kind == .stageChanged })
    }

    @Test("resolving needs a Resolution tag; a customer reply reopens and counts")
    func resolveAndReopen() throws {
        let nr = try conversation(in: .needsResponse)
        #expect(throws: DomainError.self) { try nr.applying(ConversationChange(stage: .resolved), by: agent, at: t0 + 40) }
        var c = try nr.applying(ConversationChange(tags: resolutionTag, stage: .resolved), by: agent, at: t0 + 40).conversation
        #expect(c.stage == .resolved && c.stage.state == .closed)
        c = try comment(c, customer, at: 60).conversation
        #expect(c.stage == .needsResponse)
        #expect(c.metrics.reopenCount == 1)
    }

    @Test("a customer who writes after answering a proposed resolution withdraws that answer, on record")
    func answerWithdrawnByWritingAgain() throws {
        let nr = try conversation(in: .needsResponse)
        var c = try nr.proposingResolution(by: agent, at: t0 + 30).conversation
        c = try c.confirmingResolution(true, by: customer, withMessage: true, at: t0 + 40).conversation
        #expect(c.resolutionCheck?.confirmed == true, "confirming with a message keeps the answer")
        c = try c.applying(ConversationChange(tags: resolutionTag, stage: .resolved), by: agent, at: t0 + 50).conversation
        let reopened = try comment(c, customer, at: 60)
        #expect(reopened.conversation.stage == .needsResponse)
        #expect(reopened.conversation.resolutionCheck == nil)
        #expect(reopened.events.contains { $0.field == "resolution_check" && $0.before == .text("customer confirmed") && $0.after == nil })
        // An agent's reply or note leaves an answer as it is.
        let noted = try comment(c, agent, .internal, at: 61).conversation
        #expect(noted.resolutionCheck?.confirmed == true)
    }

    @Test("a refused transition names the current and allowed stages, and changes nothing")
    func refused() throws {
        let c = try conversation(in: .waitingOnUser)
        do {
            _ = try c.applying(ConversationChange(title: "new title", stage: .hold), by: agent, at: t0 + 99)
            Issue.record("WOU → hold must be refused")
        } catch let DomainError.transitionRefused(current, allowed, message) {
            #expect(current == .waitingOnUser)
            #expect(allowed == [.resolved])
            #expect(message.contains("waiting_on_user") && message.contains("resolved"))
        }
        #expect(c.stage == .waitingOnUser && c.title == "Login loops")
    }

    @Test("agents cannot reply to suspended or archived conversations")
    func refusedReplies() throws {
        for stage in [Stage.suspended, .archived] {
            let c = try conversation(in: stage)
            #expect(throws: DomainError.self) { try c.receivingComment(by: agent, visibility: .external, at: t0 + 99) }
        }
    }

    @Test("a customer message on an archived conversation starts a follow-up")
    func followUp() throws {
        let archived = try conversation(in: .archived)
        #expect(try archived.receivingComment(by: customer, visibility: .external, at: t0 + 99) == .startFollowUp)
        let next = archived.followUp(number: 2, by: customer, at: t0 + 99).conversation
        #expect(next.stage == .new && next.followUpOf == 1 && next.ownedBy == archived.ownedBy)
    }

    @Test("customers cannot write notes")
    func customerNotes() throws {
        #expect(throws: DomainError.self) { try open().receivingComment(by: customer, visibility: .internal, at: t0 + 1) }
    }

    @Test("every stage change is recorded with before and after")
    func events() throws {
        let decision = try comment(try open(), agent, at: 10)
        let change = try #require(decision.events.first { $0.kind == .stageChanged })
        #expect(change.before == .text("new") && change.after == .text("waiting_on_user"))
        #expect(change.actor == agent && change.at == t0 + 10)
    }

    @Test("updates record each field; asking for the current stage is refused")
    func updates() throws {
        let c = try open()
        #expect(throws: DomainError.self) { try c.applying(ConversationChange(title: "Renamed", stage: .new), by: agent, at: t0 + 5) }
        let decision = try c.applying(ConversationChange(title: "Renamed", ownedBy: [9], priority: .p0), by: agent, at: t0 + 5)
        #expect(decision.conversation.title == "Renamed" && decision.conversation.ownedBy == [9])
        #expect(decision.conversation.routing.reason == .explicit)
        #expect(Set(decision.events.compactMap(\.field)) == ["title", "owned_by", "priority"])
        #expect(decision.conversation.version == c.version + 1)
    }
}

@Suite("Identifiers")
struct IdentifierTests {
    @Test("DONs and display ids round-trip")
    func roundTrip() {
        for kind in ObjectKind.allCases where kind != .comment {
            let id = ObjectID(kind, 42)
            #expect(ObjectID.parse(id.don) == id)
            #expect(ObjectID.parse(id.displayID) == id)
        }
        let comment = ObjectID(.comment, 7, parent: 3)
        #expect(comment.don == "don:core:dvrv-us-1:devo/parley:conversation/3:comment/7")
        #expect(ObjectID.parse(comment.don) == comment)
        #expect(ObjectID.parse("CONV-42", as: [.devUser]) == nil)
        #expect(ObjectID.parse("CONV-x") == nil && ObjectID.parse("") == nil && ObjectID.parse("CONV-0") == nil)
    }
}

@Suite("Stored documents")
struct StoredDocumentTests {
    @Test("a conversation stored before recentMessages existed still loads")
    func olderDocument() throws {
        let c = try comment(try open(), agent, at: 10).conversation
        #expect(!c.recentMessages.isEmpty)
        let data = try JSONEncoder().encode(c)
        guard case var object as [String: Any] = try JSONSerialization.jsonObject(with: data) else {
            Issue.record("not an object")
            return
        }
        object["recentMessages"] = nil
        let older = try JSONDecoder().decode(Conversation.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(older.recentMessages.isEmpty && older.title == c.title && older.stage == c.stage)
    }
}
