import Hummingbird
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

extension ParleyAPI {
    func registerWorks(on router: RPCRouter) {
        router.rpc("works.create", created: true) { fields, context in
            let caller = try context.requireAgent()
            guard let type = try fields.enumValue("type", WorkType.self) else { throw APIError.missing("type") }
            let title = try fields.requiredString("title")
            let body = try fields.string("body")
            let owners = try fields.ids("owned_by", [.devUser]) ?? []
            for owner in owners { _ = try await devUser(owner, field: "owned_by") }
            let stage = try workStage(fields) ?? "open"
            let now = clock.now()
            let work = try await app.insert(Work.self, actor: caller.actor, at: now) { number in
                Work(number: number, type: type, title: title, body: body, ownedBy: owners.map(\.number), stage: stage,
                     createdBy: caller.actor, at: now)
            }
            return .object(["work": try await renderWork(work)])
        }
        router.rpc("works.get", readable: true) { fields, context in
            _ = try context.requireAgent()
            return .object(["work": try await renderWork(try await object(Work.self, fields))])
        }
        router.rpc("works.list", readable: true) { fields, context in
            _ = try context.requireAgent()
            var query = try directoryQuery(fields)
            query.keys["type"] = try fields.strings("type")
            query.keys["owned_by"] = try fields.ids("owned_by", [.devUser])?.map { String($0.number) }
            query.keys["stage"] = try fields.object("stage")?.strings("name")
            let page = try await store.list(Work.self, query: query)
            var wanted = References.Wanted()
            page.items.forEach { wanted.devUsers.formUnion($0.ownedBy) }
            let wire = try await wire(wanted)
            return listResponse("works", page, render: wire.work)
        }
        router.rpc("works.update") { fields, context in
            let caller = try context.requireAgent()
            let id = try fields.requiredID("id", [.work])
            let title = try fields.string("title")
            let body = try fields.string("body")
            let stage = try workStage(fields)
            let owners = try fields.idUpdate("owned_by", [.devUser])
            for owner in owners ?? [] { _ = try await devUser(owner, field: "owned_by") }
            let work = try await app.updateWork(id.number, actor: caller.actor) { work in
                var work = work
                if let title { work.title = title }
                if let body { work.body = body }
                if let stage { work.stage = stage }
                if let owners { work.ownedBy = owners.map(\.number) }
                return work
            }
            return .object(["work": try await renderWork(work)])
        }
    }

    private func workStage(_ fields: Fields) throws(APIError) -> String? {
        let name: String?
        if case .object? = fields.values["stage"] { name = try fields.object("stage")?.string("name") } else { name = try fields.string("stage") }
        guard let name else { return nil }
        let known = Work.openStages.union(Work.closedStages)
        guard known.contains(name) else {
            throw APIError.invalidEnum("stage.name", name, allowed: known.sorted())
        }
        return name
    }

    func renderWork(_ work: Work) async throws -> JSONValue {
        var wanted = References.Wanted()
        wanted.devUsers.formUnion(work.ownedBy)
        return try await render(work, wanted: wanted, Wire.work)
    }
}
