import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ParleyApp
import ParleyCore
import ParleyServer
import ParleyStore
import Testing

/// A browser's view of the server: cookies kept between requests, forms posted as browsers post them.
final class Browser: @unchecked Sendable {
    struct Page {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var html: String
        var location: String? { headers[.location] }
    }

    let client: any TestClientProtocol
    var cookies: [String: String] = [:]

    init(_ client: any TestClientProtocol) { self.client = client }

    func get(_ path: String) async throws -> Page { try await send(path, method: .get, body: nil) }

    func post(_ path: String, _ form: [(String, String)], origin: String? = nil) async throws -> Page {
        var form = form
        // As a browser does, sign in from the sign-in page, whose form carries its token.
        if path == "/inbox/sign-in", !form.contains(where: { $0.0 == "_csrf" }) {
            form.append(("_csrf", Self.csrf(try await get(path)) ?? ""))
        }
        let body = form.map { "\(percentEncoded($0.0))=\(percentEncoded($0.1))" }.joined(separator: "&")
        return try await send(path, method: .post, body: body, origin: origin)
    }

    /// Posts a `multipart/form-data` form with files, as a browser posts a form with `enctype` set.
    func postMultipart(_ path: String, _ fields: [(String, String)], files: [(field: String, name: String, content: [UInt8])]) async throws -> Page {
        let (body, type) = Multipart.body(fields, files: files)
        return try await send(path, method: .post, bytes: body, contentType: type)
    }

    /// The CSRF token of the first form on a page.
    static func csrf(_ page: Page) -> String? {
        guard let range = page.html.range(of: "name=\"_csrf\" value=\"") else { return nil }
        return String(page.html[range.upperBound...].prefix { $0 != "\"" })
    }

    private func send(_ path: String, method: HTTPRequest.Method, body: String?, origin: String? = nil) async throws -> Page {
        try await send(path, method: method, bytes: body.map { Array($0.utf8) }, contentType: body == nil ? nil : "application/x-www-form-urlencoded",
                       origin: origin)
    }

    private func send(_ path: String, method: HTTPRequest.Method, bytes: [UInt8]?, contentType: String?, origin: String? = nil) async throws -> Page {
        var headers: HTTPFields = [:]
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        if let contentType { headers[.contentType] = contentType }
        if let origin { headers[.origin] = origin }
        let page = try await client.execute(uri: path, method: method, headers: headers, body: bytes.map { ByteBuffer(bytes: $0) }) { response in
            Page(status: response.status, headers: response.headers, html: String(buffer: response.body))
        }
        for cookie in page.headers[values: .setCookie] {
            let pair = cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            let value = pair.count > 1 ? String(pair[1]) : ""
            if value.isEmpty || cookie.contains("Max-Age=0") { cookies[String(pair[0])] = nil } else { cookies[String(pair[0])] = value }
        }
        return page
    }

    private func percentEncoded(_ text: String) -> String {
        text.utf8.map { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): String(UnicodeScalar(byte))
            default: "%" + String(byte, radix: 16, uppercase: true).leftPadded2
            }
        }.joined()
    }
}

private extension String {
    var leftPadded2: String { count < 2 ? "0" + self : self }
}

/// Runs `body` with a server whose agent maya@support.test (`world.agent`) has the password "correct horse battery".
func withWebServer(rateLimits: RateLimitPolicy = RateLimitPolicy(), testClock: Bool = false, allowPrivateWebhooks: Bool = false,
                           _ body: @Sendable (API, Browser, World) async throws -> Void) async throws {
    let clock = ManualClock(Date(timeIntervalSince1970: 1_750_000_000))
    let path = temporaryDatabase()
    defer { removeDatabase(at: path) }
    var configuration = AppConfiguration(databasePath: path, adminToken: adminToken, logLevel: .warning,
                                         testClock: testClock ? clock : nil)
    configuration.rateLimits = rateLimits
    configuration.allowPrivateWebhooks = allowPrivateWebhooks
    let server = try await buildApplication(configuration, clock: clock)
    do {
        try await server.application.test(.router) { client in
            let api = API(client: client)
            let world = try await World.make(api)
            let maya = try #require(try await server.store.find(DevUser.self, key: "email", value: "maya@support.test").first)
            try await server.app.setPasswordHash(try PasswordHash.make("correct horse battery", rounds: 1_000), of: maya.number, at: Date())
            try await body(api, Browser(client), world)
        }
    } catch {
        try await server.close()
        throw error
    }
    try await server.close()
}

