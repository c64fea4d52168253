import Foundation
import ParleyCore
import ParleyJSON
import ParleyStore

/// The JSON the store keeps of conversations, comments and events, written by hand: exactly the document
/// their `Codable` conformances give through `JSONEncoder` with this store's settings (dates as milliseconds
/// since 1970, keys sorted, nil fields left out), so `JSONDecoder` reads it back, as it reads documents
/// written before this existed. `StoredDocumentTests` compares the two byte for byte where no character
/// needs escaping (the escapes differ: `JSONEncoder` writes `\/`, this `\u003c` for `<` and the like) and
/// what `JSONDecoder` reads back from each everywhere. The writer thread
/// spent a third of its time in `JSONEncoder`; this writes the same text in a pass over the fields.
/// A new stored field must be added here too: the tests encode a value with every field set both ways.
enum StoredDocument {
    /// Throws, as `JSONEncoder` does, for a number JSON cannot write (infinity, NaN): the use case fails
    /// instead of storing a document nothing can read back.
    /// A document's text, and whether every date in it reads back as the very same `Date`: true for whole
    /// milliseconds (what the server's clocks give) except, rarely, after arithmetic that crosses a power of
    /// two of seconds (January 2004, January 2038); the store's caches keep the value decoded from the text
    /// when it is false, so that they never hold what a read of the database would not give.
    struct Written {
        var json: String
        var readsBackExactly: Bool
    }

    static func document(_ c: Conversation) throws -> Written {
        var exact = true
        let numbers = [c.metrics.completedSecondsInNew, c.spam?.score ?? 0, c.spam?.threshold ?? 0]
        if let invalid = numbers.first(where: { !$0.isFinite }) {
            throw EncodingError.invalidValue(invalid, EncodingError.Context(codingPath: [], debugDescription:
                "conversation \(c.number): \(invalid) cannot be written as JSON"))
        }
        var w = JSONWriter(capacity: 1_536)
        w.object { w in
            w.field("account", c.account)
            actor(c.createdBy, "createdBy", &w)
            date(c.createdDate, "createdDate", &w, &exact)
            w.field("description", c.description)
            w.field("externalRef", c.externalRef)
            w.field("followUpOf", c.followUpOf)
            w.field("group", c.group)
            w.field("isSpam", c.isSpam)
            date(c.lastActivityAt, "lastActivityAt", &w, &exact)
            date(c.lastAgentReplyAt, "lastAgentReplyAt", &w, &exact)
            date(c.lastCustomerMessageAt, "lastCustomerMessageAt", &w, &exact)
            w.key("members")
            w.strings(c.members.lazy.map(\.description))
            w.key("metrics")
            w.object { w in
                w.key("completedSecondsInNew")
                w.number(c.metrics.completedSecondsInNew)
                date(c.metrics.firstResponseAt, "firstResponseAt", &w, &exact)
                w.field("hasBeenInNew", c.metrics.hasBeenInNew)
                w.field("reopenCount", c.metrics.reopenCount)
            }
            actor(c.modifiedBy, "modifiedBy", &w)
            date(c.modifiedDate, "modifiedDate", &w, &exact)
            w.field("number", c.number)
            w.key("ownedBy")
            w.array { w in
                for owner in c.ownedBy {
                    w.element()
                    w.int(owner)
                }
            }
            w.field("priority", c.priority.rawValue)
            w.key("recentMessages")
            w.array { w in
                for message in c.recentMessages {
                    w.element()
                    w.number(milliseconds(message))
                    exact = exact && readsBack(message)
                }
            }
            if let check = c.resolutionCheck {
                w.key("resolutionCheck")
                w.object { w in
                    date(check.answeredAt, "answeredAt", &w, &exact)
                    w.field("awaitingConfirmation", check.awaitingConfirmation)
                    if let confirmed = check.confirmed { w.field("confirmed", confirmed) }
                    date(check.proposedAt, "proposedAt", &w, &exact)
                }
            }
            w.field("revOrg", c.revOrg)
            w.key("routing")
            w.object { w in
                w.field("keyword", c.routing.keyword)
                w.field("priorityReason", c.routing.priorityReason)
                w.field("reason", c.routing.reason.rawValue)
                w.field("rule", c.routing.rule)
            }
            w.field("sourceChannel", c.sourceChannel)
            if let spam = c.spam {
                w.key("spam")
                w.object { w in
                    w.key("reasons")
                    w.strings(spam.reasons)
                    w.key("score")
                    w.number(spam.score)
                    w.key("threshold")
                    w.number(spam.threshold)
                }
            }
            w.field("stage", c.stage.rawValue)
            date(c.stageEnteredAt, "stageEnteredAt", &w, &exact)
            w.key("tags")
            w.array { w in
                for tag in c.tags {
                    w.element()
                    w.object { w in
                        w.field("tag", tag.tag)
                        w.field("value", tag.value)
                    }
                }
            }
            w.field("title", c.title)
            w.field("version", c.version)
            date(c.waitingSince, "waitingSince", &w, &exact)
        }
        return Written(json: String(decoding: w.bytes, as: UTF8.self), readsBackExactly: exact)
    }

