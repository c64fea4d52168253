import Foundation
import HTTPTypes
import ParleyCore
import Testing

@Suite("Saved replies")
struct SavedReplyTests {
    @Test("placeholders are filled for the conversation, its customer and the agent using the reply")
    func rendering() {
        let reply = SavedReply(number: 1, title: "Thanks", body: "Hi {customer_first_name}, {agent_name} here about {conversation_id}.",
                               owner: nil, createdBy: .devUser(1), at: Date())
        #expect(reply.rendered(customerName: "Alice Liddell", agentName: "Maya", conversation: ObjectID(.conversation, 42))
                == "Hi Alice, Maya here about CONV-42.")
        #expect(reply.rendered(customerName: nil, agentName: "Maya", conversation: ObjectID(.conversation, 1)).hasPrefix("Hi there,"))
    }

    @Test("shared replies for the team, personal ones for their owner only; a shared reply is changed by its author or an admin")
    func sharing() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let other = try await api.post("dev-users.create", #"{"email":"sam@support.test","display_name":"Sam"}"#, token: adminToken)
            let sam = try #require(other.body["dev_user"]["id"].string)
            let samToken = try #require(try await api.post("auth-tokens.create", #"{"act_as":"\#(sam)"}"#, token: adminToken).body["access_token"].string)
            let shared = try await api.post("saved-replies.create", #"{"title":"Refund done","body":"Hi {customer_first_name}, the refund is on its way. {agent_name}","shared":true}"#,
                                            token: world.agentToken)
            #expect(shared.status == .created)
            let sharedID = try #require(shared.body["saved_reply"]["id"].string)
            let personal = try await api.post("saved-replies.create", #"{"title":"My sign-off","body":"Cheers"}"#, token: world.agentToken)
            let personalID = try #require(personal.body["saved_reply"]["id"].string)
            #expect(personal.body["saved_reply"]["shared"].bool == false)
            // Sam sees the shared one, not Maya's own.
            let samList = try await api.post("saved-replies.list", token: samToken).body["saved_replies"].array.compactMap { $0["title"].string }
            #expect(samList == ["Refund done"])
            #expect(try await api.post("saved-replies.get", #"{"id":"\#(personalID)"}"#, token: samToken).status == .notFound)
            #expect(try await api.post("saved-replies.update", #"{"id":"\#(sharedID)","body":"mine now"}"#, token: samToken).status == .forbidden)
            #expect(try await api.post("saved-replies.update", #"{"id":"\#(sharedID)","title":"Refund sent"}"#, token: world.agentToken).status == .ok)
            // Filled in for Alice's conversation, by Sam.
            let conversation = try await api.conversation(world.aliceToken)
            let rendered = try await api.post("saved-replies.render", #"{"id":"\#(sharedID)","conversation":"\#(conversation)"}"#, token: samToken)
            #expect(rendered.body["body"].string == "Hi Alice, the refund is on its way. Sam")
            #expect(try await api.post("saved-replies.create", #"{"title":" ","body":"x"}"#, token: world.agentToken).status == .badRequest)
            #expect(try await api.post("saved-replies.delete", #"{"id":"\#(personalID)"}"#, token: world.agentToken).status == .ok)
            #expect(try await api.post("saved-replies.get", #"{"id":"\#(personalID)"}"#, token: world.agentToken).status == .notFound)
        }
    }

    @Test("the conversation page lists the saved replies filled in; a link puts one in the reply box without JavaScript")
    func inTheInbox() async throws {
        try await withWebServer { api, browser, world in
            let shared = try await api.post("saved-replies.create", #"{"title":"Refund <done>","body":"Hi {customer_first_name}, refunded. {agent_name}","shared":true}"#,
                                            token: world.agentToken)
            let replyID = try #require(shared.body["saved_reply"]["id"].string)
            let number = try #require(ObjectID.parse(replyID)).number
            let id = try await api.conversation(world.aliceToken, title: "Charged twice")
            let conversation = try #require(ObjectID.parse(id)).number
            try await signIn(browser)
            let page = try await browser.get("/inbox/conversations/\(conversation)").html
            #expect(page.contains("data-title=\"Refund &lt;done&gt;\" data-text=\"Hi Alice, refunded. Maya\""), "listed, filled in, escaped")
            let chosen = try await browser.get("/inbox/conversations/\(conversation)?reply_with=\(number)").html
            #expect(chosen.contains(">Hi Alice, refunded. Maya</textarea>"))
            // Another agent's personal reply is not offered.
            let other = try await api.post("dev-users.create", #"{"email":"sam@support.test","display_name":"Sam"}"#, token: adminToken)
            let sam = try #require(other.body["dev_user"]["id"].string)
            let samToken = try #require(try await api.post("auth-tokens.create", #"{"act_as":"\#(sam)"}"#, token: adminToken).body["access_token"].string)
            _ = try await api.post("saved-replies.create", #"{"title":"Sam's secret","body":"x"}"#, token: samToken)
            #expect(try await !browser.get("/inbox/conversations/\(conversation)").html.contains("Sam&#39;s secret"))
        }
    }
}
