import HTTPTypes
import Hummingbird
import NIOCore
import ParleyApp
import ParleyCore
import ParleyStore

/// The agents' inbox (`/inbox`) and the customers' widget (`/widget`), served by the same process as the API.
/// Pages are plain HTML forms (post, then redirect); every change goes through the API's own operations
/// (`ParleyAPI`), so the web adds no second path into the domain.
struct WebInterface: Sendable {
    let api: ParleyAPI
    let limiter: RateLimiter
    /// Served over TLS: cookies are `Secure`, and the widget's may be sent inside another site's page.
    let secureCookies: Bool

    var store: any ParleyStore { api.store }
    var clock: any ParleyClock { api.clock }
    var pages: WebPages { WebPages(now: clock.now()) }
    var attachmentLimits: AttachmentLimits { api.app.attachmentLimits }

    func register(on router: Router<ParleyRequestContext>) {
        router.get("/") { _, _ in Self.redirect("/inbox") }
        router.get("/assets/parley.css") { _, _ in Self.asset(WebAssets.stylesheet, type: "text/css; charset=utf-8") }
        router.get("/assets/parley.js") { _, _ in Self.asset(WebAssets.pageScript, type: "text/javascript; charset=utf-8") }
        router.get("/widget.js") { _, _ in Self.asset(WebAssets.embedScript, type: "text/javascript; charset=utf-8") }
        // The same icon where browsers look for one unasked (no 404 in the log for every first visit).
        for path in ["/assets/favicon.svg", "/favicon.ico"] {
            router.get(RouterPath(path)) { _, _ in Self.asset(WebAssets.favicon, type: "image/svg+xml") }
        }
        registerInbox(on: router)
        registerConversationPage(on: router)
        registerWidget(on: router)
        registerAdmin(on: router)
        registerBulkActions(on: router)
        registerAttachments(on: router)
    }

    // MARK: Responses

