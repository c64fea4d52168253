import Hummingbird
import ParleyApp
import ParleyCore
import ParleyServer
import HummingbirdTesting
import NIOCore
import Testing

@Suite("A conversation's life over the API")
struct ConversationLifeTests {
    @Test("create → agent reply → customer reply → resolve → customer reply reopens")
    func walkThrough() async throws {
        try await withServer { api, clock in
            let world = try await World.make(api)
            let created = try await api.post("conversations.create",
                #"{"type":"support","title":"Login loops","messages":[{"body":"Since this morning the login page loops."}]}"#, token: world.aliceToken)
            #expect(created.status == .created)
            let conversation = created.body["conversation"]
            let id = try #require(conversation["id"].string)
            #expect(id.hasPrefix("don:core:dvrv-us-1:devo/parley:conversation/"))
            #expect(conversation["display_id"].string?.hasPrefix("CONV-") == true)
            #expect(conversation["stage"]["name"].string == "new")
            #expect(conversation["state"].string == "open")
            #expect(conversation["owned_by"][0]["id"].string == world.agent, "routed to the org's default owner")
            #expect(conversation["routing"].isNull, "customers do not see how their conversation was triaged")
            let triaged = try await api.post("conversations.get", #"{"id":"\#(id)"}"#, token: world.agentToken).body["conversation"]
            #expect(triaged["routing"]["reason"].string == "org_default_owner")
            #expect(triaged["priority"].string == "p3", "Acme's account is new: one level below p2")
            #expect(conversation["rev_org"]["id"].string == world.revOrg)
            #expect(conversation["metrics"]["time_to_initial_response_seconds"].isNull)
            #expect(conversation["metrics"].keys.contains("time_in_new_seconds"), "metrics are present, null until known")

            clock.advance(by: 120)
            let reply = try await api.comment(world.agentToken, on: id, "Thanks, looking into it. Which browser?")
            #expect(reply.status == .created)
            #expect(reply.body["timeline_entry"]["type"].string == "timeline_comment")
            #expect(reply.body["timeline_entry"]["object"].string == id)
            let afterReply = try await api.post("conversations.get", #"{"id":"\#(id)"}"#, token: world.agentToken).body["conversation"]
            #expect(afterReply["stage"]["name"].string == "waiting_on_user")
            #expect(afterReply["metrics"]["time_to_initial_response_seconds"].double == 120)
            #expect(afterReply["metrics"]["time_in_new_seconds"].double == 120)
            #expect(afterReply["metrics"]["first_response_at"].string != nil)

            clock.advance(by: 60)
            #expect(try await api.comment(world.aliceToken, on: id, "Firefox 128.").status == .created)
            #expect(try await api.stage(of: id) == "needs_response")

            let refused = try await api.post("conversations.update", #"{"id":"\#(id)","stage":{"name":"resolved"}}"#, token: world.agentToken)
            #expect(refused.status == .badRequest, "resolving needs a Resolution tag")
            let resolved = try await api.post("conversations.update",
                #"{"id":"\#(id)","stage":{"name":"resolved"},"tags":{"add":[{"id":"Resolution","value":"fixed"}]}}"#, token: world.agentToken)
            #expect(resolved.status == .ok, "\(resolved.body)")
            #expect(resolved.body["conversation"]["stage"]["name"].string == "resolved")
            #expect(resolved.body["conversation"]["state"].string == "closed")
            #expect(resolved.body["conversation"]["tags"][0]["tag"]["name"].string == "Resolution")
            #expect(resolved.body["conversation"]["tags"][0]["value"].string == "fixed")

            let widget = try await api.post("conversations.list", "{}", token: world.aliceToken)
            #expect(widget.body["conversations"].array.map { $0["id"].string } == [id], "a resolved conversation still shows to its customer")

            clock.advance(by: 3600)
            #expect(try await api.comment(world.aliceToken, on: id, "It happened again.").status == .created)
            let reopened = try await api.post("conversations.get", #"{"id":"\#(id)"}"#, token: world.aliceToken).body["conversation"]
            #expect(reopened["stage"]["name"].string == "needs_response")
            #expect(reopened["metrics"]["reopen_count"].int == 1)
            #expect(reopened["metrics"]["time_to_initial_response_seconds"].double == 120)
        }
    }

    @Test("a refused transition answers 400 naming the stages, and changes nothing")
    func refusedTransition() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            let before = try await api.post("conversations.get", #"{"id":"\#(id)"}"#, token: world.agentToken).body["conversation"]
            let refused = try await api.post("conversations.update",
                #"{"id":"\#(id)","title":"Changed","stage":{"name":"hold"}}"#, token: world.agentToken)
            #expect(refused.status == .badRequest)
            #expect(refused.body["type"].string == "bad_request")
            let message = try #require(refused.body["message"].string)
            #expect(message.contains("new") && message.contains("hold") && message.contains("suspended") && message.contains("resolved"))
            #expect(Set(refused.body["allowed_values"].array.compactMap(\.string)) == ["suspended", "resolved"])
            let after = try await api.post("conversations.get", #"{"id":"\#(id)"}"#, token: world.agentToken).body["conversation"]
            #expect(after.description == before.description, "nothing was written")
            let events = try await api.post("timeline-entries.list", #"{"object":"\#(id)","collections":["events"]}"#, token: world.agentToken)
            #expect(!events.body["timeline_entries"].array.contains { $0["event"]["field"].string == "title" })
        }
    }

    @Test("every stage is reachable over the API and each refusal holds", arguments: [
        ("new", "waiting_on_user", false), ("new", "suspended", true), ("suspended", "new", true),
        ("suspended", "archived", true), ("needs_response", "hold", true), ("hold", "needs_response", true),
        ("waiting_on_user", "needs_response", false), ("resolved", "needs_response", false),
        ("resolved", "archived", true), ("archived", "new", false), ("hold", "waiting_on_user", false),
    ])
    func explicitTransitions(from: String, to: String, allowed: Bool) async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            func update(_ body: String) async throws -> Reply {
                try await api.post("conversations.update", #"{"id":"\#(id)",\#(body)}"#, token: world.agentToken)
            }
            switch from {
            case "suspended": _ = try await update(#""stage":{"name":"suspended"}"#)
            case "waiting_on_user": _ = try await api.comment(world.agentToken, on: id, "reply")
            case "needs_response", "hold", "resolved", "archived":
                _ = try await api.comment(world.agentToken, on: id, "reply")
                _ = try await api.comment(world.aliceToken, on: id, "answer")
                if from == "hold" { _ = try await update(#""stage":{"name":"hold"}"#) }
                if from == "resolved" || from == "archived" {
                    _ = try await update(#""stage":{"name":"resolved"},"tags":{"set":[{"id":"TAG-6","value":"answered"}]}"#)
                }
                if from == "archived" { _ = try await update(#""stage":{"name":"archived"}"#) }
            default: break
            }
            #expect(try await api.stage(of: id) == from)
            let reply = try await update(#""stage":{"name":"\#(to)"}"#)
            #expect(reply.status == (allowed ? .ok : .badRequest), "\(from) → \(to): \(reply.body)")
            #expect(try await api.stage(of: id) == (allowed ? to : from))
        }
    }

    /// Issue 15, item 12: answers that told a customer more than "not found", or that let an id's conversation
    /// part be anything.
    @Test("a customer learns nothing from how a hidden entry or a stale version is refused; an entry id's conversation must match")
    func smallLeaks() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let alices = try await api.conversation(world.aliceToken)
            let carols = try await api.conversation(world.carolToken, title: "Globex issue")
            let carolsMessage = try #require(try await api.post("timeline-entries.list", #"{"object":"\#(carols)"}"#,
                                                                 token: world.agentToken).body["timeline_entries"][0]["id"].string)
            let note = try #require(try await api.comment(world.agentToken, on: alices, "legacy plan", visibility: "internal")
                .body["timeline_entry"]["id"].string)
            let otherOrgs = try await api.post("timeline-entries.get", #"{"id":"\#(carolsMessage)"}"#, token: world.aliceToken)
            let hiddenNote = try await api.post("timeline-entries.get", #"{"id":"\#(note)"}"#, token: world.aliceToken)
            #expect(otherOrgs.status == .notFound && hiddenNote.status == .notFound)
            #expect(otherOrgs.body["message"].string?.hasPrefix("timeline entry") == true, "\(otherOrgs.body)")
            #expect(otherOrgs.body["type"].string == hiddenNote.body["type"].string)

            let stale = try await api.client.execute(uri: "/conversations.update", method: .post,
                headers: [.authorization: "Bearer \(world.aliceToken)", .contentType: "application/json", .ifMatch: "1"],
                body: ByteBuffer(string: #"{"id":"\#(alices)","title":"New title"}"#)) { $0 }
            let staleBody = String(buffer: stale.body)
            #expect(stale.status == .conflict)
            #expect(!staleBody.contains("version"), "the customer is not told the hidden version: \(staleBody)")

            // conversation/99:comment/N names comment N only if it belongs to conversation 99.
            let message = try #require(try await api.post("timeline-entries.list", #"{"object":"\#(alices)"}"#,
                                                          token: world.agentToken).body["timeline_entries"][0]["id"].string)
            let wrongParent = message.replacing(#/conversation/\d+:/#, with: "conversation/99:")
            #expect(wrongParent != message)
            #expect(try await api.post("timeline-entries.get", #"{"id":"\#(wrongParent)"}"#, token: world.agentToken).status == .notFound)
            #expect(try await api.post("timeline-entries.get", #"{"id":"\#(message)"}"#, token: world.agentToken).status == .ok)
        }
    }

    @Test("internal notes move nothing and never reach a customer")
    func internalNotes() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            let note = try await api.comment(world.agentToken, on: id, "Customer is on the legacy plan", visibility: "internal")
            #expect(note.status == .created)
            #expect(try await api.stage(of: id) == "new")
            let noteID = try #require(note.body["timeline_entry"]["id"].string)

            let customerView = try await api.post("timeline-entries.list", #"{"object":"\#(id)"}"#, token: world.aliceToken)
            #expect(customerView.status == .ok)
            #expect(customerView.body["timeline_entries"].array.count == 1, "only the customer's own message")
            #expect(!customerView.body.description.contains("legacy plan"))
            let asked = try await api.post("timeline-entries.list", #"{"object":"\#(id)","visibility":["internal"]}"#, token: world.aliceToken)
            #expect(asked.body["timeline_entries"].array.isEmpty)
            let direct = try await api.post("timeline-entries.get", #"{"id":"\#(noteID)"}"#, token: world.aliceToken)
            #expect(direct.status == .notFound)
            let events = try await api.post("timeline-entries.list", #"{"object":"\#(id)","collections":["events"]}"#, token: world.aliceToken)
            #expect(events.body["timeline_entries"].array.isEmpty, "system events are internal")

            let agentView = try await api.post("timeline-entries.list", #"{"object":"\#(id)"}"#, token: world.agentToken)
            #expect(agentView.body["timeline_entries"].array.count == 2)
            #expect(agentView.body["timeline_entries"][1]["comment_kind"].string == "note")

            let customerNote = try await api.comment(world.aliceToken, on: id, "secret", visibility: "internal")
            #expect(customerNote.status == .badRequest)
        }
    }

    @Test("conversations.list searches titles and comments; customers search only what they may see")
    func search() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            _ = try await api.comment(world.agentToken, on: id, "Customer is on the legacy plan", visibility: "internal")
            _ = try await api.comment(world.agentToken, on: id, "Which browser do you use?")
            func found(_ words: String, _ token: String) async throws -> [String] {
                let reply = try await api.post("conversations.list", #"{"search":"\#(words)"}"#, token: token)
                #expect(reply.status == .ok)
                return reply.body["conversations"].array.compactMap { $0["id"].string }
            }
            #expect(try await found("browser", world.agentToken) == [id])
            #expect(try await found("BROWSER", world.aliceToken) == [id])
            #expect(try await found("legacy", world.agentToken) == [id], "agents search internal notes")
            #expect(try await found("legacy", world.aliceToken).isEmpty, "customers do not")
            #expect(try await found("brow", world.agentToken).isEmpty, "whole words unless asked with *")
            #expect(try await found("brow*", world.agentToken) == [id])
            #expect(try await found("nothing-like-this", world.agentToken).isEmpty)
            let query = try await api.get("conversations.list?search=browser", token: world.agentToken)
            #expect(query.body["conversations"].array.count == 1)
        }
    }

    /// Issue 15, item 8: agent 2 used to list a conversation whose only match was agent 1's private note.
    @Test("search sees exactly what the searcher may read: a private note is found by its author only")
    func searchPrivateNotes() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            #expect(try await api.comment(world.agentToken, on: id, "zebrasecret", visibility: "private").status == .created)
            let otherToken = try #require(try await api.post("auth-tokens.create",
                #"{"requested_token_type":"urn:devrev:params:oauth:token-type:pat","act_as":"\#(world.otherAgent)"}"#,
                token: adminToken).body["access_token"].string)
            func found(_ token: String) async throws -> [String] {
                try await api.get("conversations.list?search=zebrasecret", token: token).body["conversations"].array.compactMap { $0["id"].string }
            }
            #expect(try await found(world.agentToken) == [id], "its author")
            #expect(try await found(otherToken).isEmpty, "another agent")
            #expect(try await found(adminToken).isEmpty, "the admin")
            #expect(try await found(world.aliceToken).isEmpty, "the customer")
        }
    }

    @Test("a customer cannot read, list or write another customer's conversation")
    func isolation() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let alices = try await api.conversation(world.aliceToken)
            let carols = try await api.conversation(world.carolToken, title: "Globex issue")
            let get = try await api.post("conversations.get", #"{"id":"\#(alices)"}"#, token: world.carolToken)
            #expect(get.status == .notFound)
            #expect(get.body["type"].string == "not_found")
            let getByQuery = try await api.get("conversations.get?id=\(alices)", token: world.bobToken)
            #expect(getByQuery.status == .notFound, "same org is not enough: only members see it")
            let list = try await api.post("conversations.list", "{}", token: world.carolToken)
            #expect(list.body["conversations"].array.map { $0["id"].string } == [carols])
            let write = try await api.comment(world.carolToken, on: alices, "hello?")
            #expect(write.status == .notFound)
            let update = try await api.post("conversations.update", #"{"id":"\#(alices)","title":"mine"}"#, token: world.carolToken)
            #expect(update.status == .notFound)
            // Refused as a conversation that does not exist is, word for word, before anything about the request
            // itself (an empty message, a change customers may not make) is judged.
            let hidden = try #require(ObjectID.parse(alices)), missing = ObjectID(.conversation, 999)
            for (id, conversation) in [(hidden, alices), (missing, missing.don)] {
                let said = "conversation \(id.displayID) not found"
                #expect(try await api.comment(world.carolToken, on: conversation, "hello?").body["message"].string == said)
                #expect(try await api.comment(world.carolToken, on: conversation, " ").body["message"].string == said)
                #expect(try await api.post("conversations.update", #"{"id":"\#(conversation)","title":"mine"}"#,
                                           token: world.carolToken).body["message"].string == said)
                #expect(try await api.post("conversations.update", #"{"id":"\#(conversation)","stage":{"name":"resolved"}}"#,
                                           token: world.carolToken).body["message"].string == said)
            }
            let timeline = try await api.post("timeline-entries.list", #"{"object":"\#(alices)"}"#, token: world.carolToken)
            #expect(timeline.status == .notFound)
            let links = try await api.post("links.list", #"{"object":"\#(alices)"}"#, token: world.carolToken)
            #expect(links.status == .notFound)
            #expect(try await api.stage(of: alices) == "new")
            #expect(try await api.post("conversations.update", #"{"id":"\#(carols)","stage":{"name":"resolved"}}"#, token: world.carolToken).status == .forbidden)
            #expect(try await api.post("conversations.update", #"{"id":"\#(carols)","title":"Better title"}"#, token: world.carolToken).status == .ok)
            #expect(try await api.post("conversations.delete", #"{"id":"\#(carols)"}"#, token: world.carolToken).status == .forbidden)
        }
    }

    @Test("a customer message on an archived conversation starts a linked follow-up")
    func followUp() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            _ = try await api.comment(world.agentToken, on: id, "Done, all fixed.")
            _ = try await api.post("conversations.update",
                #"{"id":"\#(id)","stage":{"name":"resolved"},"tags":{"add":[{"id":"TAG-6","value":"fixed"}]}}"#, token: world.agentToken)
            #expect(try await api.post("conversations.update", #"{"id":"\#(id)","stage":{"name":"archived"}}"#, token: world.agentToken).status == .ok)
            #expect(try await api.comment(world.agentToken, on: id, "one more thing").status == .badRequest, "archived is final for agents")

            let message = try await api.comment(world.aliceToken, on: id, "It broke again")
            #expect(message.status == .created)
            let followUp = try #require(message.body["timeline_entry"]["object"].string)
            #expect(followUp != id)
            #expect(try await api.stage(of: id) == "archived")
            let next = try await api.post("conversations.get", #"{"id":"\#(followUp)"}"#, token: world.aliceToken).body["conversation"]
            #expect(next["stage"]["name"].string == "new")
            #expect(next["is_follow_up_of"]["id"].string == id)
            #expect(next["owned_by"][0]["id"].string == world.agent)
            let links = try await api.post("links.list", #"{"object":"\#(followUp)"}"#, token: world.agentToken)
            #expect(links.body["links"][0]["link_type"].string == "is_follow_up_of")
            #expect(links.body["links"][0]["source"]["id"].string == followUp)
            #expect(links.body["links"][0]["target"]["id"].string == id)
        }
    }
}
