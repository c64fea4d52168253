import Foundation
import ParleyCore

/// How the inbox tells a conversation's recorded changes: a sentence with the names of people, groups and
/// tags, never a field name or an id (`resolution_check`, `owned_by`, `DEVU-2`). Only the page speaks this
/// way: the API keeps the machine-readable events (`ChangeEvent` and `ChangeEvent.summary`).
struct TimelineWording {
    /// Display ids (DEVU-2, REVU-1, GROUP-1, TAG-3) → the names a page shows.
    let names: [String: String]

    func name(_ actor: Actor) -> String {
        if case .system = actor { return "Parley" }
        return name(id: actor.objectID.displayID)
    }

    func name(id: String) -> String { names[id] ?? id }

    /// "TAG-6: fixed" → "Resolution: fixed"; "TAG-3" → "Fast Moving".
    func tag(_ recorded: String) -> String {
        let parts = recorded.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        let tagName = name(id: parts[0])
        return parts.count == 2 ? "\(tagName): \(parts[1])" : tagName
    }

    private func list(_ value: EventValue?) -> [String] {
        switch value {
        case .list(let items)?: items
        case .text(let text)?: [text]
        default: []
        }
    }

    private func text(_ value: EventValue?) -> String? {
        switch value {
        case .text(let text)?: text
        case .number(let number)?: String(number)
        case .flag(let flag)?: flag ? "yes" : "no"
        case .list(let items)?: items.joined(separator: ", ")
        case nil: nil
        }
    }

    private func stageName(_ value: EventValue?) -> String {
        text(value).flatMap(Stage.init(rawValue:))?.displayName ?? text(value) ?? "none"
    }

    private static func joined(_ names: [String]) -> String {
        switch names.count {
        case 0: "nobody"
        case 1: names[0]
        default: names.dropLast().joined(separator: ", ") + " and " + names.last!
        }
    }

    /// The sentence for `event`, or nil for events the page shows otherwise (a comment is its message).
    func sentence(_ event: ChangeEvent) -> String? {
        let who = name(event.actor)
        switch event.kind {
        case .commentAdded:
            return nil
        case .created:
            if event.field == "follow_up_of", let previous = text(event.after) {
                return "\(who) wrote again after \(previous) was archived: this follow-up continues it"
            }
            return "\(who) opened the conversation"
        case .deleted:
            return "\(who) deleted the conversation"
        case .stageChanged:
            return "\(stageName(event.before)) → \(stageName(event.after)): \(stageReason(event.field ?? "", who: who))"
        case .routed:
            return routed(event)
        case .fieldChanged:
            return fieldChanged(event, who: who)
        case .commentEdited:
            return "\(who) edited a message"
        case .commentDeleted:
            return "\(who) deleted a message"
        case .followUpStarted:
            return "The customer wrote again after it was archived: the conversation continues in \(text(event.after) ?? "a follow-up")"
        case .memberAdded:
            return "\(name(id: text(event.after) ?? "")) joined the conversation"
        case .spamScored:
            return "The spam filter: \(text(event.after) ?? "scored it")"
        case .deliveryFailed:
            return "A reply by mail was not delivered: \(text(event.after) ?? "the mail server refused it")"
        case .mailSent:
            // Shown as the message's delivery status, not as a line of its own.
            return nil
        case .autoReplyReceived:
            return "An automatic reply came (\(event.field ?? "automatic")), changing nothing: \(text(event.after) ?? "")"
        case .copiesChanged:
            if case .list(let copies)? = event.after { return "Copied on its mail: \(copies.joined(separator: ", "))" }
            return nil
        case .tokenIssued, .tokenRevoked, .passwordSet, .configurationChanged:
            return event.summary
        }
    }

    /// Why the stage changed, from the stage machine's input (`StageInput.description`) and what the
    /// resolution check added to it.
    private func stageReason(_ reason: String, who: String) -> String {
        let parts = reason.components(separatedBy: "; ")
        var sentence: String
        switch parts[0] {
        case "customer message": sentence = "\(who) wrote"
        case "agent public reply": sentence = "\(who) replied"
        case "internal note": sentence = "\(who) left a note"
        case "all dependencies done": sentence = "every issue it waited on is done"
        case "spam verdict": sentence = who == "Parley" ? "the spam filter held it for review" : "\(who) marked it as spam"
        case "archive timer elapsed": sentence = "resolved long enough, archived automatically"
        case let other where other.hasPrefix("request for "): sentence = "\(who) moved it"
        case let other: sentence = "\(who): \(other)"
        }
        for detail in parts.dropFirst() {
            switch detail {
            case "customer confirmed the resolution": sentence += ", after the customer confirmed the resolution"
            case "customer did not confirm the resolution": sentence += ", though the customer said it did not solve it"
            case "customer has not answered yet": sentence += ", before the customer answered the proposed resolution"
            case "customer was not asked": break
            default: sentence += ", \(detail)"
            }
        }
        return sentence
    }

