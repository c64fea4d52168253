import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ParleyApp
import ParleyCore
import ParleyServer
import ParleyStore
import Testing

/// Issue 15, item 6: an agent's access can be taken away through the API, and it stops at once everywhere
/// (API tokens, the inbox's browser session, password and token sign-in, open event streams).
@Suite("Revoking access")
struct AccessRevocationTests {
    /// What `body` returns, or nil if it has not finished within `seconds` (then it is cancelled).
    static func finishing<T: Sendable>(within seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    @Test("dev-users.update {state: deactivated}: the agent's token, inbox session and sign-in stop at once; reactivation brings back sign-in, not old tokens")
    func deactivateByUpdate() async throws {
        try await withWebServer { api, browser, world in
            try await signIn(browser)
            #expect(try await browser.get("/inbox").status == .ok)
            #expect(try await api.post("conversations.list", token: world.agentToken).status == .ok)

            let agentCannot = try await api.post("dev-users.update", #"{"id":"\#(world.otherAgent)","state":"deactivated"}"#, token: world.agentToken)
            #expect(agentCannot.status == .forbidden, "only an admin deactivates: \(agentCannot.body)")

            let reply = try await api.post("dev-users.update", #"{"id":"\#(world.agent)","state":"deactivated"}"#, token: adminToken)
            #expect(reply.status == .ok, "\(reply.body)")
            #expect(reply.body["dev_user"]["state"].string == "deactivated")
            #expect(try await api.post("dev-users.get", #"{"id":"\#(world.agent)"}"#, token: adminToken).body["dev_user"]["state"].string == "deactivated")

            let refused = try await api.post("conversations.list", token: world.agentToken)
            #expect(refused.status == .unauthorized)
            #expect(refused.body["type"].string == "token_revoked", "revoked with the deactivation: \(refused.body)")
            #expect(try await browser.get("/inbox").location == "/inbox/sign-in", "the browser session is over")
            let password = Browser(browser.client)
            let signedIn = try await password.post("/inbox/sign-in", [("email", "maya@support.test"), ("password", "correct horse battery")])
            #expect(signedIn.status == .unauthorized && password.cookies["parley_inbox"] == nil, "no password sign-in")
            #expect(try await Browser(browser.client).post("/inbox/sign-in", [("token", world.agentToken)]).status == .unauthorized)
            let newToken = try await api.post("auth-tokens.create", #"{"act_as":"\#(world.agent)"}"#, token: adminToken)
            #expect(newToken.status == .badRequest && newToken.body["field_name"].string == "act_as", "no new token either: \(newToken.body)")

            // Reactivation: sign-in works again; the old token and session stay revoked.
            let back = try await api.post("dev-users.update", #"{"id":"\#(world.agent)","state":"active"}"#, token: adminToken)
            #expect(back.status == .ok && back.body["dev_user"]["state"].string == "active", "\(back.body)")
            #expect(try await api.post("conversations.list", token: world.agentToken).status == .unauthorized)
            #expect(try await browser.get("/inbox").location == "/inbox/sign-in")
            try await signIn(Browser(browser.client))
            let fresh = try #require(try await api.post("auth-tokens.create", #"{"act_as":"\#(world.agent)"}"#, token: adminToken).body["access_token"].string)
            #expect(try await api.post("conversations.list", token: fresh).status == .ok)
        }
    }

    @Test("dev-users.deactivate {id}: answers {} and ends the agent's open event streams (API and inbox) within a second")
    func deactivateEndsStreams() async throws {
        try await withWebServer { api, browser, world in
            try await signIn(browser)
            let client = api.client
            let token = world.agentToken
            let apiStream = Task {
                try await Self.finishing(within: 20) {
                    try await client.execute(uri: "/events.stream?follow=true", method: .get, headers: [.authorization: "Bearer \(token)"]) {
                        ($0.status, String(buffer: $0.body))
                    }
                }
            }
            let inboxStream = Task { try await Self.finishing(within: 20) { try await browser.get("/inbox/events") } }
            try await Task.sleep(for: .milliseconds(500))
            let reply = try await api.post("dev-users.deactivate", #"{"id":"\#(world.agent)"}"#, token: adminToken)
            #expect(reply.status == .ok && reply.body.keys.isEmpty, "\(reply.body)")
            _ = try await api.conversation(world.aliceToken, title: "After the deactivation")

            let streamed = try await apiStream.value
            #expect(streamed != nil, "the API stream ended")
            #expect(streamed?.0 == .ok && streamed?.1.contains(": connected") == true, "it had been admitted")
            #expect(streamed?.1.contains("After the deactivation") == false, "and got nothing after")
            let page = try await inboxStream.value
            #expect(page != nil, "the inbox's live updates ended")
            #expect(page?.status == .ok && page?.html.contains("After the deactivation") == false)

            #expect(try await api.post("conversations.list", token: world.agentToken).status == .unauthorized)
            #expect(try await browser.get("/inbox").location == "/inbox/sign-in")
            #expect(try await api.post("dev-users.deactivate", #"{"id":"\#(world.agent)"}"#, token: adminToken).status == .ok, "again: harmless")
            #expect(try await api.post("dev-users.deactivate", #"{"id":"DEVU-999"}"#, token: adminToken).status == .notFound)
            #expect(try await api.post("dev-users.deactivate", "{}", token: adminToken).status == .badRequest)
            // DevRev's reactivation.
            let activated = try await api.post("dev-users.activate", #"{"id":"\#(world.agent)"}"#, token: adminToken)
            #expect(activated.status == .ok && activated.body["invite_sent"].bool == false, "\(activated.body)")
            try await signIn(Browser(browser.client))
        }
    }

    @Test("a row edited by hand (state deactivated, tokens untouched) stops the agent too: every request checks the user")
    func rowEditedByHand() async throws {
        let path = temporaryDatabase()
        defer { removeDatabase(at: path) }
        let configuration = AppConfiguration(databasePath: path, adminToken: adminToken, logLevel: .warning)
        let server = try await buildApplication(configuration, clock: ManualClock(Date(timeIntervalSince1970: 1_750_000_000)))
        do {
            try await server.application.test(.router) { client in
                let api = API(client: client)
                let world = try await World.make(api)
                let number = try #require(ObjectID.parse(world.agent)?.number)
                func setState(_ state: UserState) async throws {
                    _ = try await server.store.update(DevUser.self, number: number) { user in
                        var user = user
                        user.state = state
                        return Recorded(user, events: [])
                    }
                }
                try await setState(.deactivated)
                let refused = try await api.post("conversations.list", token: world.agentToken)
                #expect(refused.status == .unauthorized && refused.body["type"].string == "unauthenticated", "\(refused.body)")
                try await setState(.active)
                #expect(try await api.post("conversations.list", token: world.agentToken).status == .ok,
                        "never revoked, so back with the row (the API's deactivation revokes for good)")
            }
        } catch {
            try await server.close()
            throw error
        }
        try await server.close()
    }

    @Test("an active admin always remains; an agent changes only their own names")
    func rules() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let me = try #require(try await api.post("dev-users.self", token: adminToken).body["dev_user"]["id"].string)
            #expect(try await api.post("dev-users.deactivate", #"{"id":"\#(me)"}"#, token: adminToken).status == .forbidden, "the last admin")
            let demote = try await api.post("dev-users.update", #"{"id":"\#(me)","role":"agent"}"#, token: adminToken)
            #expect(demote.status == .forbidden && demote.body["message"].string?.contains("last active admin") == true, "\(demote.body)")

            // With a second admin, either may go, but not both.
            let second = try #require(try await api.post("dev-users.create", #"{"email":"boss@support.test","role":"admin"}"#, token: adminToken)
                .body["dev_user"]["id"].string)
            let secondToken = try #require(try await api.post("auth-tokens.create", #"{"act_as":"\#(second)"}"#, token: adminToken).body["access_token"].string)
            #expect(try await api.post("dev-users.update", #"{"id":"\#(me)","state":"deactivated"}"#, token: secondToken).status == .ok)
            #expect(try await api.post("dev-users.list", token: adminToken).status == .unauthorized, "the first admin's token stopped")
            #expect(try await api.post("dev-users.deactivate", #"{"id":"\#(second)"}"#, token: secondToken).status == .forbidden, "now the last")

            // Promoting and demoting take effect on the next request.
            #expect(try await api.post("dev-users.update", #"{"id":"\#(world.agent)","role":"admin"}"#, token: secondToken).status == .ok)
            #expect(try await api.post("dev-users.create", #"{"email":"x@support.test"}"#, token: world.agentToken).status == .created)
            #expect(try await api.post("dev-users.update", #"{"id":"\#(world.agent)","role":"agent"}"#, token: secondToken).status == .ok)
            #expect(try await api.post("dev-users.create", #"{"email":"y@support.test"}"#, token: world.agentToken).status == .forbidden)

            // Agents: their own names only.
            let renamed = try await api.post("dev-users.update", #"{"id":"\#(world.agent)","display_name":"Maya P.","full_name":"Maya Patel"}"#,
                                             token: world.agentToken)
            #expect(renamed.status == .ok && renamed.body["dev_user"]["display_name"].string == "Maya P.", "\(renamed.body)")
            #expect(renamed.body["dev_user"]["full_name"].string == "Maya Patel")
            #expect(try await api.post("dev-users.update", #"{"id":"\#(world.otherAgent)","display_name":"Tim"}"#, token: world.agentToken).status == .forbidden)
            #expect(try await api.post("dev-users.update", #"{"id":"\#(world.agent)","state":"deactivated"}"#, token: world.agentToken).status == .forbidden)
            #expect(try await api.post("dev-users.update", #"{"id":"\#(world.agent)","role":"admin"}"#, token: world.agentToken).status == .forbidden)
            #expect(try await api.post("dev-users.update", #"{"id":"\#(world.agent)","display_name":"Maya"}"#, token: world.aliceToken).status == .forbidden)

            // Values outside what may be set.
            let locked = try await api.post("dev-users.update", #"{"id":"\#(world.otherAgent)","state":"locked"}"#, token: secondToken)
            #expect(locked.status == .badRequest && locked.body["type"].string == "invalid_enum_value", "\(locked.body)")
            #expect(locked.body["allowed_values"].array.compactMap(\.string) == ["active", "deactivated"])
            #expect(try await api.post("dev-users.update", #"{"id":"\#(world.otherAgent)","state":"sleepy"}"#, token: secondToken).status == .badRequest)
            #expect(try await api.post("dev-users.update", #"{"id":"\#(world.otherAgent)","display_name":" "}"#, token: secondToken).status == .badRequest)
            #expect(try await api.post("dev-users.update", #"{"id":"DEVU-999","display_name":"Nobody"}"#, token: secondToken).status == .notFound)
        }
    }

    @Test("auth-tokens.list shows token metadata, never a secret; auth-tokens.delete revokes a token at once (401 token_revoked)")
    func personalAccessTokens() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let created = try await api.post("auth-tokens.create", #"{"act_as":"\#(world.agent)"}"#, token: adminToken)
            let second = try #require(created.body["access_token"].string)
            let secondID = try #require(created.body["token_id"].string)
            let others = try await api.post("auth-tokens.create", #"{"act_as":"\#(world.otherAgent)"}"#, token: adminToken)
            let othersToken = try #require(others.body["access_token"].string)
            let othersID = try #require(others.body["token_id"].string)

            let listed = try await api.post("auth-tokens.list", token: world.agentToken)
            #expect(listed.status == .ok, "\(listed.body)")
            let tokens = listed.body["tokens"].array
            #expect(tokens.count == 2, "the agent's own two: \(listed.body)")
            #expect(tokens.first?["id"].string == secondID, "newest first")
            for token in tokens {
                #expect(token["status"].string == "active")
                #expect(token["requested_token_type"].string == "urn:devrev:params:oauth:token-type:pat")
                #expect(token["subject"].string == world.agent, "\(token)")
                #expect(token["issued_at"].string != nil && token["expires_at"].string != nil && token["display_id"].string?.hasPrefix("TOKEN-") == true)
                #expect(token["token_hint"].string?.count == 5)
            }
            let text = listed.body.description
            for secret in [world.agentToken, second] {
                #expect(!text.contains(secret) && !text.contains(TokenSecret.hash(secret)) && !text.contains(secret.dropLast(4)),
                        "no secret, no hash")
            }

            // The agent revokes their own: the next request with it is refused at once.
            #expect(try await api.post("conversations.list", token: second).status == .ok)
            let deleted = try await api.post("auth-tokens.delete", #"{"token_id":"\#(secondID)"}"#, token: world.agentToken)
            #expect(deleted.status == .ok && deleted.body.keys.isEmpty, "\(deleted.body)")
            let refused = try await api.post("conversations.list", token: second)
            #expect(refused.status == .unauthorized && refused.body["type"].string == "token_revoked", "\(refused.body)")
            #expect(try await api.post("conversations.list", token: world.agentToken).status == .ok, "their other token goes on")
            let after = try await api.post("auth-tokens.list", #"{"requested_token_type":"urn:devrev:params:oauth:token-type:pat"}"#, token: world.agentToken)
            #expect(after.body["tokens"].array.first { $0["id"].string == secondID }?["status"].string == "revoked")
            #expect(try await api.post("auth-tokens.list", #"{"requested_token_type":"urn:devrev:params:oauth:token-type:session"}"#,
                                       token: world.agentToken).body["tokens"].array.isEmpty)
            #expect(try await api.post("auth-tokens.list", #"{"requested_token_type":"urn:devrev:params:oauth:token-type:aat"}"#,
                                       token: world.agentToken).status == .badRequest)

            // Another agent's tokens are not theirs: not listed, not found.
            #expect(try await api.post("auth-tokens.list", #"{"subject":"\#(world.otherAgent)"}"#, token: world.agentToken).status == .forbidden)
            #expect(try await api.post("auth-tokens.delete", #"{"token_id":"\#(othersID)"}"#, token: world.agentToken).status == .notFound)
            #expect(try await api.post("conversations.list", token: othersToken).status == .ok)
            // An admin lists and revokes anyone's.
            let theirs = try await api.post("auth-tokens.list", #"{"subject":"\#(world.otherAgent)"}"#, token: adminToken)
            #expect(theirs.body["tokens"].array.map { $0["id"].string } == [othersID])
            #expect(try await api.post("auth-tokens.list", #"{"subject":"\#(world.alice)"}"#, token: adminToken).body["tokens"].array.count == 1,
                    "a customer's sessions too")
            #expect(try await api.post("auth-tokens.delete", #"{"token_id":"\#(othersID)"}"#, token: adminToken).status == .ok)
            #expect(try await api.post("conversations.list", token: othersToken).status == .unauthorized)
            #expect(try await api.post("auth-tokens.delete", #"{"token_id":"TOKEN-999"}"#, token: adminToken).status == .notFound)
            #expect(try await api.post("auth-tokens.create", #"{"act_as":"DEVU-999"}"#, token: adminToken).body["type"].string == "invalid_id")
            #expect(try await api.post("auth-tokens.delete", #"{"token_id":"CONV-1"}"#, token: adminToken).status == .badRequest)

            // Customers manage no tokens by id, but may end the session they are using (DevRev: no token_id).
            #expect(try await api.post("auth-tokens.list", token: world.aliceToken).status == .forbidden)
            #expect(try await api.post("auth-tokens.delete", #"{"token_id":"\#(othersID)"}"#, token: world.bobToken).status == .forbidden)
            #expect(try await api.post("auth-tokens.delete", token: world.bobToken).status == .ok)
            #expect(try await api.post("conversations.list", token: world.bobToken).status == .unauthorized)
            #expect(try await api.post("conversations.list", token: world.aliceToken).status == .ok)
            #expect(try await api.post("auth-tokens.delete", token: world.agentToken).status == .ok)
            #expect(try await api.post("conversations.list", token: world.agentToken).status == .unauthorized)
        }
    }
}
