import Foundation

/// One IMAP4rev1 (RFC 3501) client session polling a folder, as a state machine in the manner of
/// swift-nio's: the connection feeds it the server's responses, the end of STARTTLS, the end of each
/// delivery and clock ticks, and it answers with actions (send a command, start TLS, deliver a message,
/// store a checkpoint, close); it does no I/O and reads no clock (times are seconds on any monotonic clock).
///
/// The session: greeting, CAPABILITY, STARTTLS when the server offers it on a plain connection, LOGIN or
/// AUTHENTICATE XOAUTH2, CREATE of the processed folder (when moving), SELECT, then rounds of
/// `UID FETCH last+1:* (UID RFC822.SIZE FLAGS)`; each new message is fetched alone with
/// `UID FETCH uid (UID BODY.PEEK[])` (so it stays unread until stored), delivered, and only once delivered
/// flagged `\Seen` (and moved), then the checkpoint advances past it. Between rounds it IDLEs when the server
/// can (DONE on new mail, and every `idleRestart` seconds), else waits `pollInterval` seconds.
///
/// Which messages are new: those above the checkpoint's UID under the same UIDVALIDITY. With no checkpoint,
/// or a UIDVALIDITY that changed, every message is looked at again, except those already `\Seen` (read by a
/// person before Parley polled the folder, or flagged by Parley before the folder was rebuilt); what is taken
/// again is stored once anyway, by its Message-ID.
public struct IMAPSession: Sendable {
    public struct Configuration: Sendable {
        public var account: IMAPAccount
        /// Where the last session got to (the store's setting), if anywhere.
        public var checkpoint: IMAPCheckpoint?
        /// Larger messages are passed over (left unread in the folder, for a person).
        public var maxMessageBytes: Int
        /// Seconds between rounds when the server cannot IDLE.
        public var pollInterval: Double
        /// IDLE is ended and begun again after this many seconds (RFC 2177 asks for less than 29 minutes).
        public var idleRestart: Double = 25 * 60
        /// Seconds a command (or the greeting) may go unanswered before the session fails.
        public var commandTimeout: Double = 120

        public init(account: IMAPAccount, checkpoint: IMAPCheckpoint?, maxMessageBytes: Int, pollInterval: Double) {
            self.account = account
            self.checkpoint = checkpoint
            self.maxMessageBytes = maxMessageBytes
            self.pollInterval = pollInterval
        }
    }

    /// A command line as sent (without CRLF), and as it may be logged (no password, no token).
    public struct Command: Sendable, Equatable, CustomStringConvertible {
        public var line: String
        public var logged: String
        public var description: String { logged }
    }

    public enum Action: Sendable, Equatable {
        case send(Command)
        /// Put TLS on the connection, then call `tlsStarted(now:)`.
        case startTLS
        /// Store the message, then call `delivered(uid:now:)`; if storing fails, end the session (the
        /// message stays unread above the checkpoint and is taken again next time).
        case deliver(uid: UInt32, message: [UInt8])
        /// Keep this checkpoint (the store's setting).
        case checkpoint(IMAPCheckpoint)
        /// The folder is open: the session got through sign-in.
        case selected(exists: Int, uidValidity: UInt32)
        /// A message not taken in, and why (for the log).
        case passedOver(uid: UInt32, reason: String)
        case idling
        case warning(String)
        /// End the connection: the session failed (why, for the log; never a secret).
        case fail(String)
        /// End the connection: the session is over (after LOGOUT).
        case close
    }

    enum Step: Sendable, Equatable {
        case capability, startTLS, authenticate, create, select, list, fetch(UInt32), flag(UInt32), move(UInt32), copy(UInt32),
             delete(UInt32), expunge(UInt32), idle, logout
    }

    struct Listed: Sendable, Equatable {
        var uid: UInt32
        var size: Int?
        var seen: Bool
    }

