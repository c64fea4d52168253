import Foundation
import Hummingbird
import ParleyApp
import ParleyCore
import ParleyStore

/// The admin page for customers: the newest hundred with their org and email, and a new customer (as
/// `rev-users.create`: `ParleyAPI.createRevUser`). Customers mostly arrive on their own, through the
/// widget's session tokens; this is for the ones a team adds by hand.
extension WebInterface {
    func performCustomers(_ action: String, number: Int?, form: FormData, caller: Caller) async throws -> String {
        var org: Int?
        if let id = form.text("org") {
            org = try await api.requireExists(RevOrg.self, try Fields.parseID(id, field: "org", [.revOrg]), field: "org").number
        }
        let email = form.text("email")?.lowercased()
        if let email, !email.contains("@") { throw APIError.invalidField("email", "expected an email address") }
        switch (action, number) {
        case ("create", nil):
            guard let name = form.text("name") else { throw APIError.missing("name") }
            _ = try await api.createRevUser(displayName: name, fullName: nil, email: email, externalRef: nil, revOrg: org,
                                            phoneNumbers: [], description: nil, caller: caller.actor)
            return "customer_created"
        case ("update", let number?):
            // The form shows every field: a blank org makes the customer unidentified, a blank email removes it.
            let name = form.text("name")
            let newOrg = org
            _ = try await api.app.update(RevUser.self, number: number, actor: caller.actor, at: clock.now()) { user in
                var user = user
                if let name { user.displayName = name }
                user.email = email
                user.revOrg = newOrg
                return user
            }
            return "customer_updated"
        case ("delete", let number?):
            try await api.app.deleteCustomer(number, by: caller)
            return "customer_deleted"
        default:
            throw APIError.notFound("admin action '\(action)'")
        }
    }

    func customersSection(_ session: WebSession) async throws -> HTML {
        let customers = try await firstHundred(RevUser.self, newestFirst: true)
        let orgs = try await firstHundred(RevOrg.self).items
        let names = Dictionary(orgs.map { ($0.number, $0.displayName) }, uniquingKeysWith: { first, _ in first })
        let csrf = pages.csrfField(session)
        let rows = HTML.join(customers.items.map { customer -> HTML in
            let base = "/inbox/admin/customers/\(customer.number)"
            let options = HTML.join(orgs.map { org -> HTML in
                "<option value=\"\(org.id.displayID)\"\(customer.revOrg == org.number ? HTML.trusted(" selected") : .empty)>\(org.displayName)</option>"
            })
            return """
            <tr data-customer="\(customer.email ?? customer.id.displayID)"><td><strong>\(customer.displayName ?? customer.fullName ?? "—")</strong>
              <div class="small muted">\(customer.email ?? "no email") · \(customer.id.displayID)</div></td>
              <td>\(customer.revOrg.map { names[$0] ?? ObjectID(.revOrg, $0).displayID } ?? "unidentified")</td>
              <td class="small">\(pages.ago(customer.createdDate))</td>
              <td><details><summary class="small">Edit</summary>
                <form class="inline" method="post" action="\(base)/update">\(csrf)
                  <input type="text" name="name" aria-label="Name" value="\(customer.displayName ?? "")">
                  <input type="email" name="email" aria-label="Email" value="\(customer.email ?? "")">
                  <select name="org" aria-label="Org"><option value="">unidentified</option>\(options)</select>
                  <button type="submit">Save</button></form>
                <form class="inline" method="post" action="\(base)/delete">\(csrf)<button class="danger" type="submit">Delete (ends their sessions)</button></form>
              </details></td></tr>
            """
        })
        return """
        <table class="list"><thead><tr><th>Customer</th><th>Org</th><th>Since</th><th></th></tr></thead><tbody>\(rows)</tbody></table>
        \(customers.nextCursor == nil ? HTML.empty : "<p class=\"small muted\">The newest 100 are shown; the API lists them all (<code>rev-users.list</code>).</p>")
        <h2>Add a customer</h2>
        <form class="stack" method="post" action="/inbox/admin/customers" id="add-customer">\(pages.csrfField(session))
          <label>Name <input type="text" name="name" required></label>
          <label>Email <input type="email" name="email"></label>
          <label>Org <select name="org"><option value="">unidentified</option>\(HTML.join(orgs.map { "<option value=\"\($0.id.displayID)\">\($0.displayName)</option>" }))</select></label>
          <button class="primary" type="submit">Add customer</button>
        </form>
        """
    }
}
