import Hummingbird
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

/// The inbox's conversation page and its forms: reply or note, stage changes the machine allows from here,
/// owner, group, priority, tags.
extension WebInterface {
    func registerConversationPage(on router: Router<ParleyRequestContext>) {
        router.get("/inbox/conversations/:number") { request, context in
            guard let session = context.webSession else { return Self.redirect("/inbox/sign-in") }
            let number = try context.parameters.require("number", as: Int.self)
            let form = FormData(encoded: request.uri.query ?? "")
            // A live refresh (the page's script fetching it again) replaces only the live regions; the
            // presence line is not one, so it is neither marked nor read again for it.
            let live = request.headers[.xParleyLive] != nil
            guard let html = try await conversationPage(number, view: InboxView(form), session: session, error: PageNotice.message(form),
                                                        replyWith: form.text("reply_with").flatMap(Int.init), marksPresence: !live) else {
                return Self.page(pages.message(title: "Not found", text: "There is no conversation CONV-\(number)."), status: .notFound)
            }
            return Self.page(html)
        }
        router.post("/inbox/conversations/:number/:action") { request, context in
            guard let session = context.webSession else { return Self.redirect("/inbox/sign-in") }
            let number = try context.parameters.require("number", as: Int.self)
            let action = try context.parameters.require("action")
            let form = try await form(request, context: context)
            try session.checkForm(form)
            if action == "presence" { return try await presence(number, typing: form["state"] == "typing", session: session) }
            // The view the page was opened in travels in the form's address, not in its fields.
            let view = InboxView(FormData(encoded: request.uri.query ?? ""))
            let back = "/inbox/conversations/\(number)?\(view.query())"
            // Someone else wrote since the page was loaded: the reply comes back unsent, with a warning, so the
            // agent reads the new message first (sending again sends it as it is).
            if action == "reply", form["send_anyway"] != "yes", let draft = form["body"],
               let warning = try await wroteMeanwhile(number, seen: form.text("seen").flatMap(Int.init), caller: session.caller),
               let html = try await conversationPage(number, view: view, session: session, error: warning, draft: draft, sendAnyway: true) {
                return Self.page(html, status: .conflict)
            }
            do {
                try await perform(action, on: number, form: form, caller: session.caller)
            } catch {
                // A refused reply comes back with what was typed, in the same view, saying why.
                if action == "reply", let draft = form["body"],
                   let html = try await conversationPage(number, view: view, session: session, error: PageNotice.message(for: error), draft: draft) {
                    return Self.page(html, status: APIError(error).status)
                }
                return Self.back(back, error: error)
            }
            return Self.redirect(action == "reply" || action == "stage" ? back : back + "#details")
        }
    }

    /// The page's heartbeat: this agent is here (viewing or typing); the answer names the others.
    private func presence(_ number: Int, typing: Bool, session: WebSession) async throws -> Response {
        let others = try await presenceLine(number, typing: typing, session: session)
        return JSONResponse.make(status: .ok, .object(["presence": .string(others)]))
    }

    /// "Tomás is typing a reply · Priya is viewing", or empty when no other agent is here.
    func presenceLine(_ number: Int, typing: Bool, session: WebSession) async throws -> String {
        let others = try await api.app.markPresence(on: number, typing: typing, by: session.caller)
        guard !others.isEmpty else { return "" }
        let people = try await store.objects(DevUser.self, numbers: Set(others.map(\.agent)))
        return others.map { entry in
            let name = people[entry.agent]?.displayName ?? ObjectID(.devUser, entry.agent).displayID
            return entry.state == "typing" ? "\(name) is typing a reply" : "\(name) is viewing this conversation"
        }.joined(separator: " · ")
    }

    /// The warning for a reply written while someone else's public message arrived (after `seen`, the
    /// milliseconds of the latest message the page showed), or nil.
    private func wroteMeanwhile(_ number: Int, seen: Int?, caller: Caller) async throws -> String? {
        guard let seen, let conversation = try await store.conversation(number: number), let last = conversation.lastMessage,
              last.author != caller.actor, Self.milliseconds(last.at) > seen else { return nil }
        var wanted = References.Wanted()
        wanted.add(last.author)
        let name = pages.name(last.author, try await References.load(wanted, from: store))
        return "\(name) wrote while you were writing: read it above. Your reply is below, not sent yet; send it again to send it as it is."
    }

