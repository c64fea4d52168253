import Hummingbird
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore
import Synchronization

/// Reading and checking routing configurations, for the API, `--routing FILE` and the `parley routing` commands.
public enum RoutingConfigurationLoader {
    /// Parses a JSON document into a configuration and compiles it; errors name the rule and the field.
    public static func compile(json: String, version: Int = 0) throws(APIError) -> (RoutingConfiguration, RoutingEngine) {
        let configuration: RoutingConfiguration
        do {
            configuration = try JSONDecoder().decode(RoutingConfiguration.self, from: Data(json.utf8))
        } catch let error as DecodingError {
            throw APIError(error)
        } catch {
            throw APIError(.badRequest, type: "parse_error", message: "routing configuration is not valid JSON")
        }
        do {
            return (configuration, try RoutingEngine(configuration, version: version))
        } catch {
            throw APIError(.badRequest, type: "invalid_field", message: "invalid routing configuration: \(error.description)",
                           fieldName: error.field)
        }
    }

    /// Checks that the dev users and groups the rules name exist and are active.
    static func checkReferences(_ engine: RoutingEngine, store: any ParleyStore) async throws {
        let users = try await store.objects(DevUser.self, numbers: engine.referencedDevUsers)
        for number in engine.referencedDevUsers.sorted() where users[number]?.state != .active {
            throw APIError(.badRequest, type: "invalid_id", message: "invalid routing configuration: DEVU-\(number) is not an active dev user",
                           fieldName: "rules", value: "DEVU-\(number)")
        }
        let groups = try await store.objects(Group.self, numbers: engine.referencedGroups)
        for number in engine.referencedGroups.sorted() where groups[number] == nil {
            throw APIError(.badRequest, type: "invalid_id", message: "invalid routing configuration: GROUP-\(number) does not exist",
                           fieldName: "rules", value: "GROUP-\(number)")
        }
    }

    /// Stores `json` as the new version unless it equals the one in force; returns the version in force.
    public static func install(json: String, app: ParleyApp, actor: Actor, at now: Date) async throws -> Int {
        let store = app.store
        let (configuration, engine) = try compile(json: json)
        try await checkReferences(engine, store: store)
        let document = try CompiledConfigurations.encode(configuration)
        if let current = try await store.latestConfiguration(kind: CompiledConfigurations.routingKind), current.document == document {
            return current.version
        }
        return try await app.saveConfiguration(kind: CompiledConfigurations.routingKind, document: document, actor: actor, at: now).version
    }
}

extension ParleyAPI {
    func registerConfigurations(on router: RPCRouter) {
        router.rpc("routing-rules.set") { fields, context in
            let caller = try context.requireAdmin()
            let version = try await RoutingConfigurationLoader.install(json: JSONValue.object(fields.values).serialized, app: app,
                                                                       actor: caller.actor, at: clock.now())
            return try await configurationResponse(kind: CompiledConfigurations.routingKind, version: version)
        }
        router.rpc("routing-rules.list", readable: true) { fields, context in
            _ = try context.requireAgent()
            return try await configurationResponse(kind: CompiledConfigurations.routingKind, version: try fields.int("version"))
        }
        router.rpc("spam-rules.set") { fields, context in
            let caller = try context.requireAdmin()
            let version = try await installSpamRules(json: JSONValue.object(fields.values).serialized, by: caller)
            return try await configurationResponse(kind: CompiledConfigurations.spamKind, version: version)
        }
        router.rpc("spam-rules.list", readable: true) { fields, context in
            _ = try context.requireAgent()
            return try await configurationResponse(kind: CompiledConfigurations.spamKind, version: try fields.int("version"))
        }
    }

    /// `{version, configuration, created_date, created_by, versions: [{version, created_date, created_by}]}`.
    private func configurationResponse(kind: String, version: Int?) async throws -> JSONValue {
        let history = try await store.configurationHistory(kind: kind)
        var wanted = References.Wanted()
        history.forEach { wanted.add($0.actor) }
        let wire = try await wire(wanted)
        var body: [String: JSONValue] = [
            "versions": .array(history.map { entry in
                .object(["version": .int(entry.version), "created_date": Timestamp.json(entry.createdDate),
                         "created_by": wire.user(entry.actor)])
            }),
        ]
        let selected = version.map { wanted in history.first { $0.version == wanted } } ?? history.first
        if let version, selected == nil { throw APIError.notFound("version \(version) of \(kind)") }
        if let selected {
            body["version"] = .int(selected.version)
            body["created_date"] = Timestamp.json(selected.createdDate)
            body["created_by"] = wire.user(selected.actor)
            body["configuration"] = try JSONParser.parse(Array(selected.document.utf8))
        } else {
            body["version"] = .int(0)
            body["configuration"] = kind == CompiledConfigurations.spamKind
                ? try JSONParser.parse(Array(try CompiledConfigurations.encode(SpamConfiguration()).utf8))
                : .object(["rules": .array([])])
        }
        return .object(body)
    }
}

extension ParleyAPI {
    /// Checks and stores spam rules (the API's `spam-rules.set` and the admin page); returns the new version.
    func installSpamRules(json: String, by caller: Caller) async throws -> Int {
        guard caller.isAdmin else { throw APIError.forbidden("spam rules are set by an admin") }
        let configuration: SpamConfiguration
        do {
            configuration = try JSONDecoder().decode(SpamConfiguration.self, from: Data(json.utf8))
        } catch {
            throw APIError(error)
        }
        do throws(RoutingConfigurationError) {
            _ = try SpamFilter(configuration, version: 0)
        } catch {
            throw APIError(.badRequest, type: "invalid_field", message: "invalid spam rules: \(error.description)", fieldName: error.field)
        }
        return try await app.saveConfiguration(kind: CompiledConfigurations.spamKind, document: try CompiledConfigurations.encode(configuration),
                                               actor: caller.actor, at: clock.now()).version
    }
}
