import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyServer
import Synchronization
import Testing

@Suite("Errors, auth and the wire protocol")
struct ProtocolTests {
    @Test("authentication: missing, unknown, bare and expired tokens")
    func authentication() async throws {
        try await withServer { api, clock in
            let none = try await api.post("conversations.list", token: nil)
            #expect(none.status == .unauthorized)
            #expect(none.body["type"].string == "unauthenticated")
            #expect(try await api.post("conversations.list", token: "nope").status == .unauthorized)
            let bare = try await api.client.execute(uri: "/dev-users.self", method: .post, headers: [.authorization: adminToken]) { $0.status }
            #expect(bare == .ok, "a bare token without 'Bearer' is accepted")
            #expect(try await api.get("health", token: nil).status == .ok)

            let world = try await World.make(api)
            let short = try #require(try await api.post("auth-tokens.create",
                #"{"requested_token_type":"urn:devrev:params:oauth:token-type:session","rev_info":{"user_id":"\#(world.alice)"},"expires_in":60}"#,
                token: adminToken).body["access_token"].string)
            #expect(try await api.post("conversations.list", token: short).status == .ok)
            clock.advance(by: 61)
            let expired = try await api.post("conversations.list", token: short)
            #expect(expired.status == .unauthorized)
            #expect(expired.body["message"].string?.contains("expired") == true)
        }
    }

    @Test("authorization by role")
    func roles() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            #expect(try await api.post("dev-users.create", #"{"email":"x@y.test"}"#, token: world.agentToken).status == .forbidden)
            #expect(try await api.post("auth-tokens.create", #"{"act_as":"\#(world.agent)"}"#, token: world.agentToken).status == .forbidden)
            for path in ["dev-users.list", "accounts.list", "rev-orgs.list", "rev-users.list", "groups.list", "tags.list", "dev-users.self"] {
                let reply = try await api.post(path, token: world.aliceToken)
                #expect(reply.status == .forbidden, "\(path) for a customer")
                #expect(reply.body["type"].string == "forbidden")
            }
            #expect(try await api.post("rev-users.get", #"{"id":"\#(world.alice)"}"#, token: world.aliceToken).status == .ok)
            #expect(try await api.post("rev-users.get", #"{"id":"\#(world.bob)"}"#, token: world.aliceToken).status == .notFound)
            let forbiddenField = try await api.post("conversations.create",
                #"{"type":"support","title":"x","owned_by":["\#(world.otherAgent)"]}"#, token: world.aliceToken)
            #expect(forbiddenField.status == .forbidden)
        }
    }

    /// Issue 15, item 11: `"title": 42` was stored as "42", `messages: [null]` and a missing `type` accepted.
    @Test("a field of the wrong JSON type is refused naming it, never coerced; required fields are required; unknown ones ignored")
    func noCoercion() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let cases: [(String, String, String)] = [
                (#"{"type":"support","title":42}"#, "invalid_field", "title"),
                (#"{"type":"support","title":true}"#, "invalid_field", "title"),
                (#"{"type":"support","title":"x","messages":[{"body":5}]}"#, "invalid_field", "messages.0.body"),
                (#"{"type":"support","title":"x","messages":[null]}"#, "invalid_field", "messages.0"),
                (#"{"type":"support","title":"x","messages":[{}]}"#, "missing_required_field", "messages.0.body"),
                (#"{"title":"x"}"#, "missing_required_field", "type"),
                (#"{"type":"support","title":"x","owned_by":"DEVU-1"}"#, "invalid_field", "owned_by"),
            ]
            for (body, type, field) in cases {
                let reply = try await api.post("conversations.create", body, token: world.agentToken)
                #expect(reply.status == .badRequest && reply.body["type"].string == type && reply.body["field_name"].string == field,
                        "\(body) → \(reply.status.code) \(reply.body)")
            }
            let limit = try await api.post("conversations.list", #"{"limit":"5"}"#, token: world.agentToken)
            #expect(limit.status == .badRequest && limit.body["field_name"].string == "limit", "a string is not an integer in JSON")
            let confirmed = try await api.post("conversations.resolution.confirm", #"{"id":"CONV-1","confirmed":"yes"}"#, token: world.aliceToken)
            #expect(confirmed.status == .badRequest && confirmed.body["field_name"].string == "confirmed")
            // What is text anyway stays lenient: a query string.
            #expect(try await api.get("conversations.list?limit=5", token: world.agentToken).status == .ok)
            let unknown = try await api.post("conversations.create", #"{"type":"support","title":"x","custom_fields":{"a":1},"frobnicate":[1]}"#,
                                             token: world.agentToken)
            #expect(unknown.status == .created, "unknown fields are ignored, as DevRev clients expect")
            let list = try await api.post("conversations.list", "{}", token: world.agentToken)
            #expect(list.body["conversations"].array.count == 1, "nothing was written by the refused requests")
        }
    }

    /// Issue 15, item 13: HEAD answered 404.
    @Test("HEAD is answered as GET, without the body")
    func head() async throws {
        try await withServer { api, _ in
            let get = try await api.client.execute(uri: "/health", method: .get) { $0 }
            let head = try await api.client.execute(uri: "/health", method: .head) { $0 }
            #expect(head.status == .ok && head.body.readableBytes == 0)
            #expect(head.headers[.contentType] == get.headers[.contentType])
            #expect(try await api.client.execute(uri: "/inbox/sign-in", method: .head) { $0.status } == .ok)
        }
    }

    @Test("bad input answers DevRev's errors, and nothing is written")
    func badInput() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let parse = try await api.post("conversations.create", #"{"type":"support", "title": "#, token: world.agentToken)
            #expect(parse.status == .badRequest)
            #expect(parse.body["type"].string == "parse_error")
            let missing = try await api.post("conversations.get", "{}", token: world.agentToken)
            #expect(missing.body["type"].string == "missing_required_field")
            #expect(missing.body["field_name"].string == "id")
            let missingObject = try await api.post("timeline-entries.create", #"{"type":"timeline_comment","body":"x"}"#, token: world.agentToken)
            #expect(missingObject.body["field_name"].string == "object")
            let badID = try await api.post("conversations.get", #"{"id":"DEVU-1"}"#, token: world.agentToken)
            #expect(badID.status == .badRequest && badID.body["type"].string == "invalid_id")
            let unknown = try await api.post("conversations.get", #"{"id":"CONV-999"}"#, token: world.agentToken)
            #expect(unknown.status == .notFound && unknown.body["type"].string == "not_found")
            let badStage = try await api.post("conversations.list", #"{"stage":{"name":["open-ish"]}}"#, token: world.agentToken)
            #expect(badStage.body["type"].string == "invalid_enum_value")
            #expect(badStage.body["field_name"].string == "stage.name")
            let wrongType = try await api.post("conversations.create", #"{"type":"support","title":["x"]}"#, token: world.agentToken)
            #expect(wrongType.status == .badRequest && wrongType.body["field_name"].string == "title")
            let badOwner = try await api.post("conversations.create", #"{"type":"support","title":"x","owned_by":["DEVU-99"]}"#, token: world.agentToken)
            #expect(badOwner.status == .badRequest && badOwner.body["field_name"].string == "owned_by")
            let badSort = try await api.post("conversations.list", #"{"sort_by":["-created_date"]}"#, token: world.agentToken)
            #expect(badSort.status == .badRequest)
            let badLimit = try await api.get("conversations.list?limit=1000", token: world.agentToken)
            #expect(badLimit.status == .badRequest && badLimit.body["field_name"].string == "limit")
            let badCursor = try await api.get("conversations.list?cursor=garbage", token: world.agentToken)
            #expect(badCursor.status == .badRequest && badCursor.body["field_name"].string == "cursor")
            let route = try await api.post("conversations.frobnicate", token: world.agentToken)
            #expect(route.status == .notFound && route.body["type"].string == "not_found")

            let big = String(repeating: "x", count: 1 << 20)
            let tooLarge = try await api.post("conversations.create", #"{"type":"support","title":"\#(big)"}"#, token: world.agentToken)
            #expect(tooLarge.status == .contentTooLarge)
            #expect(tooLarge.body["message"].string != nil)

            let list = try await api.post("conversations.list", token: world.agentToken)
            #expect(list.body["conversations"].array.isEmpty, "no failed request wrote anything")
        }
    }

    @Test("get and list answer the same by GET and by POST")
    func getAndPost() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            let display = "CONV-" + id.split(separator: "/").last!
            let byPost = try await api.post("conversations.get", #"{"id":"\#(display)"}"#, token: world.agentToken)
            let byGet = try await api.get("conversations.get?id=\(id)", token: world.agentToken)
            #expect(byPost.status == .ok && byGet.status == .ok)
            #expect(byPost.body.description == byGet.body.description)
            let listPost = try await api.post("conversations.list", #"{"stage":{"name":["new"]},"owned_by":["\#(world.agent)"]}"#, token: world.agentToken)
            let listGet = try await api.get("conversations.list?stage.name=new&owned_by=\(world.agent)", token: world.agentToken)
            #expect(listPost.body["conversations"].array.count == 1)
            #expect(listPost.body.description == listGet.body.description)
        }
    }

    @Test("cursor pagination walks a list to the end and back, without repeats")
    func pagination() async throws {
        try await withServer { api, clock in
            let world = try await World.make(api)
            var ids: [String] = []
            for index in 0..<7 {
                clock.advance(by: 1)
                ids.append(try await api.conversation(world.agentToken, title: "Conversation \(index)"))
            }
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let body = cursor.map { #"{"limit":3,"sort_by":["created_date:asc"],"cursor":"\#($0)"}"# } ?? #"{"limit":3,"sort_by":["created_date:asc"]}"#
                let page = try await api.post("conversations.list", body, token: world.agentToken)
                #expect(page.status == .ok)
                seen += page.body["conversations"].array.compactMap { $0["id"].string }
                cursor = page.body["next_cursor"].string
                if pages == 0 { #expect(page.body["prev_cursor"].isNull) }
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen == ids)
            #expect(pages == 3)

            let second = try await api.post("conversations.list", #"{"limit":3,"sort_by":["created_date:asc"]}"#, token: world.agentToken)
            let next = try #require(second.body["next_cursor"].string)
            let page2 = try await api.post("conversations.list", #"{"limit":3,"sort_by":["created_date:asc"],"cursor":"\#(next)"}"#, token: world.agentToken)
            let prev = try #require(page2.body["prev_cursor"].string)
            let back = try await api.post("conversations.list", #"{"limit":3,"sort_by":["created_date:asc"],"cursor":"\#(prev)"}"#, token: world.agentToken)
            #expect(back.body["conversations"].array.compactMap { $0["id"].string } == Array(ids.prefix(3)))

            let newestFirst = try await api.post("conversations.list", #"{"limit":2}"#, token: world.agentToken)
            #expect(newestFirst.body["conversations"].array.compactMap { $0["id"].string } == [ids[6], ids[5]])
        }
    }

    @Test("list filters: stage, owner, org, tags, channel, spam, modified date, priority sort")
    func filters() async throws {
        try await withServer { api, clock in
            let world = try await World.make(api)
            let fromAlice = try await api.conversation(world.aliceToken)
            clock.advance(by: 10)
            let marker = clock.now()
            let fromAgent = try await api.post("conversations.create",
                #"{"type":"support","title":"Outbound","owned_by":["\#(world.otherAgent)"],"source_channel":"email","priority":"p0","tags":[{"id":"TAG-2"}]}"#,
                token: world.agentToken).body["conversation"]["id"].string!
            let spam = try await api.post("conversations.create", #"{"type":"support","title":"buy","is_spam":true}"#, token: world.agentToken)
            #expect(spam.body["conversation"]["stage"]["name"].string == "suspended")
            func ids(_ body: String) async throws -> Set<String> {
                let reply = try await api.post("conversations.list", body, token: world.agentToken)
                #expect(reply.status == .ok, "\(reply.body)")
                return Set(reply.body["conversations"].array.compactMap { $0["id"].string })
            }
            #expect(try await ids(#"{"stage":{"name":["suspended"]}}"#) == [spam.body["conversation"]["id"].string!])
            #expect(try await ids(#"{"owned_by":["\#(world.otherAgent)"]}"#) == [fromAgent])
            #expect(try await ids(#"{"rev_org":["\#(world.revOrg)"]}"#) == [fromAlice])
            #expect(try await ids(#"{"tags":["TAG-2"]}"#) == [fromAgent])
            #expect(try await ids(#"{"source_channel":["email"]}"#) == [fromAgent])
            #expect(try await ids(#"{"is_spam":false}"#) == [fromAlice, fromAgent])
            let after = marker.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            #expect(try await ids(#"{"modified_date":{"after":"\#(after)"},"is_spam":false}"#) == [fromAgent])
            let sorted = try await api.post("conversations.list", #"{"sort_by":["priority:asc"],"is_spam":false}"#, token: world.agentToken)
            #expect(sorted.body["conversations"][0]["id"].string == fromAgent, "p0 first")
        }
    }

    @Test("restarting the server keeps everything that was acknowledged")
    func restart() async throws {
        let path = temporaryDatabase()
        defer { removeDatabase(at: path) }
        let clock = ManualClock(Date(timeIntervalSince1970: 1_750_000_000))
        let box = Box()
        try await withServer(path: path, clock: clock) { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            _ = try await api.comment(world.agentToken, on: id, "On it")
            box.set(world.aliceToken, id)
        }
        try await withServer(path: path, clock: clock) { api, _ in
            let (token, id) = box.get()
            let reply = try await api.post("conversations.get", #"{"id":"\#(id)"}"#, token: token)
            #expect(reply.status == .ok)
            #expect(reply.body["conversation"]["stage"]["name"].string == "waiting_on_user")
            let entries = try await api.post("timeline-entries.list", #"{"object":"\#(id)"}"#, token: token)
            #expect(entries.body["timeline_entries"].array.count == 2)
        }
    }
}

/// Carries values from one server's run to the next.
final class Box: Sendable {
    private let values = Mutex(("", ""))
    func set(_ a: String, _ b: String) { values.withLock { $0 = (a, b) } }
    func get() -> (String, String) { values.withLock { $0 } }
}

@Suite("Retries and concurrent writers")
struct ConcurrencyTests {
    @Test("external_ref makes conversation creation safe to retry: the repeat answers 409 naming the original")
    func idempotentCreate() async throws {
        try await withServer { api, _ in
            let body = #"{"type":"support","title":"From email","external_ref":"msg-123@mail"}"#
            let first = try await api.post("conversations.create", body, token: adminToken)
            #expect(first.status == .created)
            #expect(first.body["conversation"]["external_ref"].string == "msg-123@mail")
            let retry = try await api.post("conversations.create", body, token: adminToken)
            #expect(retry.status == .conflict)
            #expect(retry.body["message"].string?.contains(first.body["conversation"]["display_id"].string ?? "?") == true)
            #expect(try await api.post("conversations.list", token: adminToken).body["conversations"].array.count == 1)
        }
    }

    @Test("customers cannot set external_ref: no squatting an integrator's key, no 409 naming another org's conversation")
    func customersCannotSetExternalRef() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let taken = try await api.post("conversations.create", #"{"type":"support","title":"Imported","external_ref":"ext-B-1"}"#,
                                           token: world.agentToken)
            #expect(taken.status == .created)
            let squat = try await api.post("conversations.create", #"{"type":"support","title":"p","external_ref":"ext-B-1"}"#,
                                           token: world.carolToken)
            #expect(squat.status == .forbidden)
            #expect(squat.body["message"].string?.contains("CONV-") == false, "\(squat.body)")
            let fresh = try await api.post("conversations.create", #"{"type":"support","title":"p","external_ref":"ext-C-9"}"#,
                                           token: world.carolToken)
            #expect(fresh.status == .forbidden, "refused whether or not the ref is taken")
        }
    }

    @Test("a stale version (If-Match or version) is refused with 409 and changes nothing")
    func staleWrite() async throws {
        try await withServer { api, _ in
            let created = try await api.post("conversations.create", #"{"type":"support","title":"Shared"}"#, token: adminToken)
            let id = try #require(created.body["conversation"]["id"].string)
            let version = try #require(created.body["conversation"]["version"].int)
            let first = try await api.client.execute(uri: "/conversations.update", method: .post,
                                                     headers: [.authorization: "Bearer \(adminToken)", .ifMatch: "\"\(version)\""],
                                                     body: ByteBuffer(string: #"{"id":"\#(id)","title":"Agent A"}"#)) { $0.status }
            #expect(first == .ok)
            let second = try await api.post("conversations.update", #"{"id":"\#(id)","title":"Agent B","version":\#(version)}"#, token: adminToken)
            #expect(second.status == .conflict)
            #expect(try await api.post("conversations.get", #"{"id":"\#(id)"}"#, token: adminToken).body["conversation"]["title"].string == "Agent A")
        }
    }

    @Test("concurrent updates of one conversation lose nothing")
    func concurrentUpdates() async throws {
        try await withServer { api, _ in
            let created = try await api.post("conversations.create", #"{"type":"support","title":"Busy"}"#, token: adminToken)
            let id = try #require(created.body["conversation"]["id"].string)
            var tags: [String] = []
            for index in 0..<8 {
                tags.append(try #require(try await api.post("tags.create", #"{"name":"t\#(index)"}"#, token: adminToken).body["tag"]["id"].string))
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for tag in tags {
                    group.addTask {
                        _ = try await api.post("conversations.update", #"{"id":"\#(id)","tags":{"add":[{"id":"\#(tag)"}]}}"#, token: adminToken)
                    }
                }
                try await group.waitForAll()
            }
            let final = try await api.post("conversations.get", #"{"id":"\#(id)"}"#, token: adminToken)
            #expect(final.body["conversation"]["tags"].array.count == 8, "every agent's tag is there")
        }
    }
}

@Suite("Rate limits")
struct RateLimitTests {
    @Test("per token: 429 with Retry-After and X-Ratelimit headers past the limit")
    func perToken() async throws {
        try await withServer(rateLimits: RateLimitPolicy(window: 60, perToken: 5, perAddress: 100, failedAuthentications: 3)) { api, _ in
            for _ in 0..<5 {
                let ok = try await api.client.execute(uri: "/dev-users.self", method: .get, headers: [.authorization: "Bearer \(adminToken)"]) { $0 }
                #expect(ok.status == .ok)
                #expect(ok.headers[.init("X-Ratelimit-Limit")!] == "5")
            }
            let limited = try await api.client.execute(uri: "/dev-users.self", method: .get, headers: [.authorization: "Bearer \(adminToken)"]) { $0 }
            #expect(limited.status == .tooManyRequests)
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
            #expect(limited.headers[.init("X-Ratelimit-Remaining")!] == "0")
            let body = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: limited.body))
            #expect(Doc(value: body)["type"].string == "too_many_requests")
        }
    }

    /// Issue 15 item 5: one client guessing used to lock out everyone at its address, valid tokens included.
    @Test("failed authentication is throttled much harder for the address's further guesses; a valid token still passes")
    func failedAuthentication() async throws {
        try await withServer(rateLimits: RateLimitPolicy(window: 60, perToken: 100, perAddress: 100, failedAuthentications: 3)) { api, clock in
            for _ in 0..<3 {
                let reply = try await api.post("dev-users.self", token: "guess")
                #expect(reply.status == .unauthorized)
            }
            #expect(try await api.post("dev-users.self", token: "guess").status == .tooManyRequests)
            #expect(try await api.post("dev-users.self", token: "another guess").status == .tooManyRequests, "until the window passes")
            #expect(try await api.post("dev-users.self", token: adminToken).status == .ok, "a valid token from the same address")
        }
    }
}

@Suite("Field and list limits")
struct LimitTests {
    @Test("over-long strings and over-long lists are refused naming the field")
    func limits() async throws {
        try await withServer { api, _ in
            let long = String(repeating: "a", count: 65_537)
            let title = try await api.post("conversations.create", #"{"type":"support","title":"\#(long)"}"#, token: adminToken)
            #expect(title.status == .badRequest && title.body["field_name"].string == "title")
            let many = (0..<1001).map { _ in #""DEVU-1""# }.joined(separator: ",")
            let list = try await api.post("conversations.list", #"{"owned_by":[\#(many)]}"#, token: adminToken)
            #expect(list.status == .badRequest && list.body["field_name"].string == "owned_by")
            #expect(try await api.post("conversations.list", token: adminToken).body["conversations"].array.isEmpty)
        }
    }
}
