import ParleyCore
import Synchronization

/// Where the server gets "now" from. The domain never reads a clock: adapters read one of these and
/// pass the time in. Times are whole milliseconds, the precision the store keeps.
public protocol ParleyClock: Sendable {
    func now() -> Date
}

/// The wall clock.
public struct SystemClock: ParleyClock {
    public init() {}
    public func now() -> Date { Date().wholeMilliseconds }
}

/// A clock that moves only when told to: for tests (and, later, the `--test-clock` feature).
public final class ManualClock: ParleyClock {
    private let current: Mutex<Date>

    public init(_ start: Date) { current = Mutex(start.wholeMilliseconds) }

    public func now() -> Date { current.withLock { $0 } }

    public func advance(by seconds: Double) {
        current.withLock { $0 = ($0 + seconds).wholeMilliseconds }
    }

    /// Moves the clock to `date` if that is later than now (it never goes back).
    public func move(to date: Date) {
        current.withLock { $0 = max($0, date.wholeMilliseconds) }
    }
}
