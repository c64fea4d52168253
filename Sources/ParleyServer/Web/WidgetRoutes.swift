import Hummingbird
import ParleyApp
import ParleyCore
import ParleyStore

/// The customer widget: a host application mints a session token for its signed-in customer
/// (`auth-tokens.create`, `rev_info`), and embeds `/widget.js` with it, or an iframe on `/widget?token=…`.
/// The token is exchanged for an HttpOnly cookie at once, so it leaves the address bar.
extension WebInterface {
    func registerWidget(on router: Router<ParleyRequestContext>) {
        router.get("/widget") { request, context in
            let query = FormData(encoded: request.uri.query ?? "")
            if let token = query.text("token") {
                guard let session = try await WebSession.resolve(token, kinds: [.session], store: store, now: clock.now()) else {
                    return Self.page(pages.message(title: "Support", text: "This support session has expired. Reload the page you came from."),
                                     status: .unauthorized, embeddable: true)
                }
                let lifetime = session.expiresAt.map { Int($0.timeIntervalSince(clock.now())) }
                return Self.redirect("/widget", cookie: WebSession.cookie(
                    name: WebSession.widgetCookie, value: token, path: "/widget", maxAge: lifetime, secure: secureCookies, embeddable: true))
            }
            guard let session = context.webSession else { return signedOut() }
            return Self.page(try await widgetHome(session, error: PageNotice.message(query)), embeddable: true)
        }
        router.get("/widget/events") { request, context in
            try await liveUpdates(request, session: context.webSession)
        }
        router.get("/widget/conversations/:number") { request, context in
            guard let session = context.webSession else { return signedOut() }
            let number = try context.parameters.require("number", as: Int.self)
            let query = FormData(encoded: request.uri.query ?? "")
            guard let html = try await widgetConversation(number, session: session, error: PageNotice.message(query)) else {
                return Self.page(pages.message(title: "Not found", text: "That conversation is not one of yours."), status: .notFound, embeddable: true)
            }
            return Self.page(html, embeddable: true)
        }
        router.post("/widget/conversations") { request, context in
            guard let session = context.webSession else { return signedOut() }
            let form = try await form(request, context: context)
            try session.checkForm(form)
            do {
                guard let body = form.text("body") else { throw APIError.missing("message") }
                let title = form.text("title") ?? String(body.prefix(80))
                let draft = ConversationDraft(title: title, sourceChannel: "widget", messages: [body])
                let number = try await api.app.openConversation(ConversationOpening(draft: draft), by: session.caller).number
                return Self.redirect("/widget/conversations/\(number)")
            } catch {
                return Self.page(try await widgetHome(session, error: PageNotice.message(for: error),
                                                      draft: (form["title"] ?? "", form["body"] ?? "")),
                                 status: APIError(error).status, embeddable: true)
            }
        }
        router.post("/widget/conversations/:number/:action") { request, context in
            guard let session = context.webSession else { return signedOut() }
            let number = try context.parameters.require("number", as: Int.self)
            let action = try context.parameters.require("action")
            let form = try await form(request, context: context)
            try session.checkForm(form)
            var target = number
            do {
                switch action {
                case "reply":
                    let body = form.text("body") ?? ""
                    guard !body.isEmpty || !form.files.isEmpty else { throw APIError.missing("message") }
                    let artifacts = try await uploadedArtifacts(form, by: session.caller)
                    let entry = try await api.app.addComment(to: number, body: body, visibility: .external, externalRef: nil,
                                                             artifacts: artifacts, by: session.caller)
                    // A reply to an archived conversation lands on its follow-up.
                    target = entry.conversation
                case "resolution":
                    _ = try await api.app.confirmResolution(number, confirmed: form["confirmed"] == "yes", message: nil, by: session.caller)
                default:
                    throw APIError.notFound("action '\(action)'")
                }
            } catch {
                // A refused reply comes back with what was typed, saying why.
                if action == "reply", let draft = form["body"],
                   let html = try await widgetConversation(number, session: session, error: PageNotice.message(for: error), draft: draft) {
                    return Self.page(html, status: APIError(error).status, embeddable: true)
                }
                return Self.back("/widget/conversations/\(number)", error: error)
            }
            return Self.redirect("/widget/conversations/\(target)")
        }
    }

    private func signedOut() -> Response {
        Self.page(pages.message(title: "Support", text: "This support session has ended. Reload the page you came from to start a new one."),
                  status: .unauthorized, embeddable: true)
    }

