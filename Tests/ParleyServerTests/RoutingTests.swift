import Hummingbird
import ParleyApp
import ParleyCore
import ParleyServer
import Testing

@Suite("Routing, priority and spam over the API")
struct RoutingAPITests {
    @Test("a keyword rule routes a new conversation, and says why")
    func ruleRouting() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let rules = #"{"rules":[{"id":"billing","keywords":["invoice","refund"],"owner":"\#(world.otherAgent)","priority":"p1"}]}"#
            let set = try await api.post("routing-rules.set", rules, token: adminToken)
            #expect(set.status == .ok, "\(set.body)")
            #expect(set.body["version"].int == 1)
            #expect(set.body["configuration"]["rules"][0]["id"].string == "billing")

            let id = try await api.conversation(world.aliceToken, title: "Question about my INVOICE", message: "It is wrong")
            let routed = try await api.post("conversations.get", #"{"id":"\#(id)"}"#, token: world.agentToken).body["conversation"]
            #expect(routed["owned_by"][0]["id"].string == world.otherAgent)
            #expect(routed["routing"]["reason"].string == "rule")
            #expect(routed["routing"]["rule"].string == "billing")
            #expect(routed["routing"]["keyword"].string == "invoice")
            #expect(routed["priority"].string == "p1")
            let events = try await api.post("timeline-entries.list", #"{"object":"\#(id)","collections":["events"]}"#, token: world.agentToken)
            #expect(events.body["timeline_entries"].array.contains { $0["body"].string?.contains("rule billing (keyword 'invoice')") == true })

            let plain = try await api.conversation(world.aliceToken, title: "Login loops", message: "help")
            let byOrg = try await api.post("conversations.get", #"{"id":"\#(plain)"}"#, token: world.agentToken).body["conversation"]
            #expect(byOrg["owned_by"][0]["id"].string == world.agent, "no rule matches: the org's default owner")
            #expect(byOrg["routing"]["reason"].string == "org_default_owner")

            let explicit = try await api.post("conversations.create",
                #"{"type":"support","title":"refund","owned_by":["\#(world.agent)"],"members":["\#(world.alice)"]}"#, token: world.agentToken)
            #expect(explicit.body["conversation"]["routing"]["reason"].string == "explicit")
        }
    }

    @Test("invalid routing configurations are refused, naming the rule and field; the running rules stay")
    func invalidConfigurations() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            #expect(try await api.post("routing-rules.set", #"{"rules":[{"id":"a","keywords":["x"],"owner":"\#(world.agent)"}]}"#,
                                       token: adminToken).status == .ok)
            let cases: [(String, String)] = [
                (#"{"rules":[{"id":"b","keywords":[],"owner":"\#(world.agent)"}]}"#, "rules[0] (b).keywords"),
                (#"{"rules":[{"id":"b","keywords":["x"],"owner":"GROUP-1"}]}"#, "rules[0] (b).owner"),
                (#"{"rules":[{"id":"b","keywords":["x"],"owner":"DEVU-999"}]}"#, "rules"),
                (#"{"rules":[{"id":"b","keywords":["x"],"priority":"urgent"}]}"#, "rules.0.priority"),
                (#"{"rules":[{"keywords":["x"],"owner":"\#(world.agent)"}]}"#, "rules.0.id"),
            ]
            for (body, field) in cases {
                let reply = try await api.post("routing-rules.set", body, token: adminToken)
                #expect(reply.status == .badRequest, "\(body)")
                #expect(reply.body["field_name"].string == field, "\(reply.body)")
            }
            #expect(try await api.post("routing-rules.set", #"{"rules":[]}"#, token: world.agentToken).status == .forbidden)
            let list = try await api.post("routing-rules.list", token: world.agentToken)
            #expect(list.body["version"].int == 1)
            #expect(list.body["configuration"]["rules"][0]["id"].string == "a")

            #expect(try await api.post("routing-rules.set", #"{"rules":[{"id":"c","keywords":["y"],"owner":"\#(world.otherAgent)"}]}"#,
                                       token: adminToken).body["version"].int == 2)
            let history = try await api.get("routing-rules.list?version=1", token: world.agentToken)
            #expect(history.body["configuration"]["rules"][0]["id"].string == "a", "every version is kept")
            #expect(history.body["versions"].array.count == 2)
        }
    }

    @Test("new and unidentified customer orgs start at lower priority; orgs are found by email domain")
    func priorityAndIdentification() async throws {
        try await withServer { api, clock in
            let world = try await World.make(api)
            clock.advance(by: 40 * 86_400)
            let aliceToken = try #require(try await api.post("auth-tokens.create",
                #"{"requested_token_type":"urn:devrev:params:oauth:token-type:session","rev_info":{"user_id":"\#(world.alice)"}}"#,
                token: adminToken).body["access_token"].string, "the first session expired meanwhile")
            let established = try await api.conversation(aliceToken)
            #expect(try await api.post("conversations.get", #"{"id":"\#(established)"}"#, token: world.agentToken)
                .body["conversation"]["priority"].string == "p2", "Acme is now 40 days old")

