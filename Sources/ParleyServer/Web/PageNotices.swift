import ParleyCore

/// What the inbox and widget say after a failed form. The redirect back carries a code (`error=conflict`)
/// and at most a field name and a list of stages, each checked; the page shows a fixed sentence for the
/// code. Text from the URL never reaches the page: a link could otherwise put any words on Parley's own
/// pages (`/inbox?error=Your+session+expired:+sign+in+at+evil.example`).
enum PageNotice {
    /// The query that carries `error` to the page a failed form goes back to.
    static func query(for error: any Error) -> String {
        let apiError = APIError(error)
        var code = apiError.type
        if apiError.fieldName == "stage", apiError.type == "bad_request" {
            code = apiError.message.contains("'Resolution: <value>' tag") ? "resolution_tag" : "stage"
        }
        var query = "error=" + code
        if let field = apiError.fieldName, isFieldName(field) { query += "&field=" + field }
        let stages = (apiError.allowedValues ?? []).filter { Stage(rawValue: $0) != nil }
        if code == "stage", !stages.isEmpty { query += "&allowed=" + stages.joined(separator: ",") }
        return query
    }

    /// The sentence for the notice in `query`, if it names a known one.
    /// The sentence a page shows for `error` (what `message(_:)` reads back from `query(for:)`).
    static func message(for error: any Error) -> String? {
        message(FormData(encoded: query(for: error)))
    }

    static func message(_ query: FormData) -> String? {
        guard let code = query.text("error") else { return nil }
        let field = query.text("field").flatMap { isFieldName($0) ? $0.replacing("_", with: " ") : nil }
        switch code {
        case "resolution_tag":
            return "To resolve a conversation, add a Resolution tag (for example Resolution: fixed) in the same change."
        case "stage":
            let allowed = (query.text("allowed") ?? "").split(separator: ",").compactMap { Stage(rawValue: String($0))?.displayName }
            return "That stage change is not possible from the conversation's stage."
                + (allowed.isEmpty ? "" : " From here: \(allowed.joined(separator: ", ")).")
        case "missing_required_field":
            return field.map { "Please fill in the \($0)." } ?? "Please fill in every required field."
        case "bad_request", "parse_error", "invalid_field", "invalid_id", "invalid_enum_value":
            return field.map { "The \($0) you entered is not accepted." } ?? "Something in the form is not accepted."
        case "forbidden": return "You are not allowed to do that."
        case "not_found": return "That no longer exists, or you cannot see it."
        case "conflict": return "Someone changed this meanwhile: reload the page and try again."
        case "too_many_requests": return "Too many requests: wait a minute and try again."
        case "insufficient_storage": return "The server's disk is full: nothing can be saved until space is freed."
        case "unauthenticated", "token_expired", "token_revoked": return "Please sign in again."
        case "internal_error": return "Something went wrong on the server; try again."
        default: return nil
        }
    }

    /// The sentence for a form that worked (`done=agent_created` on the redirect back), if it names a known one.
    static func done(_ query: FormData) -> String? {
        switch query.text("done") {
        case "agent_created": "Agent added."
        case "agent_updated": "Agent saved."
        case "agent_activated": "Agent activated: they can sign in again."
        case "agent_deactivated": "Agent deactivated: their sessions and tokens no longer work."
        case "password_set": "Password set."
        case "group_created": "Group added."
        case "member_added": "Member added."
        case "member_removed": "Member removed."
        case "tag_created": "Tag added."
        case "tag_updated": "Tag saved."
        case "tag_deleted": "Tag deleted."
        case "org_created": "Customer org added."
        case "customer_created": "Customer added."
        case "mailbox_created": "Mailbox added."
        case "mailbox_deleted": "Mailbox deleted: mail to it is refused from now on."
        case "customer_updated": "Customer saved."
        case "customer_deleted": "Customer deleted; their sessions are ended."
        case "org_updated": "Customer org saved."
        case "webhook_deleted": "Webhook deleted: nothing more is delivered to it."
        case "token_revoked": "Token revoked: requests with it are refused from now on."
        case "spam_saved": "Spam rules saved: new conversations are judged by them from now on."
        case "routing_saved": "Routing rules saved: new conversations are routed by them from now on."
        case "bulk":
            bulkSentence(changed: query.text("changed").flatMap(Int.init) ?? 0, refused: query.text("refused").flatMap(Int.init) ?? 0)
        default: nil
        }
    }

    private static func bulkSentence(changed: Int, refused: Int) -> String {
        let done = changed == 1 ? "1 conversation changed." : "\(changed) conversations changed."
        guard refused > 0 else { return done }
        return done + (refused == 1 ? " 1 was left as it is" : " \(refused) were left as they are")
            + ": their stage does not allow it, or they changed meanwhile."
    }

    /// Field names as the API reports them (`body`, `messages.0.body`): nothing else is echoed.
    private static func isFieldName(_ text: String) -> Bool {
        text.count <= 40 && !text.isEmpty
            && text.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "." }
    }
}
