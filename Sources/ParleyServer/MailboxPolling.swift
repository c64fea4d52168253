import Foundation
import Logging
import ParleyApp
import ParleyCore
import ParleyMail
import ParleyStore
import ServiceLifecycle
import Synchronization

/// Mail in over IMAP: every mailbox with an `imap` URL is polled by one server at a time, the holder of its
/// lease `imap:<mailbox number>` (taken and renewed every 2 s for 8 s, as the background jobs' leases are;
/// a server killed has its mailboxes taken over within 10 s). Each message is stored through
/// `ParleyApp.receiveMail`, and only then flagged `\Seen` (and moved, `?processed=FOLDER`) and the
/// checkpoint `uidvalidity:uid` advanced (the setting `imap_checkpoint:<mailbox number>`), so a crash at any
/// point takes a message again rather than losing it, and its Message-ID keeps it stored once. The protocol
/// is `IMAPSession` (ParleyMail); the connection `IMAPConnection`. Mailboxes added, changed or removed are
/// seen at the next listing (every poll interval, at most 5 s).
final class MailboxPolling: Service, Sendable {
    let app: ParleyApp
    var store: any ParleyStore { app.store }
    let leases: BackgroundLeases
    let logger: Logger
    /// Seconds between polling rounds on a server without IDLE (`--imap-poll-seconds`).
    let pollSeconds: Double
    let maxMessageBytes: Int
    /// A PEM file of certificates trusted besides the system's (`--imap-ca-file`), for a site's own CA.
    let caFile: String?
    /// Seconds on a monotonic clock (injected: the sessions' timers read it).
    let uptime: @Sendable () -> Double
    static let renewal = Duration.seconds(2)

    struct Worker {
        /// What it polls and delivers to (`url` and the address): a change restarts it.
        var key: String
        var task: Task<Void, Never>
    }

    private let workers = Mutex<[Int: Worker]>([:])

    init(app: ParleyApp, leases: BackgroundLeases, logger: Logger, pollSeconds: Double, maxMessageBytes: Int, caFile: String?,
         uptime: @escaping @Sendable () -> Double = MailboxPolling.continuousUptime()) {
        self.app = app
        self.leases = leases
        self.logger = logger
        self.pollSeconds = pollSeconds
        self.maxMessageBytes = maxMessageBytes
        self.caFile = caFile
        self.uptime = uptime
    }

