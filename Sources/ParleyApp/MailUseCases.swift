import Crypto
import Foundation
import Logging
import ParleyCore
import ParleyMail
import ParleyStore

/// What a received mail did.
public enum MailOutcome: Sendable, Equatable {
    /// It started a conversation.
    case opened(conversation: Int)
    /// It joined a conversation (or its follow-up, when that one was archived).
    case appended(conversation: Int)
    /// The same message was stored before (same Message-ID): nothing was stored again.
    case duplicate
    /// Sent by a machine (RFC 3834), a bounce, or Parley's own mail: nothing was opened, reopened or answered.
    case ignored(String)
}

/// Email, one more caller of the same use cases: a mail to a mailbox's address becomes a customer's message.
extension ParleyApp {
    // MARK: Mailboxes (admins)

    public func mailbox(address: String) async throws -> Mailbox? {
        try await store.find(Mailbox.self, key: "address", value: address.lowercased()).first
    }

    /// Every mailbox, page after page (a site has a handful: one read).
    public func allMailboxes() async throws -> [Mailbox] {
        var found: [Mailbox] = []
        var query = DirectoryQuery()
        query.page = PageRequest(limit: 100)
        while true {
            let page = try await store.list(Mailbox.self, query: query)
            found += page.items
            guard let cursor = page.nextCursor, !page.items.isEmpty else { return found }
            query.page.cursor = cursor
        }
    }

    public func createMailbox(address: String, displayName: String?, group: Int?, smtpRelay: String?, imap: String?,
                              by caller: Caller) async throws -> Mailbox {
        guard caller.isAdmin else { throw DomainError.forbidden("mailboxes are managed by admins") }
        let address = address.trimmed.lowercased()
        guard Mailbox.isAddress(address) else { throw DomainError.invalidField("address", message: "expected an email address such as support@acme.test") }
        try Self.checkMailURLs(smtpRelay: smtpRelay, imap: imap)
        if let group, try await store.object(Group.self, number: group) == nil {
            throw DomainError.invalidID(field: "group", value: ObjectID(.group, group).don)
        }
        let now = clock.now()
        return try await insert(Mailbox.self, actor: caller.actor, at: now) { number in
            var mailbox = Mailbox(number: number, address: address, displayName: displayName, group: group, createdBy: caller.actor, at: now)
            mailbox.smtpRelay = smtpRelay
            mailbox.imap = imap
            return mailbox
        }
    }

    /// A relay must be `smtp://` or `smtps://` with a host; IMAP `imap://` or `imaps://` with a host.
    public static func checkMailURLs(smtpRelay: String?, imap: String?) throws {
        func valid(_ url: String, schemes: [String]) -> Bool {
            guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else { return false }
            return schemes.contains(scheme) && !(components.host ?? "").isEmpty
        }
        if let smtpRelay, !valid(smtpRelay, schemes: ["smtp", "smtps"]) {
            throw DomainError.invalidField("smtp_relay", message: "expected smtp://USER:PASS@HOST:PORT or smtps://…")
        }
        if let imap, !valid(imap, schemes: ["imap", "imaps"]) || IMAPAccount(imap) == nil {
            throw DomainError.invalidField("imap", message: "expected imaps://USER:PASS@HOST:PORT/INBOX, optionally ?processed=FOLDER or ?auth=xoauth2")
        }
    }

    // MARK: Delivery failures

    /// Records on a conversation that a reply sent by mail did not reach `recipients` (a relay's permanent
    /// refusal, or a bounce): an event on its timeline, with who and why. Nothing else changes.
    /// `bounced`: the recipients' addresses bounce, and mail to them is held back for a while
    /// (`MailSuppression`).
    public func recordDeliveryFailure(conversation number: Int, entry: Int, recipients: [String], reason: String,
                                      bounced: Bool = false) async throws {
        let now = clock.now()
        let app = self
        if bounced { try await holdBackBouncing(recipients) }
        let detail = (recipients.isEmpty ? "" : recipients.joined(separator: ", ") + ": ") + String(reason.prefix(300))
        _ = try await store.updateConversation(number: number) { current in
            let event = ChangeEvent(object: current.id, actor: .system, at: now, kind: .deliveryFailed,
                                    field: ObjectID(.comment, entry, parent: number).don, after: .text(detail))
            return app.plan(ConversationDecision(conversation: current, events: [event]), from: nil, at: now, publishes: [])
        }
    }

    // MARK: Receiving

