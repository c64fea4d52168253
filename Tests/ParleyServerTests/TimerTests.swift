import Hummingbird
import ParleyApp
import ParleyCore
import ParleyServer
import Testing

@Suite("Timers and system tags on the test clock")
struct TimerTests {
    func tags(_ api: API, _ id: String) async throws -> [String] {
        try await api.post("conversations.get", #"{"id":"\#(id)"}"#, token: adminToken).body["conversation"]["tags"].array
            .compactMap { $0["tag"]["name"].string }
    }

    func advance(_ api: API, hours: Double) async throws {
        let reply = try await api.post("test-clock.advance", #"{"seconds":\#(Int(hours * 3600))}"#, token: adminToken)
        #expect(reply.status == .ok, "\(reply.body)")
    }

    @Test("test-clock.advance exists only with --test-clock, for admins")
    func endpoint() async throws {
        try await withServer { api, _ in
            let reply = try await api.post("test-clock.advance", #"{"seconds":60}"#, token: adminToken)
            #expect(reply.status == .notFound)
        }
        try await withServer(testClock: true) { api, clock in
            let before = clock.now()
            let reply = try await api.post("test-clock.advance", #"{"seconds":60}"#, token: adminToken)
            #expect(reply.status == .ok)
            #expect(clock.now() == before + 60)
            let world = try await World.make(api)
            #expect(try await api.post("test-clock.advance", #"{"seconds":60}"#, token: world.agentToken).status == .forbidden)
        }
    }

    @Test("Stalled appears after the quiet time in waiting_on_user and goes on activity")
    func stalled() async throws {
        try await withServer(testClock: true) { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            _ = try await api.comment(world.agentToken, on: id, "Which version?")
            try await advance(api, hours: 71)
            #expect(try await tags(api, id).isEmpty)
            try await advance(api, hours: 1.5)
            #expect(try await tags(api, id) == ["Stalled"])
            let events = try await api.post("timeline-entries.list", #"{"object":"\#(id)","collections":["events"]}"#, token: adminToken)
            #expect(events.body["timeline_entries"].array.contains { $0["event"]["field"].string?.contains("Stalled on: no activity for 72 hours") == true })
            _ = try await api.comment(world.aliceToken, on: id, "2.3")
            #expect(try await tags(api, id).contains("Stalled") == false)
            #expect(try await api.stage(of: id) == "needs_response")
        }
    }

    @Test("a resolved conversation archives itself after seven days unless the customer replies")
    func autoArchive() async throws {
        try await withServer(testClock: true) { api, _ in
            let world = try await World.make(api)
            func resolved() async throws -> String {
                let id = try await api.conversation(world.aliceToken)
                _ = try await api.comment(world.agentToken, on: id, "Fixed")
                _ = try await api.post("conversations.update",
                    #"{"id":"\#(id)","stage":{"name":"resolved"},"tags":{"add":[{"id":"Resolution","value":"fixed"}]}}"#, token: world.agentToken)
                return id
            }
            let quiet = try await resolved()
            let answered = try await resolved()
            try await advance(api, hours: 24 * 6)
            _ = try await api.comment(world.aliceToken, on: answered, "Actually, one more question")
            try await advance(api, hours: 25)
            #expect(try await api.stage(of: quiet) == "archived")
            #expect(try await api.stage(of: answered) == "needs_response")
            try await advance(api, hours: 24 * 8)
            #expect(try await api.stage(of: answered) == "needs_response", "no archive timer outside resolved")
        }
    }

    @Test("Fast Moving with several messages in an hour, Slow Moving when the customer waits a day")
    func pace() async throws {
        try await withServer(testClock: true) { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            for (index, token) in [world.agentToken, world.aliceToken, world.agentToken].enumerated() {
                try await advance(api, hours: 0.1)
                _ = try await api.comment(token, on: id, "message \(index)")
            }
            #expect(try await tags(api, id) == ["Fast Moving"], "four public messages within an hour")
            try await advance(api, hours: 1)
            #expect(try await tags(api, id).isEmpty, "the window passed")
            _ = try await api.comment(world.aliceToken, on: id, "hello?")
            #expect(try await api.stage(of: id) == "needs_response")
            try await advance(api, hours: 25)
            #expect(try await tags(api, id) == ["Slow Moving"])
            _ = try await api.comment(world.agentToken, on: id, "Sorry for the wait")
            #expect(try await tags(api, id).contains("Slow Moving") == false)
        }
    }

    @Test("pending deadlines survive a restart")
    func restart() async throws {
        let path = temporaryDatabase()
        defer { removeDatabase(at: path) }
        let clock = ManualClock(Date(timeIntervalSince1970: 1_750_000_000))
        let box = Box()
        try await withServer(path: path, clock: clock, testClock: true) { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            _ = try await api.comment(world.agentToken, on: id, "Waiting for you")
            box.set(id, "")
        }
        clock.advance(by: 80 * 3600)
        try await withServer(path: path, clock: clock, testClock: true) { api, _ in
            let (id, _) = box.get()
            try await advance(api, hours: 0)
            #expect(try await tags(api, id) == ["Stalled"], "the deadline missed while down fires")
        }
    }
}

@Suite("Server-kept tags")
struct ServerKeptTagTests {
    @Test("agents cannot set or clear Stalled, Blocked, Fast or Slow Moving; tags.set keeps them")
    func serverKept() async throws {
        try await withServer(testClock: true) { api, _ in
            let world = try await World.make(api)
            let id = try await api.conversation(world.aliceToken)
            let byHand = try await api.post("conversations.update", #"{"id":"\#(id)","tags":{"add":[{"id":"Stalled"}]}}"#, token: world.agentToken)
            #expect(byHand.status == .badRequest && byHand.body["field_name"].string == "tags")
            _ = try await api.comment(world.agentToken, on: id, "reply")
            _ = try await api.post("test-clock.advance", #"{"seconds":\#(73 * 3600)}"#, token: adminToken)
            let set = try await api.post("conversations.update", #"{"id":"\#(id)","tags":{"set":[{"id":"TAG-2"}]}}"#, token: world.agentToken)
            #expect(Set(set.body["conversation"]["tags"].array.compactMap { $0["tag"]["name"].string }) == ["Priority/Escalated", "Stalled"])
        }
    }
}
