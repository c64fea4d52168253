import ParleyApp
import ParleyCore
import ParleyStore

/// The inbox's and widget's pages, rendered on the server. Every user-supplied string goes through `HTML`'s
/// escaping interpolation; the only unescaped markup is written here.
struct WebPages {
    let now: Date

    // MARK: Layout

    /// A page; `watching` (a conversation's DON) makes its live updates follow that conversation only.
    func document(title: String, body: HTML, eventsURL: String? = nil, watching: String? = nil, shortcuts: Bool = false) -> HTML {
        var events: HTML = eventsURL.map { " data-events=\"\($0)\"" } ?? .empty
        if let watching { events = "\(events) data-watch=\"\(watching)\"" }
        let keys: HTML = shortcuts ? " data-shortcuts=\"inbox\"" : .empty
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title) · Parley</title><link rel="stylesheet" href="/assets/parley.css"><link rel="icon" href="/assets/favicon.svg" type="image/svg+xml"></head>
        <body\(events)\(keys)>\(body)<script src="/assets/parley.js" defer></script></body></html>
        """
    }

    func flash(_ error: String?, notice: String? = nil) -> HTML {
        if let error { return "<div class=\"flash\" role=\"alert\">\(error)</div>" }
        if let notice { return "<div class=\"flash ok\" role=\"status\">\(notice)</div>" }
        return .empty
    }

    func csrfField(_ session: WebSession) -> HTML { "<input type=\"hidden\" name=\"_csrf\" value=\"\(session.csrfToken)\">" }

    // MARK: Sign-in

    /// The sign-in form; with no `csrf` (a refused, expired form), a link to a fresh one instead.
    func signIn(error: String?, email: String?, csrf: String?) -> HTML {
        guard let csrf else {
            return document(title: "Sign in", body: """
            <main class="signin"><h1>Sign in to the inbox</h1>\(flash(error))<p><a href="/inbox/sign-in">Sign in</a></p></main>
            """)
        }
        return document(title: "Sign in", body: """
        <form class="signin" method="post" action="/inbox/sign-in">
          <input type="hidden" name="_csrf" value="\(csrf)">
          <h1>Sign in to the inbox</h1>\(flash(error))
          <label for="email">Email</label><input id="email" type="email" name="email" autocomplete="username" value="\(email)" autofocus>
          <label for="password">Password</label><input id="password" type="password" name="password" autocomplete="current-password">
          <p class="muted small">Or paste a personal access token instead:</p>
          <label for="token">Token</label><input id="token" type="password" name="token" autocomplete="off">
          <p><button class="primary" type="submit">Sign in</button></p>
        </form>
        """)
    }

    func message(title: String, text: String) -> HTML {
        document(title: title, body: "<main class=\"widget\"><h1>\(title)</h1><p>\(text)</p></main>")
    }

    // MARK: Names and times

    func name(_ actor: Actor, _ references: References) -> String {
        switch actor {
        case .devUser(let n): references.devUsers[n]?.displayName ?? actor.objectID.displayID
        case .revUser(let n): references.revUsers[n].flatMap { $0.displayName ?? $0.fullName ?? $0.email } ?? actor.objectID.displayID
        case .system: "Parley"
        }
    }

    func duration(_ seconds: Double) -> String {
        let s = Int(max(0, seconds))
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min" }
        if s < 86_400 { return "\(s / 3600) h \(s % 3600 / 60) min" }
        return "\(s / 86_400) d \(s % 86_400 / 3600) h"
    }

    func ago(_ date: Date) -> HTML {
        "<time datetime=\"\(Timestamp.format(date))\" title=\"\(Timestamp.format(date))\">\(duration(now.timeIntervalSince(date))) ago</time>"
    }

    func priority(_ priority: Priority) -> HTML { "<span class=\"badge \(priority.rawValue)\">\(priority.rawValue.uppercased())</span>" }

    /// "Resolution: fixed", "VIP".
    func tagLabel(_ value: TagValue, _ references: References) -> String {
        let name = references.tags[value.tag]?.name ?? "TAG-\(value.tag)"
        return value.value.map { "\(name): \($0)" } ?? name
    }

    func tags(_ conversation: Conversation, _ references: References) -> HTML {
        HTML.join(conversation.tags.map { "<span class=\"badge\(tagColor($0.tag, references))\">\(tagLabel($0, references))</span>" }, separator: " ")
    }

    /// ` tag-red`: the class of a tag's colour (the stylesheet's palette), or nothing.
    func tagColor(_ tag: Int, _ references: References) -> HTML {
        guard let color = references.tags[tag]?.color, Tag.colors.contains(color) else { return .empty }
        return " tag-\(color)"
    }
}

/// What the inbox list shows: a stage view (or all, or a search), a scope, filters.
struct InboxView: Sendable {
    static let stages: [Stage] = [.needsResponse, .waitingOnUser, .hold, .new, .suspended, .resolved, .archived]
    enum Scope: String, CaseIterable { case all, mine, groups, unassigned }

    var stage: Stage?
    var scope: Scope = .all
    var owner: String?
    var group: String?
    var org: String?
    var tag: String?
    var priority: String?
    var channel: String?
    var search: String?
    var cursor: String?

    init(_ form: FormData) {
        let view = form.text("view") ?? (form.text("q") == nil ? Stage.needsResponse.rawValue : "all")
        stage = Stage(rawValue: view)
        scope = form.text("scope").flatMap(Scope.init(rawValue:)) ?? .all
        owner = form.text("owner")
        group = form.text("group")
        org = form.text("org")
        tag = form.text("tag")
        priority = form.text("priority")
        channel = form.text("channel")
        search = form.text("q")
        cursor = form.text("cursor")
    }

    var title: String {
        if let search { return "Search: \(search)" }
        return stage?.displayName ?? "All conversations"
    }

    /// The query string of this view, with some parameters replaced.
    func query(view: String? = nil, scope: Scope? = nil, cursor: String? = nil, keepFilters: Bool = true) -> String {
        var pairs: [(String, String?)] = [("view", view ?? stage?.rawValue ?? "all"), ("scope", (scope ?? self.scope).rawValue)]
        if keepFilters {
            pairs += [("owner", owner), ("group", group), ("org", org), ("tag", tag), ("priority", priority),
                      ("channel", channel), ("q", search)]
        }
        pairs.append(("cursor", cursor))
        return pairs.compactMap { name, value in value.map { "\(name)=\(FormData.encode($0))" } }.joined(separator: "&")
    }
}
