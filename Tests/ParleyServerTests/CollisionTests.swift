import Foundation
import HTTPTypes
import ParleyCore
import Testing

@testable import ParleyServer

@Suite("Two agents on one conversation")
struct CollisionTests {
    @Test("a reply written while someone else's message arrived comes back unsent with a warning; sending again sends it")
    func repliedMeanwhile() async throws {
        try await withWebServer(testClock: true) { api, browser, world in
            let id = try await api.conversation(world.aliceToken, title: "Export fails")
            let number = try #require(ObjectID.parse(id)).number
            try await signIn(browser)
            let page = try await browser.get("/inbox/conversations/\(number)")
            let csrf = try #require(Browser.csrf(page))
            let seen = try #require(page.html.firstMatch(of: /name="seen" value="([0-9]+)"/).map { String($0.output.1) })
            // Nothing new since the page: the reply goes.
            var sent = try await browser.post("/inbox/conversations/\(number)/reply", [("_csrf", csrf), ("seen", seen), ("body", "First answer")])
            #expect(sent.status == .seeOther)
            // The customer writes again, a minute later, while Maya types her next reply on the page she has.
            _ = try await api.post("test-clock.advance", #"{"seconds":60}"#, token: adminToken)
            _ = try await api.comment(world.aliceToken, on: id, "Oh, and it also fails for PDF")
            let mine = try #require(try await browser.get("/inbox/conversations/\(number)").html.firstMatch(of: /name="seen" value="([0-9]+)"/)
                .map { String($0.output.1) })
            _ = try await api.post("test-clock.advance", #"{"seconds":60}"#, token: adminToken)
            _ = try await api.comment(world.aliceToken, on: id, "Never mind, PDF works")
            sent = try await browser.post("/inbox/conversations/\(number)/reply", [("_csrf", csrf), ("seen", mine), ("body", "About the PDF: <fixed>")])
            #expect(sent.status == .conflict)
            #expect(sent.html.contains("Alice wrote while you were writing"))
            #expect(sent.html.contains(">About the PDF: &lt;fixed&gt;</textarea>"), "the reply is still there")
            #expect(sent.html.contains("name=\"send_anyway\" value=\"yes\""))
            let timeline = try await api.get("timeline-entries.list?object=\(id)", token: world.agentToken)
            #expect(!timeline.body["timeline_entries"].array.contains { $0["body"].string == "About the PDF: <fixed>" }, "not sent")
            // Sending again, as it is.
            sent = try await browser.post("/inbox/conversations/\(number)/reply",
                                          [("_csrf", csrf), ("seen", mine), ("send_anyway", "yes"), ("body", "About the PDF: <fixed>")])
            #expect(sent.status == .seeOther)
            let after = try await api.get("timeline-entries.list?object=\(id)", token: world.agentToken)
            #expect(after.body["timeline_entries"].array.contains { $0["body"].string == "About the PDF: <fixed>" })
            // Her own message is not "someone else's".
            _ = try await api.post("test-clock.advance", #"{"seconds":60}"#, token: adminToken)
            sent = try await browser.post("/inbox/conversations/\(number)/reply", [("_csrf", csrf), ("seen", mine), ("body", "And one more thing")])
            #expect(sent.status == .seeOther)
        }
    }

    @Test("agents on one conversation see each other, viewing or typing, until they leave")
    func presence() async throws {
        try await withWebServer(testClock: true) { api, browser, world in
            let id = try await api.conversation(world.aliceToken, title: "Export fails")
            let number = try #require(ObjectID.parse(id)).number
            let created = try await api.post("dev-users.create", #"{"email":"sam@support.test","display_name":"Sam"}"#, token: adminToken)
            let samID = try #require(created.body["dev_user"]["id"].string)
            let samToken = try #require(try await api.post("auth-tokens.create", #"{"act_as":"\#(samID)"}"#, token: adminToken).body["access_token"].string)
            try await signIn(browser)
            let maya = try await browser.get("/inbox/conversations/\(number)")
            #expect(maya.html.contains("data-presence=\"/inbox/conversations/\(number)/presence\"></p>"), "alone at first")
            let mayaCSRF = try #require(Browser.csrf(maya))
            let sam = Browser(browser.client)
            #expect(try await sam.post("/inbox/sign-in", [("token", samToken)]).location == "/inbox")
            let samPage = try await sam.get("/inbox/conversations/\(number)")
            #expect(samPage.html.contains(">Maya is viewing this conversation</p>"))
            let samCSRF = try #require(Browser.csrf(samPage))
            _ = try await sam.post("/inbox/conversations/\(number)/presence", [("_csrf", samCSRF), ("state", "typing")])
            var heard = try await browser.post("/inbox/conversations/\(number)/presence", [("_csrf", mayaCSRF), ("state", "viewing")])
            #expect(heard.status == .ok)
            #expect(heard.html == #"{"presence":"Sam is typing a reply"}"#)
            // Sam closes the page: once his entry expires, Maya is alone again.
            _ = try await api.post("test-clock.advance", #"{"seconds":30}"#, token: adminToken)
            heard = try await browser.post("/inbox/conversations/\(number)/presence", [("_csrf", mayaCSRF), ("state", "viewing")])
            #expect(heard.html == #"{"presence":""}"#)
            #expect(try await browser.post("/inbox/conversations/\(number)/presence", [("state", "viewing")]).status == .forbidden, "CSRF-checked")
        }
    }
}
