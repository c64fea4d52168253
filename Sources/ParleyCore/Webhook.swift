/// A subscriber to conversation events, delivered from the durable outbox in order, at least once,
/// signed with HMAC-SHA256 of its secret. `cursor` is the last outbox event it acknowledged.
public struct Webhook: DirectoryObject {
    public static let kind = ObjectKind.webhook
    public static let recordsUpdates = false
    public static let eventTypes = ["conversation_created", "conversation_updated", "conversation_deleted", "timeline_entry_created"]

    public var number: Int
    public var url: String
    public var eventTypes: [String]
    public var secret: String
    public var cursor: Int
    /// Failed attempts at the event after `cursor`, and when to try again.
    public var failures: Int
    public var nextAttemptAt: Date?
    public var lastError: String?
    /// The latest attempts, newest last (at most `recentLimit`), for the admin page and `webhooks.list`.
    /// Added after the first webhooks were stored: read as empty where absent.
    @EmptyIfAbsent public var recentDeliveries: [WebhookAttempt] = []
    public var createdBy: Actor
    public var createdDate: Date
    public var modifiedBy: Actor
    public var modifiedDate: Date

    public init(number: Int, url: String, eventTypes: [String], secret: String, cursor: Int, createdBy: Actor, at: Date) {
        self.number = number
        self.url = url
        self.eventTypes = eventTypes
        self.secret = secret
        self.cursor = cursor
        self.failures = 0
        self.createdBy = createdBy
        self.createdDate = at
        self.modifiedBy = createdBy
        self.modifiedDate = at
    }

    public var indexKeys: [IndexKey] { [IndexKey("url", url)] }

    public static let recentLimit = 10

    /// This webhook with `attempts` added to its recent deliveries, the oldest dropped past the limit.
    public func recording(_ attempts: [WebhookAttempt]) -> [WebhookAttempt] {
        Array((recentDeliveries + attempts).suffix(Self.recentLimit))
    }

    /// Backoff after `failures` failed attempts: 1 s, 2 s, 4 s … at most 5 minutes.
    public static func retryDelay(after failures: Int) -> Double {
        min(300, Double(1 << min(failures - 1, 9)))
    }
}

/// One attempt to deliver an event to a webhook: when, which event, and what came of it.
public struct WebhookAttempt: Hashable, Sendable, Codable {
    public var sequence: Int
    public var at: Date
    public var delivered: Bool
    /// "HTTP 200", "HTTP 500", a connection error, or why the target was refused.
    public var outcome: String

    public init(sequence: Int, at: Date, delivered: Bool, outcome: String) {
        self.sequence = sequence
        self.at = at
        self.delivered = delivered
        self.outcome = outcome
    }
}
