import Foundation

/// A support address (`support@acme.test`): mail to it becomes conversations (through `parley serve
/// --smtp-listen`/`--lmtp-listen`, or IMAP polling), routed to its group. Its relay and IMAP URLs hold
/// passwords: write-only, never returned nor recorded in events.
public struct Mailbox: DirectoryObject {
    public static let kind = ObjectKind.mailbox
    /// Updates are not recorded field by field: the fields carry secrets.
    public static let recordsUpdates = false

    public var number: Int
    /// Lowercased.
    public var address: String
    public var displayName: String?
    /// The group new conversations from this address go to.
    public var group: Int?
    /// `smtp://` or `smtps://USER:PASS@HOST:PORT` for outbound mail.
    public var smtpRelay: String?
    /// `imaps://USER:PASS@HOST:PORT/INBOX` to poll.
    public var imap: String?
    public var createdBy: Actor
    public var createdDate: Date
    public var modifiedBy: Actor
    public var modifiedDate: Date

    public init(number: Int, address: String, displayName: String?, group: Int?, createdBy: Actor, at: Date) {
        self.number = number
        self.address = address.lowercased()
        self.displayName = displayName
        self.group = group
        self.createdBy = createdBy
        self.createdDate = at
        self.modifiedBy = createdBy
        self.modifiedDate = at
    }

    public var indexKeys: [IndexKey] { [IndexKey("address", address, unique: true)] }

    /// Whether `text` is a plausible mailbox address (one `@`, a dot in the domain, no blanks or brackets).
    public static func isAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix(".") else { return false }
        return !text.contains { $0.isWhitespace || "<>()[],;:\"".contains($0) }
    }

    /// A relay or IMAP URL as it may be shown: scheme, host and port, the user and password left out.
    public static func redacted(_ url: String?) -> String? {
        guard let url, let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else { return nil }
        return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
    }
}