    public let configuration: Configuration
    var account: IMAPAccount { configuration.account }
    public private(set) var capabilities: Set<String> = []
    public private(set) var checkpoint: IMAPCheckpoint?
    var greeted = false
    var secure: Bool
    var authenticated = false
    var tagNumber = 0
    var inFlight: (tag: String, step: Step)?
    var sentAt: Double
    var initialResponseSent = false
    var uidValidity: UInt32?
    var exists = 0
    /// Whether messages already `\Seen` are taken (false on a first look and after UIDVALIDITY changed).
    var takesSeen = true
    var listing: [Listed] = []
    var queue: [Listed] = []
    var fetched: [UInt8]?
    var awaitingDelivery: UInt32?
    var checkpointChanged = false
    var idleSince: Double?
    var doneSentAt: Double?
    var nextRound: Double?
    var stopping = false

    public init(_ configuration: Configuration, now: Double) {
        self.configuration = configuration
        checkpoint = configuration.checkpoint
        secure = configuration.account.implicitTLS
        sentAt = now
    }

    // MARK: Events

    /// A response from the server (`IMAPResponse`).
    public mutating func receive(_ response: IMAPResponse, now: Double) -> [Action] {
        guard greeted else { return greeting(response, now: now) }
        switch response {
        case .capability(let list):
            capabilities = Set(list)
        case .status(let status, let code, let text):
            switch code {
            case .capability(let list)?: capabilities = Set(list)
            case .uidValidity(let value)?: uidValidity = value
            default: break
            }
            if status == .bye && inFlight?.step != .logout {
                return [.fail("the server ended the session: \(Self.clipped(text))")]
            }
        case .exists(let count):
            exists = count
            if inFlight?.step == .idle, idleSince != nil, doneSentAt == nil { return [done(now: now)] }
        case .expunge:
            exists = max(0, exists - 1)
        case .fetch(let fetch):
            guard let uid = fetch.uid else { break }
            switch inFlight?.step {
            case .list?:
                listing.append(Listed(uid: uid, size: fetch.size, seen: fetch.flags?.contains { $0.lowercased() == "\\seen" } ?? false))
            case .fetch(let wanted)? where wanted == uid:
                if let message = fetch.message { fetched = message }
            default:
                break
            }
        case .continuation:
            return continuation(now: now)
        case .tagged(let tag, let status, let code, let text):
            guard let current = inFlight, current.tag == tag else { return [.fail("an answer to a command never sent (\(Self.clipped(tag)))")] }
            inFlight = nil
            if case .capability(let list)? = code { capabilities = Set(list) }
            return completed(current.step, status: status, text: text, hadCapabilities: code.map { if case .capability = $0 { true } else { false } } ?? false,
                             now: now)
        case .other:
            break
        }
        return []
    }

    /// TLS is on (after `startTLS`): what the server offered before is forgotten (RFC 3501 §6.2.1).
    public mutating func tlsStarted(now: Double) -> [Action] {
        secure = true
        capabilities = []
        return [send("CAPABILITY", .capability, now: now)]
    }

    /// The message `uid` is stored (after `deliver`): flag it `\Seen`, then move it or go on.
    public mutating func delivered(uid: UInt32, now: Double) -> [Action] {
        guard awaitingDelivery == uid else { return [.fail("a delivery the session did not ask for (UID \(uid))")] }
        awaitingDelivery = nil
        return [send("UID STORE \(uid) +FLAGS.SILENT (\\Seen)", .flag(uid), now: now)]
    }

    /// Time passes: ends IDLE when due, starts a polling round when due, fails a command unanswered too long.
    public mutating func tick(now: Double) -> [Action] {
        if !greeted {
            return now - sentAt > configuration.commandTimeout ? [.fail("no greeting within \(Int(configuration.commandTimeout)) s")] : []
        }
        if let current = inFlight {
            if current.step == .idle {
                if let done = doneSentAt {
                    if now - done > configuration.commandTimeout { return [.fail("IDLE not ended within \(Int(configuration.commandTimeout)) s")] }
                } else if let since = idleSince, now - since >= configuration.idleRestart {
                    return [self.done(now: now)]
                } else if idleSince == nil, now - sentAt > configuration.commandTimeout {
                    return [.fail("IDLE not accepted within \(Int(configuration.commandTimeout)) s")]
                }
                return []
            }
            if now - sentAt > configuration.commandTimeout {
                return [.fail("no answer to \(Self.name(current.step)) within \(Int(configuration.commandTimeout)) s")]
            }
            return []
        }
        if awaitingDelivery == nil, let next = nextRound, now >= next {
            nextRound = nil
            return stopping ? logout(now: now) : round(now: now)
        }
        return []
    }

