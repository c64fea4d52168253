import ParleyMail
import Testing

@Suite("SMTP and LMTP sessions")
struct SMTPSessionTests {
    func send(_ session: inout SMTPSession, _ line: String) -> SMTPSession.Action { session.receive(Array(line.utf8)) }

    @Test("a message is delivered only after DATA's final dot, dot-stuffing undone, with the return path on top")
    func delivery() {
        var s = SMTPSession(mode: .smtp, hostname: "mx.test", maxMessageBytes: 1_000)
        #expect(s.greeting.hasPrefix("220 mx.test"))
        #expect(send(&s, "MAIL FROM:<a@b.test>") == .reply("503 5.5.1 Say EHLO first"))
        #expect(send(&s, "LHLO me") == .reply("500 5.5.1 This is SMTP: say EHLO or HELO"))
        guard case .reply(let ehlo) = send(&s, "EHLO client.test\r") else { Issue.record("EHLO"); return }
        #expect(ehlo.contains("SIZE 1000"))
        #expect(send(&s, "DATA") == .reply("503 5.5.1 No valid recipients"))
        #expect(send(&s, "MAIL FROM:<> SIZE=2000") == .reply("552 5.3.4 Message too large: at most 1000 bytes"))
        #expect(send(&s, "MAIL FROM:<>") == .reply("250 2.1.0 OK"))
        #expect(send(&s, "RCPT TO:<Support@Acme.test>") == .checkRecipient("support@acme.test"))
        #expect(s.recipient("support@acme.test", accepted: true) == .reply("250 2.1.5 OK"))
        #expect(send(&s, "RCPT TO:<nobody@acme.test>") == .checkRecipient("nobody@acme.test"))
        #expect(s.recipient("nobody@acme.test", accepted: false) == .reply("550 5.1.1 <nobody@acme.test>: no such mailbox here"))
        #expect(send(&s, "DATA\r") == .reply("354 End data with <CR><LF>.<CR><LF>"))
        #expect(send(&s, "Subject: hi\r") == .none)
        #expect(send(&s, "\r") == .none)
        #expect(send(&s, "..leading dot\r") == .none)
        #expect(send(&s, ".\r") == .deliver(message: Array("Return-Path: <>\r\nSubject: hi\r\n\r\n.leading dot\r\n".utf8),
                                           recipients: ["support@acme.test"]))
        #expect(s.delivered([("support@acme.test", nil)]) == .reply("250 2.0.0 Stored"))
        // A storage failure is temporary: the sending server keeps the message.
        _ = send(&s, "MAIL FROM:<a@b.test>")
        _ = send(&s, "RCPT TO:<support@acme.test>")
        _ = s.recipient("support@acme.test", accepted: true)
        _ = send(&s, "DATA")
        #expect(send(&s, ".") == .deliver(message: Array("Return-Path: <a@b.test>\r\n".utf8), recipients: ["support@acme.test"]))
        guard case .reply(let failed) = s.delivered([("support@acme.test", "disk full")]) else { Issue.record("reply"); return }
        #expect(failed.hasPrefix("451 "))
        #expect(send(&s, "QUIT") == .replyAndClose("221 2.0.0 mx.test closing"))
    }

    @Test("LMTP answers per recipient; an oversized message is refused after its dot, and the session goes on")
    func lmtpAndLimits() {
        var s = SMTPSession(mode: .lmtp, hostname: "mx.test", maxMessageBytes: 40)
        #expect(send(&s, "EHLO me") == .reply("500 5.5.1 This is LMTP: say LHLO"))
        _ = send(&s, "LHLO me")
        _ = send(&s, "MAIL FROM:<a@b.test>")
        for address in ["one@acme.test", "two@acme.test"] {
            _ = send(&s, "RCPT TO:<\(address)>")
            _ = s.recipient(address, accepted: true)
        }
        _ = send(&s, "DATA")
        #expect(send(&s, "short") == .none)
        guard case .deliver(_, let recipients) = send(&s, ".") else { Issue.record("deliver"); return }
        #expect(recipients == ["one@acme.test", "two@acme.test"])
        #expect(s.delivered([("one@acme.test", nil), ("two@acme.test", "x")])
                == .reply("250 2.0.0 <one@acme.test> stored\r\n451 4.3.0 <two@acme.test> not stored, try again later: x"))
        _ = send(&s, "MAIL FROM:<a@b.test>")
        _ = send(&s, "RCPT TO:<one@acme.test>")
        _ = s.recipient("one@acme.test", accepted: true)
        _ = send(&s, "DATA")
        #expect(send(&s, String(repeating: "x", count: 100)) == .none)
        #expect(send(&s, ".") == .reply("552 5.3.4 Message too large: at most 40 bytes"))
        #expect(send(&s, "NOOP") == .reply("250 2.0.0 OK"))
        #expect(send(&s, String(repeating: "A", count: 5_000)) == .reply("500 5.5.2 Line too long"))
    }
}
