import HTTPTypes
import Hummingbird
import NIOCore
import ParleyCore
import ParleyJSON
import Synchronization

/// How many requests a caller may make in a window (DevRev: per authenticated user; here also per
/// address for requests without a valid token, and much less for failed authentication).
public struct RateLimitPolicy: Sendable, Equatable {
    public var window: Double
    /// Requests per window for one token.
    public var perToken: Int
    /// Requests per window from one address without a token.
    public var perAddress: Int
    /// Failed authentications per window from one address before its further attempts are refused (a valid
    /// token still passes; a password sign-in counts per address and account).
    public var failedAuthentications: Int

    public init(window: Double = 60, perToken: Int = 6000, perAddress: Int = 600, failedAuthentications: Int = 100) {
        self.window = window
        self.perToken = perToken
        self.perAddress = perAddress
        self.failedAuthentications = failedAuthentications
    }
}

/// Fixed-window counters in memory, one per key ("token:<hash>", "ip:<address>", "fail:<address>").
final class RateLimiter: Sendable {
    struct Window {
        var start: Date
        var count: Int
    }

    struct Verdict {
        var allowed: Bool
        var limit: Int
        var remaining: Int
        var reset: Date
    }

    let policy: RateLimitPolicy
    private let windows = Mutex<[String: Window]>([:])

    init(policy: RateLimitPolicy) { self.policy = policy }

    /// Counts one request for `key` (when `counting`) and says whether it is within `limit`.
    func check(_ key: String, limit: Int, at now: Date, counting: Bool = true) -> Verdict {
        windows.withLock { windows in
            if windows.count > 100_000 {
                windows = windows.filter { now.timeIntervalSince($0.value.start) < policy.window }
            }
            var window = windows[key] ?? Window(start: now, count: 0)
            if now.timeIntervalSince(window.start) >= policy.window { window = Window(start: now, count: 0) }
            if counting { window.count += 1 }
            windows[key] = window
            let reset = window.start + policy.window
            return Verdict(allowed: window.count <= limit, limit: limit, remaining: max(0, limit - window.count), reset: reset)
        }
    }

    static func tooManyRequests(_ verdict: Verdict, now: Date, message: String) -> Response {
        let retryAfter = max(1, Int(verdict.reset.timeIntervalSince(now).rounded(.up)))
        var response = JSONResponse.make(status: .tooManyRequests, .object([
            "type": .string("too_many_requests"), "message": .string(message), "retry_after": .int(retryAfter),
        ]))
        response.headers[.retryAfter] = String(retryAfter)
        headers(verdict, into: &response.headers)
        return response
    }

    static func headers(_ verdict: Verdict, into headers: inout HTTPFields) {
        headers[.rateLimitLimit] = String(verdict.limit)
        headers[.rateLimitRemaining] = String(verdict.remaining)
        headers[.rateLimitReset] = String(Int(verdict.reset.timeIntervalSince1970))
    }
}

extension HTTPTypes.HTTPField.Name {
    static let rateLimitLimit = Self("X-Ratelimit-Limit")!
    static let rateLimitRemaining = Self("X-Ratelimit-Remaining")!
    static let rateLimitReset = Self("X-Ratelimit-Reset")!
}