    /// A mail delivered to `recipient` (SMTP `RCPT TO`, LMTP, IMAP): the sender becomes a customer (found
    /// by email, else created, in the org whose email domain matches), and the message starts a
    /// conversation or joins the one it answers (`answeredConversation`). The other addresses it was sent
    /// to join that conversation's CC list. Mail sent by machines never opens, reopens or answers anything:
    /// an automatic reply to a conversation (out of office) is kept on its record, changing nothing. A
    /// message stored before (same Message-ID) is not stored again. A customer's "yes" or "no" answering a
    /// proposed resolution confirms it or not. Throws `notFound` for an address that is no mailbox's.
    public func receiveMail(_ raw: [UInt8], to recipient: String) async throws -> MailOutcome {
        // Every mailbox, in one read: the recipient's, and the addresses that are Parley's own.
        let mailboxes = try await allMailboxes()
        guard let mailbox = mailboxes.first(where: { $0.address == recipient.lowercased() }) else {
            throw DomainError.notFound("mailbox \(recipient)")
        }
        let mail = InboundMail(raw)
        // A bounce of Parley's own mail is recorded on the message it answers; it opens and reopens nothing.
        if mail.isBounce, let bounced = mail.bouncedMessageID, let (conversation, entry) = Self.parleyMessage(bounced),
           try await store.conversation(number: conversation) != nil {
            try await recordDeliveryFailure(conversation: conversation, entry: entry, recipients: mail.bouncedRecipients,
                                            reason: mail.bounceStatus ?? "returned as undeliverable",
                                            bounced: Self.addressFailed(mail.bounceStatus))
            return .ignored("a delivery status notification, recorded on CONV-\(conversation)")
        }
        if let reason = mail.automatic {
            logger.info("mail ignored", metadata: ["mailbox": "\(mailbox.address)", "reason": "\(reason)"])
            if let recorded = try await recordAutomaticReply(mail, reason: reason) {
                return .ignored(reason + ", recorded on CONV-\(recorded)")
            }
            return .ignored(reason)
        }
        guard let sender = mail.from else { return .ignored("no sender") }
        let ownAddresses = Set(mailboxes.map(\.address))
        if ownAddresses.contains(sender.email.lowercased()) { return .ignored("sent from one of Parley's own mailboxes") }
        // Its Message-ID, or for a mail without one, a digest of its bytes (an MTA's retry and an IMAP
        // re-fetch carry the same bytes): stored once either way.
        let reference = "mail:" + (mail.messageID ?? "sha256:" + SHA256.hash(data: raw).map { String(format: "%02x", $0) }.joined())
        // Stored before (an MTA's retry, an IMAP re-fetch): nothing is written again. Two deliveries at
        // once are told apart by the references' unique keys below.
        if try await store.conversation(externalRef: reference) != nil { return .duplicate }
        if try await !store.timelineEntries(externalRef: reference).isEmpty { return .duplicate }
        let customer = try await customer(for: sender)
        let caller = Caller(actor: .revUser(customer.number), role: .customer)
        let original = try await storeOriginalMessage(raw).number
        let copied = (mail.to + mail.cc).map { $0.email.lowercased() }
            .filter { $0 != sender.email.lowercased() && !ownAddresses.contains($0) && Mailbox.isAddress($0) }
        var files: [Int] = []
        var skipped: [String] = []
        for file in mail.files.prefix(attachmentLimits.maxFilesPerMessage) {
            guard file.content.count <= attachmentLimits.maxBytes else { skipped.append(file.name); continue }
            files.append(try await uploadArtifact(fileName: file.name, content: file.content, by: caller).number)
        }
        skipped += mail.files.dropFirst(attachmentLimits.maxFilesPerMessage).map(\.name)
        var body = mail.reply
        if !skipped.isEmpty {
            body += "\n\n(Not kept, over the attachment limits: \(skipped.joined(separator: ", ")).)"
        }
        if body.trimmed.isEmpty && files.isEmpty { body = "(no text)" }
        if let (target, senderIsCopied) = try await answeredConversation(mail, by: caller.actor, email: sender.email) {
            do {
                if files.isEmpty, let answer = Self.resolutionAnswer(mail.reply), !senderIsCopied,
                   let current = try await store.conversation(number: target), current.resolutionCheck?.awaitingConfirmation == true {
                    let confirmed = try await confirmResolution(target, confirmed: answer, message: body, externalRef: reference, by: caller)
                    return .appended(conversation: confirmed.number)
                }
                let arrival = MailArrival(addresses: copied, sender: sender.email, senderIsCopied: senderIsCopied, originalMessage: original)
                let entry = try await addComment(to: target, body: body, visibility: .external, externalRef: reference, artifacts: files,
                                                 by: caller, mail: arrival)
                return .appended(conversation: entry.conversation)
            } catch DomainError.conflict {
                return .duplicate
            }
        }
        var draft = ConversationDraft(title: mail.cleanSubject.isEmpty ? "(no subject)" : mail.cleanSubject, sourceChannel: "email",
                                      messages: [body])
        draft.externalRef = reference
        draft.group = mailbox.group
        draft.emailCC = copied
        var opening = ConversationOpening(draft: draft, artifacts: files)
        opening.originalMessage = original
        do {
            return .opened(conversation: try await openConversation(opening, by: caller).number)
        } catch DomainError.conflict {
            return .duplicate
        }
    }