    /// Ends the session as soon as it can (after the command in flight; IDLE is ended at once).
    public mutating func stop(now: Double) -> [Action] {
        stopping = true
        if inFlight?.step == .idle {
            return idleSince != nil && doneSentAt == nil ? [done(now: now)] : []
        }
        if inFlight == nil, awaitingDelivery == nil, greeted { return logout(now: now) }
        if !greeted { return [.close] }
        return []
    }

    // MARK: Steps

    mutating func greeting(_ response: IMAPResponse, now: Double) -> [Action] {
        guard case .status(let status, let code, let text) = response else { return [.fail("not an IMAP server (no greeting)")] }
        greeted = true
        if case .capability(let list)? = code { capabilities = Set(list) }
        switch status {
        case .ok:
            return capabilities.isEmpty ? [send("CAPABILITY", .capability, now: now)] : afterCapabilities(now: now)
        case .preauth:
            authenticated = true
            return capabilities.isEmpty ? [send("CAPABILITY", .capability, now: now)] : afterCapabilities(now: now)
        default:
            return [.fail("the server refused the connection: \(Self.clipped(text))")]
        }
    }

    mutating func afterCapabilities(now: Double) -> [Action] {
        if !secure && capabilities.contains("STARTTLS") && !authenticated {
            return [send("STARTTLS", .startTLS, now: now)]
        }
        guard authenticated else { return authenticate(now: now) }
        if let processed = account.processedFolder, let name = IMAPQuoting.mailboxName(processed) {
            return [send("CREATE \(name)", .create, now: now)]
        }
        return select(now: now)
    }

    mutating func authenticate(now: Double) -> [Action] {
        initialResponseSent = false
        switch account.authentication {
        case .xoauth2:
            if capabilities.contains("SASL-IR") {
                initialResponseSent = true
                let secret = IMAPQuoting.xoauth2(user: account.user, token: account.secret)
                return [send("AUTHENTICATE XOAUTH2 \(secret)", .authenticate, logged: "AUTHENTICATE XOAUTH2 (token not shown)", now: now)]
            }
            return [send("AUTHENTICATE XOAUTH2", .authenticate, now: now)]
        case .login:
            if capabilities.contains("LOGINDISABLED") {
                return [.fail("the server refuses LOGIN on this connection (LOGINDISABLED): use imaps:// or a server that offers STARTTLS")]
            }
            guard let user = IMAPQuoting.quoted(account.user), let password = IMAPQuoting.quoted(account.secret) else {
                return [.fail("the user or password holds a line break, which LOGIN cannot carry")]
            }
            return [send("LOGIN \(user) \(password)", .authenticate, logged: "LOGIN \(user) (password not shown)", now: now)]
        }
    }

    mutating func continuation(now: Double) -> [Action] {
        switch inFlight?.step {
        case .idle?:
            if idleSince == nil, doneSentAt == nil {
                idleSince = now
                if stopping { return [done(now: now)] }
                return [.idling]
            }
            return []
        case .authenticate? where account.authentication == .xoauth2:
            // The initial response if not sent with the command; after a failure, XOAUTH2 sends its error as
            // a challenge, answered with an empty line (the tagged NO follows).
            if initialResponseSent { return [.send(Command(line: "", logged: "(empty XOAUTH2 answer)"))] }
            initialResponseSent = true
            return [.send(Command(line: IMAPQuoting.xoauth2(user: account.user, token: account.secret), logged: "(XOAUTH2 token not shown)"))]
        default:
            return [.fail("the server waits for input the session never announced")]
        }
    }

