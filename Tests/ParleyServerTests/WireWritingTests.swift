import Foundation
import ParleyApp
@testable import ParleyCore
import ParleyJSON
import ParleyStore
@testable import ParleyServer
import Testing

/// `Wire` writes conversations, people and timeline entries straight to bytes, naming their keys in code:
/// these check that what it writes is JSON with every key in sorted order (re-reading and re-writing it,
/// which sorts, changes nothing) and that each field carries its value.
@Suite("Wire writing")
struct WireWritingTests {
    private let at = Date(timeIntervalSince1970: 1_767_225_600.125)

    private var references: References {
        var references = References()
        references.devUsers[1] = DevUser(number: 1, email: "maya@support.test", displayName: "Maya", fullName: "Maya <Lin>",
                                         role: .agent, createdBy: .system, at: at)
        references.revUsers[2] = RevUser(number: 2, displayName: "Alice \"A\"", fullName: "Alice Doe", email: "alice@acme.test",
                                         externalRef: "crm-2", revOrg: 3, phoneNumbers: [], description: nil, createdBy: .system, at: at)
        references.revOrgs[3] = RevOrg(number: 3, displayName: "Acme", description: nil, account: 4, externalRef: nil, tier: nil,
                                       environment: nil, createdBy: .system, at: at)
        references.accounts[4] = Account(number: 4, displayName: "Acme Inc", description: nil, domains: [], ownedBy: [1],
                                         externalRefs: [], websites: [], tier: nil, createdBy: .system, at: at)
        references.groups[5] = Group(number: 5, name: "Billing", description: nil, memberType: "dev_user", owner: 1, createdBy: .system, at: at)
        references.tags[6] = Tag(number: 6, name: "Resolution", description: nil, allowedValues: ["fixed"], createdBy: .system, at: at)
        return references
    }

    /// A conversation with every optional field set.
    private var fullConversation: Conversation {
        let draft = ConversationDraft(title: "Login <loops>", description: "Since \"Monday\"\n", sourceChannel: "email")
        var c = try! Conversation.open(number: 7, draft: draft, routing: RoutingDecision(owners: [1], record: RoutingRecord(reason: .orgDefaultOwner)),
                                       by: .revUser(2), at: at).decision.conversation
        c.ownedBy = [1, 99]
        c.members = [Actor.revUser(2), .devUser(1), .system, .revUser(98)]
        c.group = 5
        c.revOrg = 3
        c.account = 4
        c.tags = [TagValue(tag: 6, value: "fixed"), TagValue(tag: 97)]
        c.externalRef = "ticket-7"
        c.followUpOf = 3
        c.lastCustomerMessageAt = at
        c.metrics.firstResponseAt = at.addingTimeInterval(61.5)
        c.metrics.hasBeenInNew = true
        c.metrics.completedSecondsInNew = 61.5
        c.metrics.reopenCount = 2
        c.stage = Stage.waitingOnUser
        c.routing = RoutingRecord(reason: .rule, rule: "billing", keyword: "invoice", priorityReason: "new org")
        c.spam = SpamAssessment(score: 1.5, threshold: 3, reasons: ["link", "caps"])
        c.resolutionCheck = ResolutionCheck(awaitingConfirmation: false, proposedAt: at, confirmed: true, answeredAt: at.addingTimeInterval(5))
        c.lastMessage = MessagePreview(author: .revUser(2), body: "It broke again", at: at.addingTimeInterval(6))
        return c
    }

    private func checkSorted(_ value: JSONValue) throws -> JSONValue {
        guard case .raw(let text) = value else {
            Issue.record("expected text written by Wire")
            return value
        }
        let reread = try JSONParser.parse(text.bytes)
        #expect(reread.serialized == String(decoding: text.bytes, as: UTF8.self))
        return reread
    }