    /// Whether a delivery status says the address itself is bad (RFC 3463 `5.1.x`: no such user, bad
    /// domain), so that mail to it is held back; a full mailbox or a refused message is no reason to.
    static func addressFailed(_ status: String?) -> Bool {
        status?.trimmed.hasPrefix("5.1.") ?? false
    }

    /// A customer's answer to "did this solve it?" when the reply starts with yes or no (in a few
    /// languages); nil for anything else.
    static func resolutionAnswer(_ reply: String) -> Bool? {
        let first = reply.trimmed.lowercased().prefix { $0.isLetter }
        if ["yes", "yep", "ja", "oui", "si", "sí"].contains(first) { return true }
        if ["no", "nope", "nein", "non"].contains(first) { return false }
        return nil
    }

    /// An automatic reply (out of office, vacation) from a customer to one of their conversations' mail:
    /// recorded on that conversation as an event, changing nothing else. Returns the conversation, if any.
    func recordAutomaticReply(_ mail: InboundMail, reason: String) async throws -> Int? {
        guard let sender = mail.from, !mail.isBounce,
              let customer = try await store.find(RevUser.self, key: "email", value: sender.email.lowercased()).first,
              let (number, _) = try await answeredConversation(mail, by: .revUser(customer.number), email: sender.email) else { return nil }
        let now = clock.now()
        let app = self
        let summary = String((sender.email + ": " + (mail.cleanSubject.isEmpty ? mail.reply : mail.cleanSubject)).prefix(300))
        _ = try await store.updateConversation(number: number) { current in
            let event = ChangeEvent(object: current.id, actor: .revUser(customer.number), at: now, kind: .autoReplyReceived,
                                    field: reason, after: .text(summary))
            return app.plan(ConversationDecision(conversation: current, events: [event]), from: nil, at: now, publishes: [])
        }
        return number
    }

    /// `parley.conv-N.M@host` (or `parley.conv-N.M.anything@host`) → (N, M).
    static func parleyMessage(_ id: String) -> (Int, Int)? {
        let lower = id.lowercased()
        guard lower.hasPrefix("parley.conv-") else { return nil }
        let parts = lower.dropFirst("parley.conv-".count).split(separator: "@").first?.split(separator: ".") ?? []
        guard parts.count >= 2, let conversation = Int(parts[0]), let entry = Int(parts[1]) else { return nil }
        return (conversation, entry)
    }

    /// The conversation a mail answers, if its sender is on it (a member, or an address on its CC list:
    /// then `senderIsCopied`), in this order: its subject tag, a Parley Message-ID among those it answers
    /// (`parley.conv-N.…@host`), then any stored Message-ID it answers (the mail that opened a
    /// conversation, or a later mail on one).
    func answeredConversation(_ mail: InboundMail, by sender: Actor, email: String) async throws -> (Int, senderIsCopied: Bool)? {
        var numbers = mail.subjectTag.map { [$0] } ?? []
        numbers += mail.answers.compactMap { Self.parleyMessage($0)?.0 }
        for id in mail.answers.prefix(20) where Self.parleyMessage(id) == nil {
            if let opened = try await store.conversation(externalRef: "mail:" + id) { numbers.append(opened.number) }
            numbers += try await store.timelineEntries(externalRef: "mail:" + id).map(\.conversation)
        }
        var seen: Set<Int> = []
        for number in numbers where seen.insert(number).inserted {
            guard let conversation = try await store.conversation(number: number) else { continue }
            if conversation.isMember(sender) { return (number, false) }
            if conversation.emailCC.contains(email.lowercased()) { return (number, true) }
        }
        return nil
    }

    /// The customer an address belongs to, created (in the org whose domain matches, else unidentified) when
    /// there is none.
    func customer(for address: InboundMail.Address) async throws -> RevUser {
        if let known = try await store.find(RevUser.self, key: "email", value: address.email).first { return known }
        let domain = address.email.split(separator: "@").last.map(String.init) ?? ""
        let org = try await store.find(Account.self, key: "domain", value: domain).first?.defaultRevOrg
        let now = clock.now()
        do {
            return try await insert(RevUser.self, actor: .system, at: now) { number in
                RevUser(number: number, displayName: address.name ?? String(address.email.prefix { $0 != "@" }), fullName: address.name,
                        email: address.email, externalRef: nil, revOrg: org, phoneNumbers: [], description: nil, createdBy: .system, at: now)
            }
        } catch DomainError.conflict {
            // Two mails from a new address at once: the other made the customer.
            guard let made = try await store.find(RevUser.self, key: "email", value: address.email).first else { throw DomainError.conflict("customer \(address.email)") }
            return made
        }
    }
}