    private func widgetHome(_ session: WebSession, error: String?, draft: (title: String, body: String) = ("", "")) async throws -> HTML {
        let pages = pages
        var query = ConversationQuery()
        query.members = [session.caller.actor]
        query.sort = .modifiedDate(descending: true)
        query.page = PageRequest(limit: 50)
        let conversations = try await store.listConversations(query).items
        let cards = HTML.join(conversations.map { conversation -> HTML in
            let state: String = switch conversation.stage {
            case .resolved, .archived: "Resolved"
            case .waitingOnUser: "Answered"
            default: "Open"
            }
            return """
            <a class="card" href="/widget/conversations/\(conversation.number)" data-conversation="\(conversation.id.displayID)">
              <strong>\(conversation.title.isEmpty ? "(no title)" : conversation.title)</strong>
              <div class="small muted"><span class="badge" data-state="\(state.lowercased())">\(state)</span> · \(pages.ago(conversation.modifiedDate))</div></a>
            """
        })
        let body: HTML = """
        <main class="widget">
          <h1>Support</h1>\(pages.flash(error))
          <div id="conversations" data-live>\(conversations.isEmpty ? "<p class=\"muted\">No conversations yet.</p>" : cards)</div>
          <form class="reply" method="post" action="/widget/conversations">\(pages.csrfField(session))
            <label for="new-title" class="small muted">Subject</label>
            <input id="new-title" class="wide" type="text" name="title" value="\(draft.title)">
            <label for="reply-body" class="small muted">How can we help?</label>
            <textarea id="reply-body" name="body" required>\(draft.body)</textarea>
            <div class="row"><button class="primary" type="submit">Start a conversation</button></div>
          </form>
        </main>
        """
        return pages.document(title: "Support", body: body, eventsURL: "/widget/events")
    }

    private func widgetConversation(_ number: Int, session: WebSession, error: String?, draft: String = "") async throws -> HTML? {
        guard let conversation = try await store.conversation(number: number), conversation.isMember(session.caller.actor) else { return nil }
        let pages = pages
        var timelineQuery = TimelineQuery(conversation: number, viewer: session.caller.actor)
        timelineQuery.page = PageRequest(limit: 500)
        let entries = try await store.listTimeline(timelineQuery).items.compactMap { item -> TimelineEntry? in
            if case .comment(let entry) = item, !entry.visibility.isNote, !entry.isDeleted { return entry }
            return nil
        }
        var wanted = References.Wanted()
        entries.forEach { wanted.add($0) }
        let references = try await References.load(wanted, from: store)
        // The channel per message: on a conversation by mail, the customers' mails and the team's replies
        // (which went out by mail) say so; messages written here do not.
        let firstNumber = entries.first?.number
        let byMail = { (entry: TimelineEntry) -> Bool in
            guard conversation.sourceChannel == "email" else { return entry.originalMessage != nil }
            return entry.originalMessage != nil || entry.externalRef?.hasPrefix("mail:") == true
                || entry.number == firstNumber || !entry.author.isCustomer
        }
        let thread = HTML.join(entries.map { entry -> HTML in
            let mine = entry.author == session.caller.actor
            return """
            <article class="entry \(mine ? "customer" : "agent")" data-entry="\(entry.id.don)">
              <div class="meta">\(mine ? "You" : pages.name(entry.author, references)) · \(pages.ago(entry.createdDate))\(byMail(entry) ? HTML.trusted(" · by email") : .empty)</div>
              <div class="body">\(entry.body)</div>\(pages.attachments(entry, references, base: "/widget/files"))</article>
            """
        })
        let csrf = pages.csrfField(session)
        let base = "/widget/conversations/\(number)"
        let proposal: HTML = conversation.resolutionCheck?.awaitingConfirmation == true ? """
            <div class="proposal" id="proposal"><span>Did this solve it?</span>
              <form method="post" action="\(base)/resolution">\(csrf)<input type="hidden" name="confirmed" value="yes"><button class="primary" type="submit">Yes, that solved it</button></form>
              <form method="post" action="\(base)/resolution">\(csrf)<input type="hidden" name="confirmed" value="no"><button type="submit">No</button></form></div>
            """ : .empty
        let resolved = conversation.stage == .resolved || conversation.stage == .archived
        // Until the customer writes again, which withdraws the answer (ParleyCore).
        let answered: HTML = conversation.resolutionCheck?.confirmed == true && !resolved
            ? "<p class=\"proposal\">Thanks for confirming. We'll close this conversation.</p>" : .empty
        let status: HTML = resolved
            ? "<p class=\"small muted\" id=\"status\" data-stage=\"\(conversation.stage.rawValue)\">This conversation is resolved. Writing again reopens it.</p>"
            : "<p class=\"small muted\" id=\"status\" data-stage=\"\(conversation.stage.rawValue)\">We'll answer here.</p>"
        let body: HTML = """
        <main class="widget">
          <p class="small"><a href="/widget">← All conversations</a></p>
          <h1>\(conversation.title.isEmpty ? "(no title)" : conversation.title)</h1>\(pages.flash(error))
          <div id="thread" data-live><div class="timeline">\(thread)</div>\(proposal)\(answered)\(status)</div>
          <form class="reply" id="reply" method="post" action="\(base)/reply" enctype="multipart/form-data">\(csrf)
            <label for="reply-body" class="small muted">Your message</label>
            <textarea id="reply-body" name="body">\(draft)</textarea>\(pages.filePicker(attachmentLimits))
            <div class="row"><button class="primary" type="submit">Send</button></div>
          </form>
        </main>
        """
        return pages.document(title: conversation.title, body: body, eventsURL: "/widget/events", watching: conversation.id.don)
    }
}