    @Test("conversations, for agents and customers, are JSON with sorted keys and every field")
    func conversations() throws {
        let wire = Wire(references: references)
        let agentView = try checkSorted(wire.conversation(fullConversation, for: Caller(actor: .devUser(1), role: .agent)))
        let customerView = try checkSorted(wire.conversation(fullConversation, for: Caller(actor: .revUser(2), role: .customer)))
        guard case .object(let agent) = agentView, case .object(let customer) = customerView else {
            Issue.record("not objects")
            return
        }
        #expect(Set(agent.keys) == ["account", "created_by", "created_date", "description", "display_id", "external_ref", "group", "id",
                                     "is_follow_up_of", "is_spam", "last_external_message_date", "members", "metrics", "modified_by",
                                     "modified_date", "owned_by", "priority", "resolution_check", "rev_org", "rev_orgs", "routing",
                                     "source_channel", "spam", "stage", "stage_entered_date", "state", "status", "tags", "title", "type",
                                     "version"])
        #expect(Set(agent.keys).subtracting(customer.keys) == ["routing", "is_spam", "spam", "priority", "tags", "version"])
        #expect(agent["title"] == .string("Login <loops>"))
        #expect(agent["created_date"] == .string("2026-01-01T00:00:00.125Z"))
        #expect(agent["metrics"] == .object(["first_response_at": .string("2026-01-01T00:01:01.625Z"), "reopen_count": .number(2),
                                             "time_in_new_seconds": .number(61.5), "time_to_initial_response_seconds": .number(61.5)]))
        #expect(agent["stage"] == .object(["name": .string("waiting_on_user"), "ordinal": .number(Double(Stage.waitingOnUser.ordinal)),
                                           "display_name": .string(Stage.waitingOnUser.displayName)]))
        #expect(agent["spam"] == .object(["score": .number(1.5), "threshold": .number(3), "reasons": .array([.string("link"), .string("caps")])]))
        #expect(agent["resolution_check"] == .object(["awaiting_confirmation": .bool(false), "customer_confirmed": .bool(true),
                                                      "proposed_date": .string("2026-01-01T00:00:00.125Z"),
                                                      "answered_date": .string("2026-01-01T00:00:05.125Z")]))
        #expect(agent["group"] == .object(["id": .string(ObjectID(.group, 5).don), "display_id": .string("GROUP-5"),
                                           "name": .string("Billing"), "member_type": .string("dev_user")]))
        guard case .array(let members)? = agent["members"], members.count == 4, case .object(let alice) = members[0] else {
            Issue.record("members")
            return
        }
        #expect(alice["display_name"] == .string("Alice \"A\""))
        #expect(alice["external_ref"] == .string("crm-2"))
        #expect(alice["rev_org"] == .object(["id": .string(ObjectID(.revOrg, 3).don), "display_id": .string(ObjectID(.revOrg, 3).displayID),
                                             "display_name": .string("Acme"), "type": .string("rev_org")]))
        guard case .object(let unknown) = members[3] else { return }
        #expect(Set(unknown.keys) == ["id", "display_id", "type"])
        guard case .array(let tags)? = agent["tags"] else { return }
        #expect(tags.count == 2)
        #expect(tags[1] == .object(["tag": .object(["id": .string(ObjectID(.tag, 97).don), "display_id": .string(ObjectID(.tag, 97).displayID),
                                                    "name": .string("TAG-97")])]))
    }

    /// Where each stored field of a conversation goes on the wire (DevRev's names), or why it stays inside.
    /// Stored documents and Codable are one encoding (a `StoredDocumentTests` test compares them byte for
    /// byte); this table is the wire's side, so that a new field cannot reach one encoding and not the other.
    private static let wireNames: [String: String?] = [
        "number": "display_id", "title": "title", "description": "description", "sourceChannel": "source_channel",
        "stage": "stage", "stageEnteredAt": "stage_entered_date", "ownedBy": "owned_by", "group": "group", "members": "members",
        "revOrg": "rev_org", "account": "account", "priority": "priority", "tags": "tags", "isSpam": "is_spam",
        "createdBy": "created_by", "createdDate": "created_date", "modifiedBy": "modified_by", "modifiedDate": "modified_date",
        "metrics": "metrics", "routing": "routing", "followUpOf": "is_follow_up_of", "lastCustomerMessageAt": "last_external_message_date",
        "version": "version", "spam": "spam", "resolutionCheck": "resolution_check", "externalRef": "external_ref",
        // Kept for the timers and the inbox's order, not part of DevRev's conversation.
        "waitingSince": nil, "lastAgentReplyAt": nil, "lastActivityAt": nil, "recentMessages": nil,
        // The inbox's row preview; the API has the timeline for messages.
        "lastMessage": nil,
        // Who mail replies are copied to: shown on the conversation page; DevRev's conversation has no CC.
        "emailCC": nil,
    ]

    @Test("every stored field of a conversation is in its Codable encoding and on the wire, or deliberately inside")
    func everyFieldHasAPlace() throws {
        var conversation = fullConversation
        conversation.lastAgentReplyAt = at
        conversation.lastActivityAt = at
        // A property wrapper's storage is labelled with a leading underscore.
        let fields = Set(Mirror(reflecting: conversation).children.compactMap { $0.label.map { $0.hasPrefix("_") ? String($0.dropFirst()) : $0 } })
        #expect(fields == Set(Self.wireNames.keys), "fields without a decided wire name: \(fields.symmetricDifference(Self.wireNames.keys).sorted())")
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        let codable = try #require(try JSONSerialization.jsonObject(with: encoder.encode(conversation)) as? [String: Any])
        #expect(fields.subtracting(codable.keys).isEmpty, "the full conversation encodes every field: \(fields.subtracting(codable.keys).sorted())")
        let wire = Wire(references: references)
        guard case .object(let agent) = try checkSorted(wire.conversation(conversation, for: Caller(actor: .devUser(1), role: .agent))) else {
            Issue.record("not an object")
            return
        }
        for case (let field, let name?) in Self.wireNames {
            #expect(agent[name] != nil, "\(field) is written as \(name)")
        }
    }

    @Test("comments and events of a timeline are JSON with sorted keys")
    func timeline() throws {
        let wire = Wire(references: references)
        let entry = TimelineEntry(number: 11, conversation: 7, author: .revUser(2), body: "It <b>loops</b>\u{2028}", visibility: .external,
                                  externalRef: "mail-1", at: at)
        guard case .object(let comment) = try checkSorted(wire.timelineEntry(entry)) else { return }
        #expect(comment["body"] == .string("It <b>loops</b>\u{2028}"))
        #expect(comment["comment_kind"] == .string("customer_message"))
        var deleted = entry
        deleted.isDeleted = true
        guard case .object(let gone) = try checkSorted(wire.timelineEntry(deleted)) else { return }
        #expect(gone["body"] == nil && gone["is_deleted"] == .bool(true))
        for (before, after) in [(EventValue.text("new"), EventValue.text("waiting_on_user")), (.list(["a", "b"]), .list([])),
                                (.number(1), .number(-2)), (.flag(false), .flag(true))] {
            let event = ChangeEvent(object: ObjectID(.conversation, 7), actor: .devUser(1), at: at, kind: .stageChanged,
                                    field: "stage", before: before, after: after)
            guard case .object(let written) = try checkSorted(wire.timelineEvent(sequence: 42, event)),
                  case .object(let detail)? = written["event"] else { return }
            #expect(written["id"] == .string("\(ObjectID(.conversation, 7).don):event/42"))
            #expect(detail["before"] != nil && detail["after"] != nil)
        }
    }
}
