import Foundation
import Hummingbird
import ParleyApp
import ParleyCore
import ParleyStore

/// The inbox's admin pages (admins only): agents, groups and tags, with the same HTML approach, CSRF
/// check and CSP as the inbox. Every form calls the application layer's use cases (`TeamUseCases`,
/// `updateDevUser`, `setPasswordHash`), so a page can do nothing the API would refuse; it answers with a
/// redirect back and a fixed sentence (`PageNotice`), never text from the request.
extension WebInterface {
    enum AdminSection: String, CaseIterable {
        case agents, groups, orgs, customers, tags, routing, spam, webhooks, tokens, mailboxes

        var title: String {
            switch self {
            case .tokens: "API tokens"
            case .orgs: "Customer orgs"
            case .spam: "Spam rules"
            default: rawValue.prefix(1).uppercased() + rawValue.dropFirst()
            }
        }

    }

    func registerAdmin(on router: Router<ParleyRequestContext>) {
        router.get("/inbox/admin") { _, _ in Self.redirect("/inbox/admin/agents") }
        router.get("/inbox/admin/:section") { request, context in
            guard let session = context.webSession else { return Self.redirect("/inbox/sign-in") }
            guard session.caller.isAdmin else { return Self.page(pages.message(title: "Admins only", text: "These pages are for admins."), status: .forbidden) }
            guard let section = AdminSection(rawValue: try context.parameters.require("section")) else {
                return Self.page(pages.message(title: "Not found", text: "There is no such admin page."), status: .notFound)
            }
            let query = FormData(encoded: request.uri.query ?? "")
            let notice = (error: PageNotice.message(query), done: PageNotice.done(query))
            let body: HTML = switch section {
            case .agents: try await agentsSection(session)
            case .groups: try await groupsSection(session)
            case .tags: try await tagsSection(session)
            case .routing: try await routingSection(session)
            case .webhooks: try await webhooksSection(session)
            case .orgs: try await orgsSection(session)
            case .customers: try await customersSection(session)
            case .spam: try await spamSection(session)
            case .tokens: try await tokensSection(session)
            case .mailboxes: try await mailboxesSection(session)
            }
            return Self.page(adminDocument(section, session: session, notice: notice, body: body))
        }
        router.post("/inbox/admin/:section") { request, context in
            try await adminForm(request, context: context, number: nil)
        }
        router.post("/inbox/admin/:section/:number/:action") { request, context in
            try await adminForm(request, context: context, number: try context.parameters.require("number", as: Int.self))
        }
    }

    /// One admin form: checked (session, admin, CSRF), done through the application layer, then back to
    /// its section with what happened.
    private func adminForm(_ request: Request, context: ParleyRequestContext, number: Int?) async throws -> Response {
        guard let session = context.webSession else { return Self.redirect("/inbox/sign-in") }
        let form = try await form(request, context: context)
        try session.checkForm(form)
        guard session.caller.isAdmin else { throw APIError.forbidden("these pages are for admins") }
        guard let section = AdminSection(rawValue: try context.parameters.require("section")) else {
            throw APIError.notFound("admin page")
        }
        // Forms whose answer is a page (results, or a secret shown once) rather than a redirect.
        if number == nil {
            switch section {
            case .routing: return try await tryRouting(form, session: session)
            case .tokens: return try await createToken(form, session: session)
            case .webhooks: return try await createWebhook(form, session: session)
            case .spam: return try await saveSpamRules(form, session: session)
            default: break
            }
        }
        let action = number == nil ? "create" : try context.parameters.require("action")
        let back = "/inbox/admin/\(section.rawValue)"
        do {
            let done = try await performAdmin(section, action: action, number: number, form: form, caller: session.caller)
            return Self.redirect(back + "?done=" + done)
        } catch {
            return Self.back(back, error: error)
        }
    }

