import Foundation
import HTTPTypes
import ParleyCore
import Testing

@testable import ParleyServer

@Suite("Inbox bulk actions")
struct BulkActionTests {
    @Test("selected rows: resolve three with a resolution, assign, tag; what the stage machine refuses is left and counted")
    func bulk() async throws {
        try await withWebServer { api, browser, world in
            var numbers: [Int] = []
            for title in ["One", "Two", "Three"] {
                let id = try await api.conversation(world.aliceToken, title: title)
                _ = try await api.comment(world.agentToken, on: id, "Looking")
                _ = try await api.comment(world.aliceToken, on: id, "Thanks")
                numbers.append(try #require(ObjectID.parse(id)).number)
            }
            let fresh = try await api.conversation(world.aliceToken, title: "Still new")
            let freshNumber = try #require(ObjectID.parse(fresh)).number
            try await signIn(browser)
            let page = try await browser.get("/inbox?view=needs_response")
            #expect(page.html.contains("id=\"bulk\""))
            #expect(page.html.contains("name=\"selected\" value=\"\(numbers[0])\" form=\"bulk\""))
            let csrf = try #require(Browser.csrf(page))
            // Hold: the three in Needs response move, the New one cannot (New → Hold is not allowed).
            var sent = try await browser.post("/inbox/bulk?view=needs_response",
                                              [("_csrf", csrf), ("action", "hold")] + (numbers + [freshNumber]).map { ("selected", String($0)) })
            #expect(sent.location == "/inbox?view=needs_response&scope=all&done=bulk&changed=3&refused=1")
            let notice = try await browser.get(try #require(sent.location)).html
            #expect(notice.contains("3 conversations changed. 1 was left as it is"))
            #expect(try await api.stage(of: fresh) == "new")
            sent = try await browser.post("/inbox/bulk?view=hold", [("_csrf", csrf), ("action", "resolve"), ("resolution", "fixed")]
                                          + numbers.map { ("selected", String($0)) })
            #expect(sent.location == "/inbox?view=hold&scope=all&done=bulk&changed=3&refused=0")
            for number in numbers {
                #expect(try await api.stage(of: ObjectID(.conversation, number).don) == "resolved")
            }
            let resolved = try await api.get("conversations.get?id=CONV-\(numbers[0])", token: world.agentToken)
            #expect(resolved.body["conversation"]["tags"].array.contains { $0["value"].string == "fixed" })
            // Assign to Maya, from her own list.
            sent = try await browser.post("/inbox/bulk", [("_csrf", csrf), ("action", "assign"), ("owner", world.agent), ("selected", String(freshNumber))])
            #expect(sent.location?.hasSuffix("done=bulk&changed=1&refused=0") == true)
            let owned = try await api.get("conversations.get?id=\(fresh)", token: world.agentToken)
            #expect(owned.body["conversation"]["owned_by"][0]["id"].string == world.agent)
            let vip = try #require(try await api.post("tags.create", #"{"name":"VIP"}"#, token: world.agentToken).body["tag"]["id"].string)
            sent = try await browser.post("/inbox/bulk", [("_csrf", csrf), ("action", "tag"), ("tag", "VIP"), ("selected", String(freshNumber))])
            #expect(sent.location?.hasSuffix("done=bulk&changed=1&refused=0") == true)
            let tagged = try await api.get("conversations.get?id=\(fresh)", token: world.agentToken)
            #expect(tagged.body["conversation"]["tags"].array.contains { $0["tag"]["id"].string == vip })
            // No selection, an unknown action, no CSRF token: refused, nothing changes.
            sent = try await browser.post("/inbox/bulk", [("_csrf", csrf), ("action", "hold")])
            #expect(sent.location?.contains("error=missing_required_field") == true)
            sent = try await browser.post("/inbox/bulk", [("_csrf", csrf), ("action", "delete"), ("selected", String(freshNumber))])
            #expect(sent.location?.contains("error=") == true)
            #expect(try await browser.post("/inbox/bulk", [("action", "hold"), ("selected", String(freshNumber))]).status == .forbidden)
            #expect(try await api.stage(of: fresh) == "new")
        }
    }
}
