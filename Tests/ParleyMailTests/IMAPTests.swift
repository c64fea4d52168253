import Foundation
import ParleyMail
import Testing

@Suite("IMAP responses, framing, quoting and the polling session")
struct IMAPTests {
    func response(_ text: String) -> IMAPResponse? { IMAPResponse(Array(text.utf8)) }

    // MARK: Responses

    @Test("status, capability, EXISTS and response codes are read")
    func statusResponses() {
        #expect(response("* OK [CAPABILITY IMAP4rev1 IDLE MOVE STARTTLS AUTH=XOAUTH2] Dovecot ready.\r\n")
                == .status(.ok, code: .capability(["IMAP4REV1", "IDLE", "MOVE", "STARTTLS", "AUTH=XOAUTH2"]), text: "Dovecot ready."))
        #expect(response("* CAPABILITY IMAP4rev1 LITERAL+ idle") == .capability(["IMAP4REV1", "LITERAL+", "IDLE"]))
        #expect(response("* 23 EXISTS\r\n") == .exists(23))
        #expect(response("* 4 EXPUNGE") == .expunge(4))
        #expect(response("* 2 RECENT") == .other("RECENT"))
        #expect(response("* OK [UIDVALIDITY 3857529045] UIDs valid") == .status(.ok, code: .uidValidity(3_857_529_045), text: "UIDs valid"))
        #expect(response("* OK [UIDNEXT 4392] Predicted next UID") == .status(.ok, code: .uidNext(4392), text: "Predicted next UID"))
        #expect(response("* FLAGS (\\Answered \\Seen)") == .other("FLAGS"))
        #expect(response("* BYE Logging out") == .status(.bye, code: nil, text: "Logging out"))
        #expect(response("P3 OK [READ-WRITE] SELECT completed") == .tagged(tag: "P3", status: .ok, code: .other("READ-WRITE"), text: "SELECT completed"))
        #expect(response("P4 NO [AUTHENTICATIONFAILED] Authentication failed.")
                == .tagged(tag: "P4", status: .no, code: .other("AUTHENTICATIONFAILED"), text: "Authentication failed."))
        #expect(response("+ idling\r\n") == .continuation("idling"))
        #expect(response("+\r\n") == .continuation(""))
    }

    @Test("FETCH with UID, size, flags and the message as a literal")
    func fetchResponses() {
        let body = "From: a@b.test\r\nSubject: (hi) \"x\"\r\n\r\nA ) line {5}\r\n"
        let text = "* 12 FETCH (UID 34 RFC822.SIZE \(body.utf8.count) FLAGS (\\Seen $Junk) BODY[] {\(body.utf8.count)}\r\n\(body))\r\n"
        #expect(response(text) == .fetch(IMAPFetch(sequence: 12, uid: 34, size: body.utf8.count, flags: ["\\Seen", "$Junk"], message: Array(body.utf8))))
        // Another order, RFC822, a quoted string, NIL and a section with a list in it.
        #expect(response("* 1 FETCH (RFC822 \"tiny \\\"m\\\"\" UID 7)") == .fetch(IMAPFetch(sequence: 1, uid: 7, message: Array("tiny \"m\"".utf8))))
        #expect(response("* 1 FETCH (BODY[HEADER.FIELDS (DATE FROM)] NIL UID 9 BODY[]<0> {2}\r\nab)")
                == .fetch(IMAPFetch(sequence: 1, uid: 9, message: Array("ab".utf8))))
        #expect(response("* 5 FETCH (FLAGS ())") == .fetch(IMAPFetch(sequence: 5, flags: [])))
    }

    @Test("garbage is no response and never a crash")
    func garbage() {
        for text in ["", "\r\n", "*", "* ", "P1", "P1 MAYBE done", "* 3", "* 3 FETCH", "* 3 FETCH (UID", "* 3 FETCH (UID x)",
                     "* 3 FETCH (UID 99999999999)", "* 3 FETCH (BODY[] {999}\r\nshort)", "* 3 FETCH (BODY[] {-1}\r\n)",
                     "* 3 FETCH (BODY[] {5}x)", "* 3 FETCH (\"unterminated", "* 3 FETCH )", "* -1 EXISTS",
                     "* OK [UIDVALIDITY", "* OK [UIDVALIDITY x] y", String(repeating: "(", count: 10_000),
                     "* 1 FETCH " + String(repeating: "(", count: 10_000) + String(repeating: ")", count: 10_000)] {
            _ = response(text)
        }
        #expect(response("* 3 FETCH (UID 99999999999)") == nil)
        #expect(response("* 1 FETCH " + String(repeating: "(", count: 100)) == nil)
        #expect(response("P1 MAYBE done") == nil)
        #expect(response("* OK [UIDVALIDITY x] y") == .status(.ok, code: .other("UIDVALIDITY x"), text: "y"))
        // Random bytes, many times over.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0..<80, using: &generator)).map { _ in
                [UInt8(ascii: "*"), UInt8(ascii: " "), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "{"), UInt8(ascii: "}"),
                 UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "["), UInt8(ascii: "]"), 0x0D, 0x0A, UInt8(ascii: "1"),
                 UInt8(ascii: "U"), 0xFF].randomElement(using: &generator)!
            }
            _ = IMAPResponse(bytes)
            _ = try? IMAPFraming(maxLiteral: 100).responseLength(in: bytes)
        }
    }

    // MARK: Framing

    @Test("a response ends at its line's CRLF, or after its literals and the line that follows them")
    func framing() throws {
        let framing = IMAPFraming(maxLine: 100, maxLiteral: 1_000)
        #expect(try framing.responseLength(in: Array("* 3 EXISTS\r\n* 4".utf8)) == 12)
        #expect(try framing.responseLength(in: Array("* 3 EXIS".utf8)) == nil)
        let fetch = Array("* 1 FETCH (UID 2 BODY[] {5}\r\nab\r\nc {3}\r\nxyz)\r\nP1 OK\r\n".utf8)
        #expect(try framing.responseLength(in: fetch) == fetch.count - 7)
        // Incomplete: inside a literal, and just after it.
        #expect(try framing.responseLength(in: Array(fetch.prefix(32))) == nil)
        #expect(try framing.responseLength(in: Array("* 1 FETCH (BODY[] {2}\r\nab".utf8)) == nil)
        #expect(try framing.responseLength(in: Array("* 1 FETCH (BODY[] {0}\r\n)\r\n".utf8)) == 26)
    }

    @Test("huge literals and endless lines are refused before anything is buffered")
    func framingBounds() {
        let framing = IMAPFraming(maxLine: 100, maxLiteral: 1_000)
        #expect(throws: IMAPFraming.Failure.literalTooLarge(1_000)) { try framing.responseLength(in: Array("* 1 FETCH (BODY[] {1001}\r\n".utf8)) }
        #expect(throws: IMAPFraming.Failure.literalTooLarge(1_000)) {
            try framing.responseLength(in: Array("* 1 FETCH (BODY[] {99999999999999999999999999}\r\n".utf8))
        }
        // Many literals in one response add up.
        let many = "* 1 FETCH (A {600}\r\n" + String(repeating: "x", count: 600) + " B {600}\r\n"
        #expect(throws: IMAPFraming.Failure.literalTooLarge(1_000)) { try framing.responseLength(in: Array(many.utf8)) }
        #expect(throws: IMAPFraming.Failure.lineTooLong(100)) { try framing.responseLength(in: Array(String(repeating: "a", count: 101).utf8)) }
        #expect(throws: IMAPFraming.Failure.lineTooLong(100)) {
            try framing.responseLength(in: Array((String(repeating: "a", count: 150) + "\r\n").utf8))
        }
    }

    // MARK: Quoting, URLs, checkpoints

    @Test("LOGIN's strings are quoted, folder names in modified UTF-7, XOAUTH2 as Google documents it")
    func quoting() {
        #expect(IMAPQuoting.quoted("pa\"ss\\word") == "\"pa\\\"ss\\\\word\"")
        #expect(IMAPQuoting.quoted("line\r\nbreak") == nil)
        #expect(IMAPQuoting.quoted("nul\u{0}") == nil)
        #expect(IMAPQuoting.mailboxName("INBOX") == "\"INBOX\"")
        #expect(IMAPQuoting.mailboxName("Entwürfe") == "\"Entw&APw-rfe\"")
        #expect(IMAPQuoting.mailboxName("A&B") == "\"A&-B\"")
        #expect(IMAPQuoting.mailboxName("台北") == "\"&U,BTFw-\"")
        // RFC example from Google's XOAUTH2 documentation.
        #expect(IMAPQuoting.xoauth2(user: "someuser@example.com", token: "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
                == "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==")
    }

    @Test("the imap URL: TLS, port, folder, XOAUTH2, processed folder; described without secrets")
    func accounts() throws {
        let account = try #require(IMAPAccount("imaps://support%40acme.test:p%40ss%3Aw@imap.acme.test/Support%20Mail?processed=Parley"))
        #expect(account.host == "imap.acme.test" && account.port == 993 && account.implicitTLS)
        #expect(account.user == "support@acme.test" && account.secret == "p@ss:w")
        #expect(account.folder == "Support Mail" && account.processedFolder == "Parley" && account.authentication == .login)
        #expect(account.description == "imaps://imap.acme.test:993/Support Mail")
        let plain = try #require(IMAPAccount("imap://u:token@127.0.0.1:1143?auth=XOAUTH2"))
        #expect(plain.port == 1143 && !plain.implicitTLS && plain.folder == "INBOX" && plain.authentication == .xoauth2)
        #expect(!plain.description.contains("token") && !plain.description.contains("u@"))
        #expect(IMAPAccount("imap://host/INBOX") == nil)          // no user
        #expect(IMAPAccount("smtp://u:p@host") == nil)
        #expect(IMAPAccount("imap://u:p@host?auth=cram") == nil)
        #expect(IMAPAccount("imap://u:p@host?procesed=X") == nil)  // a typo is not silently ignored
        #expect(IMAPCheckpoint("3857529045:17") == IMAPCheckpoint(uidValidity: 3_857_529_045, lastUID: 17))
        #expect(IMAPCheckpoint("x:1") == nil && IMAPCheckpoint("1") == nil && IMAPCheckpoint("1:-2") == nil)
        #expect(IMAPCheckpoint(uidValidity: 5, lastUID: 9).description == "5:9")
    }

    // MARK: The session

    /// Plays a server: feeds responses and returns what the session does.
    struct Script {
        var session: IMAPSession
        var now = 0.0

        init(_ url: String, checkpoint: IMAPCheckpoint? = nil, maxBytes: Int = 10_000, poll: Double = 30) {
            session = IMAPSession(.init(account: IMAPAccount(url)!, checkpoint: checkpoint, maxMessageBytes: maxBytes, pollInterval: poll), now: 0)
        }

        mutating func server(_ lines: String...) -> [IMAPSession.Action] {
            lines.flatMap { session.receive(IMAPResponse(Array($0.utf8))!, now: now) }
        }
    }

    static func sent(_ actions: [IMAPSession.Action]) -> [String] {
        actions.compactMap { if case .send(let command) = $0 { command.line } else { nil } }
    }

    @Test("sign-in, SELECT, new mail fetched one by one, flagged only after delivery, then IDLE")
    func session() {
        var s = Script("imap://support:se\"cret@127.0.0.1:1143/INBOX")
        var actions = s.server("* OK [CAPABILITY IMAP4rev1 IDLE] ready")
        #expect(Self.sent(actions) == ["P1 LOGIN \"support\" \"se\\\"cret\""])
        guard case .send(let login) = actions[0] else { return }
        #expect(!login.logged.contains("cret") && login.logged.contains("password not shown"))
        actions = s.server("P1 OK Logged in")
        #expect(Self.sent(actions) == ["P2 CAPABILITY"])
        actions = s.server("* CAPABILITY IMAP4rev1 IDLE MOVE UIDPLUS", "P2 OK done")
        #expect(Self.sent(actions) == ["P3 SELECT \"INBOX\""])
        actions = s.server("* 2 EXISTS", "* OK [UIDVALIDITY 77] ok", "* OK [UIDNEXT 3] ok", "P3 OK [READ-WRITE] selected")
        #expect(actions.first == .selected(exists: 2, uidValidity: 77))
        #expect(Self.sent(actions) == ["P4 UID FETCH 1:* (UID RFC822.SIZE FLAGS)"])
        // A first look: the message already read is passed over, the unread one fetched.
        actions = s.server("* 1 FETCH (UID 1 RFC822.SIZE 10 FLAGS (\\Seen))", "* 2 FETCH (UID 2 RFC822.SIZE 10 FLAGS ())", "P4 OK")
        #expect(Self.sent(actions) == ["P5 UID FETCH 2 (UID BODY.PEEK[])"])
        actions = s.server("* 2 FETCH (UID 2 BODY[] {5}\r\nhello)", "P5 OK")
        #expect(actions == [.deliver(uid: 2, message: Array("hello".utf8))])
        // Nothing is flagged before the delivery is done.
        #expect(s.session.tick(now: 5) == [])
        actions = s.session.delivered(uid: 2, now: 6)
        #expect(Self.sent(actions) == ["P6 UID STORE 2 +FLAGS.SILENT (\\Seen)"])
        actions = s.server("P6 OK")
        #expect(actions.first == .checkpoint(IMAPCheckpoint(uidValidity: 77, lastUID: 2)))
        #expect(Self.sent(actions) == ["P7 IDLE"])
        #expect(s.server("+ idling") == [.idling])
        // New mail while idle: DONE, then a round from the checkpoint.
        actions = s.server("* 3 EXISTS")
        #expect(Self.sent(actions) == ["DONE"])
        #expect(Self.sent(s.server("P7 OK Idle completed")) == ["P8 UID FETCH 3:* (UID RFC822.SIZE FLAGS)"])
        // `3:*` answers with UID 2 when no higher one exists: not new.
        actions = s.server("* 2 FETCH (UID 2 RFC822.SIZE 10 FLAGS (\\Seen))", "P8 OK")
        #expect(Self.sent(actions) == ["P9 IDLE"])
        _ = s.server("+ idling")
        // IDLE is renewed before 29 minutes.
        #expect(s.session.tick(now: 60) == [])
        #expect(Self.sent(s.session.tick(now: 25 * 60 + 10)) == ["DONE"])
        #expect(Self.sent(s.server("P9 OK")) == ["P10 UID FETCH 3:* (UID RFC822.SIZE FLAGS)"])
        _ = s.server("P10 OK")
        _ = s.server("+ idling")
        // Stopping (the lease is lost, the server stops): DONE, then LOGOUT.
        #expect(Self.sent(s.session.stop(now: 2_000)) == ["DONE"])
        #expect(Self.sent(s.server("P11 OK")) == ["P12 LOGOUT"])
        #expect(s.server("* BYE bye", "P12 OK") == [.close])
    }

    @Test("STARTTLS when offered, XOAUTH2 with and without SASL-IR, a moved message, polling without IDLE")
    func startTLSAndMove() {
        var s = Script("imap://me%40gmail.test:ya29.token@127.0.0.1:143/INBOX?auth=xoauth2&processed=Parley",
                       checkpoint: IMAPCheckpoint(uidValidity: 9, lastUID: 4), poll: 30)
        #expect(Self.sent(s.server("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi")) == ["P1 STARTTLS"])
        #expect(s.server("P1 OK Begin TLS") == [.startTLS])
        #expect(Self.sent(s.session.tlsStarted(now: 1)) == ["P2 CAPABILITY"])
        var actions = s.server("* CAPABILITY IMAP4rev1 AUTH=XOAUTH2", "P2 OK")
        #expect(Self.sent(actions) == ["P3 AUTHENTICATE XOAUTH2"])
        actions = s.server("+ ")
        #expect(Self.sent(actions) == [IMAPQuoting.xoauth2(user: "me@gmail.test", token: "ya29.token")])
        guard case .send(let token) = actions[0] else { return }
        #expect(!token.logged.contains("ya29"))
        #expect(Self.sent(s.server("P3 OK [CAPABILITY IMAP4rev1 UIDPLUS] signed in")) == ["P4 CREATE \"Parley\""])
        #expect(Self.sent(s.server("P4 NO [ALREADYEXISTS] exists")) == ["P5 SELECT \"INBOX\""])
        _ = s.server("* 6 EXISTS", "* OK [UIDVALIDITY 9] ok")
        #expect(Self.sent(s.server("P5 OK")).last == "P6 UID FETCH 5:* (UID RFC822.SIZE FLAGS)")
        // The checkpoint's UIDVALIDITY holds: a message read by a person is still taken.
        #expect(Self.sent(s.server("* 6 FETCH (UID 6 RFC822.SIZE 5 FLAGS (\\Seen))", "P6 OK")) == ["P7 UID FETCH 6 (UID BODY.PEEK[])"])
        #expect(s.server("* 6 FETCH (UID 6 BODY[] {5}\r\nhello)", "P7 OK") == [.deliver(uid: 6, message: Array("hello".utf8))])
        _ = s.session.delivered(uid: 6, now: 2)
        // No MOVE: COPY, \Deleted, UID EXPUNGE (UIDPLUS).
        #expect(Self.sent(s.server("P8 OK")) == ["P9 UID COPY 6 \"Parley\""])
        #expect(Self.sent(s.server("P9 OK")) == ["P10 UID STORE 6 +FLAGS.SILENT (\\Deleted)"])
        #expect(Self.sent(s.server("P10 OK")) == ["P11 UID EXPUNGE 6"])
        actions = s.server("* 6 EXPUNGE", "P11 OK")
        #expect(actions == [.checkpoint(IMAPCheckpoint(uidValidity: 9, lastUID: 6))])
        // No IDLE: the next round after the poll interval.
        #expect(s.session.tick(now: 20) == [])
        #expect(Self.sent(s.session.tick(now: 33)) == ["P12 UID FETCH 7:* (UID RFC822.SIZE FLAGS)"])
        // SASL-IR sends the token with the command; a failure's challenge is answered empty, then NO.
        var ir = Script("imaps://me:tok@h?auth=xoauth2")
        #expect(Self.sent(ir.server("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] hi")).first?.hasPrefix("P1 AUTHENTICATE XOAUTH2 dXNlcj1tZQ") == true)
        #expect(Self.sent(ir.server("+ eyJzdGF0dXMiOiI0MDEifQ==")) == [""])
        #expect(ir.server("P1 NO [AUTHENTICATIONFAILED] Invalid credentials") == [.fail("sign-in refused for me: Invalid credentials")])
    }

    @Test("a changed UIDVALIDITY looks again from the start; large messages are passed over; failures end the session")
    func validityAndFailures() {
        var s = Script("imaps://u:p@h", checkpoint: IMAPCheckpoint(uidValidity: 1, lastUID: 50), maxBytes: 100)
        _ = s.server("* OK [CAPABILITY IMAP4rev1 IDLE] hi", "P1 OK [CAPABILITY IMAP4rev1 IDLE] in")
        _ = s.server("* 3 EXISTS", "* OK [UIDVALIDITY 2] new")
        #expect(Self.sent(s.server("P2 OK")) == ["P3 UID FETCH 1:* (UID RFC822.SIZE FLAGS)"])
        let actions = s.server("* 1 FETCH (UID 1 RFC822.SIZE 5000 FLAGS ())", "* 2 FETCH (UID 2 RFC822.SIZE 50 FLAGS (\\Seen))",
                               "* 3 FETCH (UID 3 RFC822.SIZE 50 FLAGS ())", "P3 OK")
        #expect(actions.first == .passedOver(uid: 1, reason: "5000 bytes, over the limit of 100: left unread for a person"))
        #expect(Self.sent(actions) == ["P4 UID FETCH 3 (UID BODY.PEEK[])"])
        // The message vanished (expunged by a person meanwhile): passed over, checkpoint kept.
        let gone = s.server("P4 OK")
        #expect(gone.prefix(2) == [.passedOver(uid: 3, reason: "gone before it was read"), .checkpoint(IMAPCheckpoint(uidValidity: 2, lastUID: 3))])
        // Wrong password, a bad greeting, an unknown tag, an unanswered command, BYE.
        var wrong = Script("imap://u:p@h")
        _ = wrong.server("* OK [CAPABILITY IMAP4rev1] hi")
        #expect(wrong.server("P1 NO [AUTHENTICATIONFAILED] Authentication failed.") == [.fail("sign-in refused for u: Authentication failed.")])
        var notIMAP = Script("imap://u:p@h")
        #expect(notIMAP.server("+ what") == [.fail("not an IMAP server (no greeting)")])
        var stranger = Script("imap://u:p@h")
        _ = stranger.server("* OK [CAPABILITY IMAP4rev1] hi")
        #expect(stranger.server("Z9 OK") == [.fail("an answer to a command never sent (Z9)")])
        #expect(stranger.session.tick(now: 119) == [])
        #expect(stranger.session.tick(now: 121) == [.fail("no answer to sign-in within 120 s")])
        var silent = Script("imap://u:p@h")
        #expect(silent.session.tick(now: 121) == [.fail("no greeting within 120 s")])
        var bye = Script("imap://u:p@h")
        _ = bye.server("* OK [CAPABILITY IMAP4rev1] hi")
        #expect(bye.server("* BYE shutting down") == [.fail("the server ended the session: shutting down")])
        var disabled = Script("imap://u:p@h")
        #expect(disabled.server("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] hi").first.map { if case .fail = $0 { true } else { false } } == true)
        var unexpected = Script("imap://u:p@h")
        _ = unexpected.server("* OK [CAPABILITY IMAP4rev1] hi")
        #expect(unexpected.server("+ go on") == [.fail("the server waits for input the session never announced")])
    }

    @Test("an empty folder is not fetched; a delivery never asked for is refused")
    func emptyFolder() {
        var s = Script("imaps://u:p@h", poll: 5)
        _ = s.server("* OK [CAPABILITY IMAP4rev1] hi", "P1 OK [CAPABILITY IMAP4rev1] in", "* 0 EXISTS", "* OK [UIDVALIDITY 4] v")
        #expect(s.server("P2 OK") == [.selected(exists: 0, uidValidity: 4), .checkpoint(IMAPCheckpoint(uidValidity: 4, lastUID: 0))])
        #expect(s.session.delivered(uid: 1, now: 1) == [.fail("a delivery the session did not ask for (UID 1)")])
        #expect(Self.sent(s.session.tick(now: 6)) == [])  // exists is still 0: nothing to list, wait again
        #expect(Self.sent(s.session.stop(now: 7)) == ["P3 LOGOUT"])
    }
}
