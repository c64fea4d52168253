import Foundation
import ParleyCore
import ParleyStore

/// Saved replies: agents keep replies to send again, shared with the team or for themselves, and use them
/// on a conversation with its placeholders filled (the API's `saved-replies.*`, the inbox's reply box).
extension ParleyApp {
    public func createSavedReply(title: String, body: String, shared: Bool, by caller: Caller) async throws -> SavedReply {
        let agent = try Self.agentNumber(caller)
        let title = title.trimmed
        guard !title.isEmpty else { throw DomainError.invalidField("title", message: "must not be empty") }
        guard !body.trimmed.isEmpty else { throw DomainError.invalidField("body", message: "must not be empty") }
        let now = clock.now()
        return try await insert(SavedReply.self, actor: caller.actor, at: now) { number in
            SavedReply(number: number, title: title, body: body, owner: shared ? nil : agent, createdBy: caller.actor, at: now)
        }
    }

    /// A saved reply `caller` may see (404 otherwise, whether it exists or not).
    public func savedReply(_ number: Int, for caller: Caller) async throws -> SavedReply {
        let agent = try Self.agentNumber(caller)
        guard let reply = try await store.object(SavedReply.self, number: number), reply.isVisible(to: agent) else {
            throw DomainError.notFound("saved reply \(ObjectID(.savedReply, number).displayID)")
        }
        return reply
    }

    /// The shared replies and `caller`'s own, by title.
    public func savedReplies(for caller: Caller) async throws -> [SavedReply] {
        let agent = try Self.agentNumber(caller)
        var replies: [SavedReply] = []
        for owner in ["shared", String(agent)] {
            replies += try await store.find(SavedReply.self, key: "owner", value: owner)
        }
        return replies.sorted { ($0.title.lowercased(), $0.number) < ($1.title.lowercased(), $1.number) }
    }

    public func updateSavedReply(_ number: Int, title: String?, body: String?, by caller: Caller) async throws -> SavedReply {
        let agent = try Self.agentNumber(caller)
        _ = try await savedReply(number, for: caller)
        let title = title?.trimmed
        if let title, title.isEmpty { throw DomainError.invalidField("title", message: "must not be empty") }
        if let body, body.trimmed.isEmpty { throw DomainError.invalidField("body", message: "must not be empty") }
        return try await update(SavedReply.self, number: number, actor: caller.actor, at: clock.now()) { reply in
            guard reply.isEditable(by: agent, isAdmin: caller.isAdmin) else {
                throw DomainError.forbidden("a shared reply is changed by its author or an admin")
            }
            var reply = reply
            if let title { reply.title = title }
            if let body { reply.body = body }
            return reply
        }
    }

    public func deleteSavedReply(_ number: Int, by caller: Caller) async throws {
        let agent = try Self.agentNumber(caller)
        let reply = try await savedReply(number, for: caller)
        guard reply.isEditable(by: agent, isAdmin: caller.isAdmin) else {
            throw DomainError.forbidden("a shared reply is deleted by its author or an admin")
        }
        try await delete(SavedReply.self, number: number, actor: caller.actor, at: clock.now())
    }

    /// The reply's text for `conversation`, placeholders filled (the conversation's first customer, the
    /// calling agent).
    public func renderSavedReply(_ number: Int, on conversation: Int, by caller: Caller) async throws -> String {
        let reply = try await savedReply(number, for: caller)
        guard let target = try await store.conversation(number: conversation) else {
            throw DomainError.notFound("conversation \(ObjectID(.conversation, conversation).displayID)")
        }
        return try await rendered(reply, on: target, by: caller)
    }

    /// `reply` filled in for `conversation` (the inbox renders every reply of a page with this).
    public func rendered(_ reply: SavedReply, on conversation: Conversation, by caller: Caller) async throws -> String {
        let agent = try Self.agentNumber(caller)
        let requester = conversation.createdBy.isCustomer ? conversation.createdBy : conversation.members.first(where: \.isCustomer)
        var customerName: String?
        if case .revUser(let number)? = requester, let customer = try await store.object(RevUser.self, number: number) {
            customerName = customer.displayName ?? customer.fullName
        }
        let agentName = try await store.object(DevUser.self, number: agent)?.displayName ?? ObjectID(.devUser, agent).displayID
        return reply.rendered(customerName: customerName, agentName: agentName, conversation: conversation.id)
    }

    private static func agentNumber(_ caller: Caller) throws -> Int {
        guard caller.isAgent, case .devUser(let number) = caller.actor else {
            throw DomainError.forbidden("saved replies are the support team's")
        }
        return number
    }
}
