import ParleyCore

/// The numbers of the directory objects and artifacts a response names (its people, orgs, groups, tags…).
public struct ReferenceNumbers: Sendable, Equatable {
    public var devUsers = Set<Int>()
    public var revUsers = Set<Int>()
    public var revOrgs = Set<Int>()
    public var accounts = Set<Int>()
    public var groups = Set<Int>()
    public var tags = Set<Int>()
    public var works = Set<Int>()
    public var artifacts = Set<Int>()

    public init() {}

    public var isEmpty: Bool {
        devUsers.isEmpty && revUsers.isEmpty && revOrgs.isEmpty && accounts.isEmpty && groups.isEmpty && tags.isEmpty
            && works.isEmpty && artifacts.isEmpty
    }
}

/// What `ParleyStore.references` found, by number (deleted objects included, so old references still render).
public struct ReferencedObjects: Sendable {
    public var devUsers: [Int: DevUser] = [:]
    public var revUsers: [Int: RevUser] = [:]
    public var revOrgs: [Int: RevOrg] = [:]
    public var accounts: [Int: Account] = [:]
    public var groups: [Int: Group] = [:]
    public var tags: [Int: Tag] = [:]
    public var works: [Int: Work] = [:]
    public var artifacts: [Int: Artifact] = [:]

    public init() {}
}

extension ParleyStore {
    /// The default: each kind read with `objects` (a store whose reads are in-process calls loses nothing).
    public func referencesKindByKind(_ wanted: ReferenceNumbers) async throws -> ReferencedObjects {
        var found = ReferencedObjects()
        found.devUsers = try await objects(DevUser.self, numbers: wanted.devUsers)
        found.revUsers = try await objects(RevUser.self, numbers: wanted.revUsers)
        found.revOrgs = try await objects(RevOrg.self, numbers: wanted.revOrgs.union(found.revUsers.values.compactMap(\.revOrg)))
        found.accounts = try await objects(Account.self, numbers: wanted.accounts)
        found.groups = try await objects(Group.self, numbers: wanted.groups)
        found.tags = try await objects(Tag.self, numbers: wanted.tags)
        found.works = try await objects(Work.self, numbers: wanted.works)
        found.artifacts = try await artifacts(numbers: wanted.artifacts)
        return found
    }
}

extension ParleyStore {
    /// The default of `customerDirectory`: each object read with `object`, following the customer's org, its
    /// account and the account's owners.
    public func customerDirectoryOneByOne(revUser number: Int) async throws -> ReferencedObjects {
        var found = ReferencedObjects()
        guard let customer = try await object(RevUser.self, number: number) else { return found }
        found.revUsers[number] = customer
        guard let org = customer.revOrg, let revOrg = try await object(RevOrg.self, number: org) else { return found }
        found.revOrgs[org] = revOrg
        guard let account = try await object(Account.self, number: revOrg.account) else { return found }
        found.accounts[account.number] = account
        for owner in Set(account.ownedBy) {
            if let user = try await object(DevUser.self, number: owner) { found.devUsers[owner] = user }
        }
        return found
    }
}
