import Foundation
import Hummingbird
import ParleyApp
import ParleyCore
import ParleyStore

/// The admin page for routing rules: the rules in force as JSON (docs/routing.md) to edit, with *Explain*
/// (paste a message, see the owner, group and priority it would get, and why) and *Simulate* (replay the
/// stored conversations, see who would own what instead) before *Save*. Explain and simulate change
/// nothing (`ParleyApp.explainRouting`, `simulateRouting`); save is `routing-rules.set`'s use case.
extension WebInterface {
    struct RoutingTrial {
        var rules: String
        var title = ""
        var body = ""
        var email = ""
        var result: HTML = .empty
    }

    /// POST /inbox/admin/routing (checked by `adminForm`): explain, simulate or save the rules in the form.
    func tryRouting(_ form: FormData, session: WebSession) async throws -> Response {
        var trial = RoutingTrial(rules: form["rules"] ?? "", title: form["title"] ?? "", body: form["body"] ?? "", email: form["email"] ?? "")
        do {
            let (_, engine) = try RoutingConfigurationLoader.compile(json: trial.rules)
            switch form.text("do") {
            case "explain":
                trial.result = try await explained(engine, trial)
            case "simulate":
                trial.result = try await simulated(engine)
            case "save":
                _ = try await RoutingConfigurationLoader.install(json: trial.rules, app: api.app, actor: session.caller.actor, at: clock.now())
                return Self.redirect("/inbox/admin/routing?done=routing_saved")
            default:
                throw APIError.invalidEnum("do", form.text("do") ?? "", allowed: ["explain", "simulate", "save"])
            }
            return Self.page(adminDocument(.routing, session: session, notice: (nil, nil), body: try await routingSection(session, trial)))
        } catch {
            // The rules come back as typed, with what is wrong with them (the API's message names the rule
            // and the field); this is the admin's own form, never a link.
            let problem: HTML = "<div class=\"flash\" role=\"alert\" id=\"routing-error\">\(APIError(error).message)</div>"
            trial.result = problem
            return Self.page(adminDocument(.routing, session: session, notice: (nil, nil), body: try await routingSection(session, trial)),
                             status: APIError(error).status)
        }
    }

    func routingSection(_ session: WebSession, _ given: RoutingTrial? = nil) async throws -> HTML {
        var trial = given ?? RoutingTrial(rules: "")
        if given == nil {
            trial.rules = try await currentRules()
        }
        let agents = try await allOf(DevUser.self).filter { $0.state == .active }
        let groups = try await allOf(Group.self)
        let ids = HTML.join((agents.map { "\($0.displayName): \($0.id.displayID)" } + groups.map { "\($0.name): \($0.id.displayID)" })
            .map { "<li><code>\($0)</code></li>" })
        return """
        <form class="stack routing" method="post" action="/inbox/admin/routing" id="routing">\(pages.csrfField(session))
          <label>Rules, in force when saved (JSON: <code>rules</code> with <code>id</code>, <code>keywords</code>, <code>owner</code>, <code>group</code>,
            <code>priority</code>; <code>fallback</code>; see docs/routing.md)
            <textarea name="rules" rows="12" spellcheck="false">\(trial.rules)</textarea></label>
          <fieldset><legend class="small muted">Try a message</legend>
            <label>Subject <input type="text" name="title" value="\(trial.title)"></label>
            <label>Message <textarea name="body" rows="3">\(trial.body)</textarea></label>
            <label>Customer's email (finds their org by its domain) <input type="email" name="email" value="\(trial.email)"></label>
          </fieldset>
          <div class="row"><button type="submit" name="do" value="explain">Explain</button>
            <button type="submit" name="do" value="simulate">Simulate on stored conversations</button>
            <button class="primary" type="submit" name="do" value="save">Save</button></div>
        </form>
        <section id="routing-result">\(trial.result)</section>
        <h2>Ids to use in rules</h2><ul class="small ids">\(ids)</ul>
        """
    }

    /// The rules in force, as JSON to edit; an example when there are none yet.
    private func currentRules() async throws -> String {
        guard let stored = try await store.latestConfiguration(kind: CompiledConfigurations.routingKind),
              let object = try? JSONSerialization.jsonObject(with: Data(stored.document.utf8)),
              let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) else {
            return #"{"rules": [{"id": "billing", "keywords": ["invoice", "refund"], "owner": "DEVU-1"}]}"#
        }
        return String(decoding: pretty, as: UTF8.self)
    }

    private func names() async throws -> (agents: [Int: String], groups: [Int: String]) {
        let agents = try await allOf(DevUser.self)
        let groups = try await allOf(Group.self)
        return (Dictionary(agents.map { ($0.number, $0.displayName) }, uniquingKeysWith: { a, _ in a }),
                Dictionary(groups.map { ($0.number, $0.name) }, uniquingKeysWith: { a, _ in a }))
    }

    private func explained(_ engine: RoutingEngine, _ trial: RoutingTrial) async throws -> HTML {
        let explanation = try await api.app.explainRouting(engine, title: trial.title, body: trial.body, email: trial.email.isEmpty ? nil : trial.email)
        let (agents, groups) = try await names()
        let decision = explanation.decision
        let owner = decision.owners.map { agents[$0] ?? ObjectID(.devUser, $0).displayID }.joined(separator: ", ")
        let wording = TimelineWording(names: [:])
        return """
        <div class="explain" id="explain"><h2>This message would go to</h2><dl class="facts">
          <dt>Owner</dt><dd id="explain-owner">\(owner.isEmpty ? "nobody (unassigned)" : owner)</dd>
          <dt>Group</dt><dd id="explain-group">\(decision.group.map { groups[$0] ?? ObjectID(.group, $0).displayID } ?? "none")</dd>
          <dt>Priority</dt><dd id="explain-priority">\(decision.priority.rawValue.uppercased())</dd>
          <dt>Customer org</dt><dd>\(explanation.account?.displayName ?? "not found (an unidentified customer)")</dd>
          <dt>Why</dt><dd id="explain-why">\(wording.routing(decision.record))</dd></dl></div>
        """
    }

    private func simulated(_ engine: RoutingEngine) async throws -> HTML {
        let simulation = try await api.app.simulateRouting(engine)
        let (agents, _) = try await names()
        func owners(_ numbers: [Int]) -> String {
            numbers.isEmpty ? "unassigned" : numbers.map { agents[$0] ?? ObjectID(.devUser, $0).displayID }.joined(separator: ", ")
        }
        let wording = TimelineWording(names: [:])
        let rows = HTML.join(simulation.moves.prefix(50).map { move -> HTML in
            "<tr><td>\(move.count)</td><td>\(owners(move.from))</td><td>\(owners(move.to))</td><td class=\"small\">\(wording.routing(move.why))</td></tr>"
        })
        return """
        <div class="simulate" id="simulate"><h2>On the stored conversations</h2>
          <p id="simulate-summary">\(simulation.replayed) of the newest conversations replayed: \(simulation.changed) would go to a different owner.</p>
          \(simulation.moves.isEmpty ? HTML.empty : "<table class=\"list\"><thead><tr><th>Conversations</th><th>Now</th><th>Would be</th><th>Why</th></tr></thead><tbody>\(rows)</tbody></table>")
        </div>
        """
    }
}
