import Foundation
import Hummingbird
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

/// The admin page for customer orgs: each org's email domains (a new customer writing from one joins the
/// org) and its default owner (where its conversations go unless a routing rule says otherwise); a new
/// org. The same code as `accounts.create` and `accounts.update` (`createAccountWithRevOrg`,
/// `updateAccount`), so the same checks.
extension WebInterface {
    func performOrgs(_ action: String, number: Int?, form: FormData, caller: Caller) async throws -> String {
        var values: [String: JSONValue] = [:]
        if let domains = form["domains"] {
            values["domains"] = .array(domains.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                .map(JSONValue.string))
        }
        if let owner = form["owner"] { values["owned_by"] = .array(owner.isEmpty ? [] : [.string(owner)]) }
        switch (action, number) {
        case ("create", nil):
            guard let name = form.text("name") else { throw APIError.missing("name") }
            _ = try await api.createAccountWithRevOrg(Fields(values), orgFields: Fields([:]), displayName: name, caller: caller)
            return "org_created"
        case ("update", let number?):
            values["id"] = .string(ObjectID(.account, number).displayID)
            if let name = form.text("name") { values["display_name"] = .string(name) }
            _ = try await api.updateAccount(Fields(values), caller: caller)
            return "org_updated"
        default:
            throw APIError.notFound("admin action '\(action)'")
        }
    }

    func orgsSection(_ session: WebSession) async throws -> HTML {
        let csrf = pages.csrfField(session)
        let accounts = try await firstHundred(Account.self)
        let agents = try await allOf(DevUser.self).filter { $0.state == .active }
        func owners(selected: Int?) -> HTML {
            HTML.join(["<option value=\"\">no default owner</option>" as HTML] + agents.map { agent -> HTML in
                "<option value=\"\(agent.id.displayID)\"\(selected == agent.number ? HTML.trusted(" selected") : .empty)>\(agent.displayName)</option>"
            })
        }
        let rows = HTML.join(accounts.items.map { account -> HTML in
            """
            <tr data-org="\(account.displayName)"><td><form class="inline" method="post" action="/inbox/admin/orgs/\(account.number)/update">\(csrf)
                <input type="text" name="name" value="\(account.displayName)" aria-label="Name of \(account.displayName)" required>
                <input type="text" name="domains" value="\(account.domains.joined(separator: ", "))" aria-label="Email domains of \(account.displayName)" placeholder="acme.com, acme.co.uk">
                <select name="owner" aria-label="Default owner of \(account.displayName)">\(owners(selected: account.ownedBy.first))</select>
                <button type="submit">Save</button></form></td>
              <td class="small muted">\(account.id.displayID) · since \(pages.ago(account.createdDate))</td></tr>
            """
        })
        return """
        <table class="list"><thead><tr><th>Org, email domains, default owner</th><th></th></tr></thead><tbody>\(rows)</tbody></table>
        \(accounts.nextCursor == nil ? HTML.empty : "<p class=\"small muted\">The first 100 orgs are shown; the API lists them all (<code>accounts.list</code>).</p>")
        <h2>Add a customer org</h2>
        <form class="stack" method="post" action="/inbox/admin/orgs" id="add-org">\(csrf)
          <label>Name <input type="text" name="name" required></label>
          <label>Email domains (comma-separated) <input type="text" name="domains" placeholder="acme.com"></label>
          <label>Default owner <select name="owner">\(owners(selected: nil))</select></label>
          <button class="primary" type="submit">Add org</button>
          <p class="small muted">A new org is a new customer for routing: its conversations start at a lower priority for its first days.</p>
        </form>
        """
    }
}
