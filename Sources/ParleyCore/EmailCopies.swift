import Foundation

/// The CC list of a conversation by mail (`Conversation.emailCC`): the addresses copied on its customers'
/// mails, who receive the replies too. Per conversation, lowercased, at most `limit`.
public enum EmailCopies {
    public static let limit = 20

    /// `current` with `added` appended (lowercased, without repeats), up to `limit` addresses.
    public static func merged(_ current: [String], _ added: [String]) -> [String] {
        var result = current
        for address in added.map({ $0.lowercased() }) where !result.contains(address) && result.count < limit {
            result.append(address)
        }
        return result
    }
}

extension Conversation {
    /// A mail on this conversation copied `addresses`: they join its CC list, recorded by an event. Pure:
    /// the caller stores the result in the transaction that stores the message.
    public func receivingMailCopies(_ addresses: [String], at now: Date) -> (Conversation, [ChangeEvent]) {
        var next = self
        var events: [ChangeEvent] = []
        let copies = EmailCopies.merged(emailCC, addresses)
        if copies != emailCC {
            events.append(ChangeEvent(object: id, actor: .system, at: now, kind: .copiesChanged, field: "cc",
                                      before: .list(emailCC), after: .list(copies)))
            next.emailCC = copies
        }
        if !events.isEmpty { next.touch(by: .system, at: now) }
        return (next, events)
    }
}