func signIn(_ browser: Browser) async throws {
    let page = try await browser.post("/inbox/sign-in", [("email", "Maya@support.test"), ("password", "correct horse battery")])
    #expect(page.status == .seeOther)
    #expect(page.location == "/inbox")
}

@Suite("Web inbox and widget")
struct WebTests {
    @Test("sign-in: a wrong password is refused, a right one sets an HttpOnly SameSite cookie; sign-out ends the session")
    func signInAndOut() async throws {
        try await withWebServer { _, browser, _ in
            #expect(try await browser.get("/inbox").location == "/inbox/sign-in")
            let wrong = try await browser.post("/inbox/sign-in", [("email", "maya@support.test"), ("password", "not the password")])
            #expect(wrong.status == .unauthorized)
            #expect(browser.cookies["parley_inbox"] == nil, "no session")
            let page = try await browser.post("/inbox/sign-in", [("email", "maya@support.test"), ("password", "correct horse battery")])
            let cookie = try #require(page.headers[.setCookie])
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("SameSite=Lax"))
            #expect(cookie.contains("Path=/inbox"))
            let inbox = try await browser.get("/inbox")
            #expect(inbox.status == .ok)
            #expect(inbox.headers[.contentSecurityPolicy]?.contains("frame-ancestors 'none'") == true)
            #expect(inbox.html.contains("Needs response"))
            let csrf = try #require(Browser.csrf(inbox))
            let session = try #require(browser.cookies["parley_inbox"])
            #expect(try await browser.post("/inbox/sign-out", [("_csrf", csrf)]).location == "/inbox/sign-in")
            browser.cookies["parley_inbox"] = session
            #expect(try await browser.get("/inbox").location == "/inbox/sign-in", "a signed-out session is gone for good")
        }
    }

    @Test("a personal access token signs in too; the web session cookie is not an API token")
    func tokenSignIn() async throws {
        try await withWebServer { api, browser, world in
            let page = try await browser.post("/inbox/sign-in", [("token", world.agentToken)])
            #expect(page.location == "/inbox")
            let session = try #require(browser.cookies["parley_inbox"])
            #expect(try await api.post("conversations.list", token: session).status == .unauthorized)
            // A customer's session token does not open the inbox.
            let customer = Browser(browser.client)
            #expect(try await customer.post("/inbox/sign-in", [("token", world.aliceToken)]).status == .unauthorized)
        }
    }

    @Test("Needs response lists Reply buttons; a reply from the page moves the conversation to Waiting on user")
    func replyFromInbox() async throws {
        try await withWebServer { api, browser, world in
            let id = try await api.conversation(world.aliceToken, title: "Refund please", message: "Charged twice")
            _ = try await api.comment(world.agentToken, on: id, "Looking")
            _ = try await api.comment(world.aliceToken, on: id, "Any news?")
            try await signIn(browser)
            let inbox = try await browser.get("/inbox?view=needs_response")
            #expect(inbox.html.contains("data-action=\"reply\""))
            #expect(inbox.html.contains("Refund please"))
            let number = try #require(ObjectID.parse(id)).number
            let page = try await browser.get("/inbox/conversations/\(number)")
            let csrf = try #require(Browser.csrf(page))
            let sent = try await browser.post("/inbox/conversations/\(number)/reply", [("_csrf", csrf), ("body", "Refunded today"), ("visibility", "external")])
            #expect(sent.status == .seeOther)
            #expect(try await api.stage(of: id) == "waiting_on_user")
            // An internal note stays out of the customer's widget.
            _ = try await browser.post("/inbox/conversations/\(number)/reply", [("_csrf", csrf), ("body", "Secret note"), ("visibility", "internal")])
            #expect(try await browser.get("/inbox/conversations/\(number)").html.contains("Secret note"))
            let widget = Browser(browser.client)
            #expect(try await widget.get("/widget?token=\(world.aliceToken)").location == "/widget")
            let thread = try await widget.get("/widget/conversations/\(number)")
            #expect(thread.html.contains("Refunded today"))
            #expect(!thread.html.contains("Secret note"))
        }
    }

    @Test("a reply form with a visibility outside external and internal is refused, never sent to the customer")
    func replyVisibilityFailsClosed() async throws {
        try await withWebServer { api, browser, world in
            let id = try await api.conversation(world.aliceToken, title: "Typo", message: "Hello")
            try await signIn(browser)
            let number = try #require(ObjectID.parse(id)).number
            let page = try await browser.get("/inbox/conversations/\(number)")
            let csrf = try #require(Browser.csrf(page))
            let sent = try await browser.post("/inbox/conversations/\(number)/reply?view=new&scope=mine",
                                              [("_csrf", csrf), ("body", "Meant as a note <b>"), ("visibility", "internl")])
            #expect(sent.status == .badRequest, "the page again, saying why")
            #expect(sent.html.contains(">Meant as a note &lt;b&gt;</textarea>"), "with what was typed, escaped")
            #expect(sent.html.contains("view=new&amp;scope=mine") || sent.html.contains("view=new&scope=mine"), "in the view it was opened from")
            #expect(sent.html.contains("class=\"flash"), "and the notice")
            #expect(try await api.stage(of: id) == "new", "nothing was sent")
            let widget = Browser(browser.client)
            _ = try await widget.get("/widget?token=\(world.aliceToken)")
            #expect(try await !widget.get("/widget/conversations/\(number)").html.contains("Meant as a note"))
            #expect(try await !browser.get("/inbox/conversations/\(number)").html.contains("Meant as a note"))
        }
    }

    @Test("forms without this session's CSRF token, or from another origin, are refused")
    func csrf() async throws {
        try await withWebServer { api, browser, world in
            let id = try await api.conversation(world.aliceToken)
            let number = try #require(ObjectID.parse(id)).number
            try await signIn(browser)
            let page = try await browser.get("/inbox/conversations/\(number)")
            let csrf = try #require(Browser.csrf(page))
            let missing = try await browser.post("/inbox/conversations/\(number)/reply", [("body", "Hello")])
            #expect(missing.status == .forbidden)
            let forged = try await browser.post("/inbox/conversations/\(number)/reply", [("_csrf", String(csrf.reversed())), ("body", "Hello")])
            #expect(forged.status == .forbidden)
            let crossSite = try await browser.post("/inbox/conversations/\(number)/reply", [("_csrf", csrf), ("body", "Hello")],
                                                   origin: "https://evil.example")
            #expect(crossSite.status == .forbidden)
            #expect(try await api.stage(of: id) == "new", "nothing was posted")
        }
    }

    @Test("HTML and script in titles and messages render as text")
    func escaping() async throws {
        try await withWebServer { api, browser, world in
            let id = try await api.conversation(world.aliceToken, title: "<img src=x onerror=alert(1)>", message: "<script>alert('x')</script>")
            let number = try #require(ObjectID.parse(id)).number
            try await signIn(browser)
            let inbox = try await browser.get("/inbox?view=new")
            #expect(inbox.html.contains("&lt;img src=x onerror=alert(1)&gt;"))
            #expect(!inbox.html.contains("<img src=x"))
            let page = try await browser.get("/inbox/conversations/\(number)")
            #expect(page.html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
            #expect(!page.html.contains("<script>alert"))
            // Issue 15, item 13: a link's ?error= text never reaches the page; only known codes do.
            let error = try await browser.get("/inbox?error=%3Cb%3Ehi%3C%2Fb%3E+Sign+in+at+evil.example")
            #expect(!error.html.contains("hi&lt;/b&gt;") && !error.html.contains("evil.example") && !error.html.contains("<b>hi"))
            let coded = try await browser.get("/inbox?error=conflict&field=Sign+in+at+evil.example")
            #expect(coded.html.contains("Someone changed this meanwhile") && !coded.html.contains("evil.example"))
            // NUL and bidirectional overrides are neutralised.
            let tricky = try await api.conversation(world.aliceToken, title: "invoice\u{202E}fdp.exe", message: "nul\\u0000here")
            let trickyPage = try await browser.get("/inbox/conversations/\(try #require(ObjectID.parse(tricky)).number)")
            #expect(!trickyPage.html.contains("\u{202E}") && !trickyPage.html.contains("\u{0}"))
            #expect(trickyPage.html.contains("invoice\u{FFFD}fdp.exe"))
        }
    }

    @Test("the widget: a session token becomes a cookie; Yes answers a proposal; resolved conversations still show; a reply reopens")
    func widget() async throws {
        try await withWebServer { api, browser, world in
            let id = try await api.conversation(world.aliceToken, title: "Export fails")
            let number = try #require(ObjectID.parse(id)).number
            let widget = Browser(browser.client)
            #expect(try await widget.get("/widget?token=not-a-token").status == .unauthorized)
            let exchange = try await widget.get("/widget?token=\(world.aliceToken)")
            #expect(exchange.location == "/widget")
            #expect(exchange.headers[.setCookie]?.contains("Path=/widget") == true)
            #expect(exchange.headers[.setCookie]?.contains("Max-Age=7776000") == true, "the cookie lives as long as the session token (World's are minted for 90 days)")
            #expect(try await widget.get("/widget").html.contains("Export fails"))
            // The agent proposes a resolution; the widget asks; Yes resolves.
            let proposed = try await api.post("conversations.resolution.propose", #"{"id":"\#(id)","body":"Fixed in 2.1"}"#, token: world.agentToken)
            #expect(proposed.status == .ok)
            var thread = try await widget.get("/widget/conversations/\(number)")
            #expect(thread.html.contains("Yes, that solved it"))
            let csrf = try #require(Browser.csrf(thread))
            let answered = try await widget.post("/widget/conversations/\(number)/resolution", [("_csrf", csrf), ("confirmed", "yes")])
            #expect(answered.location == "/widget/conversations/\(number)")
            #expect(try await widget.get("/widget/conversations/\(number)").html.contains("Thanks for confirming"))
            // The answer goes back to the team (needs_response, confirmed), who resolve it.
            #expect(try await api.stage(of: id) == "needs_response")
            let resolved = try await api.post("conversations.update",
                #"{"id":"\#(id)","stage":{"name":"resolved"},"tags":{"add":[{"id":"TAG-6","value":"fixed"}]}}"#, token: world.agentToken)
            #expect(resolved.status == .ok, "\(resolved.body)")
            let home = try await widget.get("/widget")
            #expect(home.html.contains("Export fails"))
            #expect(home.html.contains("data-state=\"resolved\""))
            thread = try await widget.get("/widget/conversations/\(number)")
            #expect(thread.html.contains("Writing again reopens it"))
            _ = try await widget.post("/widget/conversations/\(number)/reply", [("_csrf", csrf), ("body", "It broke again")])
            #expect(try await api.stage(of: id) == "needs_response")
            #expect(try await !widget.get("/widget/conversations/\(number)").html.contains("Thanks for confirming"),
                    "reopened by writing again: the old confirmation is gone")
            #expect(!home.html.contains("style="), "no inline style (the page's CSP blocks them)")
            // Another customer cannot open it.
            let bob = Browser(browser.client)
            _ = try await bob.get("/widget?token=\(world.bobToken)")
            #expect(try await bob.get("/widget/conversations/\(number)").status == .notFound)
            // Starting a conversation from the widget.
            let started = try await widget.post("/widget/conversations", [("_csrf", csrf), ("title", "New question"), ("body", "How do I invite a colleague?")])
            #expect(started.location?.hasPrefix("/widget/conversations/") == true)
        }
    }

    @Test("the conversation page tells its history in plain words, with names, never field names or ids")
    func timelineInPlainWords() async throws {
        try await withWebServer { api, browser, world in
            let id = try await api.conversation(world.aliceToken, title: "Export fails")
            let number = try #require(ObjectID.parse(id)).number
            #expect(try await api.post("conversations.resolution.propose", #"{"id":"\#(id)","body":"Fixed in 2.1"}"#, token: world.agentToken).status == .ok)
            #expect(try await api.post("conversations.resolution.confirm", #"{"id":"\#(id)","confirmed":true}"#, token: world.aliceToken).status == .ok)
            #expect(try await api.post("conversations.update",
                #"{"id":"\#(id)","stage":{"name":"resolved"},"tags":{"add":[{"id":"TAG-6","value":"fixed"}]}}"#, token: world.agentToken).status == .ok)
            _ = try await api.post("timeline-entries.create", #"{"type":"timeline_comment","object":"\#(id)","body":"It broke again"}"#, token: world.aliceToken)
            try await signIn(browser)
            let html = try await browser.get("/inbox/conversations/\(number)").html
            let events = html.split(separator: "<div class=\"event\"").dropFirst().map { String($0.prefix(while: { $0 != "<" })) }
            for sentence in ["Alice opened the conversation", "Assigned to Maya, the customer org&#39;s default owner",
                             "Maya asked the customer to confirm the resolution", "Alice confirmed that the proposed resolution solved it",
                             "Maya tagged it Resolution: fixed", "Needs response → Resolved: Maya moved it, after the customer confirmed the resolution",
                             "Resolved → Needs response: Alice wrote", "Alice wrote again, withdrawing their answer to the proposed resolution"] {
                #expect(events.contains { $0.contains(sentence) }, "\(sentence) in \(events)")
            }
            for machine in ["resolution_check", "org_default_owner", "DEVU-", "REVU-", "TAG-", "changed from"] {
                #expect(!events.contains { $0.contains(machine) }, "no \(machine) in \(events)")
            }
            #expect(html.contains("<dt>Routing</dt><dd>the customer org&#39;s default owner; priority for a new org (under 30 days old)</dd>"))
            #expect(!html.contains("verify and resolve"), "reopened: the confirmation no longer stands")
        }
    }

    @Test("a conversation the customer confirmed as solved says so, on its row and its page, until it is resolved")
    func confirmedShows() async throws {
        try await withWebServer { api, browser, world in
            let id = try await api.conversation(world.aliceToken, title: "Export fails")
            let number = try #require(ObjectID.parse(id)).number
            #expect(try await api.post("conversations.resolution.propose", #"{"id":"\#(id)","body":"Fixed in 2.1"}"#, token: world.agentToken).status == .ok)
            try await signIn(browser)
            #expect(try await !browser.get("/inbox?view=all").html.contains("customer confirmed: verify and resolve"))
            #expect(try await api.post("conversations.resolution.confirm", #"{"id":"\#(id)","confirmed":true}"#, token: world.aliceToken).status == .ok)
            let row = try await browser.get("/inbox?view=needs_response").html
            #expect(row.contains("data-conversation=\"CONV-\(number)\"") && row.contains("customer confirmed: verify and resolve"))
            #expect(try await browser.get("/inbox/conversations/\(number)").html.contains("The customer confirmed the proposed resolution: verify and resolve."))
            #expect(try await api.post("conversations.update",
                #"{"id":"\#(id)","stage":{"name":"resolved"},"tags":{"add":[{"id":"TAG-6","value":"fixed"}]}}"#, token: world.agentToken).status == .ok)
            #expect(try await !browser.get("/inbox?view=all").html.contains("verify and resolve"))
        }
    }

    @Test("each row shows who asked and the latest public message, never a note; a deleted message leaves the row")
    func rowsShowRequesterAndPreview() async throws {
        try await withWebServer { api, browser, world in
            let id = try await api.conversation(world.aliceToken, title: "Export fails", message: "The CSV   export\\nis empty")
            try await signIn(browser)
            var page = try await browser.get("/inbox?view=all").html
            #expect(page.contains("<span class=\"requester\">Alice</span> · <span class=\"muted\">The CSV export is empty</span>"))
            _ = try await api.post("timeline-entries.create", #"{"type":"timeline_comment","object":"\#(id)","body":"Which browser?"}"#, token: world.agentToken)
            _ = try await api.post("timeline-entries.create",
                #"{"type":"timeline_comment","object":"\#(id)","body":"secret note","visibility":"internal"}"#, token: world.agentToken)
            page = try await browser.get("/inbox?view=all").html
            #expect(page.contains("<span class=\"muted\">Maya: Which browser?</span>"), "the agent's reply, not the note")
            #expect(!page.contains("secret note"))
            let reply = try await api.post("timeline-entries.create", #"{"type":"timeline_comment","object":"\#(id)","body":"my password is hunter2"}"#,
                                           token: world.aliceToken)
            #expect(try await browser.get("/inbox?view=all").html.contains("my password is hunter2"))
            let entry = try #require(reply.body["timeline_entry"]["id"].string)
            #expect(try await api.post("timeline-entries.delete", #"{"id":"\#(entry)"}"#, token: world.aliceToken).status == .ok)
            page = try await browser.get("/inbox?view=all").html
            #expect(!page.contains("hunter2"), "a deleted message's words leave the row")
            #expect(page.contains("<span class=\"requester\">Alice</span>"))
        }
    }

    @Test("a conversation's page links the previous and next conversation of the view it was opened from")
    func previousAndNext() async throws {
        try await withWebServer { api, browser, world in
            var numbers: [Int] = []
            for title in ["First", "Second", "Third"] {
                let id = try await api.conversation(world.aliceToken, title: title, message: "Help")
                numbers.append(try #require(ObjectID.parse(id)).number)
            }
            try await signIn(browser)
            let inbox = try await browser.get("/inbox?view=all").html
            #expect(numbers.allSatisfy { inbox.contains("/inbox/conversations/\($0)?") })
            // The view's own order (priority, then longest waiting) is the order the pages walk.
            let listed = numbers.sorted { a, b in
                (inbox.range(of: "/inbox/conversations/\(a)?")?.lowerBound ?? inbox.endIndex)
                    < (inbox.range(of: "/inbox/conversations/\(b)?")?.lowerBound ?? inbox.endIndex)
            }
            func links(_ number: Int) async throws -> (previous: Bool, next: Bool, html: String) {
                let html = try await browser.get("/inbox/conversations/\(number)?view=all").html
                return (html.contains("rel=\"prev\""), html.contains("rel=\"next\""), html)
            }
            let middle = try await links(listed[1])
            #expect(middle.html.contains("rel=\"prev\" href=\"/inbox/conversations/\(listed[0])?"))
            #expect(middle.html.contains("rel=\"next\" href=\"/inbox/conversations/\(listed[2])?"))
            let first = try await links(listed[0]), last = try await links(listed[2])
            #expect(!first.previous && first.next && last.previous && !last.next)
        }
    }

    @Test("search finds messages; the org filter takes a name; stage counts show")
    func searchAndCounts() async throws {
        try await withWebServer { api, browser, world in
            _ = try await api.conversation(world.aliceToken, title: "Invoice question", message: "The VAT number is wrong")
            _ = try await api.conversation(world.bobToken, title: "Login loops", message: "Redirects forever")
            try await signIn(browser)
            let results = try await browser.get("/inbox?view=all&q=vat")
            #expect(results.html.contains("Invoice question"))
            #expect(!results.html.contains("Login loops"))
            _ = try await api.conversation(world.carolToken, title: "Globex export", message: "CSV is empty")
            let inbox = try await browser.get("/inbox?view=new")
            #expect(inbox.html.contains("id=\"count-new\">3<"))
            let globex = try await browser.get("/inbox?view=new&org=Globex")
            #expect(globex.html.contains("Globex export"))
            #expect(!globex.html.contains("Login loops"))
            #expect(try await browser.get("/inbox?view=new&org=Nobody+Inc").html.contains("Nothing here"))
        }
    }

    @Test("group members: add, list with cursors, remove; My groups shows the groups' conversations")
    func groupMembers() async throws {
        try await withWebServer { api, browser, world in
            let group = try #require(try await api.post("groups.create", #"{"name":"Billing"}"#, token: world.agentToken).body["group"]["id"].string)
            #expect(try await api.post("groups.members.add", #"{"group":"\#(group)","member":"\#(world.agent)"}"#, token: world.agentToken).status == .ok)
            #expect(try await api.post("groups.members.add", #"{"group":"\#(group)","member":"\#(world.otherAgent)"}"#, token: world.agentToken).status == .ok)
            #expect(try await api.post("groups.members.add", #"{"group":"\#(group)","member":"\#(world.agent)"}"#, token: world.agentToken).status == .ok,
                    "adding a member twice is harmless")
            let first = try await api.post("groups.members.list", #"{"group":"\#(group)","limit":1}"#, token: world.agentToken)
            #expect(first.body["members"].array.map { $0["member"]["id"].string } == [world.agent])
            let cursor = try #require(first.body["next_cursor"].string)
            let second = try await api.post("groups.members.list", #"{"group":"\#(group)","limit":1,"cursor":"\#(cursor)"}"#, token: world.agentToken)
            #expect(second.body["members"].array.map { $0["member"]["id"].string } == [world.otherAgent])
            #expect(second.body["next_cursor"].isNull)
            #expect(try await api.post("groups.members.list", #"{"group":"\#(group)","cursor":"nonsense"}"#, token: world.agentToken).status == .badRequest)
            #expect(try await api.post("groups.members.remove", #"{"group":"\#(group)","member":"\#(world.otherAgent)"}"#, token: world.agentToken).status == .ok)
            #expect(try await api.post("groups.members.remove", #"{"group":"\#(group)","member":"\#(world.otherAgent)"}"#, token: world.agentToken).status == .notFound)

            let inGroup = try await api.conversation(world.aliceToken, title: "Refund for March")
            _ = try await api.conversation(world.bobToken, title: "Login loops")
            #expect(try await api.post("conversations.update", #"{"id":"\#(inGroup)","group":"\#(group)"}"#, token: world.agentToken).status == .ok)
            try await signIn(browser)
            let mine = try await browser.get("/inbox?view=new&scope=groups")
            #expect(mine.html.contains("Refund for March"))
            #expect(!mine.html.contains("Login loops"))
        }
    }

    @Test("a signed-in browser is rate-limited per session, not per address (agents may share an office address)")
    func sessionRateLimit() async throws {
        try await withWebServer(rateLimits: RateLimitPolicy(perToken: 6000, perAddress: 40)) { _, browser, world in
            let page = try await browser.post("/inbox/sign-in", [("token", world.agentToken)])
            #expect(page.location == "/inbox")
            for _ in 0..<50 { #expect(try await browser.get("/inbox").status == .ok) }
            let anonymous = Browser(browser.client)
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<50 { statuses.append(try await anonymous.get("/inbox/sign-in").status) }
            #expect(statuses.contains(.tooManyRequests))
        }
    }

    /// Issue 15 item 5: failed sign-ins used to lock the whole address out.
    @Test("failed sign-ins lock only that account from that address; another agent at the address signs in")
    func signInFailuresPerAccount() async throws {
        try await withWebServer(rateLimits: RateLimitPolicy(failedAuthentications: 3)) { api, browser, world in
            for _ in 0..<3 {
                let page = try await browser.post("/inbox/sign-in", [("email", "maya@support.test"), ("password", "wrong")])
                #expect(page.status == .unauthorized)
            }
            let locked = try await browser.post("/inbox/sign-in", [("email", "Maya@support.test"), ("password", "correct horse battery")])
            #expect(locked.status == .tooManyRequests, "this account, from this address, waits out the window")
            let colleague = try await Browser(browser.client).post("/inbox/sign-in", [("token", world.agentToken)])
            #expect(colleague.location == "/inbox", "someone else at the same address is not locked out")
        }
    }

    /// Issue 15, item 13: the sign-in form had no CSRF token, and `Origin: null` passed the origin check.
    @Test("sign-in needs the sign-in page's own token; Origin null is refused like any other site")
    func signInForgery() async throws {
        try await withWebServer { _, browser, world in
            // A form posted from another site: no cookie from the sign-in page, or a token that is not its own.
            let forged = try await browser.post("/inbox/sign-in", [("token", world.agentToken), ("_csrf", "guess")])
            #expect(forged.status == .forbidden && forged.location == nil)
            let fresh = Browser(browser.client)
            _ = try await fresh.get("/inbox/sign-in")
            #expect(try await fresh.post("/inbox/sign-in", [("token", world.agentToken), ("_csrf", "guess")]).status == .forbidden)
            let nullOrigin = try await fresh.post("/inbox/sign-in", [("token", world.agentToken)], origin: "null")
            #expect(nullOrigin.status == .forbidden)
            let signedIn = try await fresh.post("/inbox/sign-in", [("token", world.agentToken)])
            #expect(signedIn.location == "/inbox", "the page's own form signs in")
            let page = try await fresh.get("/inbox")
            let reply = try await fresh.post("/inbox/sign-out", [("_csrf", Browser.csrf(page) ?? "")], origin: "null")
            #expect(reply.status == .forbidden, "Origin null on a signed-in form too")
        }
    }

    @Test("form bodies decode as browsers encode them; malformed escapes and invalid UTF-8 are kept, not fatal")
    func formDecoding() async throws {
        try await withWebServer { api, browser, world in
            let id = try await api.conversation(world.aliceToken)
            let number = try #require(ObjectID.parse(id)).number
            try await signIn(browser)
            let csrf = try #require(Browser.csrf(try await browser.get("/inbox/conversations/\(number)")))
            let page = try await browser.client.execute(
                uri: "/inbox/conversations/\(number)/reply", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded",
                          .cookie: "parley_inbox=\(browser.cookies["parley_inbox"] ?? "")"],
                body: ByteBuffer(string: "_csrf=\(csrf)&visibility=internal&body=50%25+off+%ZZ+caf%C3%A9+%FF+a%2Bb%26c%3Dd")) { $0.status }
            #expect(page == .seeOther)
            let entries = try await api.post("timeline-entries.list", #"{"object":"\#(id)"}"#, token: world.agentToken).body["timeline_entries"].array
            #expect(entries.contains { $0["body"].string == "50% off %ZZ café \u{FFFD} a+b&c=d" }, "\(entries)")
        }
    }
}