    static func milliseconds(_ date: Date?) -> Int { date.map { Int(($0.timeIntervalSince1970 * 1000).rounded()) } ?? 0 }

    /// One form's change, through the application layer's use cases (the same checks and transactions as
    /// the API's). A form value outside its allowed set is refused, never replaced by a default.
    private func perform(_ action: String, on number: Int, form: FormData, caller: Caller) async throws {
        let app = api.app
        switch action {
        case "reply":
            let body = form.text("body") ?? ""
            if form["propose"] == "on" {
                guard form.files.isEmpty else { throw APIError.invalidField("files", "send the files in a reply of their own, not with a proposed resolution") }
                _ = try await app.proposeResolution(number, message: body, by: caller)
            } else {
                let visibility: Visibility
                switch form["visibility"] {
                case nil, "external": visibility = .external
                case "internal": visibility = .internal
                case let other?: throw APIError.invalidEnum("visibility", other, allowed: ["external", "internal"])
                }
                guard !body.isEmpty || !form.files.isEmpty else { throw APIError.missing("body") }
                let artifacts = try await uploadedArtifacts(form, by: caller)
                _ = try await app.addComment(to: number, body: body, visibility: visibility, externalRef: nil, artifacts: artifacts, by: caller)
            }
        case "stage":
            guard let name = form.text("stage") else { throw APIError.missing("stage") }
            guard let stage = Stage(rawValue: name) else {
                throw APIError.invalidEnum("stage.name", name, allowed: Stage.allCases.map(\.rawValue))
            }
            var change = ConversationChange(stage: stage)
            if let resolution = form.text("resolution") {
                let tag = try await api.tag(ObjectID(.tag, SystemTag.resolution.rawValue).displayID, value: resolution, field: "tags.add.0")
                change.tags = TagChange(add: [tag])
            }
            _ = try await app.updateConversation(number, change: change, expectedVersion: form.text("version").flatMap(Int.init), by: caller)
        case "update":
            var change = ConversationChange()
            if let owner = form["owner"] {
                if owner.isEmpty {
                    change.ownedBy = []
                } else {
                    change.ownedBy = [try await api.devUser(try Fields.parseID(owner, field: "owned_by.0", [.devUser]), field: "owned_by").number]
                }
            }
            if let group = form["group"] {
                change.group = group.isEmpty ? .some(nil)
                    : .some(try await api.requireExists(Group.self, try Fields.parseID(group, field: "group", [.group]), field: "group").number)
            }
            if let priority = form.text("priority") {
                guard let value = Priority(rawValue: priority) else {
                    throw APIError.invalidEnum("priority", priority, allowed: Priority.allCases.map(\.rawValue))
                }
                change.priority = value
            }
            if let tag = form.text("add_tag") {
                change.tags = TagChange(add: [try await api.tag(tag, value: nil, field: "tags.add.0")])
            } else if let tag = form.text("remove_tag") {
                change.tags = TagChange(remove: [try await api.tag(tag, value: nil, field: "tags.remove.0").tag])
            }
            _ = try await app.updateConversation(number, change: change, expectedVersion: nil, by: caller)
        default:
            throw APIError.notFound("action '\(action)'")
        }
    }

