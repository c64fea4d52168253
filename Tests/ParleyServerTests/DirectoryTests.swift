import Hummingbird
import ParleyApp
import ParleyCore
import ParleyServer
import Testing

@Suite("Directory endpoints: dev users, accounts, rev orgs, rev users, groups, tags, links, comments")
struct DirectoryTests {
    @Test("dev users: create, get, list, self")
    func devUsers() async throws {
        try await withServer { api, _ in
            let created = try await api.post("dev-users.create", #"{"email":"Ann@Support.test","full_name":"Ann Lee"}"#, token: adminToken)
            #expect(created.status == .created)
            let user = created.body["dev_user"]
            #expect(user["email"].string == "ann@support.test")
            #expect(user["display_id"].string?.hasPrefix("DEVU-") == true)
            #expect(user["state"].string == "active")
            let id = try #require(user["id"].string)
            #expect(try await api.post("dev-users.create", #"{"email":"ann@support.test"}"#, token: adminToken).status == .conflict)
            #expect(try await api.post("dev-users.create", #"{"display_name":"x"}"#, token: adminToken).body["field_name"].string == "email")
            #expect(try await api.get("dev-users.get?id=\(id)", token: adminToken).body["dev_user"]["full_name"].string == "Ann Lee")
            let list = try await api.post("dev-users.list", #"{"email":["ann@support.test"]}"#, token: adminToken)
            #expect(list.body["dev_users"].array.map { $0["id"].string } == [id])
            let me = try await api.post("dev-users.self", token: adminToken)
            #expect(me.body["dev_user"]["role"].string == "admin")
        }
    }

    @Test("accounts and rev orgs: default owner, default rev org, updates, lists")
    func accountsAndOrgs() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let account = try await api.post("accounts.get", #"{"id":"\#(world.account)"}"#, token: world.agentToken).body["account"]
            #expect(account["owned_by"][0]["id"].string == world.agent)
            #expect(account["default_rev_org"]["id"].string == world.revOrg)
            #expect(account["domains"][0].string == "acme.test")
            let updated = try await api.post("accounts.update",
                #"{"id":"\#(world.account)","owned_by":{"set":["\#(world.otherAgent)"]},"tier":"enterprise"}"#, token: world.agentToken)
            #expect(updated.status == .ok)
            #expect(updated.body["account"]["owned_by"][0]["id"].string == world.otherAgent)
            let routed = try await api.post("conversations.create", #"{"type":"support","title":"After the change"}"#, token: world.aliceToken)
            #expect(routed.body["conversation"]["owned_by"][0]["id"].string == world.otherAgent, "routing follows the account's new default owner")
            #expect(try await api.post("accounts.list", #"{"domains":["acme.test"]}"#, token: world.agentToken).body["accounts"].array.count == 1)
            #expect(try await api.post("accounts.create", "{}", token: world.agentToken).body["field_name"].string == "display_name")

            let org = try await api.post("rev-orgs.create", #"{"display_name":"Initech","external_ref":"initech"}"#, token: world.agentToken)
            #expect(org.status == .created)
            let orgAccount = try #require(org.body["rev_org"]["account"]["id"].string, "an account is created with it")
            #expect(try await api.post("accounts.get", #"{"id":"\#(orgAccount)"}"#, token: world.agentToken).body["account"]["display_name"].string == "Initech")
            #expect(try await api.post("rev-orgs.create", #"{"display_name":"Dup","external_ref":"initech"}"#, token: world.agentToken).status == .conflict)
            let orgID = try #require(org.body["rev_org"]["id"].string)
            let renamed = try await api.post("rev-orgs.update", #"{"id":"\#(orgID)","display_name":"Initech Inc"}"#, token: world.agentToken)
            #expect(renamed.body["rev_org"]["display_name"].string == "Initech Inc")
            let list = try await api.get("rev-orgs.list?account=\(orgAccount)", token: world.agentToken)
            #expect(list.body["rev_orgs"].array.map { $0["id"].string } == [orgID])
            #expect(try await api.get("rev-orgs.get?id=\(orgID)", token: world.agentToken).status == .ok)
        }
    }

    @Test("rev users and customer session tokens provisioned by user_ref")
    func revUsers() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let list = try await api.post("rev-users.list", #"{"rev_org":["\#(world.revOrg)"]}"#, token: world.agentToken)
            #expect(Set(list.body["rev_users"].array.compactMap { $0["id"].string }) == [world.alice, world.bob])
            let alice = try await api.post("rev-users.get", #"{"id":"\#(world.alice)"}"#, token: world.agentToken).body["rev_user"]
            #expect(alice["rev_org"]["id"].string == world.revOrg)
            #expect(alice["display_picture"].isNull, "the SDK types it as a string: leave it out")

            let session = try await api.post("auth-tokens.create",
                #"{"requested_token_type":"urn:devrev:params:oauth:token-type:session","rev_info":{"user_ref":"u-42","user_traits":{"email":"dan@acme.test","display_name":"Dan"}}}"#,
                token: adminToken)
            #expect(session.status == .created)
            #expect(session.body["token_type"].string == "bearer")
            #expect(session.body["expires_in"].int == 86400)
            let token = try #require(session.body["access_token"].string)
            let id = try await api.conversation(token)
            let again = try await api.post("auth-tokens.create",
                #"{"requested_token_type":"urn:devrev:params:oauth:token-type:session","rev_info":{"user_ref":"u-42"}}"#, token: adminToken)
            let secondToken = try #require(again.body["access_token"].string)
            #expect(try await api.post("conversations.get", #"{"id":"\#(id)"}"#, token: secondToken).status == .ok,
                    "the same user_ref is the same customer")
            let users = try await api.post("rev-users.list", #"{"external_ref":["u-42"]}"#, token: world.agentToken)
            #expect(users.body["rev_users"].array.count == 1)
            #expect(users.body["rev_users"][0]["email"].string == "dan@acme.test")
        }
    }

    @Test("groups and tags: unique names, lists by name, tagging with allowed values")
    func groupsAndTags() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let group = try await api.post("groups.create", #"{"name":"Billing","description":"Invoices"}"#, token: world.agentToken)
            #expect(group.status == .created)
            #expect(group.body["group"]["name"].string == "Billing")
            let groupID = try #require(group.body["group"]["id"].string)
            #expect(try await api.post("groups.create", #"{"name":"billing"}"#, token: world.agentToken).status == .conflict)
            #expect(try await api.post("groups.get", #"{"id":"\#(groupID)"}"#, token: world.agentToken).status == .ok)
            #expect(try await api.post("groups.list", #"{"name":["Billing"]}"#, token: world.agentToken).body["groups"].array.count == 1)

            let tags = try await api.post("tags.list", "{}", token: world.agentToken)
            #expect(Set(tags.body["tags"].array.compactMap { $0["name"].string })
                    == ["Stalled", "Priority/Escalated", "Fast Moving", "Slow Moving", "Blocked", "Resolution"])
            let vip = try await api.post("tags.create", #"{"name":"VIP","allowed_values":["gold","silver"]}"#, token: world.agentToken)
            #expect(vip.status == .created)
            let vipID = try #require(vip.body["tag"]["id"].string)
            #expect(try await api.post("tags.create", #"{"name":"vip"}"#, token: world.agentToken).status == .conflict)
            #expect(try await api.get("tags.list?name=VIP", token: world.agentToken).body["tags"].array.count == 1)
            #expect(try await api.post("tags.get", #"{"id":"\#(vipID)"}"#, token: world.agentToken).body["tag"]["allowed_values"].array.count == 2)

            let id = try await api.conversation(world.aliceToken)
            let bad = try await api.post("conversations.update", #"{"id":"\#(id)","tags":{"add":[{"id":"\#(vipID)","value":"bronze"}]}}"#, token: world.agentToken)
            #expect(bad.status == .badRequest && bad.body["type"].string == "invalid_enum_value")
            let good = try await api.post("conversations.update",
                #"{"id":"\#(id)","group":"\#(groupID)","tags":{"add":[{"id":"\#(vipID)","value":"gold"},{"id":"TAG-2"}]}}"#, token: world.agentToken)
            #expect(good.body["conversation"]["tags"].array.count == 2)
            #expect(good.body["conversation"]["group"]["name"].string == "Billing")
            let removed = try await api.post("conversations.update", #"{"id":"\#(id)","tags":{"remove":[{"id":"TAG-2"}]}}"#, token: world.agentToken)
            #expect(removed.body["conversation"]["tags"].array.compactMap { $0["tag"]["name"].string } == ["VIP"])
            let set = try await api.post("conversations.update", #"{"id":"\#(id)","tags":{"set":[]}}"#, token: world.agentToken)
            #expect(set.body["conversation"]["tags"].array.isEmpty)
        }
    }

    @Test("links between conversations")
    func links() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let first = try await api.conversation(world.aliceToken)
            let second = try await api.conversation(world.bobToken)
            let link = try await api.post("links.create",
                #"{"link_type":"is_related_to","source":"\#(first)","target":"\#(second)"}"#, token: world.agentToken)
            #expect(link.status == .created)
            #expect(link.body["link"]["link_type"].string == "is_related_to")
            #expect(try await api.post("links.create", #"{"link_type":"is_related_to","source":"\#(first)","target":"\#(second)"}"#,
                                       token: world.agentToken).status == .conflict)
            #expect(try await api.post("links.create", #"{"link_type":"teleports","source":"\#(first)","target":"\#(second)"}"#,
                                       token: world.agentToken).body["type"].string == "invalid_enum_value")
            #expect(try await api.post("links.list", #"{"object":"\#(second)"}"#, token: world.agentToken).body["links"].array.count == 1)
            #expect(try await api.post("links.list", #"{"object":"\#(second)","direction":"is_source"}"#, token: world.agentToken)
                        .body["links"].array.isEmpty)
        }
    }

    @Test("comments: get, edit, delete, and external_ref makes retries safe")
    func comments() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            let created = try await api.post("timeline-entries.create",
                #"{"type":"timeline_comment","object":"\#(id)","body":"first","external_ref":"msg-1"}"#, token: world.aliceToken)
            #expect(created.status == .created)
            let entry = try #require(created.body["timeline_entry"]["id"].string)
            let retry = try await api.post("timeline-entries.create",
                #"{"type":"timeline_comment","object":"\#(id)","body":"first","external_ref":"msg-1"}"#, token: world.aliceToken)
            #expect(retry.status == .conflict)
            #expect(retry.body["message"].string?.contains(entry) == true, "the conflict names the existing entry")

            let edited = try await api.post("timeline-entries.update", #"{"id":"\#(entry)","body":"first, edited"}"#, token: world.aliceToken)
            #expect(edited.status == .ok && edited.body["timeline_entry"]["body"].string == "first, edited")
            #expect(try await api.post("timeline-entries.update", #"{"id":"\#(entry)","body":"hijack"}"#, token: world.bobToken).status == .notFound)
            #expect(try await api.get("timeline-entries.get?id=\(entry)", token: world.agentToken).body["timeline_entry"]["body"].string == "first, edited")
            #expect(try await api.post("timeline-entries.delete", #"{"id":"\#(entry)"}"#, token: world.aliceToken).status == .ok)
            let deleted = try await api.post("timeline-entries.get", #"{"id":"\#(entry)"}"#, token: world.agentToken).body["timeline_entry"]
            #expect(deleted["body"].isNull && deleted["is_deleted"].bool == true)
            let events = try await api.post("timeline-entries.list", #"{"object":"\#(id)","collections":["events"]}"#, token: world.agentToken)
            let kinds = events.body["timeline_entries"].array.compactMap { $0["event"]["kind"].string }
            #expect(kinds.contains("comment_edited") && kinds.contains("comment_deleted") && kinds.contains("created"))
        }
    }

    @Test("deleting a conversation hides it and is recorded")
    func deleteConversation() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            let deleted = try await api.post("conversations.delete", #"{"id":"\#(id)"}"#, token: world.agentToken)
            #expect(deleted.status == .ok && deleted.body.keys.isEmpty)
            #expect(try await api.post("conversations.get", #"{"id":"\#(id)"}"#, token: world.agentToken).status == .notFound)
            #expect(try await api.post("conversations.delete", #"{"id":"\#(id)"}"#, token: world.agentToken).status == .notFound)
        }
    }
}

@Suite("Directory updates and deletes")
struct DirectoryUpdateTests {
    @Test("tags, groups, rev users, rev orgs, accounts and links can be updated or deleted")
    func updatesAndDeletes() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let tag = try await api.post("tags.create", #"{"name":"VIP"}"#, token: world.agentToken).body["tag"]["id"].string!
            let renamed = try await api.post("tags.update", #"{"id":"\#(tag)","name":"Gold","allowed_values":{"set":["a"]}}"#, token: world.agentToken)
            #expect(renamed.body["tag"]["name"].string == "Gold" && renamed.body["tag"]["allowed_values"].array.count == 1)
            #expect(try await api.post("tags.update", #"{"id":"TAG-1","name":"Quiet"}"#, token: world.agentToken).status == .forbidden)
            #expect(try await api.post("tags.delete", #"{"id":"TAG-6"}"#, token: world.agentToken).status == .forbidden)
            #expect(try await api.post("tags.delete", #"{"id":"\#(tag)"}"#, token: world.agentToken).status == .ok)
            #expect(try await api.post("tags.get", #"{"id":"\#(tag)"}"#, token: world.agentToken).status == .notFound)

            let group = try await api.post("groups.create", #"{"name":"Tier 1","description":"x"}"#, token: world.agentToken).body["group"]["id"].string!
            #expect(try await api.post("groups.update", #"{"id":"\#(group)","name":"Tier one"}"#, token: world.agentToken)
                .body["group"]["name"].string == "Tier one")

            let updated = try await api.post("rev-users.update", #"{"id":"\#(world.bob)","display_name":"Robert"}"#, token: world.agentToken)
            #expect(updated.body["rev_user"]["display_name"].string == "Robert")
            #expect(try await api.post("rev-users.delete", #"{"id":"\#(world.bob)"}"#, token: world.agentToken).status == .ok)
            #expect(try await api.post("conversations.list", token: world.bobToken).status == .unauthorized, "a deleted customer's sessions end")

            let org = try await api.post("rev-orgs.create", #"{"display_name":"Temp"}"#, token: world.agentToken).body["rev_org"]
            #expect(try await api.post("rev-orgs.delete", #"{"id":"\#(org["id"].string!)"}"#, token: world.agentToken).status == .ok)
            #expect(try await api.post("accounts.delete", #"{"id":"\#(org["account"]["id"].string!)"}"#, token: world.agentToken).status == .ok)

            let a = try await api.conversation(world.aliceToken)
            let b = try await api.conversation(world.aliceToken)
            let link = try await api.post("links.create", #"{"link_type":"is_related_to","source":"\#(a)","target":"\#(b)"}"#, token: world.agentToken)
            let linkID = try #require(link.body["link"]["id"].string)
            #expect(try await api.post("links.get", #"{"id":"\#(linkID)"}"#, token: world.agentToken).body["link"]["link_type"].string == "is_related_to")
        }
    }
}