    /// Returns the code of the sentence that says what was done (`PageNotice.done`).
    private func performAdmin(_ section: AdminSection, action: String, number: Int?, form: FormData, caller: Caller) async throws -> String {
        let app = api.app
        let now = clock.now()
        switch (section, action, number) {
        case (.agents, "create", nil):
            guard let email = form.text("email") else { throw APIError.missing("email") }
            let role = try form.text("role").map { value in
                guard let role = DevUserRole(rawValue: value) else { throw APIError.invalidEnum("role", value, allowed: DevUserRole.allCases.map(\.rawValue)) }
                return role
            } ?? .agent
            // The password is checked before the agent exists, so a refused one creates nobody.
            var hash: String?
            if let password = form.text("password") { hash = try await PasswordHash.making(password) }
            let user = try await app.createDevUser(email: email, displayName: form.text("display_name"), fullName: nil, role: role, by: caller)
            if let hash { try await app.setPasswordHash(hash, of: user.number, at: now) }
            return "agent_created"
        case (.agents, "role", let number?):
            guard let value = form.text("role"), let role = DevUserRole(rawValue: value) else {
                throw APIError.invalidEnum("role", form.text("role") ?? "", allowed: DevUserRole.allCases.map(\.rawValue))
            }
            _ = try await app.updateDevUser(number, DevUserChanges(role: role), by: caller, at: now)
            return "agent_updated"
        case (.agents, "deactivate", let number?), (.agents, "activate", let number?):
            _ = try await app.updateDevUser(number, DevUserChanges(state: action == "activate" ? .active : .deactivated), by: caller, at: now)
            return action == "activate" ? "agent_activated" : "agent_deactivated"
        case (.agents, "password", let number?):
            guard let password = form.text("password") else { throw APIError.missing("password") }
            guard try await store.object(DevUser.self, number: number)?.state == .active else { throw APIError.notFound("active agent") }
            try await app.setPasswordHash(try await PasswordHash.making(password), of: number, at: now)
            return "password_set"
        case (.groups, "create", nil):
            guard let name = form.text("name") else { throw APIError.missing("name") }
            let owner = try form.text("owner").map { try Fields.parseID($0, field: "owner", [.devUser]).number }
            _ = try await app.createGroup(name: name, description: form.text("description"), owner: owner, by: caller)
            return "group_created"
        case (.groups, "add-member", let number?):
            guard let member = form.text("member") else { throw APIError.missing("member") }
            try await app.addGroupMember(number, member: try Fields.parseID(member, field: "member", [.devUser]).number, by: caller)
            return "member_added"
        case (.groups, "remove-member", let number?):
            guard let member = form.text("member") else { throw APIError.missing("member") }
            try await app.removeGroupMember(number, member: try Fields.parseID(member, field: "member", [.devUser]).number, by: caller)
            return "member_removed"
        case (.tags, "create", nil):
            guard let name = form.text("name") else { throw APIError.missing("name") }
            _ = try await app.createTag(name: name, description: form.text("description"), allowedValues: Self.values(form.text("allowed_values")),
                                        color: form.text("color"), by: caller)
            return "tag_created"
        case (.tags, "update", let number?):
            _ = try await app.updateTag(number, name: form.text("name"), description: form["description"],
                                        allowedValues: form["allowed_values"].map { Self.values($0) }, color: form["color"], by: caller)
            return "tag_updated"
        case (.tags, "delete", let number?):
            try await app.deleteTag(number, by: caller)
            return "tag_deleted"
        case (.mailboxes, _, _):
            return try await performMailboxes(action, number: number, form: form, caller: caller)
        case (.customers, _, _):
            return try await performCustomers(action, number: number, form: form, caller: caller)
        case (.orgs, _, _):
            return try await performOrgs(action, number: number, form: form, caller: caller)
        case (.webhooks, "delete", let number?):
            try await app.delete(Webhook.self, number: number, actor: caller.actor, at: now)
            return "webhook_deleted"
        case (.tokens, "revoke", let number?):
            try await app.revokeToken(number: number, by: caller, at: now)
            return "token_revoked"
        default:
            throw APIError.notFound("admin action '\(action)'")
        }
    }

    /// The palette as options, `selected` marked; the first, empty, is the default grey.
    static func colorOptions(_ selected: String?) -> HTML {
        HTML.join([HTML.trusted("<option value=\"\">default</option>")] + Tag.colors.map { color -> HTML in
            "<option value=\"\(color)\"\(selected == color ? HTML.trusted(" selected") : .empty)>\(color)</option>"
        })
    }

