import Foundation
import Hummingbird
import ParleyApp
import ParleyCore
import ParleyStore

/// The admin page for webhooks: each one's target, the events it gets, how far its deliveries have come
/// (its position against the newest event), and its last failure with when it retries; a new webhook,
/// whose signing secret is shown once on the page that answers; deleting one. The same checks as
/// `webhooks.create` (`ParleyAPI.createWebhook`: public targets only, unless --allow-private-webhooks).
extension WebInterface {
    /// POST /inbox/admin/webhooks: a new webhook, its secret shown once.
    func createWebhook(_ form: FormData, session: WebSession) async throws -> Response {
        do {
            guard let url = form.text("url") else { throw APIError.missing("url") }
            let types = form.all("event_types").filter { !$0.isEmpty }
            let webhook = try await api.createWebhook(url: url, eventTypes: types.isEmpty ? nil : types, secret: nil, by: session.caller)
            return shownOnce(.webhooks, session: session, id: "new-webhook",
                             lead: """
                                 Webhook \(webhook.id.displayID) added: it receives what happens from now on. Its signing secret, shown this \
                                 once (deliveries carry <code>X-Parley-Signature</code>, docs/lifecycle.md):
                                 """,
                             secret: webhook.secret, then: try await webhooksSection(session))
        } catch {
            return Self.back("/inbox/admin/webhooks", error: error)
        }
    }

    func webhooksSection(_ session: WebSession) async throws -> HTML {
        let csrf = pages.csrfField(session)
        let webhooks = try await allOf(Webhook.self)
        let latest = try await store.latestOutboxSequence()
        let rows = HTML.join(webhooks.map { webhook -> HTML in
            let behind = max(0, latest - webhook.cursor)
            let state: HTML = if let error = webhook.lastError {
                """
                <span class="badge" data-state="failing">failing</span> <span class="small">\(error)\(webhook.nextAttemptAt.map { "; next try \(pages.ago($0))" } ?? "")</span>
                """
            } else {
                behind == 0 ? "<span class=\"badge\" data-state=\"ok\">up to date</span>" : "<span class=\"badge\" data-state=\"delivering\">\(behind) events to deliver</span>"
            }
            let recent = HTML.join(webhook.recentDeliveries.suffix(5).reversed().map { attempt -> HTML in
                "<li>event \(attempt.sequence) · \(attempt.delivered ? "delivered" : attempt.outcome) · \(pages.ago(attempt.at))</li>"
            })
            return """
            <tr data-webhook="\(webhook.id.displayID)"><td><code>\(webhook.url)</code><div class="small muted">\(webhook.id.displayID) · \(webhook.eventTypes.joined(separator: ", "))</div>
                \(webhook.recentDeliveries.isEmpty ? HTML.empty : "<ul class=\"small deliveries\">\(recent)</ul>")</td>
              <td class="small">event \(webhook.cursor) of \(latest)</td><td>\(state)</td>
              <td class="actions"><form method="post" action="/inbox/admin/webhooks/\(webhook.number)/delete">\(csrf)<button class="danger" type="submit">Delete</button></form></td></tr>
            """
        })
        let choices = HTML.join(Webhook.eventTypes.map { "<label class=\"inline\"><input type=\"checkbox\" name=\"event_types\" value=\"\($0)\" checked> \($0)</label>" })
        return """
        <table class="list"><thead><tr><th>Target</th><th>Delivered up to</th><th>State</th><th></th></tr></thead><tbody>\(rows)</tbody></table>
        <h2>Add a webhook</h2>
        <form class="stack" method="post" action="/inbox/admin/webhooks" id="add-webhook">\(csrf)
          <label>URL <input type="url" name="url" placeholder="https://hooks.example.com/parley" required></label>
          <div>\(choices)</div>
          <button class="primary" type="submit">Add webhook</button>
        </form>
        """
    }
}
