import Foundation
import Hummingbird
import ParleyApp
import ParleyCore
import ParleyStore

/// The admin page for API tokens: every active agent's personal access tokens and signed-in browsers,
/// with when they expire; a new token for an agent with an expiry, shown once on the page that answers
/// (never in an address, never again); revoking one at once. The application layer's token use cases
/// (`issuePersonalToken`, `tokens(of:)`, `revokeToken`) do the work, as for `auth-tokens.*`.
extension WebInterface {
    /// POST /inbox/admin/tokens: a new personal access token, shown once.
    func createToken(_ form: FormData, session: WebSession) async throws -> Response {
        do {
            guard let agent = form.text("agent") else { throw APIError.missing("agent") }
            let holder = try Fields.parseID(agent, field: "agent", [.devUser])
            let days = form.text("expires_in_days").flatMap(Int.init) ?? 90
            guard (1...3_650).contains(days) else { throw APIError.invalidField("expires_in_days", "between 1 and 3650 days") }
            let now = clock.now()
            let token = TokenSecret.generate(prefix: "parley_pat_")
            let number = try await api.app.issuePersonalToken(hash: TokenSecret.hash(token), for: holder.number, at: now,
                                                              expiresAt: now.addingTimeInterval(Double(days) * 86_400), hint: TokenSecret.hint(token))
            return shownOnce(.tokens, session: session, id: "new-token",
                             lead: "New token \(ObjectID(.token, number).displayID) for \(holder.displayID), valid \(days) days. Copy it now: it is shown this once.",
                             secret: token, then: try await tokensSection(session))
        } catch {
            return Self.back("/inbox/admin/tokens", error: error)
        }
    }

    func tokensSection(_ session: WebSession) async throws -> HTML {
        let csrf = pages.csrfField(session)
        let agents = try await allOf(DevUser.self).filter { $0.state == .active }
        let now = clock.now()
        var rows: [HTML] = []
        for agent in agents {
            for numbered in try await api.app.tokens(of: .devUser(agent.number), by: session.caller) {
                let token = numbered.token
                guard !token.revoked, token.expiresAt.map({ $0 > now }) ?? true, token.kind != .session else { continue }
                let id = ObjectID(.token, numbered.number)
                let kind = token.kind == .pat ? "API token" : "signed-in browser"
                rows.append("""
                    <tr data-token="\(id.displayID)"><td>\(agent.displayName)</td><td>\(kind) <span class="muted small">\(id.displayID) \(token.hint ?? "")</span></td>
                      <td class="small">\(pages.ago(token.createdDate))</td>
                      <td class="small">\(token.expiresAt.map { String(Timestamp.format($0).prefix(10)) } ?? "never")</td>
                      <td class="actions"><form method="post" action="/inbox/admin/tokens/\(numbered.number)/revoke">\(csrf)<button class="danger" type="submit">Revoke</button></form></td></tr>
                    """)
            }
        }
        let options = HTML.join(agents.map { "<option value=\"\($0.id.displayID)\">\($0.displayName) (\($0.email))</option>" })
        return """
        <table class="list"><thead><tr><th>Agent</th><th>Token</th><th>Created</th><th>Expires</th><th></th></tr></thead><tbody>\(HTML.join(rows))</tbody></table>
        <h2>New API token</h2>
        <form class="stack" method="post" action="/inbox/admin/tokens" id="add-token">\(csrf)
          <label>For <select name="agent">\(options)</select></label>
          <label>Valid for (days) <input type="text" inputmode="numeric" name="expires_in_days" value="90"></label>
          <button class="primary" type="submit">Create token</button>
          <p class="small muted">It is shown once, on the page that answers. Requests send it as <code>Authorization: Bearer …</code>; it acts as that agent.</p>
        </form>
        """
    }
}