    static func continuousUptime() -> @Sendable () -> Double {
        let start = ContinuousClock.now
        return {
            let elapsed = ContinuousClock.now - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
    }

    static func leaseName(_ mailbox: Int) -> String { "imap:\(mailbox)" }
    static func checkpointSetting(_ mailbox: Int) -> String { "imap_checkpoint:\(mailbox)" }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var mailboxes: [Mailbox] = []
            var listedAt: Double?
            let relisting = min(max(self.pollSeconds, 2), 5)
            while true {
                if listedAt.map({ self.uptime() - $0 >= relisting }) ?? true {
                    do {
                        mailboxes = try await self.imapMailboxes()
                        listedAt = self.uptime()
                    } catch {
                        self.logger.debug("IMAP: mailboxes not listed: \(error)")
                    }
                }
                await self.renew(mailboxes)
                try await Task.sleep(for: Self.renewal)
            }
        }
        // Stopping: each session logs out, then another server takes the mailboxes over at once.
        let stopping = workers.withLock { workers in
            defer { workers = [:] }
            return workers
        }
        for worker in stopping.values { worker.task.cancel() }
        for (number, worker) in stopping {
            await worker.task.value
            try? await store.releaseLease(Self.leaseName(number), holder: leases.holder)
        }
    }

    func imapMailboxes() async throws -> [Mailbox] {
        try await app.allMailboxes().filter { $0.imap != nil }
    }

    /// Takes or renews each mailbox's lease; starts polling the mailboxes it got, stops those it lost, were
    /// removed or had their URL or address changed (restarted with the new ones).
    func renew(_ mailboxes: [Mailbox]) async {
        let wanted = Dictionary(mailboxes.compactMap { mailbox in mailbox.imap.map { (mailbox.number, (mailbox, $0)) } },
                                uniquingKeysWith: { first, _ in first })
        let gone = workers.withLock { workers in
            let numbers = workers.keys.filter { wanted[$0] == nil }
            return numbers.compactMap { number in workers.removeValue(forKey: number).map { (number, $0) } }
        }
        for (number, worker) in gone {
            worker.task.cancel()
            await worker.task.value
            try? await store.releaseLease(Self.leaseName(number), holder: leases.holder)
            logger.info("IMAP: mailbox \(number) no longer polled (removed, or its imap URL cleared)")
        }
        for (number, (mailbox, url)) in wanted.sorted(by: { $0.key < $1.key }) {
            let held: Bool
            do {
                held = try await store.acquireLease(Self.leaseName(number), holder: leases.holder, duration: BackgroundLeases.duration)
            } catch {
                // The database is unreachable: poll nothing, another server may take over meanwhile.
                held = false
            }
            let key = url + "\n" + mailbox.address
            let (stopped, starts) = workers.withLock { workers -> (Worker?, Bool) in
                let current = workers[number]
                if held, current?.key == key { return (nil, false) }
                if !held {
                    workers[number] = nil
                    return (current, false)
                }
                return (current, true)
            }
            if let stopped {
                stopped.task.cancel()
                if !starts { logger.info("IMAP: \(mailbox.address) is polled by another server now") }
            }
            guard starts else { continue }
            let task = Task { [self] in
                await stopped?.task.value
                await self.poll(mailbox, url: url)
            }
            workers.withLock { $0[number] = Worker(key: key, task: task) }
        }
    }

    /// Polls one mailbox until the task is cancelled: a session at a time, reconnecting after failures with
    /// a delay from 2 s doubling to 5 min (back to 2 s once a session got to its folder).
    func poll(_ mailbox: Mailbox, url: String) async {
        guard let account = IMAPAccount(url) else {
            logger.warning("IMAP: the imap URL of \(mailbox.address) is not understood; expected imaps://USER:PASS@HOST:PORT/FOLDER, optionally ?auth=xoauth2 and &processed=FOLDER")
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
            return
        }
        let place = "\(mailbox.address) at \(account.host):\(account.port)"
        logger.info("IMAP: polling \(mailbox.address) (\(account))")
        var failures = 0
        while !Task.isCancelled {
            let progress = SessionProgress()
            do {
                let saved = try await store.setting(Self.checkpointSetting(mailbox.number)).flatMap(IMAPCheckpoint.init)
                let configuration = IMAPSession.Configuration(account: account, checkpoint: saved, maxMessageBytes: maxMessageBytes,
                                                              pollInterval: pollSeconds)
                let note: @Sendable (IMAPSession.Action) -> Void = { [self] action in self.note(action, place: place, progress: progress) }
                try await IMAPConnection.run(configuration, caFile: caFile, uptime: uptime, handlers: handlers(mailbox, place: place, note: note))
                if Task.isCancelled { return }
            } catch {
                if Task.isCancelled { return }
                if progress.selected.load(ordering: .relaxed) { failures = 0 }
                failures += 1
                let delay = min(300, 2 * pow(2, Double(min(failures, 10) - 1)))
                logger.warning("IMAP: \(place): \(Self.describe(error)); trying again in \(Int(delay)) s")
                try? await Task.sleep(for: .seconds(delay))
            }
        }
    }

    func handlers(_ mailbox: Mailbox, place: String, note: @escaping @Sendable (IMAPSession.Action) -> Void) -> IMAPSessionHandlers {
        let app = app
        let logger = logger
        let store = store
        return IMAPSessionHandlers(
            deliver: { uid, message in
                let outcome = try await app.receiveMail(message, to: mailbox.address)
                logger.info("mail received", metadata: ["mailbox": "\(mailbox.address)", "via": "IMAP", "uid": "\(uid)", "outcome": "\(outcome)"])
            },
            checkpoint: { checkpoint in
                try await store.setSetting(Self.checkpointSetting(mailbox.number), value: checkpoint.description)
            },
            note: note)
    }

    func note(_ action: IMAPSession.Action, place: String, progress: SessionProgress) {
        switch action {
        case .selected(let exists, let validity):
            progress.selected.store(true, ordering: .relaxed)
            logger.debug("IMAP: \(place): folder open, \(exists) messages, UIDVALIDITY \(validity)")
        case .passedOver(let uid, let reason):
            logger.warning("IMAP: \(place): message UID \(uid) not taken in: \(reason)")
        case .warning(let why):
            logger.warning("IMAP: \(place): \(why)")
        case .idling:
            logger.debug("IMAP: \(place): idle")
        default:
            break
        }
    }

    /// An error as one log line. `IMAPFailure`s are the session's own words; others are NIO's or the
    /// store's, which carry no credentials either (the URL is never part of an error).
    static func describe(_ error: any Error) -> String {
        String(describing: error).replacingOccurrences(of: "\n", with: " ")
    }
}

/// Whether a session got as far as its folder (then the next failure is retried soon again).
final class SessionProgress: Sendable {
    let selected = Atomic<Bool>(false)
}
