import Hummingbird
import ParleyApp
import ParleyCore
import ParleyServer
import Testing

/// Every endpoint × every kind of caller, with the status each must get. A row's body is made fresh for
/// each caller (objects it needs are created by the admin first), so no call depends on another's effect.
@Suite("Authorization matrix")
struct AuthorizationMatrixTests {
    enum Role: String, CaseIterable, Sendable {
        case admin, agent, customer, otherCustomer = "customer of another org", anonymous = "no token", expired, revoked
    }

    /// Expected statuses: `ok` for the allowed roles, and what the others get.
    struct Row: Sendable {
        var path: String
        var allowed: Set<Role>
        /// Status for allowed roles (200 or 201).
        var success: HTTPResponse.Status
        /// What a customer who may not use it gets (403 for team endpoints, 404 for other people's things).
        var denied: [Role: HTTPResponse.Status] = [:]
        var body: @Sendable (Fixture) async throws -> String
    }

    struct Fixture: Sendable {
        let api: API
        let world: World
        let conversation: String  // Alice's (the "customer" role), in needs_response
        let entry: String         // Alice's message on it

        /// A file Alice attached to a message of hers on her conversation: the artifact's id and the message's.
        func attachedFile() async throws -> (artifact: String, entry: String) {
            let artifact = try await api.upload("log.txt", Array("a log".utf8), token: world.aliceToken)
            let comment = try await api.post("timeline-entries.create",
                #"{"type":"timeline_comment","object":"\#(conversation)","body":"log","artifacts":["\#(artifact)"]}"#, token: world.aliceToken)
            return (artifact, try #require(comment.body["timeline_entry"]["id"].string))
        }

        func created(_ path: String, _ body: String, _ key: String) async throws -> String {
            let reply = try await api.post(path, body, token: adminToken)
            return try #require(reply.body[key]["id"].string, "\(path): \(reply.body)")
        }
    }

    static let team: Set<Role> = [.admin, .agent]
    static let everyone: Set<Role> = [.admin, .agent, .customer]
    @Sendable static func unique() -> Substring { UUID().uuidString.prefix(8) }

    static let rows: [Row] = [
        Row(path: "conversations.create", allowed: everyone.union([.otherCustomer]), success: .created) { _ in #"{"type":"support","title":"Hello"}"# },
        Row(path: "conversations.get", allowed: everyone, success: .ok, denied: [.otherCustomer: .notFound]) { f in #"{"id":"\#(f.conversation)"}"# },
        Row(path: "conversations.list", allowed: everyone.union([.otherCustomer]), success: .ok) { _ in "{}" },
        Row(path: "conversations.update", allowed: everyone, success: .ok, denied: [.otherCustomer: .notFound]) { f in #"{"id":"\#(f.conversation)","title":"Renamed"}"# },
        Row(path: "conversations.delete", allowed: team, success: .ok, denied: [.customer: .forbidden, .otherCustomer: .forbidden]) { f in
            #"{"id":"\#(try await f.api.conversation(f.world.aliceToken))"}"# },
        Row(path: "conversations.resolution.propose", allowed: team, success: .ok, denied: [.customer: .forbidden, .otherCustomer: .forbidden]) { f in
            #"{"id":"\#(f.conversation)","body":"Fixed?"}"# },
        Row(path: "conversations.resolution.confirm", allowed: [.customer], success: .ok, denied: [.admin: .forbidden, .agent: .forbidden, .otherCustomer: .notFound]) { f in
            let id = try await f.api.conversation(f.world.aliceToken)
            _ = try await f.api.post("conversations.resolution.propose", #"{"id":"\#(id)","body":"Fixed?"}"#, token: adminToken)
            return #"{"id":"\#(id)","confirmed":true}"# },
        Row(path: "timeline-entries.create", allowed: everyone, success: .created, denied: [.otherCustomer: .notFound]) { f in
            #"{"type":"timeline_comment","object":"\#(f.conversation)","body":"hi"}"# },
        Row(path: "timeline-entries.get", allowed: everyone, success: .ok, denied: [.otherCustomer: .notFound]) { f in #"{"id":"\#(f.entry)"}"# },
        Row(path: "timeline-entries.list", allowed: everyone, success: .ok, denied: [.otherCustomer: .notFound]) { f in #"{"object":"\#(f.conversation)"}"# },
        Row(path: "timeline-entries.update", allowed: everyone, success: .ok, denied: [.otherCustomer: .notFound]) { f in #"{"id":"\#(f.entry)","body":"edited"}"# },
        Row(path: "timeline-entries.delete", allowed: everyone, success: .ok, denied: [.otherCustomer: .notFound]) { f in
            let entry = try await f.api.comment(f.world.aliceToken, on: f.conversation, "to delete").body["timeline_entry"]["id"].string!
            return #"{"id":"\#(entry)"}"# },
        Row(path: "artifacts.prepare", allowed: everyone.union([.otherCustomer]), success: .ok) { _ in #"{"file_name":"screenshot.png"}"# },
        Row(path: "artifacts.get", allowed: everyone, success: .ok, denied: [.otherCustomer: .notFound]) { f in
            #"{"id":"\#(try await f.attachedFile().artifact)"}"# },
        Row(path: "artifacts.locate", allowed: everyone, success: .ok, denied: [.otherCustomer: .notFound]) { f in
            #"{"id":"\#(try await f.attachedFile().artifact)"}"# },
        Row(path: "artifacts.list", allowed: everyone, success: .ok, denied: [.otherCustomer: .notFound]) { f in
            #"{"parent_id":"\#(try await f.attachedFile().entry)"}"# },
        Row(path: "mailboxes.create", allowed: [.admin], success: .created, denied: [.agent: .forbidden]) { _ in
            #"{"address":"support-\#(unique())@acme.test"}"# },
        Row(path: "mailboxes.get", allowed: [.admin], success: .ok, denied: [.agent: .forbidden]) { f in
            #"{"id":"\#(try await f.created("mailboxes.create", #"{"address":"g-\#(unique())@acme.test"}"#, "mailbox"))"}"# },
        Row(path: "mailboxes.list", allowed: [.admin], success: .ok, denied: [.agent: .forbidden]) { _ in "{}" },
        Row(path: "mailboxes.update", allowed: [.admin], success: .ok, denied: [.agent: .forbidden]) { f in
            #"{"id":"\#(try await f.created("mailboxes.create", #"{"address":"u-\#(unique())@acme.test"}"#, "mailbox"))","display_name":"Support"}"# },
        Row(path: "mailboxes.delete", allowed: [.admin], success: .ok, denied: [.agent: .forbidden]) { f in
            #"{"id":"\#(try await f.created("mailboxes.create", #"{"address":"d-\#(unique())@acme.test"}"#, "mailbox"))"}"# },
        Row(path: "accounts.create", allowed: team, success: .created) { _ in #"{"display_name":"Acct \#(unique())"}"# },
        Row(path: "accounts.get", allowed: team, success: .ok) { f in #"{"id":"\#(f.world.account)"}"# },
        Row(path: "accounts.list", allowed: team, success: .ok) { _ in "{}" },
        Row(path: "accounts.update", allowed: team, success: .ok) { f in #"{"id":"\#(f.world.account)","tier":"gold"}"# },
        Row(path: "accounts.delete", allowed: team, success: .ok) { f in #"{"id":"\#(try await f.created("accounts.create", #"{"display_name":"D \#(unique())"}"#, "account"))"}"# },
        Row(path: "rev-orgs.create", allowed: team, success: .created) { _ in #"{"display_name":"Org \#(unique())"}"# },
        Row(path: "rev-orgs.get", allowed: team, success: .ok) { f in #"{"id":"\#(f.world.revOrg)"}"# },
        Row(path: "rev-orgs.list", allowed: team, success: .ok) { _ in "{}" },
        Row(path: "rev-orgs.update", allowed: team, success: .ok) { f in #"{"id":"\#(f.world.revOrg)","tier":"gold"}"# },
        Row(path: "rev-orgs.delete", allowed: team, success: .ok) { f in #"{"id":"\#(try await f.created("rev-orgs.create", #"{"display_name":"D \#(unique())"}"#, "rev_org"))"}"# },
        Row(path: "rev-users.create", allowed: team, success: .created) { _ in #"{"display_name":"New customer"}"# },
        Row(path: "rev-users.get", allowed: everyone, success: .ok, denied: [.otherCustomer: .notFound]) { f in #"{"id":"\#(f.world.alice)"}"# },
        Row(path: "rev-users.list", allowed: team, success: .ok) { _ in "{}" },
        Row(path: "rev-users.update", allowed: team, success: .ok) { f in #"{"id":"\#(f.world.alice)","description":"VIP"}"# },
        Row(path: "rev-users.delete", allowed: team, success: .ok) { f in #"{"id":"\#(try await f.created("rev-users.create", #"{"display_name":"Gone"}"#, "rev_user"))"}"# },
        Row(path: "dev-users.create", allowed: [.admin], success: .created, denied: [.agent: .forbidden]) { _ in #"{"email":"a\#(unique())@team.test"}"# },
        Row(path: "dev-users.get", allowed: team, success: .ok) { f in #"{"id":"\#(f.world.agent)"}"# },
        Row(path: "dev-users.list", allowed: team, success: .ok) { _ in "{}" },
        Row(path: "dev-users.self", allowed: team, success: .ok) { _ in "{}" },
        // An agent may rename only themselves (AccessRevocationTests.rules); this renames another.
        Row(path: "dev-users.update", allowed: [.admin], success: .ok, denied: [.agent: .forbidden]) { f in
            #"{"id":"\#(f.world.otherAgent)","display_name":"Tom \#(unique())"}"# },
        Row(path: "dev-users.deactivate", allowed: [.admin], success: .ok, denied: [.agent: .forbidden]) { f in
            #"{"id":"\#(try await f.created("dev-users.create", #"{"email":"d\#(unique())@team.test"}"#, "dev_user"))"}"# },
        Row(path: "dev-users.activate", allowed: [.admin], success: .ok, denied: [.agent: .forbidden]) { f in
            let id = try await f.created("dev-users.create", #"{"email":"r\#(unique())@team.test"}"#, "dev_user")
            _ = try await f.api.post("dev-users.deactivate", #"{"id":"\#(id)"}"#, token: adminToken)
            return #"{"id":"\#(id)"}"# },
        Row(path: "groups.create", allowed: team, success: .created) { _ in #"{"name":"G \#(unique())","description":"x"}"# },
        Row(path: "groups.get", allowed: team, success: .ok) { f in #"{"id":"\#(try await f.created("groups.create", #"{"name":"G \#(unique())"}"#, "group"))"}"# },
        Row(path: "groups.list", allowed: team, success: .ok) { _ in "{}" },
        Row(path: "groups.update", allowed: team, success: .ok) { f in #"{"id":"\#(try await f.created("groups.create", #"{"name":"G \#(unique())"}"#, "group"))","description":"y"}"# },
        Row(path: "groups.members.add", allowed: team, success: .ok) { f in #"{"group":"\#(try await f.created("groups.create", #"{"name":"G \#(unique())"}"#, "group"))","member":"\#(f.world.agent)"}"# },
        Row(path: "groups.members.remove", allowed: team, success: .ok) { f in
            let group = try await f.created("groups.create", #"{"name":"G \#(unique())"}"#, "group")
            _ = try await f.api.post("groups.members.add", #"{"group":"\#(group)","member":"\#(f.world.agent)"}"#, token: adminToken)
            return #"{"group":"\#(group)","member":"\#(f.world.agent)"}"#
        },
        Row(path: "groups.members.list", allowed: team, success: .ok) { f in #"{"group":"\#(try await f.created("groups.create", #"{"name":"G \#(unique())"}"#, "group"))"}"# },
        Row(path: "saved-replies.create", allowed: team, success: .created) { _ in #"{"title":"R \#(unique())","body":"Hi {customer_first_name}"}"# },
        Row(path: "saved-replies.get", allowed: team, success: .ok) { f in #"{"id":"\#(try await f.created("saved-replies.create", #"{"title":"R","body":"b","shared":true}"#, "saved_reply"))"}"# },
        Row(path: "saved-replies.list", allowed: team, success: .ok) { _ in "{}" },
        // A shared reply the admin wrote: changed by its author or an admin, not by another agent.
        Row(path: "saved-replies.update", allowed: [.admin], success: .ok) { f in
            #"{"id":"\#(try await f.created("saved-replies.create", #"{"title":"R","body":"b","shared":true}"#, "saved_reply"))","body":"c"}"#
        },
        Row(path: "saved-replies.delete", allowed: [.admin], success: .ok) { f in
            #"{"id":"\#(try await f.created("saved-replies.create", #"{"title":"R","body":"b","shared":true}"#, "saved_reply"))"}"#
        },
        Row(path: "saved-replies.render", allowed: team, success: .ok) { f in
            #"{"id":"\#(try await f.created("saved-replies.create", #"{"title":"R","body":"b","shared":true}"#, "saved_reply"))","conversation":"\#(f.conversation)"}"#
        },
        Row(path: "tags.create", allowed: team, success: .created) { _ in #"{"name":"T \#(unique())"}"# },
        Row(path: "tags.get", allowed: team, success: .ok) { _ in #"{"id":"TAG-1"}"# },
        Row(path: "tags.list", allowed: team, success: .ok) { _ in "{}" },
        Row(path: "tags.update", allowed: team, success: .ok) { f in #"{"id":"\#(try await f.created("tags.create", #"{"name":"T \#(unique())"}"#, "tag"))","description":"d"}"# },
        Row(path: "tags.delete", allowed: team, success: .ok) { f in #"{"id":"\#(try await f.created("tags.create", #"{"name":"T \#(unique())"}"#, "tag"))"}"# },
        Row(path: "links.create", allowed: team, success: .created) { f in
            #"{"link_type":"is_related_to","source":"\#(f.conversation)","target":"\#(try await f.api.conversation(f.world.aliceToken))"}"# },
        Row(path: "links.get", allowed: team, success: .ok) { f in
            let link = try await f.created("links.create", #"{"link_type":"is_related_to","source":"\#(f.conversation)","target":"\#(try await f.api.conversation(f.world.aliceToken))"}"#, "link")
            return #"{"id":"\#(link)"}"# },
        Row(path: "links.list", allowed: everyone, success: .ok, denied: [.otherCustomer: .notFound]) { f in #"{"object":"\#(f.conversation)"}"# },
        Row(path: "links.delete", allowed: team, success: .ok) { f in
            let link = try await f.created("links.create", #"{"link_type":"is_related_to","source":"\#(f.conversation)","target":"\#(try await f.api.conversation(f.world.aliceToken))"}"#, "link")
            return #"{"id":"\#(link)"}"# },
        Row(path: "works.create", allowed: team, success: .created) { _ in #"{"type":"ticket","title":"T"}"# },
        Row(path: "works.get", allowed: team, success: .ok) { f in #"{"id":"\#(try await f.created("works.create", #"{"type":"issue","title":"I"}"#, "work"))"}"# },
        Row(path: "works.list", allowed: team, success: .ok) { _ in "{}" },
        Row(path: "works.update", allowed: team, success: .ok) { f in #"{"id":"\#(try await f.created("works.create", #"{"type":"task","title":"R"}"#, "work"))","title":"R2"}"# },
        Row(path: "auth-tokens.create", allowed: [.admin], success: .created, denied: [.agent: .forbidden]) { f in #"{"act_as":"\#(f.world.agent)"}"# },
        // Agents list and revoke their own tokens (the agent's here); admins anyone's; customers none by id.
        Row(path: "auth-tokens.list", allowed: team, success: .ok) { _ in "{}" },
        Row(path: "auth-tokens.delete", allowed: team, success: .ok) { f in
            let made = try await f.api.post("auth-tokens.create", #"{"act_as":"\#(f.world.agent)"}"#, token: adminToken)
            return #"{"token_id":"\#(try #require(made.body["token_id"].string))"}"# },
        Row(path: "routing-rules.set", allowed: [.admin], success: .ok, denied: [.agent: .forbidden]) { _ in #"{"rules":[]}"# },
        Row(path: "routing-rules.list", allowed: team, success: .ok) { _ in "{}" },
        Row(path: "spam-rules.set", allowed: [.admin], success: .ok, denied: [.agent: .forbidden]) { _ in #"{"threshold":3}"# },
        Row(path: "spam-rules.list", allowed: team, success: .ok) { _ in "{}" },
        Row(path: "webhooks.create", allowed: [.admin], success: .created, denied: [.agent: .forbidden]) { _ in #"{"url":"http://127.0.0.1:9/hook"}"# },
        Row(path: "webhooks.list", allowed: [.admin], success: .ok, denied: [.agent: .forbidden]) { _ in "{}" },
        Row(path: "webhooks.delete", allowed: [.admin], success: .ok, denied: [.agent: .forbidden]) { f in
            #"{"id":"\#(try await f.created("webhooks.create", #"{"url":"http://127.0.0.1:9/x"}"#, "webhook"))"}"# },
        Row(path: "test-clock.advance", allowed: [.admin], success: .ok, denied: [.agent: .forbidden]) { _ in #"{"seconds":1}"# },
    ]

    @Test("every endpoint for every role")
    func matrix() async throws {
        // Webhooks here target 127.0.0.1:9 (nothing listens): private targets are allowed.
        try await withServer(testClock: true, allowPrivateWebhooks: true) { api, clock in
            let world = try await World.make(api)
            let conversation = try await api.conversation(world.aliceToken)
            _ = try await api.comment(world.agentToken, on: conversation, "reply")
            let entry = try await api.comment(world.aliceToken, on: conversation, "answer").body["timeline_entry"]["id"].string!
            let fixture = Fixture(api: api, world: world, conversation: conversation, entry: entry)

            let expiring = try #require(try await api.post("auth-tokens.create", #"{"act_as":"\#(world.agent)","expires_in":1}"#, token: adminToken)
                .body["access_token"].string)
            clock.advance(by: 2)
            let doomed = try await api.post("rev-users.create", #"{"display_name":"Doomed"}"#, token: adminToken).body["rev_user"]["id"].string!
            let revoked = try #require(try await api.post("auth-tokens.create",
                #"{"requested_token_type":"urn:devrev:params:oauth:token-type:session","rev_info":{"user_id":"\#(doomed)"}}"#, token: adminToken)
                .body["access_token"].string)
            _ = try await api.post("rev-users.delete", #"{"id":"\#(doomed)"}"#, token: adminToken)

            let tokens: [Role: String?] = [
                .admin: adminToken, .agent: world.agentToken, .customer: world.aliceToken, .otherCustomer: world.carolToken,
                .anonymous: nil, .expired: expiring, .revoked: revoked,
            ]
            var checked = 0
            for row in Self.rows {
                for role in Role.allCases {
                    let body = try await row.body(fixture)
                    let reply = try await api.post(row.path, body, token: tokens[role] ?? nil)
                    let expected: HTTPResponse.Status
                    if [.anonymous, .expired, .revoked].contains(role) {
                        expected = .unauthorized
                    } else if row.allowed.contains(role) {
                        expected = row.success
                    } else {
                        expected = row.denied[role] ?? .forbidden
                    }
                    #expect(reply.status == expected, "\(row.path) as \(role.rawValue): \(reply.body)")
                    checked += 1
                }
            }
            #expect(checked == Self.rows.count * Role.allCases.count)

            // The matrix covers every endpoint the server describes (and so serves): a new endpoint must come here.
            let described = try await api.get("openapi.json", token: nil)
            #expect(described.status == .ok)
            let paths = Set(described.body["paths"].keys.map { String($0.dropFirst()) })
            #expect(paths.subtracting(["health", "events.stream", "openapi.json"]) == Set(Self.rows.map(\.path)))
        }
    }
}
