import Hummingbird
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

extension ParleyAPI {
    func registerDirectory(on router: RPCRouter) {
        registerDevUsers(on: router)
        registerCustomers(on: router)
        registerGroupsTagsLinks(on: router)
    }

    /// A rendered directory object.
    func render<Object: DirectoryObject>(_ object: Object, wanted: References.Wanted = .init(),
                                         _ render: (Wire) -> (Object) -> JSONValue) async throws -> JSONValue {
        render(try await wire(wanted))(object)
    }

    /// The common part of directory lists: paging, date filters and `sort_by`.
    func directoryQuery(_ fields: Fields) throws(APIError) -> DirectoryQuery {
        var query = DirectoryQuery()
        query.page = try fields.pageRequest()
        query.created = try fields.dateRange("created_date")
        query.modified = try fields.dateRange("modified_date")
        if let sort = try fields.sortBy(allowed: ["created_date", "modified_date"]) {
            query.sortByModified = sort.field == "modified_date"
            query.descending = sort.descending
        }
        return query
    }

    func object<Object: DirectoryObject>(_ type: Object.Type, _ fields: Fields, key: String = "id") async throws -> Object {
        let id = try fields.requiredID(key, [Object.kind])
        guard let object = try await store.object(type, number: id.number) else { throw APIError.notFound(id.displayID) }
        return object
    }

    // MARK: Accounts, rev orgs, rev users

