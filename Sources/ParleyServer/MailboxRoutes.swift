import Hummingbird
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

/// `mailboxes.*` (Parley's own, in DevRev's style; admins): the support addresses mail arrives at. The relay
/// and IMAP URLs carry passwords: accepted, never returned (only their scheme, host and port), never logged.
extension ParleyAPI {
    func registerMailboxes(on router: RPCRouter) {
        router.rpc("mailboxes.create", created: true) { fields, context in
            let caller = try context.requireAdmin()
            let group = try fields.id("group", [.group]).map(\.number)
            let mailbox = try await app.createMailbox(address: try fields.requiredString("address"), displayName: try fields.string("display_name"),
                                                      group: group, smtpRelay: try fields.string("smtp_relay"), imap: try fields.string("imap"),
                                                      by: caller)
            return .object(["mailbox": Self.mailbox(mailbox)])
        }
        router.rpc("mailboxes.get", readable: true) { fields, context in
            _ = try context.requireAdmin()
            let id = try fields.requiredID("id", [.mailbox])
            guard let mailbox = try await store.object(Mailbox.self, number: id.number) else { throw APIError.notFound(id.displayID) }
            return .object(["mailbox": Self.mailbox(mailbox)])
        }
        router.rpc("mailboxes.list", readable: true) { _, context in
            _ = try context.requireAdmin()
            let page = try await store.list(Mailbox.self, query: DirectoryQuery())
            return .object(["mailboxes": .array(page.items.map(Self.mailbox))])
        }
        router.rpc("mailboxes.update") { fields, context in
            let caller = try context.requireAdmin()
            let id = try fields.requiredID("id", [.mailbox])
            let address = try fields.string("address")?.trimmed.lowercased()
            if let address, !Mailbox.isAddress(address) { throw APIError.invalidField("address", "expected an email address") }
            let displayName = try fields.string("display_name")
            let group = fields.has("group") ? Optional(try fields.id("group", [.group]).map(\.number)) : nil
            // A named URL replaces the one stored; `null` removes it (no more sending, or no more polling).
            let relay = fields.names("smtp_relay") ? Optional(try fields.string("smtp_relay")) : nil
            let imap = fields.names("imap") ? Optional(try fields.string("imap")) : nil
            try ParleyApp.checkMailURLs(smtpRelay: relay ?? nil, imap: imap ?? nil)
            let mailbox = try await app.update(Mailbox.self, number: id.number, actor: caller.actor, at: clock.now()) { mailbox in
                var mailbox = mailbox
                if let address { mailbox.address = address }
                if let displayName { mailbox.displayName = displayName }
                if let group { mailbox.group = group }
                if let relay { mailbox.smtpRelay = relay }
                if let imap { mailbox.imap = imap }
                return mailbox
            }
            return .object(["mailbox": Self.mailbox(mailbox)])
        }
        router.rpc("mailboxes.delete") { fields, context in
            let caller = try context.requireAdmin()
            try await app.delete(Mailbox.self, number: try fields.requiredID("id", [.mailbox]).number, actor: caller.actor, at: clock.now())
            return .object([:])
        }
    }

    static func mailbox(_ mailbox: Mailbox) -> JSONValue {
        var fields = Wire.atom(mailbox.id)
        fields["address"] = .string(mailbox.address)
        fields["display_name"] = mailbox.displayName.map { .string($0) } ?? .null
        fields["group"] = mailbox.group.map { .string(ObjectID(.group, $0).don) } ?? .null
        fields["smtp_relay"] = Mailbox.redacted(mailbox.smtpRelay).map { .string($0) } ?? .null
        fields["imap"] = Mailbox.redacted(mailbox.imap).map { .string($0) } ?? .null
        fields["created_date"] = Timestamp.json(mailbox.createdDate)
        return .object(fields)
    }
}
