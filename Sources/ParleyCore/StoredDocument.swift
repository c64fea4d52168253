import ParleyJSON

/// The JSON every store keeps of conversations, comments and events, written by hand: exactly the document
/// their `Codable` conformances give through `JSONEncoder` with this store's settings (dates as milliseconds
/// since 1970, keys sorted, nil fields left out), so `JSONDecoder` reads it back, as it reads documents
/// written before this existed. `StoredDocumentTests` compares the two byte for byte where no character
/// needs escaping (the escapes differ: `JSONEncoder` writes `\/`, this `\u003c` for `<` and the like) and
/// what `JSONDecoder` reads back from each everywhere. The writer thread
/// spent a third of its time in `JSONEncoder`; this writes the same text in a pass over the fields.
/// A conversation's document is written beside its fields (`Conversation.swift`), so that a new field and
/// its stored form are one change; a field missing here fails `StoredDocumentTests`, whose fixture must set
/// every field (checked by reflection). Shared by every store.
public enum StoredDocument {
    /// Throws, as `JSONEncoder` does, for a number JSON cannot write (infinity, NaN): the use case fails
    /// instead of storing a document nothing can read back.
    /// A document's text, and whether every date in it reads back as the very same `Date`: true for whole
    /// milliseconds (what the server's clocks give) except, rarely, after arithmetic that crosses a power of
    /// two of seconds (January 2004, January 2038); the store's caches keep the value decoded from the text
    /// when it is false, so that they never hold what a read of the database would not give.
    public struct Written: Sendable {
        public var json: String
        public var readsBackExactly: Bool
    }

    public static func json(_ entry: TimelineEntry) -> String { document(entry).json }

    public static func document(_ entry: TimelineEntry) -> Written {
        var exact = true
        var w = JSONWriter(capacity: 512)
        w.object { w in
            if let artifacts = entry.attachedArtifacts {
                w.key("artifacts")
                w.array { w in
                    for number in artifacts {
                        w.element()
                        w.int(number)
                    }
                }
            }
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
            w.field("originalMessage", entry.originalMessage)
            w.field("visibility", entry.visibility.rawValue)
        }
        return Written(json: String(decoding: w.bytes, as: UTF8.self), readsBackExactly: exact)
    }

    public static func json(_ event: ChangeEvent) -> String {
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
    static func milliseconds(_ date: Date) -> Double { 1000.0 * date.timeIntervalSince1970 }

    static func date(_ date: Date?, _ name: StaticString, _ w: inout JSONWriter, _ exact: inout Bool) {
        guard let date else { return }
        w.key(name)
        w.number(milliseconds(date))
        exact = exact && readsBack(date)
    }

    /// Whether `date` written as milliseconds reads back as the same `Date` (`JSONDecoder`'s
    /// `millisecondsSince1970` divides what was written by 1,000; the text itself round-trips exactly).
    static func readsBack(_ date: Date) -> Bool {
        Date(timeIntervalSince1970: milliseconds(date) / 1000) == date
    }

    static func actor(_ actor: Actor, _ name: StaticString, _ w: inout JSONWriter) {
        w.field(name, actor.description)
    }

    static func value(_ value: EventValue?, _ name: StaticString, _ w: inout JSONWriter) {
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
