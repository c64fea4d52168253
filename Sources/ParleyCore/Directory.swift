/// A value an object can be found by; `unique` ones may belong to one object of a kind only.
public struct IndexKey: Hashable, Sendable {
    public var name: String
    public var value: String
    public var unique: Bool

    public init(_ name: String, _ value: String, unique: Bool = false) {
        self.name = name
        self.value = value
        self.unique = unique
    }
}

/// The objects around conversations (people, organisations, groups, tags, links): stored whole,
/// found by number or by their index keys.
public protocol DirectoryObject: Codable, Sendable, Equatable {
    static var kind: ObjectKind { get }
    var number: Int { get }
    var createdBy: Actor { get }
    var createdDate: Date { get }
    var modifiedBy: Actor { get set }
    var modifiedDate: Date { get set }
    /// The keys lists filter on and uniqueness is checked against.
    var indexKeys: [IndexKey] { get }
    /// Whether updates are recorded as events with before and after (not for bookkeeping such as a
    /// webhook's delivery position, which changes all the time and carries a secret).
    static var recordsUpdates: Bool { get }
}

extension DirectoryObject {
    public var id: ObjectID { ObjectID(Self.kind, number) }
    public static var recordsUpdates: Bool { true }
}

public enum UserState: String, Sendable, Codable, CaseIterable {
    case active, deactivated, deleted, locked, shadow, unassigned
}

public enum DevUserRole: String, Sendable, Codable, CaseIterable {
    case agent, admin
}

/// An agent (DevRev: dev user).
public struct DevUser: DirectoryObject {
    public static let kind = ObjectKind.devUser
    public var number: Int
    public var email: String
    public var displayName: String
    public var fullName: String?
    public var state: UserState
    public var role: DevUserRole
    public var createdBy: Actor
    public var createdDate: Date
    public var modifiedBy: Actor
    public var modifiedDate: Date

    public init(number: Int, email: String, displayName: String, fullName: String?, state: UserState = .active,
                role: DevUserRole, createdBy: Actor, at: Date) {
        self.number = number
        self.email = email
        self.displayName = displayName
        self.fullName = fullName
        self.state = state
        self.role = role
        self.createdBy = createdBy
        self.createdDate = at
        self.modifiedBy = createdBy
        self.modifiedDate = at
    }

    public var indexKeys: [IndexKey] {
        [IndexKey("email", email.lowercased(), unique: true), IndexKey("state", state.rawValue)]
    }
}

/// A customer org (DevRev: account). The first of `ownedBy` is its default owner.
public struct Account: DirectoryObject {
    public static let kind = ObjectKind.account
    public var number: Int
    public var displayName: String
    public var description: String?
    public var domains: [String]
    public var ownedBy: [Int]
    public var externalRefs: [String]
    public var websites: [String]
    public var tier: String?
    /// The rev org created with the account, which `rev-orgs.get {account}` returns.
    public var defaultRevOrg: Int?
    public var createdBy: Actor
    public var createdDate: Date
    public var modifiedBy: Actor
    public var modifiedDate: Date

    public init(number: Int, displayName: String, description: String?, domains: [String], ownedBy: [Int],
                externalRefs: [String], websites: [String], tier: String?, createdBy: Actor, at: Date) {
        self.number = number
        self.displayName = displayName
        self.description = description
        self.domains = domains.map { $0.lowercased() }
        self.ownedBy = ownedBy
        self.externalRefs = externalRefs
        self.websites = websites
        self.tier = tier
        self.createdBy = createdBy
        self.createdDate = at
        self.modifiedBy = createdBy
        self.modifiedDate = at
    }

    /// Where new conversations from this org go unless a routing rule says otherwise.
    public var defaultOwner: Int? { ownedBy.first }

    public var indexKeys: [IndexKey] {
        [IndexKey("display_name", displayName)]
            + domains.map { IndexKey("domain", $0) }
            + externalRefs.map { IndexKey("external_ref", $0, unique: true) }
            + ownedBy.map { IndexKey("owned_by", String($0)) }
    }
}

