import Foundation
import ParleyCore
import ParleyStore

/// Who Parley holds mail back from, and the record of what it sent. Kept in the store's settings, so that
/// whichever server sends next knows it: an address that bounced gets nothing for `bounceHold` (Zammad
/// waits 60 days too); an address gets at most `automaticMailsPerHour` automatic mails (the resolution
/// question) an hour, so that two robots answering each other cannot loop (RFC 3834 §2; FreeScout caps
/// auto-replies per sender the same way).
extension ParleyApp {
    public static let bounceHold: Double = 60 * 86_400
    public static let automaticMailsPerHour = 3

    static func bounceSetting(_ address: String) -> String { "mail_bounced:" + address.lowercased() }
    static func automaticSetting(_ address: String) -> String { "mail_automatic:" + address.lowercased() }

    /// Marks addresses as bouncing from now.
    func holdBackBouncing(_ addresses: [String]) async throws {
        let now = clock.now().timeIntervalSince1970
        for address in addresses where !address.isEmpty {
            try await store.setSetting(Self.bounceSetting(address), value: String(Int(now)))
        }
    }

    /// Why mail to `address` is held back now, if it is: it bounced lately, or (for automatic mail) it had
    /// its share of automatic mail this hour.
    public func mailHeldBack(to address: String, automatic: Bool) async throws -> String? {
        let now = clock.now().timeIntervalSince1970
        if let since = try await store.setting(Self.bounceSetting(address)).flatMap(Double.init), now - since < Self.bounceHold {
            let day = Date(timeIntervalSince1970: since).formatted(.iso8601.year().month().day())
            return "mail to \(address) bounced on \(day): held back for \(Int(Self.bounceHold / 86_400)) days"
        }
        if automatic {
            let recent = try await automaticMailTimes(address).filter { now - $0 < 3_600 }
            if recent.count >= Self.automaticMailsPerHour {
                return "\(address) had \(recent.count) automatic mails in the last hour"
            }
        }
        return nil
    }

    func automaticMailTimes(_ address: String) async throws -> [Double] {
        (try await store.setting(Self.automaticSetting(address)) ?? "").split(separator: ",").compactMap { Double($0) }
    }

    /// Records that a mail went to the relay: an event on the conversation naming the message and its
    /// recipients (the inbox shows it as the message's delivery status), and, for automatic mail, its time
    /// per address for the hourly cap.
    public func recordMailSent(conversation number: Int, entry: Int, recipients: [String], automatic: Bool) async throws {
        let now = clock.now()
        if automatic {
            for address in recipients {
                let kept = try await automaticMailTimes(address).filter { now.timeIntervalSince1970 - $0 < 3_600 }
                try await store.setSetting(Self.automaticSetting(address),
                                           value: (kept + [now.timeIntervalSince1970]).map { String(Int($0)) }.joined(separator: ","))
            }
        }
        let app = self
        _ = try await store.updateConversation(number: number) { current in
            let event = ChangeEvent(object: current.id, actor: .system, at: now, kind: .mailSent,
                                    field: ObjectID(.comment, entry, parent: number).don, after: .list(recipients))
            return app.plan(ConversationDecision(conversation: current, events: [event]), from: nil, at: now, publishes: [])
        }
    }
}
