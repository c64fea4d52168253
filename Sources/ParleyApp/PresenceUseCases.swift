import Foundation
import ParleyCore
import ParleyStore

/// Who else is on a conversation page: each agent's page says "viewing" or "typing" every few seconds,
/// and hears who else is there. Entries live `presenceLifetime` seconds, so a closed page drops out on
/// its own; they are kept in the store, so agents on different servers see each other.
extension ParleyApp {
    public static let presenceLifetime: TimeInterval = 20

    /// Records `caller` on conversation `number` and returns the other agents there, by agent number.
    public func markPresence(on number: Int, typing: Bool, by caller: Caller) async throws -> [PresenceEntry] {
        guard caller.isAgent, case .devUser(let agent) = caller.actor else {
            throw DomainError.forbidden("presence is for the support team")
        }
        let now = clock.now()
        return try await store.markPresence(conversation: number, agent: agent, state: typing ? "typing" : "viewing", now: now,
                                            until: now + Self.presenceLifetime)
    }
}
