/// The kinds of object Parley stores, each with its DevRev-style DON and display id.
public enum ObjectKind: String, Sendable, Codable, CaseIterable {
    case conversation
    case comment
    case devUser = "devu"
    case revUser = "revu"
    case revOrg = "revo"
    case sysUser = "sysu"
    case account
    case group
    case tag
    case link
    /// Tickets, issues and tasks (DevRev's works): one number space, shown with their type's prefix.
    case work
    case webhook
    /// An API token or session, named by the number it was stored with (never by its secret).
    case token
    /// A reply agents keep to send again (Parley's own, not DevRev's).
    case savedReply = "saved_reply"
    /// A file attached to a message (DevRev's artifact).
    case artifact
    /// A support address that mail arrives at (Parley's own).
    case mailbox

    /// Other names a kind is written with: a work's DON segment and display prefix name its type.
    static func named(segment: String) -> ObjectKind? {
        ObjectKind(rawValue: segment) ?? (["ticket", "issue", "task"].contains(segment) ? .work : nil)
    }

    static func named(prefix: String) -> ObjectKind? {
        allCases.first { $0.displayPrefix == prefix } ?? (["TKT", "ISS", "TASK"].contains(prefix) ? .work : nil)
    }

    /// `core` objects are work and records; `identity` objects are people and organisations.
    var partition: String {
        switch self {
        case .devUser, .revUser, .revOrg, .sysUser, .group, .token: "identity"
        default: "core"
        }
    }

    /// The display id prefix (`CONV-42`); comments and links have none in DevRev.
    public var displayPrefix: String? {
        switch self {
        case .conversation: "CONV"
        case .devUser: "DEVU"
        case .revUser: "REVU"
        case .revOrg: "REV"
        case .sysUser: "SYSU"
        case .account: "ACC"
        case .group: "GROUP"
        case .tag: "TAG"
        case .link: "LINK"
        case .work: "WORK"
        case .webhook: "WEBHOOK"
        case .token: "TOKEN"
        case .savedReply: "REPLY"
        case .artifact: "ARTIFACT"
        case .mailbox: "MAILBOX"
        case .comment: nil
        }
    }
}

/// A stored object's identity: its kind and its number within that kind.
public struct ObjectID: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The dev org every DON of this server names.
    public static let devOrg = "devo/parley"
    static let donPrefix = "don:"
    static let region = "dvrv-us-1"

    public var kind: ObjectKind
    public var number: Int
    /// For comments: the conversation they belong to (part of the DON, as in DevRev).
    public var parent: Int?

    public init(_ kind: ObjectKind, _ number: Int, parent: Int? = nil) {
        self.kind = kind
        self.number = number
        self.parent = parent
    }

    /// `don:core:dvrv-us-1:devo/parley:conversation/42`
    public var don: String {
        let head = "don:\(kind.partition):\(Self.region):\(Self.devOrg)"
        if kind == .comment, let parent {
            return "\(head):conversation/\(parent):comment/\(number)"
        }
        return "\(head):\(kind.rawValue)/\(number)"
    }

    /// `CONV-42`, or the DON for kinds without a display id.
    public var displayID: String {
        guard let prefix = kind.displayPrefix else { return don }
        return "\(prefix)-\(number)"
    }

    public var description: String { don }

    /// Parses a DON or a display id; `expected` restricts the kinds accepted.
    public static func parse(_ text: String, as expected: Set<ObjectKind>? = nil) -> ObjectID? {
        let trimmed = text.trimmed
        var parsed: ObjectID?
        if trimmed.hasPrefix(donPrefix) {
            let segments = trimmed.split(separator: ":").dropFirst(4)
            var last: ObjectID?
            var parent: Int?
            for segment in segments {
                let parts = segment.split(separator: "/", maxSplits: 1)
                guard parts.count == 2, let kind = ObjectKind.named(segment: String(parts[0])),
                      let number = Int(parts[1]), number > 0 else { return nil }
                if let previous = last, previous.kind == .conversation { parent = previous.number }
                last = ObjectID(kind, number, parent: kind == .comment ? parent : nil)
            }
            parsed = last
        } else if let dash = trimmed.lastIndex(of: "-") {
            let prefix = trimmed[..<dash].uppercased()
            if let number = Int(trimmed[trimmed.index(after: dash)...]), number > 0,
               let kind = ObjectKind.named(prefix: prefix) {
                parsed = ObjectID(kind, number)
            }
        }
        guard let parsed else { return nil }
        if let expected, !expected.contains(parsed.kind) { return nil }
        return parsed
    }
}

/// Who did something: an agent, a customer, or the server itself.
public enum Actor: Hashable, Sendable, Codable, CustomStringConvertible {
    case devUser(Int)
    case revUser(Int)
    case system

    public var objectID: ObjectID {
        switch self {
        case .devUser(let n): ObjectID(.devUser, n)
        case .revUser(let n): ObjectID(.revUser, n)
        case .system: ObjectID(.sysUser, 1)
        }
    }

    public init?(_ id: ObjectID) {
        switch id.kind {
        case .devUser: self = .devUser(id.number)
        case .revUser: self = .revUser(id.number)
        case .sysUser: self = .system
        default: return nil
        }
    }

    public var isCustomer: Bool { if case .revUser = self { true } else { false } }

    public var description: String { objectID.displayID }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = ObjectID.parse(text), let actor = Actor(id) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an actor: \(text)"))
        }
        self = actor
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(objectID.displayID)
    }
}
