import Foundation
import ParleyMail
import Testing

func mail(_ text: String) -> InboundMail { InboundMail(Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8)) }

@Suite("Reading mail")
struct InboundMailTests {
    @Test("a plain message: sender, subject, ids, text")
    func plain() {
        let m = mail("""
        From: "Alice Liddell" <Alice@Example.TEST>
        To: Acme Support <support@acme.test>
        Subject: Export fails
        Message-ID: <abc.123@example.test>
        Date: Wed, 02 Dec 2026 10:00:00 +0000

        Exports over 10k rows time out.
        """)
        #expect(m.from == InboundMail.Address(name: "Alice Liddell", email: "alice@example.test"))
        #expect(m.to.map(\.email) == ["support@acme.test"])
        #expect(m.subject == "Export fails")
        #expect(m.messageID == "abc.123@example.test")
        #expect(m.reply == "Exports over 10k rows time out.")
        #expect(m.automatic == nil && !m.isBounce)
    }

    @Test("RFC 2047 encoded words, folded headers, quoted-printable and a legacy charset")
    func encodings() {
        let m = mail("""
        From: =?ISO-8859-1?Q?Ren=E9e_M=FCller?= <renee@example.test>
        Subject: =?UTF-8?B?w4ljaGVj?= de
         =?UTF-8?Q?l=E2=80=99export?=
        Content-Type: text/plain; charset=windows-1252
        Content-Transfer-Encoding: quoted-printable

        L=92export =E9choue =
        toujours.
        """)
        #expect(m.from?.name == "Renée Müller")
        #expect(m.subject == "Échec de l’export")
        #expect(m.reply == "L’export échoue toujours.")
    }

    @Test("multipart/alternative prefers the text part; HTML alone becomes text without its script; attachments by RFC 2231 names")
    func multipart() {
        let alternative = mail("""
        From: bob@example.test
        Subject: Hi
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="outer"

        preamble
        --outer
        Content-Type: multipart/alternative; boundary=inner

        --inner
        Content-Type: text/plain; charset=utf-8

        The plain text.
        --inner
        Content-Type: text/html; charset=utf-8

        <p>The <b>HTML</b> text.</p>
        --inner--
        --outer
        Content-Type: application/pdf
        Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf
        Content-Transfer-Encoding: base64

        JVBERi0xLjQK
        --outer--
        epilogue
        """)
        #expect(alternative.reply == "The plain text.")
        #expect(alternative.files.map(\.name) == ["résumé.pdf"])
        #expect(alternative.files.first?.content == Array("%PDF-1.4\n".utf8))
        let html = mail("""
        From: carol@example.test
        Subject: Hi
        Content-Type: text/html

        <html><head><style>p{color:red}</style></head><body><p>Line one &amp; more</p><script>alert(1)</script><div>Line&nbsp;two</div></body></html>
        """)
        #expect(html.reply == "Line one & more\n\nLine two")
    }

    @Test("quoted history and signatures are folded away; the whole text is kept")
    func quotedHistory() {
        let m = mail("""
        From: alice@example.test
        Subject: Re: Export fails [CONV-42]
        In-Reply-To: <parley.conv-42.7@acme.test>
        References: <first@example.test> <parley.conv-42.7@acme.test>

        Still failing, sorry.

        On Tue, Dec 1, 2026 at 9:00 AM Maya <support@acme.test> wrote:
        > Fixed in today's release.
        > Maya
        """)
        #expect(m.reply == "Still failing, sorry.")
        #expect(m.fullText.contains("Fixed in today's release."))
        #expect(m.subjectTag == 42)
        #expect(m.cleanSubject == "Export fails")
        #expect(m.answers == ["parley.conv-42.7@acme.test", "parley.conv-42.7@acme.test", "first@example.test"])
        let signed = mail("From: a@example.test\nSubject: x\n\nThanks!\n-- \nAlice, Example Corp\n+1 555 0100")
        #expect(signed.reply == "Thanks!")
    }

    /// The headers peers learnt to check, each a regression of theirs (docs/email.md): out-of-office replies
    /// (osTicket #1041), list mail, bounces and postmaster mail (Zammad #4941), Parley's own mail read back.
    @Test("mail sent by machines is recognised (RFC 3834), so that it never opens, reopens or gets an answer")
    func automatic() {
        let cases: [(String, String)] = [
            ("Auto-Submitted: auto-replied", "Auto-Submitted: auto-replied"),
            ("Auto-Submitted: auto-generated; owner-email=x@y", "Auto-Submitted: auto-generated"),
            ("Precedence: bulk", "Precedence: bulk"),
            ("Precedence: junk", "Precedence: junk"),
            ("List-Id: <users.lists.example.test>", "a mailing list"),
            ("Return-Path: <>", "an empty return path"),
            ("X-Parley-Loop: acme.test", "Parley's own mail"),
        ]
        for (header, reason) in cases {
            #expect(mail("From: alice@example.test\n\(header)\nSubject: Out of office\n\nAway").automatic == reason, "\(header)")
        }
        #expect(mail("From: MAILER-DAEMON@mx.example.test\nSubject: failure\n\nx").automatic == "sent by mailer-daemon")
        #expect(mail("From: alice@example.test\nAuto-Submitted: no\nSubject: hi\n\nx").automatic == nil)
        let bounce = mail("""
        From: postmaster@mx.example.test
        Subject: Undelivered Mail Returned to Sender
        Content-Type: multipart/report; report-type=delivery-status; boundary="b"

        --b
        Content-Type: text/plain

        The mail could not be delivered.
        --b
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.example.test

        Final-Recipient: rfc822; Gone@example.test
        Action: failed
        Status: 5.1.1
        Diagnostic-Code: smtp; 550 5.1.1 user unknown
        --b
        Content-Type: text/rfc822-headers

        From: Acme Support <support@acme.test>
        Message-ID: <parley.conv-42.7@acme.test>
        Subject: Re: Export fails [CONV-42]
        --b--
        """)
        #expect(bounce.isBounce)
        #expect(bounce.automatic == "a delivery status notification")
        #expect(bounce.bouncedMessageID == "parley.conv-42.7@acme.test")
        #expect(bounce.bouncedRecipients == ["gone@example.test"])
        #expect(bounce.bounceStatus == "5.1.1 smtp; 550 5.1.1 user unknown")
    }

    @Test("hostile input: no boundary, an unterminated part, deep nesting, binary bytes; nothing crashes")
    func hostile() {
        _ = mail("Content-Type: multipart/mixed\n\nno boundary")
        _ = mail("Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nnever closed")
        var nested = "Subject: deep\n"
        for level in 0..<200 { nested += "Content-Type: multipart/mixed; boundary=b\(level)\n\n--b\(level)\n" }
        _ = mail(nested)
        _ = InboundMail((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        _ = InboundMail([])
    }
}