    private func registerCustomers(on router: RPCRouter) {
        router.rpc("accounts.create", created: true) { fields, context in
            let caller = try context.requireAgent()
            let (account, _) = try await createAccountWithRevOrg(fields, orgFields: Fields([:]),
                                                                 displayName: try fields.requiredString("display_name"), caller: caller)
            return .object(["account": try await renderAccount(account)])
        }
        router.rpc("accounts.get", readable: true) { fields, context in
            _ = try context.requireAgent()
            return .object(["account": try await renderAccount(try await object(Account.self, fields))])
        }
        router.rpc("accounts.list", readable: true) { fields, context in
            _ = try context.requireAgent()
            var query = try directoryQuery(fields)
            query.keys["display_name"] = try fields.strings("display_name")
            query.keys["domain"] = try fields.strings("domains")?.map { $0.lowercased() }
            query.keys["external_ref"] = try fields.strings("external_refs")
            query.keys["owned_by"] = try fields.ids("owned_by", [.devUser])?.map { String($0.number) }
            let page = try await store.list(Account.self, query: query)
            var wanted = References.Wanted()
            for account in page.items {
                wanted.devUsers.formUnion(account.ownedBy)
                if let org = account.defaultRevOrg { wanted.revOrgs.insert(org) }
            }
            let wire = try await wire(wanted)
            return listResponse("accounts", page, render: wire.account)
        }
        router.rpc("accounts.update") { fields, context in
            .object(["account": try await renderAccount(try await updateAccount(fields, caller: try context.requireAgent()))])
        }

        router.rpc("rev-orgs.create", created: true) { fields, context in
            let caller = try context.requireAgent()
            let displayName = try fields.requiredString("display_name")
            let now = clock.now()
            guard let id = try fields.id("account", [.account]) else {
                // Without an account, the account is created with it, in the same transaction.
                let (_, org) = try await createAccountWithRevOrg(Fields([:]), orgFields: fields, displayName: displayName, caller: caller)
                return .object(["rev_org": try await renderRevOrg(org)])
            }
            let account = try await requireExists(Account.self, id, field: "account")
            let org = try await createRevOrg(fields, displayName: displayName, account: account, caller: caller, at: now)
            return .object(["rev_org": try await renderRevOrg(org)])
        }
        router.rpc("rev-orgs.get", readable: true) { fields, context in
            _ = try context.requireAgent()
            if !fields.has("id"), let accountID = try fields.id("account", [.account]) {
                guard let account = try await store.object(Account.self, number: accountID.number),
                      let number = account.defaultRevOrg, let org = try await store.object(RevOrg.self, number: number) else {
                    throw APIError.notFound("rev org of \(accountID.displayID)")
                }
                return .object(["rev_org": try await renderRevOrg(org)])
            }
            return .object(["rev_org": try await renderRevOrg(try await object(RevOrg.self, fields))])
        }
        router.rpc("rev-orgs.list", readable: true) { fields, context in
            _ = try context.requireAgent()
            var query = try directoryQuery(fields)
            query.keys["display_name"] = try fields.strings("display_name")
            query.keys["external_ref"] = try fields.strings("external_ref")
            query.keys["account"] = try fields.ids("account", [.account])?.map { String($0.number) }
            let page = try await store.list(RevOrg.self, query: query)
            var wanted = References.Wanted()
            wanted.accounts = Set(page.items.map(\.account))
            let wire = try await wire(wanted)
            return listResponse("rev_orgs", page, render: wire.revOrg)
        }
        router.rpc("rev-orgs.update") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.revOrg])
            let displayName = try fields.string("display_name")
            let description = try fields.string("description")
            let externalRef = try fields.string("external_ref")
            let tier = try fields.string("tier")
            let environment = try fields.string("environment")
            let org = try await app.update(RevOrg.self, number: id.number, actor: caller.actor, at: clock.now()) { org in
                var org = org
                if let displayName { org.displayName = displayName }
                if let description { org.description = description }
                if let externalRef { org.externalRef = externalRef }
                if let tier { org.tier = tier }
                if let environment { org.environment = environment }
                return org
            }
            return .object(["rev_org": try await renderRevOrg(org)])
        }

        router.rpc("rev-users.create", created: true) { fields, context in
            let caller = try context.requireAgent()
            var org: RevOrg?
            if let id = try fields.id("rev_org", [.revOrg]) { org = try await requireExists(RevOrg.self, id, field: "rev_org") }
            let user = try await createRevUser(
                displayName: try fields.string("display_name"), fullName: try fields.string("full_name"),
                email: try fields.string("email"), externalRef: try fields.string("external_ref"), revOrg: org?.number,
                phoneNumbers: try fields.strings("phone_numbers") ?? [], description: try fields.string("description"),
                caller: caller.actor)
            return .object(["rev_user": try await renderRevUser(user)])
        }
        router.rpc("rev-users.get", readable: true) { fields, context in
            let caller = try context.requireCaller()
            let id = try fields.requiredID("id", [.revUser])
            guard caller.isAgent || caller.actor == .revUser(id.number),
                  let user = try await store.object(RevUser.self, number: id.number) else {
                throw APIError.notFound(id.displayID)
            }
            return .object(["rev_user": try await renderRevUser(user)])
        }
        router.rpc("rev-users.update") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.revUser])
            let displayName = try fields.string("display_name")
            let fullName = try fields.string("full_name")
            let email = try fields.string("email")?.lowercased()
            if let email, !email.contains("@") { throw APIError.invalidField("email", "expected an email address") }
            let externalRef = try fields.string("external_ref")
            let description = try fields.string("description")
            let phones = try fields.strings("phone_numbers")
            var orgNumber: Int?
            if let org = try fields.id("rev_org", [.revOrg]) { orgNumber = try await requireExists(RevOrg.self, org, field: "rev_org").number }
            let revOrg = orgNumber
            let user = try await app.update(RevUser.self, number: id.number, actor: caller.actor, at: clock.now()) { user in
                var user = user
                if let displayName { user.displayName = displayName }
                if let fullName { user.fullName = fullName }
                if let email { user.email = email }
                if let externalRef { user.externalRef = externalRef }
                if let description { user.description = description }
                if let phones { user.phoneNumbers = phones }
                if let revOrg { user.revOrg = revOrg }
                return user
            }
            return .object(["rev_user": try await renderRevUser(user)])
        }
        router.rpc("rev-users.delete") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.revUser])
            try await app.deleteCustomer(id.number, by: caller)
            return .object([:])
        }
        router.rpc("rev-orgs.delete") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.revOrg])
            try await app.delete(RevOrg.self, number: id.number, actor: caller.actor, at: clock.now())
            return .object([:])
        }
        router.rpc("accounts.delete") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.account])
            try await app.delete(Account.self, number: id.number, actor: caller.actor, at: clock.now())
            return .object([:])
        }
        router.rpc("rev-users.list", readable: true) { fields, context in
            _ = try context.requireAgent()
            var query = try directoryQuery(fields)
            query.keys["email"] = try fields.strings("email")?.map { $0.lowercased() }
            query.keys["external_ref"] = try fields.strings("external_ref")
            query.keys["rev_org"] = try fields.ids("rev_org", [.revOrg])?.map { String($0.number) }
            let page = try await store.list(RevUser.self, query: query)
            var wanted = References.Wanted()
            wanted.revOrgs = Set(page.items.compactMap(\.revOrg))
            let wire = try await wire(wanted)
            return listResponse("rev_users", page, render: wire.revUser)
        }
    }

    /// Creates an account and its default rev org together (one transaction: neither exists without the other).
    /// `accounts.update`'s change (the API's and the admin page's): names, domains (lower case), owners (the
    /// first is the default owner; each must be a dev user), websites, external refs, tier.
    func updateAccount(_ fields: Fields, caller: Caller) async throws -> Account {
        let id = try fields.requiredID("id", [.account])
        let owners = try fields.idUpdate("owned_by", [.devUser])
        for owner in owners ?? [] { _ = try await devUser(owner, field: "owned_by") }
        let displayName = try fields.string("display_name")
        let description = try fields.string("description")
        let domains = try fields.strings("domains")
        let websites = try fields.strings("websites")
        let externalRefs = try fields.strings("external_refs")
        let tier = try fields.string("tier")
        return try await app.update(Account.self, number: id.number, actor: caller.actor, at: clock.now()) { account in
            var account = account
            if let displayName { account.displayName = displayName }
            if let description { account.description = description }
            if let domains { account.domains = domains.map { $0.lowercased() } }
            if let websites { account.websites = websites }
            if let externalRefs { account.externalRefs = externalRefs }
            if let tier { account.tier = tier }
            if let owners { account.ownedBy = owners.map(\.number) }
            return account
        }
    }

    func createAccountWithRevOrg(_ fields: Fields, orgFields: Fields, displayName: String, caller: Caller) async throws -> (Account, RevOrg) {
        let owners = try fields.ids("owned_by", [.devUser]) ?? []
        for owner in owners { _ = try await devUser(owner, field: "owned_by") }
        let description = try fields.string("description")
        let domains = try fields.strings("domains") ?? []
        let externalRefs = try fields.strings("external_refs") ?? []
        let websites = try fields.strings("websites") ?? []
        let tier = try fields.string("tier")
        let orgDescription = try orgFields.string("description")
        let orgExternalRef = try orgFields.string("external_ref")
        let orgTier = try orgFields.string("tier")
        let environment = try orgFields.string("environment")
        let now = clock.now()
        let actor = caller.actor
        return try await app.insertPair(Account.self, RevOrg.self, actor: actor, at: now) { accountNumber, orgNumber in
            var account = Account(number: accountNumber, displayName: displayName, description: description, domains: domains,
                                  ownedBy: owners.map(\.number), externalRefs: externalRefs, websites: websites, tier: tier,
                                  createdBy: actor, at: now)
            account.defaultRevOrg = orgNumber
            let org = RevOrg(number: orgNumber, displayName: displayName, description: orgDescription, account: accountNumber,
                             externalRef: orgExternalRef, tier: orgTier, environment: environment, createdBy: actor, at: now)
            return (account, org)
        }
    }

    /// Creates a rev org; the first one of an account becomes its default rev org.
    func createRevOrg(_ fields: Fields, displayName: String, account: Account, caller: Caller, at now: Date) async throws -> RevOrg {
        let description = try fields.string("description")
        let externalRef = try fields.string("external_ref")
        let tier = try fields.string("tier")
        let environment = try fields.string("environment")
        let org = try await app.insert(RevOrg.self, actor: caller.actor, at: now) { number in
            RevOrg(number: number, displayName: displayName, description: description, account: account.number,
                   externalRef: externalRef, tier: tier, environment: environment, createdBy: caller.actor, at: now)
        }
        if account.defaultRevOrg == nil {
            _ = try await app.update(Account.self, number: account.number, actor: caller.actor, at: now) { account in
                var account = account
                if account.defaultRevOrg == nil { account.defaultRevOrg = org.number }
                return account
            }
        }
        return org
    }

    func createRevUser(displayName: String?, fullName: String?, email: String?, externalRef: String?, revOrg: Int?,
                       phoneNumbers: [String], description: String?, caller: Actor) async throws -> RevUser {
        if let email, !email.contains("@") { throw APIError.invalidField("email", "expected an email address") }
        let now = clock.now()
        return try await app.insert(RevUser.self, actor: caller, at: now) { number in
            RevUser(number: number, displayName: displayName ?? email.map { String($0.prefix { $0 != "@" }) },
                    fullName: fullName, email: email, externalRef: externalRef, revOrg: revOrg, phoneNumbers: phoneNumbers,
                    description: description, createdBy: caller, at: now)
        }
    }

    func renderAccount(_ account: Account) async throws -> JSONValue {
        var wanted = References.Wanted()
        wanted.devUsers = Set(account.ownedBy)
        if let org = account.defaultRevOrg { wanted.revOrgs.insert(org) }
        return try await render(account, wanted: wanted, Wire.account)
    }

    func renderRevOrg(_ org: RevOrg) async throws -> JSONValue {
        var wanted = References.Wanted()
        wanted.accounts.insert(org.account)
        return try await render(org, wanted: wanted, Wire.revOrg)
    }

    func renderRevUser(_ user: RevUser) async throws -> JSONValue {
        var wanted = References.Wanted()
        if let org = user.revOrg { wanted.revOrgs.insert(org) }
        return try await render(user, wanted: wanted, Wire.revUser)
    }

    // MARK: Groups, tags, links

    private func registerGroupsTagsLinks(on router: RPCRouter) {
        router.rpc("groups.create", created: true) { fields, context in
            let caller = try context.requireAgent()
            var owner: Int?
            if let id = try fields.id("owner", [.devUser]) { owner = try await devUser(id, field: "owner").number }
            let group = try await app.createGroup(name: try fields.requiredString("name"), description: try fields.string("description"),
                                                  memberType: try fields.string("member_type") ?? "dev_user", owner: owner, by: caller)
            return .object(["group": try await renderGroup(group)])
        }
        router.rpc("groups.get", readable: true) { fields, context in
            _ = try context.requireAgent()
            return .object(["group": try await renderGroup(try await object(Group.self, fields))])
        }
        router.rpc("groups.update") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.group])
            let name = try fields.string("name")?.trimmed
            let description = try fields.string("description")
            var ownerNumber: Int?
            if let owner = try fields.id("owner", [.devUser]) { ownerNumber = try await devUser(owner, field: "owner").number }
            let owner = ownerNumber
            let group = try await app.update(Group.self, number: id.number, actor: caller.actor, at: clock.now()) { group in
                var group = group
                if let name, !name.isEmpty { group.name = name }
                if let description { group.description = description }
                if let owner { group.owner = owner }
                return group
            }
            return .object(["group": try await renderGroup(group)])
        }
        router.rpc("groups.list", readable: true) { fields, context in
            _ = try context.requireAgent()
            var query = try directoryQuery(fields)
            query.keys["name"] = try fields.strings("name")?.map { $0.lowercased() }
            let page = try await store.list(Group.self, query: query)
            var wanted = References.Wanted()
            wanted.devUsers = Set(page.items.compactMap(\.owner))
            let wire = try await wire(wanted)
            return listResponse("groups", page, render: wire.group)
        }

        // Members: agents (dev users). A group's members see its conversations under "My groups" in the inbox.
        router.rpc("groups.members.add") { fields, context in
            let caller = try context.requireAgent()
            let group = try fields.requiredID("group", [.group])
            let member = try await devUser(try fields.requiredID("member", [.devUser]), field: "member").number
            try await app.addGroupMember(group.number, member: member, by: caller)
            return .object([:])
        }
        router.rpc("groups.members.remove") { fields, context in
            let caller = try context.requireAgent()
            let groupID = try fields.requiredID("group", [.group])
            let member = try fields.requiredID("member", [.devUser])
            try await app.removeGroupMember(groupID.number, member: member.number, by: caller)
            return .object([:])
        }
        router.rpc("groups.members.list", readable: true) { fields, context in
            _ = try context.requireAgent()
            let group = try await object(Group.self, fields, key: "group")
            // A cursor is the position after which to go on, as the previous page returned it.
            let limit = try fields.int("limit") ?? 50
            guard (1...100).contains(limit) else { throw APIError.invalidField("limit", "must be between 1 and 100") }
            var start = 0
            if let cursor = try fields.string("cursor") {
                guard let position = Int(cursor.dropFirst(7)), cursor.hasPrefix("member:"), position >= 0, position <= group.members.count else {
                    throw APIError.invalidField("cursor", "not a cursor of this list")
                }
                start = position
            }
            let members = Array(group.members.dropFirst(start).prefix(limit))
            var wanted = References.Wanted()
            wanted.devUsers = Set(members)
            let wire = try await wire(wanted)
            var response: [String: JSONValue] = [
                "members": .array(members.map { .object(["member": wire.user(.devUser($0))]) }),
            ]
            if start + members.count < group.members.count { response["next_cursor"] = .string("member:\(start + members.count)") }
            if start > 0 { response["prev_cursor"] = .string("member:\(max(0, start - limit))") }
            return .object(response)
        }

        router.rpc("tags.create", created: true) { fields, context in
            let caller = try context.requireAgent()
            let tag = try await app.createTag(name: try fields.requiredString("name"), description: try fields.string("description"),
                                              allowedValues: try fields.strings("allowed_values") ?? [], color: try fields.string("color"), by: caller)
            return .object(["tag": try await render(tag, Wire.tag)])
        }
        router.rpc("tags.update") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.tag])
            let name = try fields.string("name")?.trimmed
            let description = try fields.string("description")
            var allowed: [String]?
            if case .object? = fields.values["allowed_values"] { allowed = try fields.object("allowed_values")?.strings("set") }
            else { allowed = try fields.strings("allowed_values") }
            let tag = try await app.updateTag(id.number, name: name, description: description, allowedValues: allowed,
                                              color: try fields.string("color"), by: caller)
            return .object(["tag": try await render(tag, Wire.tag)])
        }
        router.rpc("tags.delete") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.tag])
            try await app.deleteTag(id.number, by: caller)
            return .object([:])
        }
        router.rpc("tags.get", readable: true) { fields, context in
            _ = try context.requireAgent()
            return .object(["tag": try await render(try await object(Tag.self, fields), Wire.tag)])
        }
        router.rpc("tags.list", readable: true) { fields, context in
            _ = try context.requireAgent()
            var query = try directoryQuery(fields)
            query.keys["name"] = try fields.strings("name")?.map { $0.lowercased() }
            let page = try await store.list(Tag.self, query: query)
            let wire = try await wire(.init())
            return listResponse("tags", page, render: wire.tag)
        }

        router.rpc("links.create", created: true) { fields, context in
            let caller = try context.requireAgent()
            guard let linkType = try fields.enumValue("link_type", LinkType.self) else { throw APIError.missing("link_type") }
            let source = try fields.requiredID("source", [.conversation])
            let target = try fields.requiredID("target", linkType == .isDependentOn ? [.work] : [.conversation])
            guard source != target else { throw APIError.invalidField("target", "a conversation cannot link to itself") }
            guard try await store.conversation(number: source.number) != nil else {
                throw APIError(.badRequest, type: "invalid_id", message: "\(source.displayID) in 'source' does not exist",
                               fieldName: "source", value: source.displayID)
            }
            if target.kind == .work {
                _ = try await requireExists(Work.self, target, field: "target")
            } else if try await store.conversation(number: target.number) == nil {
                throw APIError(.badRequest, type: "invalid_id", message: "\(target.displayID) in 'target' does not exist",
                               fieldName: "target", value: target.displayID)
            }
            let link = try await app.link(linkType, source: source, target: target, by: caller.actor)
            return .object(["link": try await render(link, wanted: wantedFor(link), Wire.link)])
        }
        router.rpc("links.get", readable: true) { fields, context in
            _ = try context.requireAgent()
            let link = try await object(Link.self, fields)
            return .object(["link": try await render(link, wanted: wantedFor(link), Wire.link)])
        }
        router.rpc("links.delete") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.link])
            guard let link = try await store.object(Link.self, number: id.number) else { throw APIError.notFound(id.displayID) }
            try await app.unlink(link, by: caller.actor)
            return .object([:])
        }
        router.rpc("links.list", readable: true) { fields, context in
            let caller = try context.requireCaller()
            let object = try fields.requiredID("object", [.conversation])
            _ = try await visibleConversation(object, for: caller)
            var query = try directoryQuery(fields)
            switch try fields.string("direction") {
            case "is_source"?: query.keys["source"] = [object.don]
            case "is_target"?: query.keys["target"] = [object.don]
            case nil: query.anyKeys = ["source": [object.don], "target": [object.don]]
            case let other?:
                throw APIError.invalidEnum("direction", other, allowed: ["is_source", "is_target"])
            }
            query.keys["link_type"] = try fields.strings("link_type")
            var page = try await store.list(Link.self, query: query)
            let works = page.items.filter { $0.target.kind == .work }.map(\.target.number)
            if !caller.isAgent {
                // Customers see links only between conversations they take part in.
                var visible: [Link] = []
                for link in page.items {
                    let other = link.source == object ? link.target : link.source
                    if let conversation = try await store.conversation(number: other.number), conversation.isMember(caller.actor) {
                        visible.append(link)
                    }
                }
                page.items = visible
            }
            var wanted = References.Wanted()
            page.items.forEach { wanted.add($0.createdBy) }
            wanted.works = Set(works)
            let wire = try await wire(wanted)
            return listResponse("links", page, render: wire.link)
        }
    }

    private func wantedFor(_ link: Link) -> References.Wanted {
        var wanted = References.Wanted()
        wanted.add(link.createdBy)
        if link.target.kind == .work { wanted.works.insert(link.target.number) }
        return wanted
    }

    func renderGroup(_ group: Group) async throws -> JSONValue {
        var wanted = References.Wanted()
        if let owner = group.owner { wanted.devUsers.insert(owner) }
        return try await render(group, wanted: wanted, Wire.group)
    }
}
