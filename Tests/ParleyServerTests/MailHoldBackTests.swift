import Foundation
import ParleyApp
import ParleyCore
import ParleySQLite
import ParleyStore
import Testing

/// Who mail is held back from (`MailSuppression`), through the application layer on a real SQLite store
/// and a manual clock: bounced addresses for 60 days, automatic mail capped per address per hour; and the
/// CC list a customer's mails build, per conversation.
@Suite("Mail held back, and CC lists")
struct MailHoldBackTests {
    private func withApp(_ body: (ParleyApp, ManualClock) async throws -> Void) async throws {
        let path = "/tmp/parley-holdback-\(UUID().uuidString).sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try SQLiteStore(path: path)
        let clock = ManualClock(Date(timeIntervalSince1970: 1_796_000_000))
        let app = ParleyApp(store: store, clock: clock)
        do {
            try await app.prepare()
            _ = try await app.createMailbox(address: "support@acme.test", displayName: nil, group: nil, smtpRelay: nil, imap: nil,
                                            by: Caller(actor: .system, role: .admin))
            try await body(app, clock)
        } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    private static func mail(from sender: String, subject: String, id: String, cc: String? = nil, extra: String = "") -> [UInt8] {
        Array(("From: \(sender)\r\nTo: support@acme.test\r\n" + (cc.map { "Cc: \($0)\r\n" } ?? "") +
               "Subject: \(subject)\r\nMessage-ID: <\(id)>\r\n\(extra)\r\nHello.\r\n").utf8)
    }

    /// The conversation a mail to support@acme.test opened (a failed expectation when it opened none).
    private static func opened(_ app: ParleyApp, _ raw: [UInt8]) async throws -> Int {
        let outcome = try await app.receiveMail(raw, to: "support@acme.test")
        guard case .opened(let number) = outcome else {
            Issue.record("opened nothing: \(outcome)")
            return 0
        }
        return number
    }

    @Test("automatic mail: at most 3 an hour to one address, counted across the hour; another address is not affected")
    func automaticMailIsCapped() async throws {
        try await withApp { app, clock in
            let number = try await Self.opened(app, Self.mail(from: "alice@acme.test", subject: "Hi", id: "a1@x"))
            for _ in 0..<3 {
                #expect(try await app.mailHeldBack(to: "alice@acme.test", automatic: true) == nil)
                try await app.recordMailSent(conversation: number, entry: 1, recipients: ["alice@acme.test"], automatic: true)
                clock.advance(by: 60)
            }
            let held = try await app.mailHeldBack(to: "alice@acme.test", automatic: true)
            #expect(held?.contains("3 automatic mails in the last hour") == true)
            // A person's reply is never capped; another address has its own count.
            #expect(try await app.mailHeldBack(to: "alice@acme.test", automatic: false) == nil)
            #expect(try await app.mailHeldBack(to: "bob@acme.test", automatic: true) == nil)
            // An hour after the first, one slot is free again.
            clock.advance(by: 3_600 - 180 + 1)
            #expect(try await app.mailHeldBack(to: "alice@acme.test", automatic: true) == nil)
        }
    }

    @Test("a bad-address bounce holds an address back for 60 days; a full mailbox does not")
    func bouncesHoldBack() async throws {
        try await withApp { app, clock in
            let number = try await Self.opened(app, Self.mail(from: "alice@acme.test", subject: "Hi", id: "a1@x"))
            func bounce(_ recipient: String, status: String) -> [UInt8] {
                Array(("From: MAILER-DAEMON@mx.acme.test\r\nTo: support@acme.test\r\nSubject: Undelivered\r\nMIME-Version: 1.0\r\n" +
                       "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n" +
                       "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.test\r\n\r\n" +
                       "Final-Recipient: rfc822; \(recipient)\r\nAction: failed\r\nStatus: \(status)\r\n" +
                       "--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <parley.conv-\(number).2@acme.test>\r\n--b--\r\n").utf8)
            }
            _ = try await app.receiveMail(bounce("alice@acme.test", status: "5.2.2"), to: "support@acme.test")
            #expect(try await app.mailHeldBack(to: "alice@acme.test", automatic: false) == nil, "a full mailbox is no reason")
            _ = try await app.receiveMail(bounce("alice@acme.test", status: "5.1.1"), to: "support@acme.test")
            #expect(try await app.mailHeldBack(to: "Alice@acme.test", automatic: false)?.contains("held back for 60 days") == true)
            clock.advance(by: 59 * 86_400)
            #expect(try await app.mailHeldBack(to: "alice@acme.test", automatic: false) != nil)
            clock.advance(by: 86_400 + 1)
            #expect(try await app.mailHeldBack(to: "alice@acme.test", automatic: false) == nil)
        }
    }

    @Test("the CC list is kept per conversation: copied addresses join one thread and never another of the same customer")
    func copiesStayOnTheirThread() async throws {
        try await withApp { app, _ in
            let first = try await Self.opened(app, Self.mail(from: "alice@acme.test", subject: "Renewal", id: "r1@x",
                                                             cc: "Carol <Carol@partner.test>, support@acme.test"))
            let second = try await Self.opened(app, Self.mail(from: "alice@acme.test", subject: "Invoice", id: "i1@x"))
            #expect(try await app.store.conversation(number: first)?.emailCC == ["carol@partner.test"])
            #expect(try await app.store.conversation(number: second)?.emailCC == [])
            // Carol answers Alice's first mail: her message joins that conversation, and she becomes a member.
            let reply = try await app.receiveMail(Self.mail(from: "carol@partner.test", subject: "Re: Renewal", id: "c1@y",
                                                            extra: "In-Reply-To: <r1@x>\r\n"), to: "support@acme.test")
            #expect(reply == .appended(conversation: first))
            // The same mail again is stored once; a stranger answering it opens a conversation of their own.
            #expect(try await app.receiveMail(Self.mail(from: "carol@partner.test", subject: "Re: Renewal", id: "c1@y",
                                                        extra: "In-Reply-To: <r1@x>\r\n"), to: "support@acme.test") == .duplicate)
            let stranger = try await app.receiveMail(Self.mail(from: "mallory@evil.test", subject: "Re: Renewal", id: "m1@z",
                                                               extra: "In-Reply-To: <c1@y>\r\n"), to: "support@acme.test")
            if case .opened(let own) = stranger { #expect(own != first) } else { Issue.record("stranger: \(stranger)") }
            // An out-of-office from Alice to the second conversation is on its record, nothing else changes.
            let before = try #require(try await app.store.conversation(number: second))
            let away = try await app.receiveMail(Self.mail(from: "alice@acme.test", subject: "Out of office [CONV-\(second)]", id: "o1@x",
                                                           extra: "Auto-Submitted: auto-replied\r\n"), to: "support@acme.test")
            #expect(away == .ignored("Auto-Submitted: auto-replied, recorded on CONV-\(second)"))
            let after = try #require(try await app.store.conversation(number: second))
            #expect(after.stage == before.stage && after.lastMessage == before.lastMessage)
            let events = try await app.store.events(of: ObjectID(.conversation, second))
            #expect(events.contains { $0.kind == .autoReplyReceived })
            // A mail without a Message-ID, delivered twice (an MTA's retry has the same bytes): stored once.
            let bare = Array("From: dan@acme.test\r\nTo: support@acme.test\r\nSubject: No id\r\n\r\nHello.\r\n".utf8)
            _ = try await Self.opened(app, bare)
            #expect(try await app.receiveMail(bare, to: "support@acme.test") == .duplicate)
        }
    }
}
