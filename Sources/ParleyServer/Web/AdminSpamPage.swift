import Foundation
import Hummingbird
import ParleyApp
import ParleyCore
import ParleyStore

/// The admin page for spam rules: the rules in force as JSON (blocked domains and senders, weighted
/// patterns, the threshold; docs/routing.md) to edit and save, as `spam-rules.set` does, and a link to the
/// review queue (the Suspended view), where agents approve or discard what the rules held back.
extension WebInterface {
    /// POST /inbox/admin/spam (checked by `adminForm`): saves the rules, or gives them back as typed with
    /// what is wrong with them.
    func saveSpamRules(_ form: FormData, session: WebSession) async throws -> Response {
        let rules = form["rules"] ?? ""
        do {
            _ = try await api.installSpamRules(json: rules, by: session.caller)
            return Self.redirect("/inbox/admin/spam?done=spam_saved")
        } catch {
            let problem: HTML = "<div class=\"flash\" role=\"alert\" id=\"spam-error\">\(APIError(error).message)</div>"
            return Self.page(adminDocument(.spam, session: session, notice: (nil, nil), body: HTML.join([problem, try await spamSection(session, rules: rules)])),
                             status: APIError(error).status)
        }
    }

    func spamSection(_ session: WebSession, rules given: String? = nil) async throws -> HTML {
        var rules = given ?? #"{"blocked_domains": [], "blocked_senders": [], "rules": [{"pattern": "click here", "weight": 0.5}], "threshold": 1}"#
        if given == nil, let stored = try await store.latestConfiguration(kind: CompiledConfigurations.spamKind),
           let object = try? JSONSerialization.jsonObject(with: Data(stored.document.utf8)),
           let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
            rules = String(decoding: pretty, as: UTF8.self)
        }
        let held = try await store.stageCounts()[.suspended] ?? 0
        return """
        <p>\(held == 1 ? "1 conversation waits" : "\(held) conversations wait") in the review queue:
          <a href="/inbox?view=suspended">Suspended</a> (approve routes it as it would have been routed; discard archives it).</p>
        <form class="stack routing" method="post" action="/inbox/admin/spam" id="spam">\(pages.csrfField(session))
          <label>Spam rules, in force when saved (JSON: <code>blocked_domains</code>, <code>blocked_senders</code>,
            <code>rules</code> with <code>pattern</code> and <code>weight</code>, <code>threshold</code>; see docs/routing.md)
            <textarea name="rules" rows="12" spellcheck="false">\(rules)</textarea></label>
          <button class="primary" type="submit">Save</button>
        </form>
        """
    }
}
