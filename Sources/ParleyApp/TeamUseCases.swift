import Foundation
import ParleyCore
import ParleyStore

/// The support team's directory: agents, groups and tags, as the API's `dev-users`, `groups` and `tags`
/// endpoints and the inbox's admin pages change them (one set of checks for both).
extension ParleyApp {
    /// A new agent (admins only). The email is kept in lower case and is unique (409 otherwise).
    public func createDevUser(email: String, displayName: String?, fullName: String?, role: DevUserRole = .agent,
                              state: UserState = .active, by caller: Caller) async throws -> DevUser {
        guard caller.isAdmin else { throw DomainError.forbidden("only an admin adds agents") }
        let email = email.trimmed.lowercased()
        guard email.contains("@"), !email.hasPrefix("@"), !email.hasSuffix("@") else {
            throw DomainError.invalidField("email", message: "expected an email address")
        }
        let displayName = displayName?.trimmed.nilIfEmpty ?? String(email.prefix { $0 != "@" })
        let fullName = fullName?.trimmed.nilIfEmpty
        let now = clock.now()
        return try await insert(DevUser.self, actor: caller.actor, at: now) { number in
            DevUser(number: number, email: email, displayName: displayName, fullName: fullName, state: state, role: role,
                    createdBy: caller.actor, at: now)
        }
    }

    /// A new group of agents, with an owner if given.
    public func createGroup(name: String, description: String?, memberType: String = "dev_user", owner: Int?,
                            by caller: Caller) async throws -> Group {
        guard caller.isAgent else { throw DomainError.forbidden("groups are the support team's") }
        let name = name.trimmed
        guard !name.isEmpty else { throw DomainError.invalidField("name", message: "must not be empty") }
        if let owner { try await requireAgent(owner, field: "owner") }
        let now = clock.now()
        return try await insert(Group.self, actor: caller.actor, at: now) { number in
            Group(number: number, name: name, description: description?.trimmed.nilIfEmpty, memberType: memberType, owner: owner,
                  createdBy: caller.actor, at: now)
        }
    }

    /// Adds an agent to a group (already a member: nothing changes).
    public func addGroupMember(_ group: Int, member: Int, by caller: Caller) async throws {
        guard caller.isAgent else { throw DomainError.forbidden("groups are the support team's") }
        try await requireAgent(member, field: "member")
        _ = try await update(Group.self, number: group, actor: caller.actor, at: clock.now()) { group in
            var group = group
            if !group.members.contains(member) { group.members.append(member) }
            return group
        }
    }

    /// Removes an agent from a group (404 when not a member).
    public func removeGroupMember(_ group: Int, member: Int, by caller: Caller) async throws {
        guard caller.isAgent else { throw DomainError.forbidden("groups are the support team's") }
        _ = try await update(Group.self, number: group, actor: caller.actor, at: clock.now()) { stored in
            guard stored.members.contains(member) else {
                throw DomainError.notFound("\(ObjectID(.devUser, member).displayID) in \(ObjectID(.group, group).displayID)")
            }
            var stored = stored
            stored.members.removeAll { $0 == member }
            return stored
        }
    }

    /// A new tag agents can put on conversations (with the values it allows, if any).
    public func createTag(name: String, description: String?, allowedValues: [String] = [], color: String? = nil,
                          by caller: Caller) async throws -> Tag {
        guard caller.isAgent else { throw DomainError.forbidden("tags are the support team's") }
        let name = name.trimmed
        guard !name.isEmpty else { throw DomainError.invalidField("name", message: "must not be empty") }
        try Self.checkColor(color)
        let now = clock.now()
        return try await insert(Tag.self, actor: caller.actor, at: now) { number in
            var tag = Tag(number: number, name: name, description: description?.trimmed.nilIfEmpty, allowedValues: allowedValues,
                          createdBy: caller.actor, at: now)
            tag.color = color?.nilIfEmpty
            return tag
        }
    }

    static func checkColor(_ color: String?) throws {
        guard let color, !color.isEmpty else { return }
        guard Tag.colors.contains(color) else { throw DomainError.invalidEnum(field: "color", value: color, allowed: Tag.colors) }
    }

    /// Renames a tag, or changes its description or allowed values; the server's own tags keep their names.
    /// `color`: nil leaves it, "" makes it the default.
    public func updateTag(_ number: Int, name: String?, description: String?, allowedValues: [String]?, color: String? = nil,
                          by caller: Caller) async throws -> Tag {
        guard caller.isAgent else { throw DomainError.forbidden("tags are the support team's") }
        try Self.checkColor(color)
        let name = name?.trimmed
        if let name, name.isEmpty { throw DomainError.invalidField("name", message: "must not be empty") }
        return try await update(Tag.self, number: number, actor: caller.actor, at: clock.now()) { tag in
            guard !tag.isSystem || name == nil || name == tag.name else {
                throw DomainError.forbidden("\(tag.name) is a system tag: it cannot be renamed")
            }
            var tag = tag
            if let name { tag.name = name }
            if let description { tag.description = description }
            if let allowedValues { tag.allowedValues = allowedValues }
            if let color { tag.color = color.nilIfEmpty }
            return tag
        }
    }

    /// Deletes a tag; the server's own tags stay.
    public func deleteTag(_ number: Int, by caller: Caller) async throws {
        guard caller.isAgent else { throw DomainError.forbidden("tags are the support team's") }
        if SystemTag(rawValue: number) != nil { throw DomainError.forbidden("system tags cannot be deleted") }
        try await delete(Tag.self, number: number, actor: caller.actor, at: clock.now())
    }

    private func requireAgent(_ number: Int, field: String) async throws {
        guard try await store.object(DevUser.self, number: number) != nil else {
            throw DomainError.invalidField(field, message: "\(ObjectID(.devUser, number).displayID) does not exist")
        }
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