    /// "fixed, answered ,  wont_fix" → ["fixed", "answered", "wont_fix"].
    private static func values(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func adminDocument(_ current: AdminSection, session: WebSession, notice: (error: String?, done: String?), body: HTML) -> HTML {
        let pages = pages
        let tabs = HTML.join(AdminSection.allCases.map { section -> HTML in
            let mark: HTML = section == current ? " class=\"current\" aria-current=\"page\"" : .empty
            return "<a\(mark) href=\"/inbox/admin/\(section.rawValue)\">\(section.title)</a>"
        })
        let page: HTML = """
        <header class="top"><a class="brand" href="/inbox">Parley</a><span class="muted">Admin</span>
          <a href="/inbox">← Inbox</a>
          <form method="post" action="/inbox/sign-out">\(pages.csrfField(session))<button type="submit">Sign out</button></form></header>
        <div class="layout">
          <nav class="views" aria-label="Admin"><h2>Settings</h2>\(tabs)</nav>
          <main class="admin" data-section="\(current.rawValue)"><h1>\(current.title)</h1>\(pages.flash(notice.error, notice: notice.done))\(body)</main>
        </div>
        """
        return pages.document(title: "\(current.title) · Admin", body: page)
    }

    /// The page that answers a form creating a secret (a token, a webhook's signing secret): what was made,
    /// the secret shown this once, then the section as usual. 201: it is never in an address, nor shown again.
    func shownOnce(_ section: AdminSection, session: WebSession, id: String, lead: HTML, secret: String, then body: HTML) -> Response {
        let shown: HTML = "<div class=\"flash ok\" role=\"status\" id=\"\(id)\">\(lead)<br><code class=\"secret\">\(secret)</code></div>"
        return Self.page(adminDocument(section, session: session, notice: (nil, nil), body: HTML.join([shown, body])), status: .created)
    }

    /// The first hundred of a kind (oldest first, or newest first), for the pages that list no more.
    func firstHundred<Object: DirectoryObject>(_ type: Object.Type, newestFirst: Bool = false) async throws -> Page<Object> {
        var query = DirectoryQuery()
        query.page = PageRequest(limit: 100)
        query.descending = newestFirst
        return try await store.list(type, query: query)
    }

    /// Every one of a kind, up to a thousand.
    func allOf<Object: DirectoryObject>(_ type: Object.Type) async throws -> [Object] {
        var query = DirectoryQuery()
        query.page = PageRequest(limit: 100)
        var all: [Object] = []
        while true {
            let page = try await store.list(type, query: query)
            all += page.items
            guard let next = page.nextCursor, !page.items.isEmpty, all.count < 1_000 else { return all }
            query.page.cursor = next
        }
    }

    private func agentsSection(_ session: WebSession) async throws -> HTML {
        let csrf = pages.csrfField(session)
        let agents = try await allOf(DevUser.self)
        let groups = try await allOf(Group.self)
        let roles = DevUserRole.allCases.map(\.rawValue)
        let rows = HTML.join(agents.map { agent -> HTML in
            let base = "/inbox/admin/agents/\(agent.number)"
            let memberOf = groups.filter { $0.members.contains(agent.number) }.map(\.name).joined(separator: ", ")
            let roleOptions = HTML.join(roles.map { role -> HTML in
                "<option value=\"\(role)\"\(agent.role.rawValue == role ? HTML.trusted(" selected") : .empty)>\(role)</option>"
            })
            let active = agent.state == .active
            let password: HTML = active ? """
                <form method="post" action="\(base)/password">\(csrf)<input type="password" name="password" autocomplete="new-password" aria-label="New password for \(agent.displayName)" placeholder="New password" required>
                <button type="submit">Set password</button></form>
                """ : .empty
            return """
            <tr data-agent="\(agent.email)"><td><strong>\(agent.displayName)</strong><div class="small muted">\(agent.email)</div></td>
              <td><form method="post" action="\(base)/role">\(csrf)<select name="role" aria-label="Role of \(agent.displayName)">\(roleOptions)</select>
                <button type="submit">Save</button></form></td>
              <td class="small">\(memberOf.isEmpty ? "—" : memberOf)</td>
              <td>\(active ? "active" : "deactivated")</td>
              <td class="actions">
                <form method="post" action="\(base)/\(active ? "deactivate" : "activate")">\(csrf)<button type="submit"\(active ? HTML.trusted(" class=\"danger\"") : .empty)>\(active ? "Deactivate" : "Activate")</button></form>
                \(password)</td></tr>
            """
        })
        return """
        <table class="list"><thead><tr><th>Agent</th><th>Role</th><th>Groups</th><th>State</th><th></th></tr></thead><tbody>\(rows)</tbody></table>
        <h2>Add an agent</h2>
        <form class="stack" method="post" action="/inbox/admin/agents" id="add-agent">\(csrf)
          <label>Email <input type="email" name="email" required></label>
          <label>Name <input type="text" name="display_name"></label>
          <label>Role <select name="role">\(HTML.join(roles.map { "<option value=\"\($0)\"\($0 == "agent" ? HTML.trusted(" selected") : .empty)>\($0)</option>" }))</select></label>
          <label>Password <input type="password" name="password" autocomplete="new-password"></label>
          <button class="primary" type="submit">Add agent</button>
          <p class="small muted">Without a password the agent cannot sign in to the inbox until one is set here (or with <code>parley users set-password</code>).</p>
        </form>
        """
    }

    private func groupsSection(_ session: WebSession) async throws -> HTML {
        let csrf = pages.csrfField(session)
        let agents = try await allOf(DevUser.self).filter { $0.state == .active }
        let names = Dictionary(agents.map { ($0.number, $0.displayName) }, uniquingKeysWith: { first, _ in first })
        let groups = try await allOf(Group.self)
        let rows = HTML.join(groups.map { group -> HTML in
            let base = "/inbox/admin/groups/\(group.number)"
            let members = HTML.join(group.members.map { member -> HTML in
                """
                <form class="inline" method="post" action="\(base)/remove-member">\(csrf)<input type="hidden" name="member" value="\(ObjectID(.devUser, member).displayID)">
                <span class="badge">\(names[member] ?? ObjectID(.devUser, member).displayID) <button type="submit" aria-label="Remove \(names[member] ?? "member") from \(group.name)">×</button></span></form>
                """
            })
            let candidates = agents.filter { !group.members.contains($0.number) }
            let add: HTML = candidates.isEmpty ? .empty : """
                <form class="inline" method="post" action="\(base)/add-member">\(csrf)<select name="member" aria-label="Add to \(group.name)">
                \(HTML.join(candidates.map { "<option value=\"\($0.id.displayID)\">\($0.displayName)</option>" }))</select><button type="submit">Add</button></form>
                """
            return """
            <tr data-group="\(group.name)"><td><strong>\(group.name)</strong><div class="small muted">\(group.description ?? "")</div></td>
              <td>\(group.owner.flatMap { names[$0] } ?? "—")</td><td>\(members) \(add)</td></tr>
            """
        })
        let ownerOptions = HTML.join(agents.map { "<option value=\"\($0.id.displayID)\">\($0.displayName)</option>" })
        return """
        <table class="list"><thead><tr><th>Group</th><th>Owner</th><th>Members</th></tr></thead><tbody>\(rows)</tbody></table>
        <h2>Add a group</h2>
        <form class="stack" method="post" action="/inbox/admin/groups" id="add-group">\(csrf)
          <label>Name <input type="text" name="name" required></label>
          <label>Description <input type="text" name="description"></label>
          <label>Owner <select name="owner"><option value="">none</option>\(ownerOptions)</select></label>
          <button class="primary" type="submit">Add group</button>
        </form>
        """
    }

    private func tagsSection(_ session: WebSession) async throws -> HTML {
        let csrf = pages.csrfField(session)
        let tags = try await allOf(Tag.self)
        let rows = HTML.join(tags.map { tag -> HTML in
            let base = "/inbox/admin/tags/\(tag.number)"
            guard !tag.isSystem else {
                return """
                <tr data-tag="\(tag.name)"><td><strong>\(tag.name)</strong> <span class="badge" title="kept by the server">system</span>
                  <div class="small muted">\(tag.description ?? "")</div></td><td class="small">\(tag.allowedValues.joined(separator: ", "))</td><td></td></tr>
                """
            }
            return """
            <tr data-tag="\(tag.name)"><td><form class="inline" method="post" action="\(base)/update">\(csrf)
                <input type="text" name="name" value="\(tag.name)" aria-label="Name of \(tag.name)" required>
                <input type="text" name="description" value="\(tag.description ?? "")" aria-label="Description of \(tag.name)" placeholder="Description">
                <input type="text" name="allowed_values" value="\(tag.allowedValues.joined(separator: ", "))" aria-label="Values of \(tag.name)" placeholder="Values, comma-separated (optional)">
                <select name="color" aria-label="Colour of \(tag.name)">\(Self.colorOptions(tag.color))</select>
                <button type="submit">Save</button></form> <span class="badge\(tag.color.map { HTML.join([" tag-\($0)"]) } ?? .empty)">\(tag.name)</span></td>
              <td class="small">\(tag.allowedValues.joined(separator: ", "))</td>
              <td class="actions"><form method="post" action="\(base)/delete">\(csrf)<button class="danger" type="submit">Delete</button></form></td></tr>
            """
        })
        return """
        <table class="list"><thead><tr><th>Tag</th><th>Values</th><th></th></tr></thead><tbody>\(rows)</tbody></table>
        <h2>Add a tag</h2>
        <form class="stack" method="post" action="/inbox/admin/tags" id="add-tag">\(csrf)
          <label>Name <input type="text" name="name" required></label>
          <label>Description <input type="text" name="description"></label>
          <label>Values <input type="text" name="allowed_values" placeholder="comma-separated, optional"></label>
          <label>Colour <select name="color">\(Self.colorOptions(nil))</select></label>
          <button class="primary" type="submit">Add tag</button>
        </form>
        """
    }
}
