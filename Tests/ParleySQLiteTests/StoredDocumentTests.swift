import Foundation
@testable import ParleyCore
@testable import ParleySQLite
import ParleyStore
import ParleyStoreContract
import Testing

/// The store writes conversations, comments and events by hand (`StoredDocument`); these check that the
/// text is what `JSONEncoder` writes of the same values and that `JSONDecoder` reads every field back.
@Suite("Stored documents")
struct StoredDocumentTests {
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()
    private let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }()

    private func conversation(at: Date, text: String, full: Bool) -> Conversation {
        let draft = ConversationDraft(title: "Login \(text)", description: full ? "Since \(text)" : nil, sourceChannel: "email")
        var c = try! Conversation.open(number: 7, draft: draft, routing: RoutingDecision(owners: [1], record: RoutingRecord(reason: .orgDefaultOwner)),
                                       by: Actor.revUser(2), at: at).decision.conversation
        guard full else { return c }
        c.ownedBy = [1, 99]
        c.members = [Actor.revUser(2), .devUser(1), .system]
        c.group = 5
        c.revOrg = 3
        c.account = 4
        c.tags = [TagValue(tag: 6, value: "fixed \(text)"), TagValue(tag: 97)]
        c.externalRef = "ticket \(text)"
        c.emailCC = ["carol@\(text).test", "dan@example.test"]
        c.followUpOf = 3
        c.lastCustomerMessageAt = at.addingTimeInterval(1)
        c.lastAgentReplyAt = at.addingTimeInterval(2)
        c.lastActivityAt = at.addingTimeInterval(3)
        c.waitingSince = at.addingTimeInterval(4)
        c.recentMessages = [at, at.addingTimeInterval(0.25)]
        c.metrics.firstResponseAt = at.addingTimeInterval(61.5)
        c.metrics.hasBeenInNew = true
        c.metrics.completedSecondsInNew = 61.5
        c.metrics.reopenCount = 2
        c.stage = Stage.waitingOnUser
        c.priority = .p0
        c.isSpam = true
        c.version = 12
        c.routing = RoutingRecord(reason: .rule, rule: "billing \(text)", keyword: "invoice", priorityReason: "new org")
        c.spam = SpamAssessment(score: 1.25, threshold: 3, reasons: ["link", text])
        c.resolutionCheck = ResolutionCheck(awaitingConfirmation: false, proposedAt: at, confirmed: true, answeredAt: at.addingTimeInterval(5))
        c.lastMessage = MessagePreview(author: .revUser(3), body: "last \(text)", at: at.addingTimeInterval(6))
        return c
    }

    private func entry(at: Date, text: String, deleted: Bool) -> TimelineEntry {
        var entry = TimelineEntry(number: 11, conversation: 7, author: .revUser(2), body: "It \(text)", visibility: .internal,
                                  externalRef: deleted ? nil : "mail \(text)", at: at)
        entry.isDeleted = deleted
        entry.originalMessage = deleted ? nil : 12
        entry.modifiedBy = .devUser(1)
        entry.artifacts = deleted ? [] : [3, 12]
        return entry
    }

    private func events(at: Date, text: String) -> [ChangeEvent] {
        [ChangeEvent(object: ObjectID(.conversation, 7), actor: .devUser(1), at: at, kind: .stageChanged, field: "stage",
                     before: .text("new \(text)"), after: .text("waiting_on_user")),
         ChangeEvent(object: ObjectID(.comment, 11, parent: 7), actor: .system, at: at, kind: .fieldChanged, field: "tags",
                     before: .list([]), after: .list(["a", text])),
         ChangeEvent(object: ObjectID(.conversation, 7), actor: .revUser(2), at: at, kind: .created, before: .number(-3), after: .flag(true)),
         ChangeEvent(object: ObjectID(.devUser, 3), actor: .devUser(3), at: at, kind: .passwordSet)]
    }

    @Test("the text is byte for byte what JSONEncoder writes (whole milliseconds, text needing no escape)")
    func sameTextAsJSONEncoder() throws {
        let at = Date(timeIntervalSince1970: 1_767_225_600.125)
        for full in [false, true] {
            let c = conversation(at: at, text: "loops since Monday", full: full)
            #expect(try StoredDocument.document(c).json == String(decoding: try encoder.encode(c), as: UTF8.self))
        }
        for deleted in [false, true] {
            let e = entry(at: at, text: "plain words", deleted: deleted)
            #expect(StoredDocument.json(e) == String(decoding: try encoder.encode(e), as: UTF8.self))
        }
        for event in events(at: at, text: "plain") {
            #expect(StoredDocument.json(event) == String(decoding: try encoder.encode(event), as: UTF8.self))
        }
    }

    /// A field added to `Conversation` but not to its stored document fails the comparison above only if
    /// the fixture sets it: so the fixture must set every field (no nil optional, no empty list).
    @Test("the full fixture sets every field of a conversation")
    func fixtureSetsEveryField() {
        let c = conversation(at: Date(timeIntervalSince1970: 1_767_225_600.125), text: "x", full: true)
        func unset(_ value: Any) -> Bool {
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .optional || mirror.displayStyle == .collection { return mirror.children.isEmpty }
            if let wrapped = mirror.children.first(where: { $0.label == "wrappedValue" }) { return unset(wrapped.value) }
            return false
        }
        let unsetFields = Mirror(reflecting: c).children.filter { unset($0.value) }.compactMap(\.label)
        #expect(unsetFields.isEmpty, "set these in the full fixture: \(unsetFields)")
    }

    @Test("a number JSON cannot hold fails the document, as JSONEncoder does, rather than storing null")
    func nonFiniteNumbersThrow() throws {
        let at = Date(timeIntervalSince1970: 1_767_225_600.125)
        var c = conversation(at: at, text: "buy now", full: true)
        for score in [Double.infinity, -.infinity, .nan] {
            c.spam = SpamAssessment(score: score, threshold: 3, reasons: ["matches /buy/"])
            #expect(throws: EncodingError.self) { try StoredDocument.document(c).json }
            #expect(throws: EncodingError.self) { try encoder.encode(c) }
        }
    }

    /// The store's caches keep the value a use case wrote when its dates read back exactly, and the value
    /// decoded from its text otherwise: `readsBackExactly` must say which, or a cache would hold what a read of
    /// the database does not give. Whole milliseconds read back exactly, except after arithmetic crossing a
    /// power of two of seconds (2^30 s is January 2004, 2^31 s January 2038); sub-millisecond instants rarely do.
    @Test("a document says whether its dates read back as the very same Date, and is right")
    func readsBackExactlyIsRight() throws {
        var generator = SystemRandomNumberGenerator()
        var instants: [Date] = []
        for _ in 0..<1_000 {
            let milliseconds = Int64.random(in: 946_684_800_000...2_524_608_000_000, using: &generator)  // 2000–2050
            instants.append(Date(timeIntervalSince1970: Double(milliseconds) / 1000))
            instants.append(Date(timeIntervalSince1970: Double.random(in: 9.5e8...2.5e9, using: &generator)))
        }
        for boundary in [1_073_741_824.0, 2_147_483_648.0] {
            for offset in 0..<200 { instants.append(Date(timeIntervalSince1970: boundary - 7 * 86_400 + Double(offset) * 0.001 - 0.5)) }
        }
        var inexact = 0
        for at in instants {
            for later in [at, at + 86_400, at + 7 * 86_400] {
                let c = conversation(at: later, text: "exact", full: true)
                let written = try StoredDocument.document(c)
                let decoded = try decoder.decode(Conversation.self, from: Data(written.json.utf8))
                #expect(written.readsBackExactly == (decoded == c))
                let e = entry(at: later, text: "exact", deleted: false)
                let writtenEntry = StoredDocument.document(e)
                #expect(writtenEntry.readsBackExactly == (try decoder.decode(TimelineEntry.self, from: Data(writtenEntry.json.utf8)) == e))
                if !written.readsBackExactly { inexact += 1 }
            }
        }
        #expect(inexact > 0, "the instants include some that do not read back exactly")
    }

    /// What `JSONDecoder` makes of `text`, and of what `JSONEncoder` writes of `value` (a date read back from
    /// milliseconds is not always the very same Double, with either writer).
    private func readBack<T: Codable & Equatable>(_ text: String, _ value: T) throws -> (T, T) {
        (try decoder.decode(T.self, from: Data(text.utf8)), try decoder.decode(T.self, from: try encoder.encode(value)))
    }

    @Test("JSONDecoder reads back every field as from JSONEncoder's text, whatever the text and the instant")
    func readsBack() throws {
        var generator = SystemRandomNumberGenerator()
        let texts = ["\"quoted\" \\ back/slash", "<b>&amp;</b>", "line\nbreak\ttab\u{01}", "€ 日本 👍🏽 \u{2028}", ""]
        for index in 0..<200 {
            let at = Date(timeIntervalSince1970: Double.random(in: 0...4e9, using: &generator))
            let text = texts[index % texts.count]
            for full in [false, true] {
                let c = conversation(at: at, text: text, full: full)
                let (written, encoded) = try readBack(try StoredDocument.document(c).json, c)
                #expect(written == encoded)
                #expect(written.title == c.title && written.spam == c.spam && written.members == c.members)
            }
            for deleted in [false, true] {
                let e = entry(at: at, text: text, deleted: deleted)
                let (written, encoded) = try readBack(StoredDocument.json(e), e)
                #expect(written == encoded && written.body == e.body)
            }
            for event in events(at: at, text: text) {
                let (written, encoded) = try readBack(StoredDocument.json(event), event)
                #expect(written == encoded && written.before == event.before && written.after == event.after)
            }
        }
    }
}
