import Hummingbird
import ParleyApp
import ParleyCore
import ParleyStore

/// Bulk actions on the inbox's selected rows: assign, tag, resolve with a resolution, move to Hold. Each
/// conversation goes through the same use case as its own page (`ParleyApp.updateConversation`), one
/// transaction each: those the stage machine refuses stay as they are and are counted, the others change.
extension WebInterface {
    enum BulkAction: String, CaseIterable {
        case assign, tag, resolve, hold

        var label: String {
            switch self {
            case .assign: "Assign to"
            case .tag: "Tag with"
            case .resolve: "Resolve as"
            case .hold: "Move to Hold"
            }
        }
    }

    /// At most this many conversations in one bulk action (a page shows 50).
    static let bulkLimit = 100

    func registerBulkActions(on router: Router<ParleyRequestContext>) {
        router.post("/inbox/bulk") { request, context in
            guard let session = context.webSession else { return Self.redirect("/inbox/sign-in") }
            let form = try await form(request, context: context)
            try session.checkForm(form)
            let view = InboxView(FormData(encoded: request.uri.query ?? ""))
            let back = "/inbox?\(view.query())"
            do {
                let (changed, refused) = try await performBulk(form, caller: session.caller)
                return Self.redirect(back + (back.hasSuffix("?") ? "" : "&") + "done=bulk&changed=\(changed)&refused=\(refused)")
            } catch {
                return Self.back(back, error: error)
            }
        }
    }

    /// Returns how many conversations changed and how many were refused.
    private func performBulk(_ form: FormData, caller: Caller) async throws -> (Int, Int) {
        guard let name = form.text("action") else { throw APIError.missing("action") }
        guard let action = BulkAction(rawValue: name) else { throw APIError.invalidEnum("action", name, allowed: BulkAction.allCases.map(\.rawValue)) }
        let numbers = Array(Set(form.all("selected").compactMap { Int($0) })).sorted()
        guard !numbers.isEmpty else { throw APIError.missing("selected") }
        guard numbers.count <= Self.bulkLimit else { throw APIError.invalidField("selected", "at most \(Self.bulkLimit) at once") }
        var change = ConversationChange()
        switch action {
        case .assign:
            guard let owner = form.text("owner") else { throw APIError.missing("owner") }
            change.ownedBy = [try await api.devUser(try Fields.parseID(owner, field: "owner", [.devUser]), field: "owner").number]
        case .tag:
            guard let tag = form.text("tag") else { throw APIError.missing("tag") }
            change.tags = TagChange(add: [try await api.tag(tag, value: nil, field: "tag")])
        case .resolve:
            guard let resolution = form.text("resolution") else { throw APIError.missing("resolution") }
            change.tags = TagChange(add: [try await api.tag(ObjectID(.tag, SystemTag.resolution.rawValue).displayID, value: resolution,
                                                            field: "resolution")])
            change.stage = .resolved
        case .hold:
            change.stage = .hold
        }
        var changed = 0, refused = 0
        for number in numbers {
            do {
                _ = try await api.app.updateConversation(number, change: change, expectedVersion: nil, by: caller)
                changed += 1
            } catch let error where APIError(error).status.code < 500 {
                refused += 1
            }
        }
        return (changed, refused)
    }

    /// The bar above the list: what to do with the selected rows.
    func bulkBar(_ view: InboxView, session: WebSession, people: [DevUser], tags: [Tag]) -> HTML {
        let actions = HTML.join(BulkAction.allCases.map { "<option value=\"\($0.rawValue)\">\($0.label)</option>" })
        let owners = HTML.join(people.filter { $0.state == .active }.map { "<option value=\"\($0.id.displayID)\">\($0.displayName)</option>" })
        let ownTags = tags.filter { !$0.isSystem }
        let tagOptions = HTML.join(ownTags.map { "<option value=\"\($0.id.displayID)\">\($0.name)</option>" })
        let resolutions = HTML.join(SystemTag.resolution.allowedValues.map { "<option value=\"\($0)\">\($0.replacing("_", with: " "))</option>" })
        return """
        <form class="bulk filters" id="bulk" method="post" action="/inbox/bulk?\(view.query())">\(pages.csrfField(session))
          <span class="small muted">Selected:</span>
          <select name="action" aria-label="Bulk action">\(actions)</select>
          <select name="owner" aria-label="Assign to">\(owners)</select>
          \(ownTags.isEmpty ? HTML.empty : "<select name=\"tag\" aria-label=\"Tag with\">\(tagOptions)</select>")
          <select name="resolution" aria-label="Resolution">\(resolutions)</select>
          <button type="submit">Apply</button>
        </form>
        """
    }
}