    private func conversationPage(_ number: Int, view: InboxView, session: WebSession, error: String?, draft: String = "",
                                  replyWith: Int? = nil, sendAnyway: Bool = false, marksPresence: Bool = true) async throws -> HTML? {
        guard let conversation = try await store.conversation(number: number) else { return nil }
        let pages = pages
        var timelineQuery = TimelineQuery(conversation: number, viewer: session.caller.actor)
        timelineQuery.includeEvents = true
        timelineQuery.page = PageRequest(limit: 500)
        let items = try await store.listTimeline(timelineQuery).items
        var wanted = References.Wanted()
        wanted.add(conversation)
        wanted.add(session.caller.actor)
        for item in items {
            switch item {
            case .comment(let entry): wanted.add(entry)
            case .event(_, let event): wanted.add(event.actor)
            }
        }
        let references = try await References.load(wanted, from: store)
        let dependencies = try await api.app.dependencies(of: conversation.id)
        let everyone = try await store.list(DevUser.self, query: DirectoryQuery()).items
        let people = everyone.filter { $0.state == .active }
        let allTags = try await store.list(Tag.self, query: DirectoryQuery()).items
        let tagList = allTags.filter { !$0.isSystem }
        // Events name people by id; the page shows their names.
        var names: [String: String] = [:]
        for person in everyone { names[person.id.displayID] = person.displayName }
        for tag in allTags { names[tag.id.displayID] = tag.name }
        for (number, user) in references.revUsers { names[ObjectID(.revUser, number).displayID] = user.displayName ?? user.email }
        let groups = try await store.list(Group.self, query: DirectoryQuery()).items
        for group in groups { names[group.id.displayID] = group.name }
        let wording = TimelineWording(names: names)
        // Saved replies, filled in for this conversation: listed under the reply box (a link puts one in the
        // box without JavaScript; with it, "/" and a few letters in the box picks one).
        let requester: Actor? = conversation.createdBy.isCustomer ? conversation.createdBy : conversation.members.first(where: \.isCustomer)
        let customerName = requester.flatMap { actor -> String? in
            if case .revUser(let n) = actor { return references.revUsers[n].flatMap { $0.displayName ?? $0.fullName } }
            return nil
        }
        let agentName = pages.name(session.caller.actor, references)
        let savedReplies = try await api.app.savedReplies(for: session.caller).map { reply in
            (reply, reply.rendered(customerName: customerName, agentName: agentName, conversation: conversation.id))
        }
        // This agent is here now; the others on the page are named (the page's script keeps it current).
        let present = marksPresence && session.caller.isAgent ? try await presenceLine(number, typing: false, session: session) : ""
        var draft = draft
        if draft.isEmpty, let replyWith, let chosen = savedReplies.first(where: { $0.0.number == replyWith }) { draft = chosen.1 }
        // Previous and next in the view the agent came from.
        let neighbours = try await store.conversationNumbers(try await query(for: view, session: session, limit: 200))
        let position = neighbours.firstIndex(of: number)
        let next = position.flatMap { $0 + 1 < neighbours.count ? neighbours[$0 + 1] : nil }
            ?? (position == nil ? neighbours.first : nil)
        let previous = position.flatMap { $0 > 0 ? neighbours[$0 - 1] : nil }
        let viewQuery = view.query()
        let csrf = pages.csrfField(session)
        let base = "/inbox/conversations/\(number)"

        // A message that came by mail keeps its Message-ID as its reference; the first message of a conversation
        // opened by mail does not (the conversation keeps it).
        let firstComment = items.lazy.compactMap { item -> Int? in if case .comment(let entry) = item { entry.number } else { nil } }.first
        let cameByMail = { (entry: TimelineEntry) -> Bool in
            entry.externalRef?.hasPrefix("mail:") == true
                || entry.number == firstComment && entry.author.isCustomer && conversation.sourceChannel == "email"
        }
        // A reply's delivery by mail, from the events that record it: sent, or not delivered.
        var delivery: [String: HTML] = [:]
        for case .event(_, let event) in items {
            guard let message = event.field else { continue }
            if event.kind == .mailSent, delivery[message] == nil { delivery[message] = " · sent by email" }
            if event.kind == .deliveryFailed { delivery[message] = HTML.trusted(" · <span class=\"failed\">mail not delivered</span>") }
        }
        // The mail a message came from, as received (headers and all), for agents to look into.
        let original = { (entry: TimelineEntry) -> HTML in
            entry.originalMessage.map { " · <a class=\"original\" href=\"/inbox/files/\($0)\" target=\"_blank\" rel=\"noopener\">original mail</a>" } ?? .empty
        }
        // The store lists a timeline oldest first, events before comments at the same time.
        let timeline = HTML.join(items.map { item -> HTML in
            switch item {
            case .comment(let entry):
                if entry.isDeleted { return "<div class=\"event\">\(pages.name(entry.author, references)) deleted a message</div>" }
                let kind = entry.visibility.isNote ? "note" : (entry.author.isCustomer ? "customer" : "agent")
                return """
                <article class="entry \(kind)" data-entry="\(entry.id.don)" data-visibility="\(entry.visibility.rawValue)">
                  <div class="meta">\(pages.name(entry.author, references)) · \(pages.ago(entry.createdDate))\(cameByMail(entry) ? HTML.trusted(" · by email") : .empty)\(original(entry))\(delivery[entry.id.don] ?? .empty)</div>
                  <div class="body">\(entry.body)</div>\(pages.attachments(entry, references, base: "/inbox/files"))</article>
                """
            case .event(_, let event):
                guard let sentence = wording.sentence(event) else { return .empty }
                return "<div class=\"event\" data-kind=\"\(event.kind.rawValue)\">\(sentence) · \(pages.ago(event.at))</div>"
            }
        })

        var stageForms: [HTML] = []
        for stage in StageMachine.allowedNextStages(from: conversation.stage) {
            switch (conversation.stage, stage) {
            case (.suspended, .new):
                stageForms.append(stageButton(base, csrf, viewQuery, stage, label: "Approve (not spam)", primary: true))
            case (.suspended, .archived):
                stageForms.append(stageButton(base, csrf, viewQuery, stage, label: "Discard", danger: true))
            case (_, .suspended):
                stageForms.append(stageButton(base, csrf, viewQuery, stage, label: "Mark as spam", danger: true))
            case (_, .resolved):
                let choices = HTML.join(SystemTag.resolution.allowedValues.map { "<option value=\"\($0)\">\($0.split(separator: "_").joined(separator: " "))</option>" })
                stageForms.append("""
                <form method="post" action="\(base)/stage?\(viewQuery)" data-form="resolve">\(csrf)<input type="hidden" name="stage" value="resolved">
                  <select id="resolve-resolution" name="resolution" aria-label="Resolution">\(choices)</select>
                  <button class="primary" type="submit">Resolve</button></form>
                """)
            default:
                stageForms.append(stageButton(base, csrf, viewQuery, stage, label: "Move to \(stage.displayName)"))
            }
        }
        let ownerOptions = HTML.join(people.map { person -> HTML in
            "<option value=\"\(person.id.displayID)\"\(conversation.ownedBy.first == person.number ? HTML.trusted(" selected") : .empty)>\(person.displayName)</option>"
        })
        let groupOptions = HTML.join(groups.map { group -> HTML in
            "<option value=\"\(group.id.displayID)\"\(conversation.group == group.number ? HTML.trusted(" selected") : .empty)>\(group.name)</option>"
        })
        let priorityOptions = HTML.join(Priority.allCases.map { priority -> HTML in
            "<option value=\"\(priority.rawValue)\"\(conversation.priority == priority ? HTML.trusted(" selected") : .empty)>\(priority.rawValue.uppercased())</option>"
        })
        let tagChips = HTML.join(conversation.tags.map { value -> HTML in
            let tag = references.tags[value.tag]
            let label = pages.tagLabel(value, references)
            guard let tag, !tag.isSystem else { return "<span class=\"badge\" title=\"kept by the server\">\(label)</span>" }
            return """
            <form method="post" action="\(base)/update?\(viewQuery)">\(csrf)<input type="hidden" name="remove_tag" value="\(tag.id.displayID)">
            <span class="badge\(pages.tagColor(value.tag, references))">\(label) <button type="submit" aria-label="Remove \(label)">×</button></span></form>
            """
        })
        let addTag: HTML = tagList.isEmpty ? .empty : """
            <form method="post" action="\(base)/update?\(viewQuery)">\(csrf)<select name="add_tag" aria-label="Add a tag">
            \(HTML.join(tagList.map { "<option value=\"\($0.id.displayID)\">\($0.name)</option>" }))</select><button type="submit">Add tag</button></form>
            """
        let dependencyList: HTML = dependencies.isEmpty ? "<span class=\"muted\">none</span>"
            : HTML.join(dependencies.map { work -> HTML in "<div>\(work.id.displayID) \(work.title) <span class=\"badge\">\(work.isClosed ? "done" : "open")</span></div>" })
        let metrics = conversation.metrics
        let firstResponse = conversation.timeToInitialResponseSeconds.map { pages.duration($0) } ?? "not yet"
        let settled = conversation.stage == .resolved || conversation.stage == .archived
        let proposal: HTML = switch (conversation.resolutionCheck?.awaitingConfirmation, conversation.resolutionCheck?.confirmed) {
        case (true?, _): "<div class=\"proposal\">Waiting for the customer to confirm the proposed resolution.</div>"
        case (_, true?) where !settled: "<div class=\"proposal\" data-confirmed=\"yes\">The customer confirmed the proposed resolution: verify and resolve.</div>"
        case (_, false?) where !settled: "<div class=\"proposal\" data-confirmed=\"no\">The customer said the proposed resolution did not solve it.</div>"
        default: .empty
        }
        let savedList: HTML = savedReplies.isEmpty ? .empty : """
            <details class="saved" id="saved-replies"><summary class="small muted">Saved replies (or type / in the box)</summary><ul>
            \(HTML.join(savedReplies.map { reply, text -> HTML in
                "<li data-title=\"\(reply.title)\" data-text=\"\(text)\"><a href=\"\(base)?\(viewQuery)&amp;reply_with=\(reply.number)#reply\">\(reply.title)</a>\(reply.isShared ? HTML.empty : " <span class=\"badge\">mine</span>")</li>"
            }))</ul></details>
            """
        let navigation: HTML = """
            <a rel="up" href="/inbox?\(viewQuery)">← \(view.title)</a>
            \(previous.map { p -> HTML in " · <a rel=\"prev\" href=\"/inbox/conversations/\(p)?\(viewQuery)\">Previous</a>" } ?? .empty)
            \(next.map { n -> HTML in " · <a rel=\"next\" href=\"/inbox/conversations/\(n)?\(viewQuery)\">Next</a>" } ?? .empty)
            """
        let me = pages.name(session.caller.actor, references)
        let body: HTML = """
        <header class="top"><a class="brand" href="/inbox">Parley</a>
          <form class="search" method="get" action="/inbox" role="search"><input type="hidden" name="view" value="all">
            <input id="search" type="search" name="q" placeholder="Search titles and messages  ( / )"></form>
          <span class="who">\(me)</span>
          <form method="post" action="/inbox/sign-out">\(csrf)<button type="submit">Sign out</button></form></header>
        <main>
          <p class="small">\(navigation)</p>
          \(pages.flash(error))
          <div id="summary" data-live>
            <h1>\(conversation.title.isEmpty ? "(no title)" : conversation.title)</h1>
            <p><span class="badge stage" id="stage" data-stage="\(conversation.stage.rawValue)">\(conversation.stage.displayName)</span>
               \(pages.priority(conversation.priority)) <span class="muted small">\(conversation.id.displayID) · via \(conversation.sourceChannel)</span></p>
          </div>
          <div class="conversation">
            <section>
              <p class="small presence" id="presence" aria-live="polite" data-presence="\(base)/presence">\(present)</p>
              <div class="timeline" id="timeline" data-live>\(timeline)\(proposal)<i hidden id="latest-message" data-at="\(Self.milliseconds(conversation.lastMessage?.at))"></i></div>
              <form class="reply" id="reply" method="post" action="\(base)/reply?\(viewQuery)" enctype="multipart/form-data">\(csrf)
                <label for="reply-body" class="small muted">Reply to the customer, or leave a note for the team</label>
                <input type="hidden" name="seen" value="\(Self.milliseconds(conversation.lastMessage?.at))">\(sendAnyway ? HTML.trusted("<input type=\"hidden\" name=\"send_anyway\" value=\"yes\">") : .empty)
                <textarea id="reply-body" name="body">\(draft)</textarea>\(pages.filePicker(attachmentLimits))\(savedList)
                <div class="row">
                  <label><input type="radio" name="visibility" value="external" checked> Public reply</label>
                  <label><input type="radio" name="visibility" value="internal"> Internal note</label>
                  <label><input type="checkbox" name="propose"> Propose this as the resolution</label>
                  <button class="primary" type="submit">Send</button>
                </div>
              </form>
            </section>
            <aside class="details" id="details">
              <div><h3>Stage</h3><div id="stage-actions" data-live>\(HTML.join(stageForms, separator: " "))</div></div>
              <div><h3>Assignment</h3>
                <form method="post" action="\(base)/update?\(viewQuery)">\(csrf)
                  <select name="owner" aria-label="Owner"><option value="">Unassigned</option>\(ownerOptions)</select>
                  <select name="group" aria-label="Group"><option value="">No group</option>\(groupOptions)</select>
                  <select name="priority" aria-label="Priority">\(priorityOptions)</select>
                  <button type="submit">Save</button></form></div>
              <div><h3>Tags</h3><div id="tags" data-live>\(tagChips)</div>\(addTag)</div>
              <div id="facts" data-live><h3>Details</h3><dl>
                <dt>Customer</dt><dd id="customer">\(requesterContact(conversation, references))</dd>\(conversation.emailCC.isEmpty ? HTML.empty : "<dt>CC</dt><dd id=\"cc\">\(conversation.emailCC.joined(separator: ", "))</dd>")
                <dt>Customer org</dt><dd>\(conversation.revOrg.flatMap { references.revOrgs[$0]?.displayName } ?? "Unidentified")</dd>
                <dt>Routing</dt><dd>\(wording.routing(conversation.routing))</dd>
                <dt>First response</dt><dd>\(firstResponse)</dd>
                <dt>In this stage</dt><dd>\(pages.duration(pages.now.timeIntervalSince(conversation.stageEnteredAt)))</dd>
                <dt>Reopened</dt><dd>\(metrics.reopenCount) times</dd>
                <dt>Created</dt><dd>\(pages.ago(conversation.createdDate))</dd>
                <dt>Depends on</dt><dd>\(dependencyList)</dd>
              </dl></div>
              <p class="small muted">Keys: <kbd>r</kbd> reply · <kbd>e</kbd> resolve · <kbd>n</kbd>/<kbd>p</kbd> next/previous · <kbd>u</kbd> back</p>
            </aside>
          </div>
        </main>
        """
        return pages.document(title: conversation.title, body: body, eventsURL: "/inbox/events", watching: conversation.id.don,
                              shortcuts: true)
    }

    private func stageButton(_ base: String, _ csrf: HTML, _ viewQuery: String, _ stage: Stage, label: String,
                             primary: Bool = false, danger: Bool = false) -> HTML {
        let style: HTML = primary ? " class=\"primary\"" : (danger ? " class=\"danger\"" : .empty)
        return """
        <form method="post" action="\(base)/stage?\(viewQuery)" data-form="stage-\(stage.rawValue)">\(csrf)<input type="hidden" name="stage" value="\(stage.rawValue)">
        <button\(style) type="submit">\(label)</button></form>
        """
    }

    /// The conversation's customer: name and email address (the address replies by mail go to).
    func requesterContact(_ conversation: Conversation, _ references: References) -> HTML {
        let requester: Actor? = conversation.createdBy.isCustomer ? conversation.createdBy : conversation.members.first(where: \.isCustomer)
        guard case .revUser(let number)? = requester, let customer = references.revUsers[number] else { return "—" }
        let name = customer.displayName ?? customer.fullName ?? customer.id.displayID
        return customer.email.map { "\(name) &lt;\($0)&gt;" as HTML } ?? "\(name)"
    }
}
