import Logging
import ParleyApp
import ServiceLifecycle

/// The background job that prunes published events past their retention (`ParleyApp.pruneEvents`), once a
/// minute, on the server holding the pruning lease. With the test clock it does not wait on real time: `test-clock.advance` prunes.
final class EventPruning: Service, Sendable {
    let app: ParleyApp
    let retention: EventRetention
    let waitsOnRealTime: Bool
    let logger: Logger
    let leases: BackgroundLeases

    init(app: ParleyApp, retention: EventRetention, waitsOnRealTime: Bool, logger: Logger, leases: BackgroundLeases) {
        self.app = app
        self.leases = leases
        self.retention = retention
        self.waitsOnRealTime = waitsOnRealTime
        self.logger = logger
    }

    /// One pass: prunes what the retention allows; returns how many events went.
    @discardableResult
    func prune() async throws -> Int {
        let pruned = try await app.pruneEvents(retention)
        if pruned > 0 { logger.debug("pruned \(pruned) published events older than the retention period") }
        return pruned
    }

    func run() async throws {
        guard waitsOnRealTime else {
            try? await gracefulShutdown()
            return
        }
        try? await cancelWhenGracefulShutdown {
            while true {
                do {
                    if self.leases.holds(.pruning) { try await self.prune() }
                } catch {
                    self.logger.warning("pruning published events failed: \(error)")
                }
                try await Task.sleep(for: .seconds(60))
            }
        }
    }
}
