import Foundation

/// A reply agents keep to send again: shared with the team, or personal (its owner's only). Its body may
/// hold placeholders filled for the conversation it is used on: `{customer_first_name}`, `{agent_name}`,
/// `{conversation_id}`.
public struct SavedReply: DirectoryObject {
    public static let kind = ObjectKind.savedReply
    public var number: Int
    /// What the reply box's `/` search matches, and the list shows.
    public var title: String
    public var body: String
    /// The agent whose personal reply this is; nil for a shared one.
    public var owner: Int?
    public var createdBy: Actor
    public var createdDate: Date
    public var modifiedBy: Actor
    public var modifiedDate: Date

    public static let placeholders = ["{customer_first_name}", "{agent_name}", "{conversation_id}"]

    public init(number: Int, title: String, body: String, owner: Int?, createdBy: Actor, at: Date) {
        self.number = number
        self.title = title
        self.body = body
        self.owner = owner
        self.createdBy = createdBy
        self.createdDate = at
        self.modifiedBy = createdBy
        self.modifiedDate = at
    }

    public var indexKeys: [IndexKey] { [IndexKey("owner", owner.map(String.init) ?? "shared")] }

    public var isShared: Bool { owner == nil }

    /// Whether `agent` may see and use it: shared ones every agent, personal ones their owner.
    public func isVisible(to agent: Int) -> Bool { owner == nil || owner == agent }

    /// Whether `agent` may change or delete it: a personal one its owner; a shared one its author or an admin.
    public func isEditable(by agent: Int, isAdmin: Bool) -> Bool {
        if let owner { return owner == agent }
        return isAdmin || createdBy == .devUser(agent)
    }

    /// The body with its placeholders filled: the customer's first name ("there" when unknown), the agent's
    /// name, the conversation's display id.
    public func rendered(customerName: String?, agentName: String, conversation: ObjectID) -> String {
        let first = customerName?.split(whereSeparator: \.isWhitespace).first.map(String.init) ?? "there"
        return body.replacing("{customer_first_name}", with: first)
            .replacing("{agent_name}", with: agentName)
            .replacing("{conversation_id}", with: conversation.displayID)
    }
}
