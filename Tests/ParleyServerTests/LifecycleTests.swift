import Hummingbird
import ParleyApp
import ParleyCore
import ParleyServer
import Testing

@Suite("Lifecycle: dependencies, Blocked, the resolution check")
struct LifecycleTests {
    /// A conversation brought to needs_response.
    func needingResponse(_ api: API, _ world: World) async throws -> String {
        let id = try await api.conversation(world.aliceToken)
        _ = try await api.comment(world.agentToken, on: id, "Looking")
        _ = try await api.comment(world.aliceToken, on: id, "Still broken")
        #expect(try await api.stage(of: id) == "needs_response")
        return id
    }

    func tagNames(_ api: API, _ id: String, _ token: String) async throws -> [String] {
        try await api.post("conversations.get", #"{"id":"\#(id)"}"#, token: token).body["conversation"]["tags"].array
            .compactMap { $0["tag"]["name"].string }
    }

    @Test("a held conversation returns to needs_response when its last dependency closes; Blocked follows")
    func dependencies() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await needingResponse(api, world)
            let ticket = try await api.post("works.create", #"{"type":"ticket","title":"Export times out","owned_by":["\#(world.otherAgent)"]}"#,
                                            token: world.agentToken)
            #expect(ticket.status == .created, "\(ticket.body)")
            #expect(ticket.body["work"]["display_id"].string?.hasPrefix("TKT-") == true)
            let ticketID = try #require(ticket.body["work"]["id"].string)
            let review = try await api.post("works.create", #"{"type":"task","title":"PM review","owned_by":["\#(world.otherAgent)"]}"#,
                                            token: world.agentToken).body["work"]["id"].string!
            for work in [ticketID, review] {
                let link = try await api.post("links.create", #"{"link_type":"is_dependent_on","source":"\#(id)","target":"\#(work)"}"#,
                                              token: world.agentToken)
                #expect(link.status == .created, "\(link.body)")
            }
            #expect(try await api.stage(of: id) == "needs_response", "linking alone does not move it")
            let held = try await api.post("conversations.update", #"{"id":"\#(id)","stage":{"name":"hold"}}"#, token: world.agentToken)
            #expect(held.body["conversation"]["stage"]["name"].string == "hold")
            #expect(try await tagNames(api, id, world.agentToken).contains("Blocked"))

            let closed = try await api.post("works.update", #"{"id":"\#(ticketID)","stage":{"name":"resolved"}}"#, token: world.agentToken)
            #expect(closed.status == .ok, "\(closed.body)")
            #expect(try await api.stage(of: id) == "hold", "one dependency is still open")
            #expect(try await tagNames(api, id, world.agentToken).contains("Blocked"))

            _ = try await api.post("works.update", #"{"id":"\#(review)","stage":{"name":"completed"}}"#, token: world.agentToken)
            #expect(try await api.stage(of: id) == "needs_response")
            #expect(!(try await tagNames(api, id, world.agentToken).contains("Blocked")))
            let events = try await api.post("timeline-entries.list", #"{"object":"\#(id)","collections":["events"]}"#, token: world.agentToken)
            let reasons = events.body["timeline_entries"].array.compactMap { $0["body"].string }
            #expect(reasons.contains { $0.contains("Hold to Needs response") && $0.contains("TASK-") && $0.contains("closed") },
                    "the event names the work that closed it: \(reasons)")
            let links = try await api.post("links.list", #"{"object":"\#(id)","link_type":["is_dependent_on"]}"#, token: world.agentToken)
            #expect(links.body["links"].array.count == 2)
            #expect(links.body["links"][0]["target"]["stage"]["name"].string != nil)
            #expect(try await api.post("works.list", #"{"type":["task"]}"#, token: world.agentToken).body["works"].array.count == 1)
            #expect(try await api.get("works.get?id=\(ticketID)", token: world.agentToken).body["work"]["state"].string == "closed")
        }
    }

    @Test("a customer reply leaves hold and takes Blocked off; removing a dependency unblocks")
    func unblocking() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await needingResponse(api, world)
            let work = try await api.post("works.create", #"{"type":"issue","title":"Bug"}"#, token: world.agentToken).body["work"]["id"].string!
            let link = try await api.post("links.create", #"{"link_type":"is_dependent_on","source":"\#(id)","target":"\#(work)"}"#,
                                          token: world.agentToken).body["link"]["id"].string!
            _ = try await api.post("conversations.update", #"{"id":"\#(id)","stage":{"name":"hold"}}"#, token: world.agentToken)
            #expect(try await tagNames(api, id, world.agentToken) == ["Blocked"])
            #expect(try await api.post("links.delete", #"{"id":"\#(link)"}"#, token: world.agentToken).status == .ok)
            #expect(try await tagNames(api, id, world.agentToken).isEmpty)
            #expect(try await api.stage(of: id) == "hold", "no dependency left: nothing closed it, it stays in hold")
            _ = try await api.comment(world.aliceToken, on: id, "any news?")
            #expect(try await api.stage(of: id) == "needs_response")
        }
    }

    @Test("the resolution check, both ways, and resolving records the answer")
    func resolutionCheck() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await needingResponse(api, world)
            let proposed = try await api.post("conversations.resolution.propose", #"{"id":"\#(id)","body":"Fixed in 2.3.1. Can you confirm?"}"#,
                                              token: world.agentToken)
            #expect(proposed.status == .ok, "\(proposed.body)")
            #expect(proposed.body["conversation"]["stage"]["name"].string == "waiting_on_user")
            #expect(proposed.body["conversation"]["resolution_check"]["awaiting_confirmation"].bool == true)
            #expect(try await api.post("conversations.resolution.confirm", #"{"id":"\#(id)","confirmed":true}"#, token: world.agentToken)
                .status == .forbidden, "only the customer answers")

            let no = try await api.post("conversations.resolution.confirm", #"{"id":"\#(id)","confirmed":false,"body":"Still failing"}"#,
                                        token: world.aliceToken)
            #expect(no.status == .ok, "\(no.body)")
            #expect(no.body["conversation"]["stage"]["name"].string == "needs_response")
            #expect(no.body["conversation"]["resolution_check"]["customer_confirmed"].bool == false)
            #expect(try await api.post("conversations.resolution.confirm", #"{"id":"\#(id)","confirmed":true}"#, token: world.aliceToken)
                .status == .badRequest, "nothing is awaiting confirmation any more")

            _ = try await api.post("conversations.resolution.propose", #"{"id":"\#(id)","body":"Try 2.3.2?"}"#, token: world.agentToken)
            let yes = try await api.post("conversations.resolution.confirm", #"{"id":"\#(id)","confirmed":true}"#, token: world.aliceToken)
            #expect(yes.body["conversation"]["stage"]["name"].string == "needs_response")
            #expect(yes.body["conversation"]["resolution_check"]["customer_confirmed"].bool == true)
            let resolved = try await api.post("conversations.update",
                #"{"id":"\#(id)","stage":{"name":"resolved"},"tags":{"add":[{"id":"Resolution","value":"fixed"}]}}"#, token: world.agentToken)
            #expect(resolved.status == .ok)
            let events = try await api.post("timeline-entries.list", #"{"object":"\#(id)","collections":["events"]}"#, token: world.agentToken)
            #expect(events.body["timeline_entries"].array.contains { $0["body"].string?.contains("customer confirmed the resolution") == true })
        }
    }
}
