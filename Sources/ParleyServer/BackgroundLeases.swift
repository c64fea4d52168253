import Foundation
import Logging
import ParleyStore
import ServiceLifecycle
import Synchronization

/// Which of the server's background jobs this server runs now. Each job (timers, webhook deliveries,
/// pruning) runs on one server at a time, the holder of its lease in the store; the leases are renewed every
/// `renewal` and last `duration`, so a server that stops (or is killed) has its jobs taken over by another
/// within `duration` + `renewal` (10 s). On SQLite, with one server, this server always holds them.
final class BackgroundLeases: Service, Sendable {
    enum Job: String, CaseIterable, Sendable {
        case timers, webhooks, pruning, mail
    }

    let store: any ParleyStore
    let logger: Logger
    /// This server, as the leases name it.
    let holder: String
    private let held = Mutex<Set<Job>>([])

    static let duration = 8.0
    static let renewal = Duration.seconds(2)

    init(store: any ParleyStore, logger: Logger, holder: String = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8))") {
        self.store = store
        self.logger = logger
        self.holder = holder
    }

    /// Whether this server runs `job` now.
    func holds(_ job: Job) -> Bool { held.withLock { $0.contains(job) } }

    /// Takes or renews every lease it can; returns the jobs it holds.
    @discardableResult
    func renew() async -> Set<Job> {
        var now: Set<Job> = []
        for job in Job.allCases {
            do {
                if try await store.acquireLease(job.rawValue, holder: holder, duration: Self.duration) { now.insert(job) }
            } catch {
                // The database is unreachable: hold nothing, since another server may take over meanwhile.
                logger.debug("lease \(job.rawValue) not renewed: \(error)")
            }
        }
        let before = held.withLock { held in
            defer { held = now }
            return held
        }
        for job in now.subtracting(before) { logger.info("this server now runs the \(job.rawValue) job") }
        for job in before.subtracting(now) { logger.info("this server no longer runs the \(job.rawValue) job") }
        return now
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while true {
                await self.renew()
                try await Task.sleep(for: Self.renewal)
            }
        }
        // Shutting down: another server takes the jobs over at once instead of after the leases expire.
        let jobs = held.withLock { held in
            defer { held = [] }
            return held
        }
        for job in jobs { try? await store.releaseLease(job.rawValue, holder: holder) }
    }
}