/// A customer org as DevRev's rev org: belongs to an account.
public struct RevOrg: DirectoryObject {
    public static let kind = ObjectKind.revOrg
    public var number: Int
    public var displayName: String
    public var description: String?
    public var account: Int
    public var externalRef: String?
    public var tier: String?
    public var environment: String?
    public var createdBy: Actor
    public var createdDate: Date
    public var modifiedBy: Actor
    public var modifiedDate: Date

    public init(number: Int, displayName: String, description: String?, account: Int, externalRef: String?,
                tier: String?, environment: String?, createdBy: Actor, at: Date) {
        self.number = number
        self.displayName = displayName
        self.description = description
        self.account = account
        self.externalRef = externalRef
        self.tier = tier
        self.environment = environment
        self.createdBy = createdBy
        self.createdDate = at
        self.modifiedBy = createdBy
        self.modifiedDate = at
    }

    public var indexKeys: [IndexKey] {
        [IndexKey("display_name", displayName), IndexKey("account", String(account))]
            + (externalRef.map { [IndexKey("external_ref", $0, unique: true)] } ?? [])
    }
}

/// A customer (DevRev: rev user), optionally in a rev org.
public struct RevUser: DirectoryObject {
    public static let kind = ObjectKind.revUser
    public var number: Int
    public var displayName: String?
    public var fullName: String?
    public var email: String?
    public var externalRef: String?
    public var revOrg: Int?
    public var phoneNumbers: [String]
    public var description: String?
    public var state: UserState
    public var createdBy: Actor
    public var createdDate: Date
    public var modifiedBy: Actor
    public var modifiedDate: Date

    public init(number: Int, displayName: String?, fullName: String?, email: String?, externalRef: String?,
                revOrg: Int?, phoneNumbers: [String], description: String?, createdBy: Actor, at: Date) {
        self.number = number
        self.displayName = displayName
        self.fullName = fullName
        self.email = email?.lowercased()
        self.externalRef = externalRef
        self.revOrg = revOrg
        self.phoneNumbers = phoneNumbers
        self.description = description
        self.state = .active
        self.createdBy = createdBy
        self.createdDate = at
        self.modifiedBy = createdBy
        self.modifiedDate = at
    }

    public var indexKeys: [IndexKey] {
        var keys: [IndexKey] = []
        if let email { keys.append(IndexKey("email", email)) }
        if let externalRef { keys.append(IndexKey("external_ref", externalRef, unique: true)) }
        if let revOrg { keys.append(IndexKey("rev_org", String(revOrg))) }
        return keys
    }
}

/// A group of agents.
public struct Group: DirectoryObject {
    public static let kind = ObjectKind.group
    public var number: Int
    public var name: String
    public var description: String?
    public var memberType: String
    public var owner: Int?
    /// The agents in the group (dev users' numbers), in the order they joined.
    @EmptyIfAbsent public var members: [Int] = []
    public var createdBy: Actor
    public var createdDate: Date
    public var modifiedBy: Actor
    public var modifiedDate: Date

    public init(number: Int, name: String, description: String?, memberType: String, owner: Int?,
                createdBy: Actor, at: Date) {
        self.number = number
        self.name = name
        self.description = description
        self.memberType = memberType
        self.owner = owner
        self.createdBy = createdBy
        self.createdDate = at
        self.modifiedBy = createdBy
        self.modifiedDate = at
    }

    public var indexKeys: [IndexKey] {
        [IndexKey("name", name.lowercased(), unique: true)] + members.map { IndexKey("member", String($0)) }
    }
}