    /// Why a conversation has its owner, for the details panel.
    func routing(_ record: RoutingRecord) -> String {
        var words: String = switch record.reason {
        case .orgDefaultOwner: "the customer org's default owner"
        case .rule: "routing rule \(record.rule ?? "")" + (record.keyword.map { " (keyword “\($0)”)" } ?? "")
        case .fallback: "no routing rule matched: the fallback"
        case .pendingReview: "waiting for spam review"
        case .explicit: record.rule.map { $0.hasPrefix("follow_up_of ") ? "a follow-up of \($0.dropFirst(13))" : "chosen when it was opened" }
            ?? "chosen when it was opened"
        }
        switch record.priorityReason {
        case "explicit"?: words += "; priority as asked when it was opened"
        case let reason? where reason.hasPrefix("rule "): words += "; priority from routing rule \(reason.dropFirst(5))"
        case let reason?: words += "; priority for an \(reason)".replacing("an new", with: "a new")
        case nil: break
        }
        return words
    }

    /// "org_default_owner", "rule billing (keyword 'invoice')", "explicit (priority from rule vip)", …
    private func routed(_ event: ChangeEvent) -> String {
        let owners = list(event.after).map { name(id: $0) }
        let reason = event.field ?? ""
        let to = owners.isEmpty ? "Left unassigned" : "Assigned to \(Self.joined(owners))"
        if reason.hasPrefix(RoutingRecord.Reason.rule.rawValue + " ") {
            return "\(to) by the routing rule \(reason.dropFirst(5))"
        }
        if reason.hasPrefix(RoutingRecord.Reason.orgDefaultOwner.rawValue) {
            return owners.isEmpty ? "Left unassigned: the customer's org has no default owner"
                : "\(to), the customer org's default owner"
        }
        if reason.hasPrefix(RoutingRecord.Reason.fallback.rawValue) { return "\(to): no routing rule matched (the fallback)" }
        if reason.hasPrefix(RoutingRecord.Reason.pendingReview.rawValue) { return "Held for spam review before it is assigned" }
        if reason.hasPrefix(RoutingRecord.Reason.explicit.rawValue) { return "\(to), as asked when it was opened" }
        return to
    }

    private func fieldChanged(_ event: ChangeEvent, who: String) -> String {
        let field = event.field ?? ""
        // Tags the server keeps: "tags (Fast Moving on: 4 messages in the last 60 minutes)".
        if let match = field.wholeMatch(of: /tags \((.+) (on|off): (.+)\)/) {
            let (tagName, on, reason) = (String(match.output.1), match.output.2 == "on", String(match.output.3))
            return on ? "Tagged \(tagName): \(reason)" : "\(tagName) removed: \(reason)"
        }
        switch field {
        case "resolution_check":
            switch text(event.after) {
            case "awaiting customer confirmation"?: return "\(who) asked the customer to confirm the resolution"
            case "customer confirmed"?: return "\(who) confirmed that the proposed resolution solved it"
            case "customer did not confirm"?: return "\(who) said the proposed resolution did not solve it"
            case nil: return "\(who) wrote again, withdrawing their answer to the proposed resolution"
            case let other?: return "Resolution check: \(other)"
            }
        case "title":
            return "\(who) renamed it “\(text(event.after) ?? "")”"
        case "description":
            return "\(who) changed the description"
        case "owned_by":
            let owners = list(event.after).map { name(id: $0) }
            return owners.isEmpty ? "\(who) unassigned it" : "\(who) assigned it to \(Self.joined(owners))"
        case "group":
            return text(event.after).map { "\(who) moved it to the group \(name(id: $0))" } ?? "\(who) took it out of its group"
        case "members":
            let added = Set(list(event.after)).subtracting(list(event.before)).sorted().map { name(id: $0) }
            let removed = Set(list(event.before)).subtracting(list(event.after)).sorted().map { name(id: $0) }
            return [added.isEmpty ? nil : "\(who) added \(Self.joined(added))", removed.isEmpty ? nil : "\(who) removed \(Self.joined(removed))"]
                .compactMap { $0 }.joined(separator: "; ") + " (who takes part)"
        case "tags":
            let added = list(event.after).filter { !list(event.before).contains($0) }.map(tag)
            let removed = list(event.before).filter { !list(event.after).contains($0) }.map(tag)
            return [added.isEmpty ? nil : "\(who) tagged it \(Self.joined(added))", removed.isEmpty ? nil : "\(who) removed \(Self.joined(removed))"]
                .compactMap { $0 }.joined(separator: "; ")
        case "priority":
            return "\(who) changed the priority from \(text(event.before)?.uppercased() ?? "none") to \(text(event.after)?.uppercased() ?? "none")"
        case "source_channel":
            return "\(who) set the channel to \(text(event.after) ?? "none")"
        case "is_spam":
            return event.after == .flag(true) ? "\(who) marked it as spam" : "\(who) marked it as not spam"
        default:
            return "\(who) changed the \(field.replacing("_", with: " "))"
        }
    }
}
