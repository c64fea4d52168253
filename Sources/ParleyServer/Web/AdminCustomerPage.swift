import Foundation
import Hummingbird
import ParleyApp
import ParleyCore
import ParleyStore

/// The admin page for customers: the newest hundred with their org and email, and a new customer (as
/// `rev-users.create`: `ParleyAPI.createRevUser`). Customers mostly arrive on their own, through the
/// widget's session tokens; this is for the ones a team adds by hand.
extension WebInterface {
    func performCustomers(_ action: String, form: FormData, caller: Caller) async throws -> String {
        guard action == "create" else { throw APIError.notFound("admin action '\(action)'") }
        guard let name = form.text("name") else { throw APIError.missing("name") }
        var org: Int?
        if let id = form.text("org") {
            org = try await api.requireExists(RevOrg.self, try Fields.parseID(id, field: "org", [.revOrg]), field: "org").number
        }
        _ = try await api.createRevUser(displayName: name, fullName: nil, email: form.text("email")?.lowercased(), externalRef: nil, revOrg: org,
                                        phoneNumbers: [], description: nil, caller: caller.actor)
        return "customer_created"
    }

    func customersSection(_ session: WebSession) async throws -> HTML {
        let customers = try await firstHundred(RevUser.self, newestFirst: true)
        let orgs = try await firstHundred(RevOrg.self).items
        let names = Dictionary(orgs.map { ($0.number, $0.displayName) }, uniquingKeysWith: { first, _ in first })
        let rows = HTML.join(customers.items.map { customer -> HTML in
            """
            <tr data-customer="\(customer.email ?? customer.id.displayID)"><td><strong>\(customer.displayName ?? customer.fullName ?? "—")</strong>
              <div class="small muted">\(customer.email ?? "no email") · \(customer.id.displayID)</div></td>
              <td>\(customer.revOrg.map { names[$0] ?? ObjectID(.revOrg, $0).displayID } ?? "unidentified")</td>
              <td class="small">\(pages.ago(customer.createdDate))</td></tr>
            """
        })
        return """
        <table class="list"><thead><tr><th>Customer</th><th>Org</th><th>Since</th></tr></thead><tbody>\(rows)</tbody></table>
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
