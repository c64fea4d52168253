import Dispatch

/// Where spam patterns are searched: one serial queue of its own, off Swift's cooperative threads (two on
/// this machine) that serve every request. A search is linear in the text and bounded by a step budget,
/// but a megabyte of text still takes a while; here it delays only other customers' spam checks, never
/// `/health`, reads or agents' writes.
enum PatternSearchQueue {
    private static let queue = DispatchQueue(label: "parley.pattern-search", qos: .utility)

    static func run<Result: Sendable>(_ work: @escaping @Sendable () -> Result) async -> Result {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }
}
