import Foundation
import ParleyCore
import ParleyStore

/// What `dev-users.update` changes in a dev user; nil leaves a field as it is.
public struct DevUserChanges: Sendable, Equatable {
    public var displayName: String?
    public var fullName: String?
    public var role: DevUserRole?
    public var state: UserState?

    public init(displayName: String? = nil, fullName: String? = nil, role: DevUserRole? = nil, state: UserState? = nil) {
        self.displayName = displayName
        self.fullName = fullName
        self.role = role
        self.state = state
    }

    /// Whether the change touches what the user may do (their role or state), which only an admin decides.
    var changesAccess: Bool { role != nil || state != nil }
}

/// Who may act, and on whose credentials: dev users' names, roles and states, and tokens.
///
/// The rules (docs/api.md, docs/security.md):
/// - an agent may change their own display and full name; anything about another dev user, and anyone's
///   role or state, is an admin's (403 otherwise);
/// - a dev user is set `active` or `deactivated` here (DevRev's other states are not set by hand);
/// - an active admin always remains: the last one can be neither deactivated nor made an agent, by anyone,
///   themselves included (403). The rule is decided in the writing transaction, on the active dev users as
///   they are there, so two admins deactivating each other at once cannot both succeed;
/// - deactivating revokes every token the user holds (personal access tokens, the inbox's browser sessions)
///   in the same transaction; every request also checks that its token's user is active, so nothing of
///   theirs works from that moment. Reactivating brings no token back (issue new ones); a password stays;
/// - tokens are listed by admins for anyone, by agents for themselves; an admin revokes any token by its id,
///   an agent their own (another's is not found); any caller may revoke the token they are using.
extension ParleyApp {
    /// The states `dev-users.update` sets.
    public static let settableUserStates: [UserState] = [.active, .deactivated]

    /// Changes a dev user as `changes` says, by the rules above.
    public func updateDevUser(_ number: Int, _ changes: DevUserChanges, by caller: Caller, at now: Date) async throws -> DevUser {
        guard caller.isAgent else { throw DomainError.forbidden("customers cannot change dev users") }
        if !caller.isAdmin {
            guard caller.actor == .devUser(number) else { throw DomainError.forbidden("only an admin may change another dev user") }
            guard !changes.changesAccess else { throw DomainError.forbidden("only an admin may change a dev user's role or state") }
        }
        if let state = changes.state, !Self.settableUserStates.contains(state) {
            throw DomainError.invalidEnum(field: "state", value: state.rawValue, allowed: Self.settableUserStates.map(\.rawValue))
        }
        if let name = changes.displayName, name.trimmed.isEmpty {
            throw DomainError.invalidField("display_name", message: "must not be empty")
        }
        return try await store.updateDevUser(number: number) { current, active in
            var next = current
            if let name = changes.displayName { next.displayName = name.trimmed }
            if let name = changes.fullName { next.fullName = name }
            if let role = changes.role { next.role = role }
            if let state = changes.state { next.state = state }
            let revokes = next.state != .active
            if next == current {
                // Nothing changes; deactivating again still revokes whatever the user holds (a row edited by hand).
                return revokes ? AccessPlan(user: Recorded(current, events: []), revokesTokens: true) : nil
            }
            let wasActiveAdmin = current.state == .active && current.role == .admin
            let staysActiveAdmin = next.state == .active && next.role == .admin
            if wasActiveAdmin, !staysActiveAdmin, !active.contains(where: { $0.number != number && $0.role == .admin }) {
                throw DomainError.forbidden(
                    "\(current.id.displayID) is the last active admin: make another dev user an admin before deactivating or demoting them")
            }
            next.modifiedBy = caller.actor
            next.modifiedDate = now
            let event = ChangeEvent(object: next.id, actor: caller.actor, at: now, kind: .fieldChanged,
                                    before: .text(try Self.recordedJSON(current)), after: .text(try Self.recordedJSON(next)))
            return AccessPlan(user: Recorded(next, events: [event]), revokesTokens: revokes)
        }
    }

    // MARK: Tokens

    /// Issues a personal access token for dev user `user` (`act_as`; the caller of `auth-tokens.create` is an
    /// admin): only while the user is active, so a deactivated agent gets no new access.
    @discardableResult
    public func issuePersonalToken(hash: String, for user: Int, at now: Date, expiresAt: Date?, hint: String?) async throws -> Int {
        guard let holder = try await store.object(DevUser.self, number: user) else {
            throw DomainError.invalidID(field: "act_as", value: ObjectID(.devUser, user).displayID)
        }
        guard holder.state == .active else {
            throw DomainError.invalidField("act_as", message: "\(holder.id.displayID) is \(holder.state.rawValue): reactivate them first")
        }
        return try await issueToken(hash: hash, token: StoredToken(subject: .devUser(user), kind: .pat, createdDate: now,
                                                                   expiresAt: expiresAt, hint: hint))
    }

    /// The tokens `subject` holds, every kind, revoked and expired ones included, newest first: anyone's for
    /// an admin, their own for an agent.
    public func tokens(of subject: Actor, by caller: Caller) async throws -> [NumberedToken] {
        guard caller.isAgent else { throw DomainError.forbidden("customers cannot list tokens") }
        guard caller.isAdmin || caller.actor == subject else {
            throw DomainError.forbidden("only an admin may list another user's tokens")
        }
        return try await store.tokens(of: subject)
    }

    /// Revokes token `number`: any for an admin, their own for an agent (another's is not found: it is not
    /// theirs to know of). The revocation is recorded on the token's holder.
    public func revokeToken(number: Int, by caller: Caller, at now: Date) async throws {
        guard caller.isAgent else { throw DomainError.forbidden("customers cannot revoke tokens by id") }
        let id = ObjectID(.token, number)
        guard let found = try await store.token(number: number), caller.isAdmin || found.token.subject == caller.actor else {
            throw DomainError.notFound(id.displayID)
        }
        try await store.revokeToken(number: number, events: [
            ChangeEvent(object: found.token.subject.objectID, actor: caller.actor, at: now, kind: .tokenRevoked,
                        field: found.token.kind.rawValue, after: .text(id.displayID)),
        ])
    }

    /// Revokes the token (with hash `hash`) that authenticated the caller's request: anyone may end their
    /// own access.
    public func revokeCurrentToken(hash: String) async throws {
        try await store.revokeToken(hash: hash)
    }
}