    static func asset(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "public, max-age=300"
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// A page: never cached, its address sent to this site only (never to another), scripts and styles from this server only; the inbox cannot be framed,
    /// the widget can (it is made to be embedded).
    static func page(_ html: HTML, status: HTTPResponse.Status = .ok, embeddable: Bool = false) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.xContentTypeOptions] = "nosniff"
        headers[.referrerPolicy] = "same-origin"
        headers[.contentSecurityPolicy] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "form-action 'self'; base-uri 'none'; frame-ancestors " + (embeddable ? "*" : "'none'")
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html.description)))
    }

    static func redirect(_ location: String, cookie: Cookie? = nil) -> Response {
        var response = Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
        if let cookie { response.setCookie(cookie) }
        return response
    }

    /// The request's form body (or query, for GET), at most 1 MiB; refuses a cross-site POST by its Origin.
    func form(_ request: Request, context: ParleyRequestContext) async throws -> FormData {
        // `Origin: null` (a sandboxed frame, a data: URL) is not this site either. Pages send their referrer to
        // this site only (`Referrer-Policy: same-origin`), so its own forms carry their real origin.
        if request.method == .post, let origin = request.headers[.origin] {
            let host = request.head.authority ?? ""
            let originHost = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? ""
            guard originHost == host else { throw APIError.forbidden("cross-site form submissions are refused") }
        }
        var encoded = request.uri.query ?? ""
        if request.method == .post {
            // A form with files (`enctype="multipart/form-data"`) may be as large as the files it may carry.
            if let boundary = MultipartForm.boundary(of: request.headers[.contentType]) {
                let limits = attachmentLimits
                let body = try await request.body.collect(upTo: context.maxUploadSize + limits.maxBytes * limits.maxFilesPerMessage)
                let form = try MultipartForm(body, boundary: boundary)
                return FormData(pairs: form.fields, files: form.files)
            }
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            encoded = String(buffer: body)
        }
        return FormData(encoded: encoded)
    }

    /// Where to go back to after a failed form, with a notice of what went wrong (a code, see `PageNotice`).
    /// On a list row: who asked (the customer who opened it, else its first customer), and the latest public
    /// message's first words, with who wrote it when that is someone else.
    static func requesterAndPreview(_ conversation: Conversation, pages: WebPages, references: References) -> HTML {
        let requester: Actor? = conversation.createdBy.isCustomer ? conversation.createdBy : conversation.members.first(where: \.isCustomer)
        let who: HTML = requester.map { "<span class=\"requester\">\(pages.name($0, references))</span>" } ?? .empty
        guard let message = conversation.lastMessage else {
            return requester == nil ? .empty : "<div class=\"preview small\">\(who)</div>"
        }
        let writer: HTML = message.author == requester ? .empty : "\(pages.name(message.author, references)): "
        return "<div class=\"preview small\">\(who)\(requester == nil ? HTML.empty : " · ")<span class=\"muted\">\(writer)\(message.text)</span></div>"
    }

    /// On a list row: the customer has confirmed the proposed resolution, and an agent should verify and resolve.
    static func confirmation(_ conversation: Conversation) -> HTML {
        guard conversation.resolutionCheck?.confirmed == true, conversation.stage != .resolved, conversation.stage != .archived else { return .empty }
        return " · <span class=\"badge confirmed\">customer confirmed: verify and resolve</span>"
    }

    static func back(_ path: String, error: any Error) -> Response {
        redirect(path + (path.contains("?") ? "&" : "?") + PageNotice.query(for: error))
    }

    // MARK: Sessions

    /// The live-update stream of a page (from now, or after `Last-Event-ID` when the browser reconnects).
    func liveUpdates(_ request: Request, session: WebSession?) async throws -> Response {
        guard let session else { throw APIError.unauthenticated }
        var start = try await store.latestOutboxSequence()
        if let resume = request.headers[.lastEventID].flatMap({ Int($0) }) { start = resume }
        return api.eventStream(for: session.caller, after: start, follow: true, tokenHash: TokenSecret.hash(session.token))
    }

    // MARK: Inbox

    private func registerInbox(on router: Router<ParleyRequestContext>) {
        router.get("/inbox/sign-in") { request, _ in
            let query = FormData(encoded: request.uri.query ?? "")
            // The form carries a token that must match a cookie only this page sets (a double-submit token):
            // another site cannot post its own credentials here to sign a victim's browser into its account.
            let token = TokenSecret.generate(prefix: "")
            var response = Self.page(pages.signIn(error: PageNotice.message(query), email: query.text("email"), csrf: token))
            response.setCookie(WebSession.cookie(name: WebSession.signInCookie, value: token, path: "/inbox/sign-in",
                                                 maxAge: 3600, secure: secureCookies, embeddable: false))
            return response
        }
        router.post("/inbox/sign-in") { request, context in
            let form = try await form(request, context: context)
            guard let expected = request.cookies[WebSession.signInCookie]?.value, let sent = form.text("_csrf"),
                  !expected.isEmpty, TokenSecret.constantTimeEqual(sent.utf8, expected.utf8) else {
                return Self.page(pages.signIn(error: "That sign-in form has expired: please try again.", email: form.text("email"),
                                              csrf: nil), status: .forbidden)
            }
            // Failed sign-ins count per address and account: a client guessing one account's password locks
            // only that account from its address, not everyone behind the same address (an office, a proxy).
            let failureKey = "fail-sign-in:\(context.clientAddress):\((form.text("email") ?? "").trimmed.lowercased())"
            let now = Date()
            if limiter.check(failureKey, limit: limiter.policy.failedAuthentications, at: now, counting: false).remaining == 0 {
                return Self.page(pages.signIn(error: "Too many failed sign-ins for this account from this address; wait a minute.",
                                              email: form.text("email"), csrf: expected),
                                 status: .tooManyRequests)
            }
            guard let user = try await signIn(form) else {
                _ = limiter.check(failureKey, limit: limiter.policy.failedAuthentications, at: now)
                return Self.page(pages.signIn(error: "That email and password (or token) did not match an active agent.",
                                              email: form.text("email"), csrf: expected), status: .unauthorized)
            }
            let token = TokenSecret.generate(prefix: "parley_web_")
            let started = clock.now()
            try await api.app.issueToken(hash: TokenSecret.hash(token), token: StoredToken(
                subject: .devUser(user.number), kind: .webSession, createdDate: started,
                expiresAt: started.addingTimeInterval(WebSession.inboxLifetime), hint: TokenSecret.hint(token)))
            return Self.redirect("/inbox", cookie: WebSession.cookie(
                name: WebSession.inboxCookie, value: token, path: "/inbox", maxAge: Int(WebSession.inboxLifetime),
                secure: secureCookies, embeddable: false))
        }
        router.post("/inbox/sign-out") { request, context in
            let form = try await form(request, context: context)
            if let session = context.webSession {
                try session.checkForm(form)
                try await store.revokeToken(hash: TokenSecret.hash(session.token))
            }
            return Self.redirect("/inbox/sign-in", cookie: WebSession.cookie(
                name: WebSession.inboxCookie, value: "", path: "/inbox", maxAge: 0, secure: secureCookies, embeddable: false))
        }
        router.get("/inbox/events") { request, context in
            try await liveUpdates(request, session: context.webSession)
        }
        router.get("/inbox") { request, context in
            guard let session = context.webSession else { return Self.redirect("/inbox/sign-in") }
            let form = FormData(encoded: request.uri.query ?? "")
            return Self.page(try await inboxPage(InboxView(form), session: session, error: PageNotice.message(form), notice: PageNotice.done(form)))
        }
    }

    /// The agent an email and password, or a personal access token, sign in as.
    private func signIn(_ form: FormData) async throws -> DevUser? {
        if let token = form.text("token") {
            // An agent's API token that admits them now (not revoked or expired, the agent active).
            guard let credential = try await store.credential(hash: TokenSecret.hash(token)), credential.token.kind == .pat,
                  case .admits = Credential.check(credential, now: clock.now()),
                  case .devUser(let user)? = credential.holder else { return nil }
            return user
        }
        guard let email = form.text("email")?.lowercased(), let password = form["password"], !password.isEmpty else { return nil }
        guard let user = try await store.find(DevUser.self, key: "email", value: email).first, user.state == .active,
              let hash = try await store.passwordHash(of: user.number) else {
            // As slow as a wrong password, so that timing does not tell which emails have accounts.
            _ = try await PasswordHash.verifying(password, against: PasswordHash.decoy)
            return nil
        }
        return try await PasswordHash.verifying(password, against: hash) ? user : nil
    }

    func query(for view: InboxView, session: WebSession, limit: Int = 50) async throws -> ConversationQuery {
        var query = ConversationQuery()
        if let stage = view.stage { query.stages = [stage] } else { query.excludedStages = [.suspended] }
        query.sort = .priority(descending: false)
        query.page = PageRequest(cursor: view.cursor, limit: limit)
        query.text = view.search
        query.searchedNotes = session.caller.searchedNotes
        switch view.scope {
        case .all: break
        case .mine:
            if case .devUser(let me) = session.caller.actor { query.ownedBy = [me] }
        case .groups:
            // Groups the agent is a member of (groups.members.add) or owns.
            if case .devUser(let me) = session.caller.actor {
                let memberOf = try await store.find(Group.self, key: "member", value: String(me)).map(\.number)
                let owned = try await store.list(Group.self, query: DirectoryQuery()).items.filter { $0.owner == me }.map(\.number)
                query.groups = Array(Set(memberOf + owned)).sorted()
            }
            if query.groups.isEmpty { query.groups = [-1] }
        case .unassigned:
            query.unassigned = true
        }
        if let owner = view.owner.flatMap({ ObjectID.parse($0, as: [.devUser]) }) { query.ownedBy = [owner.number] }
        if let group = view.group.flatMap({ ObjectID.parse($0, as: [.group]) }) { query.groups = [group.number] }
        if let org = view.org {
            // A customer org by id or by its name (as typed in the filter); an unknown one matches nothing.
            if let id = ObjectID.parse(org, as: [.revOrg]) {
                query.revOrgs = [id.number]
            } else {
                let named = try await store.find(RevOrg.self, key: "display_name", value: org).map(\.number)
                query.revOrgs = named.isEmpty ? [-1] : named
            }
        }
        if let tag = view.tag.flatMap({ ObjectID.parse($0, as: [.tag]) }) { query.tags = [tag.number] }
        if let priority = view.priority.flatMap(Priority.init(rawValue:)) { query.priorities = [priority] }
        if let channel = view.channel { query.sourceChannels = [channel] }
        return query
    }

    private func inboxPage(_ view: InboxView, session: WebSession, error: String?, notice: String? = nil) async throws -> HTML {
        let pages = pages
        let store = store
        var hundred = DirectoryQuery()
        hundred.page = PageRequest(limit: 100)
        // The reads that do not depend on the list run beside it (at 1M: p50 6.4 → 5.5 ms, BENCHMARKS).
        async let countsRead = store.stageCounts()
        async let peopleRead = store.list(DevUser.self, query: hundred)
        async let groupsRead = store.list(Group.self, query: hundred)
        // Orgs can be many: the filter is a text box (a name or an id) suggesting the first hundred.
        async let orgsRead = store.list(RevOrg.self, query: hundred)
        async let tagsRead = store.list(Tag.self, query: hundred)
        let page = try await store.listConversations(try await query(for: view, session: session))
        var wanted = References.Wanted()
        page.items.forEach { wanted.add($0) }
        wanted.add(session.caller.actor)
        let references = try await References.load(wanted, from: store)
        let (counts, people, groups, orgs, tagList) = try await (countsRead, peopleRead.items, groupsRead.items, orgsRead.items, tagsRead.items)

        let stageLinks = HTML.join(InboxView.stages.map { stage -> HTML in
            let current: HTML = view.stage == stage && view.search == nil ? " class=\"current\" aria-current=\"page\"" : .empty
            return "<a\(current) href=\"/inbox?\(view.query(view: stage.rawValue, keepFilters: false))\" data-stage=\"\(stage.rawValue)\"><span>\(stage.displayName)</span><span class=\"count\" id=\"count-\(stage.rawValue)\">\(counts[stage] ?? 0)</span></a>"
        })
        let scopeLinks = HTML.join(InboxView.Scope.allCases.map { scope -> HTML in
            let label = ["all": "Everyone's", "mine": "Mine", "groups": "My groups", "unassigned": "Unassigned"][scope.rawValue] ?? scope.rawValue
            let current: HTML = view.scope == scope ? " class=\"current\"" : .empty
            return "<a\(current) href=\"/inbox?\(view.query(scope: scope))\">\(label)</a>"
        })
        func options(_ name: String, _ label: String, _ selected: String?, _ values: [(String, String)]) -> HTML {
            let items = HTML.join(values.map { value, text -> HTML in
                "<option value=\"\(value)\"\(selected == value ? HTML.trusted(" selected") : .empty)>\(text)</option>"
            })
            return "<select name=\"\(name)\" aria-label=\"\(label)\"><option value=\"\">\(label): any</option>\(items)</select>"
        }
        let filters: HTML = """
        <form class="filters" method="get" action="/inbox">
          <input type="hidden" name="view" value="\(view.stage?.rawValue ?? "all")"><input type="hidden" name="scope" value="\(view.scope.rawValue)">
          \(view.search.map { q -> HTML in "<input type=\"hidden\" name=\"q\" value=\"\(q)\">" } ?? .empty)
          \(options("owner", "Owner", view.owner, people.map { ($0.id.displayID, $0.displayName) }))
          \(options("group", "Group", view.group, groups.map { ($0.id.displayID, $0.name) }))
          <input type="search" name="org" list="orgs" placeholder="Customer org" aria-label="Customer org" value="\(view.org)">
          <datalist id="orgs">\(HTML.join(orgs.map { "<option value=\"\($0.displayName)\">" }))</datalist>
          \(options("tag", "Tag", view.tag, tagList.map { ($0.id.displayID, $0.name) }))
          \(options("priority", "Priority", view.priority, Priority.allCases.map { ($0.rawValue, $0.rawValue.uppercased()) }))
          \(options("channel", "Channel", view.channel, ["widget", "email", "api", "portal", "slack"].map { ($0, $0) }))
          <button type="submit">Filter</button> <a href="/inbox?\(view.query(keepFilters: false))">Clear</a>
        </form>
        """
        let rows = HTML.join(page.items.map { conversation -> HTML in
            let href = "/inbox/conversations/\(conversation.number)?\(view.query())"
            let owners = conversation.ownedBy.map { pages.name(.devUser($0), references) }.joined(separator: ", ")
            let org = conversation.revOrg.flatMap { references.revOrgs[$0]?.displayName } ?? "Unidentified"
            let waiting: HTML = conversation.waitingSince.map { "waiting \(pages.duration(pages.now.timeIntervalSince($0)))" } ?? "updated \(pages.ago(conversation.modifiedDate))"
            let reply: HTML = conversation.stage == .needsResponse
                ? "<a class=\"button primary\" data-action=\"reply\" href=\"/inbox/conversations/\(conversation.number)?\(view.query())#reply\">Reply</a>"
                : .empty
            return """
            <tr data-href="\(href)" data-conversation="\(conversation.id.displayID)" data-stage="\(conversation.stage.rawValue)">
              <td class="select"><input type="checkbox" name="selected" value="\(conversation.number)" form="bulk" aria-label="Select \(conversation.id.displayID)"></td>
              <td>\(pages.priority(conversation.priority))</td>
              <td class="title"><a href="\(href)">\(conversation.title.isEmpty ? "(no title)" : conversation.title)</a>
                \(Self.requesterAndPreview(conversation, pages: pages, references: references))
                <div class="small muted">\(conversation.id.displayID) · \(conversation.stage.displayName)\(conversation.tags.isEmpty ? HTML.empty : " · \(pages.tags(conversation, references))")\(Self.confirmation(conversation))</div></td>
              <td class="optional">\(org)</td><td class="optional">\(owners.isEmpty ? "Unassigned" : owners)</td>
              <td class="optional small muted">\(waiting)</td><td class="actions">\(reply)</td>
            </tr>
            """
        })
        let list: HTML = page.items.isEmpty
            ? "<div class=\"empty\">Nothing here. \(view.stage == .needsResponse ? "Every customer has an answer." : "")</div>"
            : """
            <table class="list"><thead><tr><th class="select"><span class="small muted">Select</span></th><th>Pri</th><th>Conversation</th><th class="optional">Org</th><th class="optional">Owner</th>
            <th class="optional">Waiting</th><th></th></tr></thead><tbody>\(rows)</tbody></table>
            """
        let more: HTML = page.nextCursor.map { "<p><a rel=\"next\" href=\"/inbox?\(view.query(cursor: $0))\">Older →</a></p>" } ?? .empty
        let me = pages.name(session.caller.actor, references)
        let body: HTML = """
        <header class="top"><a class="brand" href="/inbox">Parley</a>
          <form class="search" method="get" action="/inbox" role="search"><input type="hidden" name="view" value="all">
            <input id="search" type="search" name="q" placeholder="Search titles and messages  ( / )" value="\(view.search)"></form>
          <span class="who">\(me)</span>\(session.caller.isAdmin ? HTML.trusted(" <a href=\"/inbox/admin\">Admin</a>") : .empty)
          <form method="post" action="/inbox/sign-out">\(pages.csrfField(session))<button type="submit">Sign out</button></form></header>
        <div class="layout">
          <nav class="views" id="views" data-live><h2>Stages</h2>\(stageLinks)<h2>Whose</h2>\(scopeLinks)</nav>
          <main>
            <h1>\(view.title)</h1>\(pages.flash(error, notice: notice))\(filters)\(page.items.isEmpty ? HTML.empty : bulkBar(view, session: session, people: people, tags: tagList))
            <div id="list" data-live>\(list)\(more)</div>
            <p class="small muted">Keys: <kbd>j</kbd>/<kbd>k</kbd> move · <kbd>o</kbd> open · <kbd>r</kbd> reply · <kbd>/</kbd> search</p>
          </main>
        </div>
        """
        return pages.document(title: view.title, body: body, eventsURL: "/inbox/events", shortcuts: true)
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    /// Sent by the pages' script when it fetches a page again for its live regions.
    static let xParleyLive = Self("X-Parley-Live")!
    /// Set by a proxy that ended TLS (the links the API hands out are then https).
    static let xForwardedProto = Self("X-Forwarded-Proto")!
    static let crossOriginResourcePolicy = Self("Cross-Origin-Resource-Policy")!
}