/// A tag; tagging with a value requires the value to be one of `allowedValues` when any are listed.
public struct Tag: DirectoryObject {
    public static let kind = ObjectKind.tag
    public var number: Int
    public var name: String
    public var description: String?
    public var allowedValues: [String]
    /// Tags the server keeps true itself (DESIGN §5).
    public var isSystem: Bool
    /// The colour its badge is shown in, one of `Tag.colors` (nil: the default grey). Named rather than a
    /// hex value, so the pages draw it with their own stylesheet (their CSP allows no inline style).
    public var color: String?
    public var createdBy: Actor
    public var createdDate: Date
    public var modifiedBy: Actor
    public var modifiedDate: Date

    public init(number: Int, name: String, description: String?, allowedValues: [String], isSystem: Bool = false,
                createdBy: Actor, at: Date) {
        self.number = number
        self.name = name
        self.description = description
        self.allowedValues = allowedValues
        self.isSystem = isSystem
        self.createdBy = createdBy
        self.createdDate = at
        self.modifiedBy = createdBy
        self.modifiedDate = at
    }

    public var indexKeys: [IndexKey] { [IndexKey("name", name.lowercased(), unique: true)] }

    public static let colors = ["gray", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink"]
}

/// The tags of the seed, created with the database and kept true by the server.
public enum SystemTag: Int, CaseIterable, Sendable {
    case stalled = 1
    case priorityEscalated
    case fastMoving
    case slowMoving
    case blocked
    case resolution

    public var name: String {
        switch self {
        case .stalled: "Stalled"
        case .priorityEscalated: "Priority/Escalated"
        case .fastMoving: "Fast Moving"
        case .slowMoving: "Slow Moving"
        case .blocked: "Blocked"
        case .resolution: "Resolution"
        }
    }

    public var number: Int { rawValue }

    /// Tags only the server sets and clears (the others are set by agents, rules or resolving).
    public static let serverKept: Set<Int> = [SystemTag.stalled.number, SystemTag.blocked.number,
                                              SystemTag.fastMoving.number, SystemTag.slowMoving.number]

    public var allowedValues: [String] {
        self == .resolution ? ["fixed", "answered", "duplicate", "no_response", "spam", "wont_fix"] : []
    }

    public var summary: String {
        switch self {
        case .stalled: "No activity for a while in waiting on user or hold."
        case .priorityEscalated: "Escalated: raises the conversation's priority."
        case .fastMoving: "Several exchanges in a short time."
        case .slowMoving: "Long gaps while the customer waits."
        case .blocked: "In hold with at least one open dependency."
        case .resolution: "How the conversation was resolved."
        }
    }

    public func makeTag(at: Date) -> Tag {
        Tag(number: number, name: name, description: summary, allowedValues: allowedValues, isSystem: true,
            createdBy: .system, at: at)
    }
}

public enum LinkType: String, Sendable, Codable, CaseIterable {
    case isFollowUpOf = "is_follow_up_of"
    case isDependentOn = "is_dependent_on"
    case isRelatedTo = "is_related_to"
    case isDuplicateOf = "is_duplicate_of"
}

/// A typed link between two objects, e.g. a follow-up conversation and the archived one it follows.
public struct Link: DirectoryObject {
    public static let kind = ObjectKind.link
    public var number: Int
    public var linkType: LinkType
    public var source: ObjectID
    public var target: ObjectID
    public var createdBy: Actor
    public var createdDate: Date
    public var modifiedBy: Actor
    public var modifiedDate: Date

    public init(number: Int, linkType: LinkType, source: ObjectID, target: ObjectID, createdBy: Actor, at: Date) {
        self.number = number
        self.linkType = linkType
        self.source = source
        self.target = target
        self.createdBy = createdBy
        self.createdDate = at
        self.modifiedBy = createdBy
        self.modifiedDate = at
    }

    public var indexKeys: [IndexKey] {
        [IndexKey("source", source.don), IndexKey("target", target.don), IndexKey("link_type", linkType.rawValue),
         IndexKey("edge", "\(linkType.rawValue) \(source.don) \(target.don)", unique: true)]
    }
}