            let fresh = try await api.post("accounts.create", #"{"display_name":"Newco","domains":["newco.test"],"owned_by":["\#(world.otherAgent)"]}"#,
                                           token: world.agentToken)
            #expect(fresh.status == .created)
            let session = try await api.post("auth-tokens.create",
                #"{"requested_token_type":"urn:devrev:params:oauth:token-type:session","rev_info":{"user_ref":"n1","user_traits":{"email":"ann@newco.test"}}}"#,
                token: adminToken)
            let token = try #require(session.body["access_token"].string)
            let byDomain = try await api.conversation(token)
            let newOrg = try await api.post("conversations.get", #"{"id":"\#(byDomain)"}"#, token: world.agentToken).body["conversation"]
            #expect(newOrg["account"]["display_name"].string == "Newco", "identified by the email domain")
            #expect(newOrg["owned_by"][0]["id"].string == world.otherAgent)
            #expect(newOrg["priority"].string == "p3")
            #expect(newOrg["routing"]["priority_reason"].string?.hasPrefix("new org") == true)

            let stranger = try await api.post("auth-tokens.create",
                #"{"requested_token_type":"urn:devrev:params:oauth:token-type:session","rev_info":{"user_ref":"s1","user_traits":{"email":"x@unknown.test"}}}"#,
                token: adminToken).body["access_token"].string!
            let unidentified = try await api.conversation(stranger)
            let lonely = try await api.post("conversations.get", #"{"id":"\#(unidentified)"}"#, token: world.agentToken).body["conversation"]
            #expect(lonely["priority"].string == "p3")
            #expect(lonely["routing"]["priority_reason"].string == "unidentified org")
            #expect(lonely["owned_by"].array.isEmpty && lonely["routing"]["reason"].string == "fallback")

            let sorted = try await api.post("conversations.list", #"{"sort_by":["priority:asc"]}"#, token: world.agentToken)
            #expect(sorted.body["conversations"][0]["id"].string == established, "p2 before p3")

            let escalated = try await api.post("conversations.update",
                #"{"id":"\#(unidentified)","tags":{"add":[{"id":"Priority/Escalated"}]}}"#, token: world.agentToken)
            #expect(escalated.body["conversation"]["priority"].string == "p2", "Priority/Escalated raises it one level")
        }
    }

    @Test("spam is suspended with its reasons, kept out of agents' lists, and reviewed")
    func spam() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let rules = #"{"blocked_domains":["spam.test"],"rules":[{"pattern":"cheap (watches|pills)","weight":2}],"threshold":3}"#
            let set = try await api.post("spam-rules.set", rules, token: adminToken)
            #expect(set.status == .ok, "\(set.body)")
            #expect(try await api.post("spam-rules.set", #"{"rules":[{"pattern":"(","weight":1}]}"#, token: adminToken)
                .body["field_name"].string == "rules[0].pattern")

            let spammer = try await api.post("auth-tokens.create",
                #"{"requested_token_type":"urn:devrev:params:oauth:token-type:session","rev_info":{"user_ref":"sp","user_traits":{"email":"bot@mail.spam.test"}}}"#,
                token: adminToken).body["access_token"].string!
            let spam = try await api.conversation(spammer, title: "CHEAP WATCHES", message: "buy now")
            let suspended = try await api.post("conversations.get", #"{"id":"\#(spam)"}"#, token: world.agentToken).body["conversation"]
            #expect(suspended["stage"]["name"].string == "suspended")
            #expect(suspended["is_spam"].bool == true)
            #expect(suspended["owned_by"].array.isEmpty)
            #expect(suspended["routing"]["reason"].string == "pending_review")
            #expect(suspended["spam"]["reasons"].array.contains { $0.string?.contains("blocked domain spam.test") == true })

            let real = try await api.conversation(world.aliceToken, title: "Cheap watches?", message: "Do you sell watches")
            #expect(try await api.stage(of: real) == "new", "one pattern (weight 2) stays under the threshold")

            let inbox = try await api.post("conversations.list", "{}", token: world.agentToken)
            #expect(!inbox.body["conversations"].array.contains { $0["id"].string == spam }, "spam never reaches the inbox")
            let queue = try await api.post("conversations.list", #"{"stage":{"name":["suspended"]}}"#, token: world.agentToken)
            #expect(queue.body["conversations"].array.map { $0["id"].string } == [spam])

            #expect(try await api.comment(world.agentToken, on: spam, "hello?").status == .badRequest, "approve it first")
            let approved = try await api.post("conversations.update", #"{"id":"\#(spam)","stage":{"name":"new"}}"#, token: world.agentToken)
            #expect(approved.status == .ok)
            #expect(approved.body["conversation"]["is_spam"].bool == false)
            #expect(approved.body["conversation"]["owned_by"].array.isEmpty, "no org, no rule: the unassigned queue")
            #expect(approved.body["conversation"]["routing"]["reason"].string == "fallback")

            let second = try await api.conversation(spammer, title: "cheap pills", message: "again")
            let discarded = try await api.post("conversations.update", #"{"id":"\#(second)","stage":{"name":"archived"}}"#, token: world.agentToken)
            #expect(discarded.body["conversation"]["stage"]["name"].string == "archived")
            let verdicts = try await api.post("timeline-entries.list", #"{"object":"\#(second)","collections":["events"]}"#, token: world.agentToken)
            #expect(verdicts.body["timeline_entries"].array.contains { $0["event"]["kind"].string == "spam_scored" })
            #expect(verdicts.body["timeline_entries"].array.contains { $0["body"].string?.contains("Suspended to Archived") == true })
        }
    }
}