    mutating func select(now: Double) -> [Action] {
        guard let name = IMAPQuoting.mailboxName(account.folder) else { return [.fail("the folder name cannot be sent")] }
        uidValidity = nil
        exists = 0
        return [send("SELECT \(name)", .select, now: now)]
    }

    mutating func completed(_ step: Step, status: IMAPStatus, text: String, hadCapabilities: Bool, now: Double) -> [Action] {
        let ok = status == .ok
        let why = Self.clipped(text)
        switch step {
        case .capability:
            return ok ? afterCapabilities(now: now) : [.fail("CAPABILITY refused: \(why)")]
        case .startTLS:
            return ok ? [.startTLS] : [.fail("STARTTLS refused: \(why)")]
        case .authenticate:
            guard ok else { return [.fail("sign-in refused for \(account.user): \(why)")] }
            authenticated = true
            // What the server can do may change with sign-in (MOVE, IDLE…): ask unless it said.
            return hadCapabilities ? afterCapabilities(now: now) : [send("CAPABILITY", .capability, now: now)]
        case .create:
            // NO: it exists already (or cannot be made; then MOVE says so).
            return select(now: now)
        case .select:
            guard ok else { return [.fail("SELECT \(account.folder) refused: \(why)")] }
            guard let validity = uidValidity else { return [.fail("SELECT \(account.folder) gave no UIDVALIDITY")] }
            if let checkpoint, checkpoint.uidValidity == validity {
                takesSeen = true
            } else {
                // First look, or the folder was rebuilt: its UIDs mean nothing from before.
                takesSeen = false
                checkpoint = IMAPCheckpoint(uidValidity: validity, lastUID: 0)
                checkpointChanged = true
            }
            return [.selected(exists: exists, uidValidity: validity)] + round(now: now)
        case .list:
            let last = checkpoint?.lastUID ?? 0
            // `n:*` includes the highest UID even when it is below n (RFC 3501 §6.4.8): filtered.
            queue = listing.filter { $0.uid > last }.sorted { $0.uid < $1.uid }
            listing = []
            var actions: [Action] = ok ? [] : [.warning("UID FETCH refused: \(why)")]
            actions += next(now: now)
            return actions
        case .fetch(let uid):
            let message = fetched
            fetched = nil
            if status == .bad { return [.fail("UID FETCH \(uid) refused: \(why)")] }
            guard let message else {
                var actions: [Action] = [.passedOver(uid: uid, reason: ok ? "gone before it was read" : "could not be read: \(why)")]
                advance(to: uid)
                actions += next(now: now)
                return actions
            }
            awaitingDelivery = uid
            return [.deliver(uid: uid, message: message)]
        case .flag(let uid):
            var actions: [Action] = ok ? [] : [.warning("UID \(uid) not flagged \\Seen: \(why)")]
            if let processed = account.processedFolder, let name = IMAPQuoting.mailboxName(processed) {
                if capabilities.contains("MOVE") {
                    actions.append(send("UID MOVE \(uid) \(name)", .move(uid), now: now))
                } else {
                    actions.append(send("UID COPY \(uid) \(name)", .copy(uid), now: now))
                }
                return actions
            }
            return actions + finished(uid, now: now)
        case .move(let uid):
            return (ok ? [] : [.warning("UID \(uid) not moved to \(account.processedFolder ?? ""): \(why)")]) + finished(uid, now: now)
        case .copy(let uid):
            guard ok else { return [.warning("UID \(uid) not copied to \(account.processedFolder ?? ""): \(why)")] + finished(uid, now: now) }
            return [send("UID STORE \(uid) +FLAGS.SILENT (\\Deleted)", .delete(uid), now: now)]
        case .delete(let uid):
            if ok && capabilities.contains("UIDPLUS") { return [send("UID EXPUNGE \(uid)", .expunge(uid), now: now)] }
            return finished(uid, now: now)
        case .expunge(let uid):
            return finished(uid, now: now)
        case .idle:
            idleSince = nil
            doneSentAt = nil
            guard ok else { return [.fail("IDLE refused: \(why)")] }
            return stopping ? logout(now: now) : round(now: now)
        case .logout:
            return [.close]
        }
    }

