import Hummingbird
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

extension ParleyAPI {
    // MARK: Dev users

    func registerDevUsers(on router: RPCRouter) {
        router.rpc("dev-users.create", created: true) { fields, context in
            let caller = try context.requireAdmin()
            let user = try await app.createDevUser(email: try fields.requiredString("email"), displayName: try fields.string("display_name"),
                                                   fullName: try fields.string("full_name"),
                                                   role: try fields.enumValue("role", DevUserRole.self) ?? .agent,
                                                   state: try fields.enumValue("state", UserState.self) ?? .active, by: caller)
            return .object(["dev_user": try await render(user, Wire.devUser)])
        }
        router.rpc("dev-users.get", readable: true) { fields, context in
            _ = try context.requireAgent()
            return .object(["dev_user": try await render(try await object(DevUser.self, fields), Wire.devUser)])
        }
        router.rpc("dev-users.self", readable: true) { _, context in
            let caller = try context.requireAgent()
            guard case .devUser(let number) = caller.actor, let user = try await store.object(DevUser.self, number: number) else {
                throw APIError.forbidden("dev-users.self needs a dev user's token")
            }
            return .object(["dev_user": try await render(user, Wire.devUser)])
        }
        router.rpc("dev-users.list", readable: true) { fields, context in
            _ = try context.requireAgent()
            var query = try directoryQuery(fields)
            query.keys["email"] = try fields.strings("email")?.map { $0.lowercased() }
            query.keys["state"] = try fields.strings("state")
            let page = try await store.list(DevUser.self, query: query)
            let wire = try await wire(.init())
            return listResponse("dev_users", page, render: wire.devUser)
        }

        // Who may change what (an agent their own names; an admin anything, but never the last active admin
        // away) is ParleyApp's to decide: these parse and render.
        router.rpc("dev-users.update") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.devUser])
            let changes = DevUserChanges(displayName: try fields.string("display_name"), fullName: try fields.string("full_name"),
                                         role: try fields.enumValue("role", DevUserRole.self),
                                         state: try fields.enumValue("state", UserState.self))
            let user = try await app.updateDevUser(id.number, changes, by: caller, at: clock.now())
            return .object(["dev_user": try await render(user, Wire.devUser)])
        }
        router.rpc("dev-users.deactivate") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.devUser])
            _ = try await app.updateDevUser(id.number, DevUserChanges(state: .deactivated), by: caller, at: clock.now())
            return .object([:])
        }
        // DevRev's `groups` adds the reactivated user to those groups (each must exist). The answer carries
        // the spec's `invite_sent` and the `dev_user` that DevRev's Python SDK reads.
        router.rpc("dev-users.activate") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.devUser])
            var groups: [Int] = []
            for group in try fields.ids("groups", [.group]) ?? [] {
                groups.append(try await requireExists(Group.self, group, field: "groups").number)
            }
            let now = clock.now()
            let user = try await app.updateDevUser(id.number, DevUserChanges(state: .active), by: caller, at: now)
            for group in groups {
                _ = try await app.update(Group.self, number: group, actor: caller.actor, at: now) { group in
                    var group = group
                    if !group.members.contains(id.number) { group.members.append(id.number) }
                    return group
                }
            }
            return .object(["dev_user": try await render(user, Wire.devUser), "invite_sent": .bool(false)])
        }
    }
}
