import Foundation

/// The latest public message of a conversation, short, for list rows (the inbox shows it under the title):
/// kept on the conversation as messages arrive, so that a page of a million conversations reads no
/// timelines. Internal notes never become the preview.
public struct MessagePreview: Hashable, Sendable, Codable {
    public var author: Actor
    /// The message's first characters, its whitespace runs collapsed to one space, `limit` at most.
    public var text: String
    public var at: Date

    public static let limit = 140

    public init(author: Actor, body: String, at: Date) {
        self.author = author
        self.at = at
        let collapsed = body.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        text = collapsed.count > Self.limit ? String(collapsed.prefix(Self.limit - 1)) + "…" : collapsed
    }
}

extension Conversation {
    /// This conversation with its preview following an edit or deletion of `entry`, if `entry` is the
    /// message it previews (a deleted message's words leave the list rows too); nil when nothing changes.
    public func previewing(after entry: TimelineEntry) -> Conversation? {
        guard let preview = lastMessage, preview.author == entry.author, preview.at == entry.createdDate else { return nil }
        var next = self
        next.lastMessage = entry.isDeleted ? nil : MessagePreview(author: entry.author, body: entry.body, at: entry.createdDate)
        return next.lastMessage == lastMessage ? nil : next
    }
}