    /// A message is dealt with: the checkpoint moves past it and is kept.
    mutating func finished(_ uid: UInt32, now: Double) -> [Action] {
        advance(to: uid)
        checkpointChanged = false
        var actions: [Action] = checkpoint.map { [.checkpoint($0)] } ?? []
        actions += next(now: now)
        return actions
    }

    mutating func advance(to uid: UInt32) {
        guard var current = checkpoint, uid > current.lastUID else { return }
        current.lastUID = uid
        checkpoint = current
        checkpointChanged = true
    }

    /// One round: what is above the checkpoint, with sizes and flags (nothing when the folder is empty).
    mutating func round(now: Double) -> [Action] {
        guard exists > 0 else { return next(now: now) }
        listing = []
        let first = UInt64(checkpoint?.lastUID ?? 0) + 1
        guard first <= UInt64(UInt32.max) else { return next(now: now) }
        return [send("UID FETCH \(first):* (UID RFC822.SIZE FLAGS)", .list, now: now)]
    }

    /// The next message of the round to fetch, passing over those too large or already read on a first look;
    /// when none is left, the checkpoint (if it moved), then IDLE or a wait.
    mutating func next(now: Double) -> [Action] {
        var actions: [Action] = []
        while !queue.isEmpty {
            let message = queue.removeFirst()
            if let size = message.size, size > configuration.maxMessageBytes {
                actions.append(.passedOver(uid: message.uid, reason: "\(size) bytes, over the limit of \(configuration.maxMessageBytes): left unread for a person"))
                advance(to: message.uid)
                continue
            }
            if message.seen && !takesSeen {
                advance(to: message.uid)
                continue
            }
            if stopping { break }
            fetched = nil
            actions.append(send("UID FETCH \(message.uid) (UID BODY.PEEK[])", .fetch(message.uid), now: now))
            return actions
        }
        queue = []
        if checkpointChanged, let checkpoint {
            checkpointChanged = false
            actions.append(.checkpoint(checkpoint))
        }
        if stopping { return actions + logout(now: now) }
        if capabilities.contains("IDLE") {
            idleSince = nil
            doneSentAt = nil
            actions.append(send("IDLE", .idle, now: now))
        } else {
            nextRound = now + configuration.pollInterval
        }
        return actions
    }

    mutating func done(now: Double) -> Action {
        doneSentAt = now
        return .send(Command(line: "DONE", logged: "DONE"))
    }

    mutating func logout(now: Double) -> [Action] {
        [send("LOGOUT", .logout, now: now)]
    }

    mutating func send(_ text: String, _ step: Step, logged: String? = nil, now: Double) -> Action {
        tagNumber += 1
        let tag = "P\(tagNumber)"
        inFlight = (tag, step)
        sentAt = now
        return .send(Command(line: "\(tag) \(text)", logged: "\(tag) \(logged ?? text)"))
    }

    static func name(_ step: Step) -> String {
        switch step {
        case .capability: "CAPABILITY"
        case .startTLS: "STARTTLS"
        case .authenticate: "sign-in"
        case .create: "CREATE"
        case .select: "SELECT"
        case .list, .fetch: "UID FETCH"
        case .flag, .delete: "UID STORE"
        case .move: "UID MOVE"
        case .copy: "UID COPY"
        case .expunge: "UID EXPUNGE"
        case .idle: "IDLE"
        case .logout: "LOGOUT"
        }
    }

    /// A server's text as logged: one line, at most 200 characters.
    static func clipped(_ text: String) -> String {
        let line = text.filter { !$0.isNewline && $0 != "\u{0}" }
        return line.count > 200 ? String(line.prefix(200)) + "…" : line
    }
}
