import Hummingbird
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

/// `saved-replies.*` (Parley's own, in DevRev's style): replies agents keep to send again, shared with the
/// team or personal, and `saved-replies.render` to fill one in for a conversation. Agents only.
extension ParleyAPI {
    func registerSavedReplies(on router: RPCRouter) {
        router.rpc("saved-replies.create", created: true) { fields, context in
            let caller = try context.requireAgent()
            let reply = try await app.createSavedReply(title: try fields.requiredString("title"), body: try fields.requiredString("body"),
                                                       shared: try fields.bool("shared") ?? false, by: caller)
            return .object(["saved_reply": Self.savedReply(reply)])
        }
        router.rpc("saved-replies.get", readable: true) { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.savedReply])
            return .object(["saved_reply": Self.savedReply(try await app.savedReply(id.number, for: caller))])
        }
        router.rpc("saved-replies.list", readable: true) { _, context in
            let caller = try context.requireAgent()
            return .object(["saved_replies": .array(try await app.savedReplies(for: caller).map(Self.savedReply))])
        }
        router.rpc("saved-replies.update") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.savedReply])
            let reply = try await app.updateSavedReply(id.number, title: try fields.string("title"), body: try fields.string("body"), by: caller)
            return .object(["saved_reply": Self.savedReply(reply)])
        }
        router.rpc("saved-replies.delete") { fields, context in
            let caller = try context.requireAgent()
            try await app.deleteSavedReply(try fields.requiredID("id", [.savedReply]).number, by: caller)
            return .object([:])
        }
        // The text to send: the reply with its placeholders filled for the conversation and the caller.
        router.rpc("saved-replies.render", readable: true) { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.savedReply])
            let conversation = try fields.requiredID("conversation", [.conversation])
            return .object(["body": .string(try await app.renderSavedReply(id.number, on: conversation.number, by: caller))])
        }
    }

    static func savedReply(_ reply: SavedReply) -> JSONValue {
        var fields = Wire.atom(reply.id)
        fields["title"] = .string(reply.title)
        fields["body"] = .string(reply.body)
        fields["shared"] = .bool(reply.isShared)
        fields["owned_by"] = reply.owner.map { .string(ObjectID(.devUser, $0).don) } ?? .null
        fields["created_date"] = Timestamp.json(reply.createdDate)
        fields["modified_date"] = Timestamp.json(reply.modifiedDate)
        return .object(fields)
    }
}