    static func json(_ entry: TimelineEntry) -> String { document(entry).json }

    static func document(_ entry: TimelineEntry) -> Written {
        var exact = true
        var w = JSONWriter(capacity: 512)
        w.object { w in
            actor(entry.author, "author", &w)
            w.field("body", entry.body)
            w.field("bodyType", entry.bodyType)
            w.field("conversation", entry.conversation)
            date(entry.createdDate, "createdDate", &w, &exact)
            w.field("externalRef", entry.externalRef)
            w.field("isDeleted", entry.isDeleted)
            actor(entry.modifiedBy, "modifiedBy", &w)
            date(entry.modifiedDate, "modifiedDate", &w, &exact)
            w.field("number", entry.number)
            w.field("visibility", entry.visibility.rawValue)
        }
        return Written(json: String(decoding: w.bytes, as: UTF8.self), readsBackExactly: exact)
    }

    static func json(_ event: ChangeEvent) -> String {
        var w = JSONWriter(capacity: 256)
        w.object { w in
            actor(event.actor, "actor", &w)
            value(event.after, "after", &w)
            w.key("at")
            w.number(milliseconds(event.at))
            value(event.before, "before", &w)
            w.field("field", event.field)
            w.field("kind", event.kind.rawValue)
            w.key("object")
            w.object { w in
                w.field("kind", event.object.kind.rawValue)
                w.field("number", event.object.number)
                w.field("parent", event.object.parent)
            }
        }
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// `JSONEncoder.DateEncodingStrategy.millisecondsSince1970` writes this Double.
    private static func milliseconds(_ date: Date) -> Double { 1000.0 * date.timeIntervalSince1970 }

    private static func date(_ date: Date?, _ name: StaticString, _ w: inout JSONWriter, _ exact: inout Bool) {
        guard let date else { return }
        w.key(name)
        w.number(milliseconds(date))
        exact = exact && readsBack(date)
    }

    /// Whether `date` written as milliseconds reads back as the same `Date` (`JSONDecoder`'s
    /// `millisecondsSince1970` divides what was written by 1,000; the text itself round-trips exactly).
    private static func readsBack(_ date: Date) -> Bool {
        Date(timeIntervalSince1970: milliseconds(date) / 1000) == date
    }

    private static func actor(_ actor: Actor, _ name: StaticString, _ w: inout JSONWriter) {
        w.field(name, actor.description)
    }

    private static func value(_ value: EventValue?, _ name: StaticString, _ w: inout JSONWriter) {
        guard let value else { return }
        w.key(name)
        switch value {
        case .text(let text): w.string(text)
        case .number(let number): w.int(number)
        case .flag(let flag): w.bool(flag)
        case .list(let items): w.strings(items)
        }
    }
}
