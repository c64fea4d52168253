import Foundation
import Logging
import ParleyApp
import ParleyCore
import ParleyMail
import ParleyStore
import ServiceLifecycle
import Synchronization

/// Mail out: an agent's public reply on a conversation that came by mail is sent to the conversation's
/// customers through the mailbox's relay. The queue is the outbox itself: this job follows it from a stored
/// position (one server at a time, under the `mail` lease), so a reply is queued by the very transaction
/// that stored it, and a restart resumes where sending stopped. A temporary failure (4xx, no connection)
/// stops the pass and is retried with backoff (2 s doubling to 5 min); a permanent one (5xx) is logged and
/// passed over. The position is stored after each message sent, so a crash between the relay's 250 and that
/// write sends that one message again, with the same Message-ID.
final class MailDelivery: Service, Sendable {
    let app: ParleyApp
    var store: any ParleyStore { app.store }
    let logger: Logger
    let leases: BackgroundLeases
    static let positionSetting = "mail_out_position"
    private let retry = Mutex<(failures: Int, next: Date?)>((0, nil))

    init(app: ParleyApp, logger: Logger, leases: BackgroundLeases) {
        self.app = app
        self.logger = logger
        self.leases = leases
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while true {
                if self.leases.holds(.mail) {
                    do {
                        try await self.pass()
                    } catch is CancellationError {
                        // The server is stopping.
                    } catch {
                        self.logger.warning("mail out: \(String(describing: error))")
                    }
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Where sending starts on a database that never sent: the newest outbox message when the server starts
    /// (history is never mailed). Called before the server serves requests, so nothing it stores is skipped.
    func start() async throws {
        if try await store.setting(Self.positionSetting) == nil {
            try await store.setSetting(Self.positionSetting, value: String(try await store.latestOutboxSequence()))
        }
    }

    /// Sends what the outbox holds after the stored position.
    func pass() async throws {
        if let next = retry.withLock({ $0.next }), Date() < next { return }
        guard let stored = try await store.setting(Self.positionSetting).flatMap(Int.init) else {
            try await start()
            return
        }
        // Without a mailbox that can send, nothing is read: the position follows the outbox (one write a
        // second at most, none when idle).
        let mailboxes = try await app.allMailboxes().filter { $0.smtpRelay != nil }
        guard !mailboxes.isEmpty else {
            let latest = try await store.latestOutboxSequence()
            if latest != stored { try await store.setSetting(Self.positionSetting, value: String(latest)) }
            return
        }
        var position = stored
        while true {
            let events = try await store.outbox(after: position, limit: 50)
            if events.isEmpty { return }
            for event in events {
                for mail in try await outbound(event, mailboxes: mailboxes) {
                    guard try await send(mail) else { return }
                }
                position = event.sequence
                try await store.setSetting(Self.positionSetting, value: String(position))
            }
        }
    }

    /// Sends one mail to those of its recipients that are not held back (`ParleyApp.mailHeldBack`), and
    /// records the outcome on its conversation. False: a temporary failure, to be retried later.
    func send(_ mail: Pending) async throws -> Bool {
        var message = mail.message
        var heldBack: [String] = []
        for address in message.to + message.cc {
            if let why = try await app.mailHeldBack(to: address, automatic: message.isAutomatic) {
                heldBack.append(why)
                message.to.removeAll { $0 == address }
                message.cc.removeAll { $0 == address }
            }
        }
        if !heldBack.isEmpty {
            logger.info("mail held back", metadata: ["conversation": "CONV-\(message.conversation)", "why": "\(heldBack.joined(separator: "; "))"])
            try await app.recordDeliveryFailure(conversation: message.conversation, entry: message.entry, recipients: [],
                                                reason: "not sent: " + heldBack.joined(separator: "; "))
        }
        if message.to.isEmpty, let first = message.cc.first {
            message.to = [first]
            message.cc.removeFirst()
        }
        guard !message.to.isEmpty else { return true }
        let recipients = message.to + message.cc
        do {
            let refused = try await SMTPClient.send(message.rendered(), from: message.fromAddress, to: recipients,
                                                    via: mail.relay, hostname: mail.hostname)
            logger.info("mail sent", metadata: ["conversation": "CONV-\(message.conversation)", "to": "\(recipients.count)",
                                                "refused": "\(refused.count)"])
            try await app.recordMailSent(conversation: message.conversation, entry: message.entry,
                                         recipients: recipients.filter { !refused.contains($0) }, automatic: message.isAutomatic)
            if !refused.isEmpty {
                try await app.recordDeliveryFailure(conversation: message.conversation, entry: message.entry,
                                                    recipients: refused, reason: "refused by the relay", bounced: true)
            }
        } catch SMTPSendError.permanent(let why) {
            logger.warning("mail not sent, refused for good", metadata: ["conversation": "CONV-\(message.conversation)", "why": "\(why)"])
            try await app.recordDeliveryFailure(conversation: message.conversation, entry: message.entry, recipients: recipients, reason: why)
        } catch SMTPSendError.temporary(let why) {
            let delay = retry.withLock { state -> Double in
                state.failures += 1
                let delay = min(300, 2 * pow(2, Double(state.failures - 1)))
                state.next = Date().addingTimeInterval(delay)
                return delay
            }
            logger.warning("mail not sent, retrying", metadata: ["conversation": "CONV-\(message.conversation)",
                                                                 "in": "\(Int(delay)) s", "why": "\(why)"])
            return false
        }
        retry.withLock { $0 = (0, nil) }
        return true
    }

    struct Pending {
        var message: OutboundMail
        var relay: SMTPRelay
        var hostname: String
    }

    /// The mail an outbox event asks for: a public comment by an agent on a conversation that came by mail,
    /// to its customers with an address and its CC list, through a mailbox with a relay (the conversation's
    /// group's, else the first with one); when that comment proposes a resolution, the question after it,
    /// marked automatic. Nothing for everything else.
    func outbound(_ event: OutboxEvent, mailboxes: [Mailbox]) async throws -> [Pending] {
        guard event.kind == .timelineEntryCreated, let entry = event.entry, !entry.visibility.isNote, !entry.isDeleted,
              case .devUser(let agent) = entry.author else { return [] }
        let conversation = event.conversation
        guard conversation.sourceChannel == "email" else { return [] }
        guard let mailbox = mailboxes.first(where: { $0.group != nil && $0.group == conversation.group }) ?? mailboxes.first,
              let relay = mailbox.smtpRelay.flatMap(SMTPRelay.init) else { return [] }
        let customers = conversation.members.compactMap { member -> Int? in if case .revUser(let n) = member { n } else { nil } }
        let people = try await store.objects(RevUser.self, numbers: Set(customers))
        let recipients = customers.compactMap { people[$0]?.email?.lowercased() }.filter { $0.contains("@") }
        let copies = conversation.emailCC.filter { !recipients.contains($0) }
        guard !recipients.isEmpty || !copies.isEmpty else { return [] }
        let agentName = try await store.object(DevUser.self, number: agent)?.displayName
        let fromName = [agentName, mailbox.displayName].compactMap { $0 }.joined(separator: " via ")
        var references: [String] = []
        if let opened = conversation.externalRef, opened.hasPrefix("mail:") { references.append(String(opened.dropFirst(5))) }
        var message = OutboundMail(fromName: fromName.isEmpty ? nil : fromName, fromAddress: mailbox.address, to: recipients,
                                   subject: OutboundMail.subject(conversation.title, conversation: conversation.number),
                                   text: entry.body, conversation: conversation.number, entry: entry.number, references: references,
                                   date: entry.createdDate)
        message.cc = copies
        let domain = mailbox.address.split(separator: "@").last.map(String.init) ?? "parley.invalid"
        var mails = [Pending(message: message, relay: relay, hostname: domain)]
        if let check = conversation.resolutionCheck, check.awaitingConfirmation, check.proposedAt == entry.createdDate {
            mails.append(Pending(message: message.resolutionQuestion(from: mailbox.displayName), relay: relay, hostname: domain))
        }
        return mails
    }
}
