import Foundation
import HTTPTypes
import ParleyCore
import Testing

@testable import ParleyServer

@Suite("Admin pages")
struct AdminPageTests {
    /// Signs in with the admin's token and returns the CSRF token of `path`.
    private func adminPage(_ browser: Browser, _ path: String) async throws -> (Browser.Page, String) {
        let signIn = try await browser.post("/inbox/sign-in", [("token", adminToken)])
        #expect(signIn.location == "/inbox")
        let page = try await browser.get(path)
        return (page, try #require(Browser.csrf(page)))
    }

    @Test("an admin adds an agent with a password, a group with that agent, and a tag; the agent signs in and tags with it")
    func teamLeadSetsUp() async throws {
        try await withWebServer { api, browser, world in
            var (page, csrf) = try await adminPage(browser, "/inbox/admin/agents")
            #expect(page.status == .ok)
            #expect(page.html.contains("maya@support.test"))
            var sent = try await browser.post("/inbox/admin/agents", [("_csrf", csrf), ("email", "Sam@Support.test"), ("display_name", "Sam <b>"),
                                                                      ("role", "agent"), ("password", "a long enough password")])
            #expect(sent.location == "/inbox/admin/agents?done=agent_created")
            page = try await browser.get(sent.location!)
            #expect(page.html.contains("Agent added."))
            #expect(page.html.contains("Sam &lt;b&gt;") && page.html.contains("sam@support.test"))
            // A refused password creates nobody.
            sent = try await browser.post("/inbox/admin/agents", [("_csrf", csrf), ("email", "weak@support.test"), ("password", "short")])
            #expect(sent.location?.hasPrefix("/inbox/admin/agents?error=") == true)
            #expect(try await !browser.get("/inbox/admin/agents").html.contains("weak@support.test"))
            // The same email twice: refused.
            sent = try await browser.post("/inbox/admin/agents", [("_csrf", csrf), ("email", "sam@support.test")])
            #expect(sent.location == "/inbox/admin/agents?error=conflict")

            let users = try await api.get("dev-users.list?limit=100", token: adminToken).body["dev_users"].array
            let samID = try #require(users.first { $0["email"].string == "sam@support.test" }?["id"].string)
            let sam = try #require(ObjectID.parse(samID))
            sent = try await browser.post("/inbox/admin/groups", [("_csrf", csrf), ("name", "Escalations"), ("owner", sam.displayID)])
            #expect(sent.location == "/inbox/admin/groups?done=group_created")
            page = try await browser.get("/inbox/admin/groups")
            #expect(page.html.contains("Escalations"))
            let groups = try await api.get("groups.list", token: adminToken).body["groups"].array
            let groupID = try #require(groups.first { $0["name"].string == "Escalations" }?["id"].string)
            let groupNumber = try #require(ObjectID.parse(groupID)).number
            sent = try await browser.post("/inbox/admin/groups/\(groupNumber)/add-member", [("_csrf", csrf), ("member", sam.displayID)])
            #expect(sent.location == "/inbox/admin/groups?done=member_added")
            let members = try await api.get("groups.members.list?group=\(ObjectID(.group, groupNumber).displayID)", token: adminToken)
            #expect(members.body["members"].array.contains { $0["member"]["id"].string == sam.don }, "\(members.body)")

            sent = try await browser.post("/inbox/admin/tags", [("_csrf", csrf), ("name", "VIP"), ("description", "Pays a lot")])
            #expect(sent.location == "/inbox/admin/tags?done=tag_created")
            #expect(try await browser.get("/inbox/admin/tags").html.contains("value=\"VIP\""))

            // Sam signs in with the password given, and can put the new tag on a conversation.
            let samBrowser = Browser(browser.client)
            let signedIn = try await samBrowser.post("/inbox/sign-in", [("email", "sam@support.test"), ("password", "a long enough password")])
            #expect(signedIn.location == "/inbox")
            let id = try await api.conversation(world.aliceToken, title: "Big customer")
            let number = try #require(ObjectID.parse(id)).number
            let conversation = try await samBrowser.get("/inbox/conversations/\(number)")
            #expect(conversation.html.contains(">VIP</option>"), "the add-tag form offers the new tag")
            // Sam is an agent, not an admin: no admin pages.
            #expect(try await samBrowser.get("/inbox/admin/agents").status == .forbidden)
            #expect(!conversation.html.contains("href=\"/inbox/admin\""))
        }
    }

    @Test("admin forms: refused for agents and without this session's CSRF token; tags renamed and deleted, system tags kept")
    func guarded() async throws {
        try await withWebServer { _, browser, _ in
            // Maya is an agent: signed in, she gets no admin page and no admin form goes through.
            try await signIn(browser)
            #expect(try await browser.get("/inbox/admin/tags").status == .forbidden)
            let inbox = try await browser.get("/inbox")
            let agentCSRF = try #require(Browser.csrf(inbox))
            let refused = try await browser.post("/inbox/admin/tags", [("_csrf", agentCSRF), ("name", "Sneaky")])
            #expect(refused.status == .forbidden)

            let admin = Browser(browser.client)
            let (_, csrf) = try await adminPage(admin, "/inbox/admin/tags")
            #expect(try await admin.post("/inbox/admin/tags", [("_csrf", "not-the-token"), ("name", "Forged")]).status == .forbidden)
            #expect(try await admin.post("/inbox/admin/tags", [("name", "No token")]).status == .forbidden)
            #expect(try await !admin.get("/inbox/admin/tags").html.contains("Forged"))
            #expect(try await !admin.get("/inbox/admin/tags").html.contains("Sneaky"))

            _ = try await admin.post("/inbox/admin/tags", [("_csrf", csrf), ("name", "Billing")])
            let page = try await admin.get("/inbox/admin/tags")
            let number = try #require(page.html.firstMatch(of: /action="\/inbox\/admin\/tags\/([0-9]+)\/update"/).flatMap { Int($0.output.1) })
            var sent = try await admin.post("/inbox/admin/tags/\(number)/update", [("_csrf", csrf), ("name", "Invoices"), ("description", ""), ("allowed_values", "")])
            #expect(sent.location == "/inbox/admin/tags?done=tag_updated")
            #expect(try await admin.get("/inbox/admin/tags").html.contains("value=\"Invoices\""))
            sent = try await admin.post("/inbox/admin/tags/\(number)/delete", [("_csrf", csrf)])
            #expect(sent.location == "/inbox/admin/tags?done=tag_deleted")
            #expect(try await !admin.get("/inbox/admin/tags").html.contains("Invoices"))
            // The server's own tags: neither renamed nor deleted.
            let system = SystemTag.resolution.number
            sent = try await admin.post("/inbox/admin/tags/\(system)/delete", [("_csrf", csrf)])
            #expect(sent.location == "/inbox/admin/tags?error=forbidden")
            sent = try await admin.post("/inbox/admin/tags/\(system)/update", [("_csrf", csrf), ("name", "Outcome")])
            #expect(sent.location == "/inbox/admin/tags?error=forbidden")
        }
    }

    @Test("routing rules: explain and simulate answer and change nothing; save puts them in force, and a new conversation lands with that owner")
    func routing() async throws {
        try await withWebServer { api, browser, world in
            let created = try await api.post("dev-users.create", #"{"email":"sam@support.test","display_name":"Sam"}"#, token: adminToken)
            let samID = try #require(created.body["dev_user"]["id"].string)
            let sam = try #require(ObjectID.parse(samID))
            let before = try await api.conversation(world.aliceToken, title: "Invoice is wrong")
            _ = try await api.conversation(world.aliceToken, title: "Login loops")
            var (page, csrf) = try await adminPage(browser, "/inbox/admin/routing")
            #expect(page.html.contains("<textarea name=\"rules\""))
            #expect(page.html.contains("Sam: \(sam.displayID)"), "the ids to use are listed")
            let rules = #"{"rules":[{"id":"billing","keywords":["invoice"],"owner":"\#(sam.displayID)"}]}"#
            let versionBefore = try await api.get("routing-rules.list", token: adminToken).body.value
            page = try await browser.post("/inbox/admin/routing", [("_csrf", csrf), ("rules", rules), ("do", "explain"),
                                                                       ("title", "Second invoice"), ("body", "Charged twice"), ("email", "alice@acme.test")])
            #expect(page.status == .ok)
            #expect(page.html.contains("<dd id=\"explain-owner\">Sam</dd>"))
            #expect(page.html.contains("<dd id=\"explain-why\">routing rule billing (keyword “invoice”)"))
            #expect(page.html.contains("Acme"), "the org found by the email's domain")
            page = try await browser.post("/inbox/admin/routing", [("_csrf", csrf), ("rules", rules), ("do", "simulate")])
            #expect(page.html.contains("2 of the newest conversations replayed: 1 would go to a different owner."))
            #expect(page.html.contains("<td>1</td><td>Maya</td><td>Sam</td>"))
            // Wrong rules come back as typed, saying what is wrong; nothing is saved.
            page = try await browser.post("/inbox/admin/routing", [("_csrf", csrf), ("rules", #"{"rules":[{"id":"x","keywords":["!!"]}]}"#), ("do", "save")])
            #expect(page.status == .badRequest)
            #expect(page.html.contains("id=\"routing-error\""))
            #expect(page.html.contains("&quot;!!&quot;"))
            #expect(try await api.get("routing-rules.list", token: adminToken).body.value == versionBefore, "explain, simulate and a refused save change nothing")
            #expect(try await api.get("conversations.get?id=\(before)", token: adminToken).body["conversation"]["owned_by"][0]["id"].string == world.agent)
            let saved = try await browser.post("/inbox/admin/routing", [("_csrf", csrf), ("rules", rules), ("do", "save")])
            #expect(saved.location == "/inbox/admin/routing?done=routing_saved")
            #expect(try await browser.get(try #require(saved.location)).html.contains("Routing rules saved"))
            let after = try await api.conversation(world.aliceToken, title: "Another invoice question")
            #expect(try await api.get("conversations.get?id=\(after)", token: adminToken).body["conversation"]["owned_by"][0]["id"].string == sam.don)
            // Agents cannot try or save rules.
            let agent = Browser(browser.client)
            try await signIn(agent)
            let agentCSRF = try #require(Browser.csrf(try await agent.get("/inbox")))
            #expect(try await agent.post("/inbox/admin/routing", [("_csrf", agentCSRF), ("rules", rules), ("do", "save")]).status == .forbidden)
        }
    }

    @Test("API tokens: an admin creates one for an agent, shown once; it works until revoked from the page")
    func tokens() async throws {
        try await withWebServer { api, browser, world in
            let (page, csrf) = try await adminPage(browser, "/inbox/admin/tokens")
            #expect(page.status == .ok)
            let created = try await browser.post("/inbox/admin/tokens", [("_csrf", csrf), ("agent", world.agent), ("expires_in_days", "30")])
            #expect(created.status == .created)
            let secret = try #require(created.html.firstMatch(of: /<code class="secret">(parley_pat_[^<]+)<\/code>/).map { String($0.output.1) })
            let me = try await api.get("dev-users.self", token: secret)
            #expect(me.status == .ok && me.body["dev_user"]["email"].string == "maya@support.test")
            let listed = try await browser.get("/inbox/admin/tokens")
            #expect(!listed.html.contains(secret), "shown once, never again")
            let number = try #require(created.html.firstMatch(of: /New token TOKEN-([0-9]+)/).flatMap { Int($0.output.1) })
            #expect(listed.html.contains("action=\"/inbox/admin/tokens/\(number)/revoke\""), "listed, with its revoke button")
            let revoked = try await browser.post("/inbox/admin/tokens/\(number)/revoke", [("_csrf", csrf)])
            #expect(revoked.location == "/inbox/admin/tokens?done=token_revoked")
            #expect(try await api.get("dev-users.self", token: secret).status == .unauthorized)
            let refused = try await browser.post("/inbox/admin/tokens", [("_csrf", csrf), ("agent", world.agent), ("expires_in_days", "0")])
            #expect(refused.location?.contains("error=") == true)
            let agent = Browser(browser.client)
            try await signIn(agent)
            let agentCSRF = try #require(Browser.csrf(try await agent.get("/inbox")))
            #expect(try await agent.post("/inbox/admin/tokens", [("_csrf", agentCSRF), ("agent", world.agent)]).status == .forbidden)
        }
    }

    @Test("webhooks: a private target is refused as by the API; one allowed is added with its secret shown once, listed, deleted")
    func webhooks() async throws {
        try await withWebServer { _, browser, _ in
            let (_, csrf) = try await adminPage(browser, "/inbox/admin/webhooks")
            let refused = try await browser.post("/inbox/admin/webhooks", [("_csrf", csrf), ("url", "http://127.0.0.1:9/hook")])
            #expect(refused.location?.hasPrefix("/inbox/admin/webhooks?error=") == true, "loopback refused without --allow-private-webhooks")
        }
        try await withWebServer(allowPrivateWebhooks: true) { api, browser, _ in
            let (_, csrf) = try await adminPage(browser, "/inbox/admin/webhooks")
            let added = try await browser.post("/inbox/admin/webhooks", [("_csrf", csrf), ("url", "http://127.0.0.1:9/hook"),
                                                                         ("event_types", "conversation_created")])
            #expect(added.status == .created)
            let secret = try #require(added.html.firstMatch(of: /<code class="secret">(whsec_[^<]+)<\/code>/).map { String($0.output.1) })
            let listed = try await api.get("webhooks.list", token: adminToken).body["webhooks"].array
            #expect(listed.count == 1 && listed[0]["event_types"].array.compactMap(\.string) == ["conversation_created"])
            let page = try await browser.get("/inbox/admin/webhooks")
            #expect(page.html.contains("<code>http://127.0.0.1:9/hook</code>") && !page.html.contains(secret))
            let number = try #require(page.html.firstMatch(of: /action="\/inbox\/admin\/webhooks\/([0-9]+)\/delete"/).flatMap { Int($0.output.1) })
            let deleted = try await browser.post("/inbox/admin/webhooks/\(number)/delete", [("_csrf", csrf)])
            #expect(deleted.location == "/inbox/admin/webhooks?done=webhook_deleted")
            #expect(try await api.get("webhooks.list", token: adminToken).body["webhooks"].array.isEmpty)
        }
    }

    @Test("customer orgs: added with email domains and a default owner, renamed, their domains and owner changed; a non-agent owner refused")
    func orgs() async throws {
        try await withWebServer { api, browser, world in
            let (page, csrf) = try await adminPage(browser, "/inbox/admin/orgs")
            #expect(page.html.contains("value=\"Acme\""), "the orgs there are listed")
            var sent = try await browser.post("/inbox/admin/orgs", [("_csrf", csrf), ("name", "Initech"), ("domains", "initech.test, Initech.co"),
                                                                    ("owner", world.agent)])
            #expect(sent.location == "/inbox/admin/orgs?done=org_created")
            let accounts = try await api.get("accounts.list", token: adminToken).body["accounts"].array
            let initech = try #require(accounts.first { $0["display_name"].string == "Initech" })
            #expect(initech["domains"].array.compactMap(\.string) == ["initech.test", "initech.co"], "kept in lower case")
            let initechID = try #require(initech["id"].string)
            let number = try #require(ObjectID.parse(initechID)).number
            sent = try await browser.post("/inbox/admin/orgs/\(number)/update", [("_csrf", csrf), ("name", "Initech Ltd"), ("domains", "initech.test"), ("owner", "")])
            #expect(sent.location == "/inbox/admin/orgs?done=org_updated")
            let updated = try await api.get("accounts.get?id=ACC-\(number)", token: adminToken).body["account"]
            #expect(updated["display_name"].string == "Initech Ltd")
            #expect(updated["domains"].array.compactMap(\.string) == ["initech.test"])
            #expect(updated["owned_by"].array.isEmpty)
            sent = try await browser.post("/inbox/admin/orgs/\(number)/update", [("_csrf", csrf), ("owner", "DEVU-999")])
            #expect(sent.location?.contains("error=") == true, "an owner who is not a dev user is refused")
        }
    }

    @Test("spam rules: saved from the page, they hold a new conversation for review; wrong rules come back as typed")
    func spam() async throws {
        try await withWebServer { api, browser, world in
            let (page, csrf) = try await adminPage(browser, "/inbox/admin/spam")
            #expect(page.html.contains("<textarea name=\"rules\"") && page.html.contains("href=\"/inbox?view=suspended\""))
            let wrong = try await browser.post("/inbox/admin/spam", [("_csrf", csrf), ("rules", #"{"rules":[{"pattern":"(a)\\1","weight":1}],"threshold":1}"#)])
            #expect(wrong.status == .badRequest)
            #expect(wrong.html.contains("id=\"spam-error\""))
            let rules = #"{"blocked_domains":[],"blocked_senders":[],"rules":[{"pattern":"cheap watches","weight":2}],"threshold":1}"#
            let saved = try await browser.post("/inbox/admin/spam", [("_csrf", csrf), ("rules", rules)])
            #expect(saved.location == "/inbox/admin/spam?done=spam_saved")
            let held = try await api.conversation(world.aliceToken, title: "CHEAP WATCHES here")
            #expect(try await api.stage(of: held) == "suspended")
            #expect(try await browser.get("/inbox/admin/spam").html.contains("1 conversation waits"))
        }
    }

    @Test("every admin page and form: 403 for a signed-in agent, the sign-in page for nobody, 200 for an admin")
    func everyPageIsAdminsOnly() async throws {
        try await withWebServer { _, browser, _ in
            let anonymous = Browser(browser.client)
            let agent = Browser(browser.client)
            try await signIn(agent)
            let agentCSRF = try #require(Browser.csrf(try await agent.get("/inbox")))
            _ = try await adminPage(browser, "/inbox/admin/agents")
            for section in WebInterface.AdminSection.allCases.map(\.rawValue) {
                #expect(try await browser.get("/inbox/admin/\(section)").status == .ok, "\(section) as the admin")
                #expect(try await agent.get("/inbox/admin/\(section)").status == .forbidden, "\(section) as an agent")
                #expect(try await anonymous.get("/inbox/admin/\(section)").location == "/inbox/sign-in", "\(section) signed out")
                #expect(try await agent.post("/inbox/admin/\(section)", [("_csrf", agentCSRF), ("name", "x")]).status == .forbidden,
                        "\(section)'s form as an agent")
                #expect(try await agent.post("/inbox/admin/\(section)/1/delete", [("_csrf", agentCSRF)]).status == .forbidden,
                        "\(section)'s row forms as an agent")
                #expect(try await browser.post("/inbox/admin/\(section)", [("_csrf", "forged"), ("name", "x")]).status == .forbidden,
                        "\(section)'s form without this session's CSRF token")
            }
        }
    }

    @Test("customers: the newest listed with their org; one added by hand, in an org or unidentified; edited, and deleted (their sessions end)")
    func customers() async throws {
        try await withWebServer { api, browser, world in
            let (page, csrf) = try await adminPage(browser, "/inbox/admin/customers")
            #expect(page.html.contains("alice@example.test") && page.html.contains("<td>Acme</td>"))
            let org = try #require(try await api.get("rev-orgs.list", token: adminToken).body["rev_orgs"].array.first { $0["display_name"].string == "Acme" }?["display_id"].string)
            var sent = try await browser.post("/inbox/admin/customers", [("_csrf", csrf), ("name", "Dana <x>"), ("email", "Dana@Acme.test"), ("org", org)])
            #expect(sent.location == "/inbox/admin/customers?done=customer_created")
            let listed = try await browser.get("/inbox/admin/customers").html
            #expect(listed.contains("Dana &lt;x&gt;") && listed.contains("dana@acme.test"))
            sent = try await browser.post("/inbox/admin/customers", [("_csrf", csrf), ("name", "Nobody"), ("org", "REV-999")])
            #expect(sent.location?.contains("error=") == true, "an org that does not exist is refused")
            // Edited: renamed, moved out of any org; then deleted, which ends the customer's widget session.
            let bob = try #require(try await api.get("rev-users.list", token: adminToken).body["rev_users"].array
                .first { $0["email"].string == "bob@example.test" })
            let bobID = try #require(bob["id"].string)
            let bobNumber = try #require(ObjectID.parse(bobID)).number
            sent = try await browser.post("/inbox/admin/customers/\(bobNumber)/update", [("_csrf", csrf), ("name", "Robert"),
                                                                                      ("email", "robert@example.test"), ("org", "")])
            #expect(sent.location == "/inbox/admin/customers?done=customer_updated")
            let edited = try await api.get("rev-users.get?id=\(bobID)", token: adminToken).body["rev_user"]
            #expect(edited["display_name"].string == "Robert" && edited["email"].string == "robert@example.test")
            sent = try await browser.post("/inbox/admin/customers/\(bobNumber)/update", [("_csrf", csrf), ("email", "not an address")])
            #expect(sent.location?.contains("error=") == true)
            sent = try await browser.post("/inbox/admin/customers/\(bobNumber)/delete", [("_csrf", "forged")])
            #expect(sent.status == .forbidden, "CSRF-checked")
            sent = try await browser.post("/inbox/admin/customers/\(bobNumber)/delete", [("_csrf", csrf)])
            #expect(sent.location == "/inbox/admin/customers?done=customer_deleted")
            #expect(!(try await browser.get("/inbox/admin/customers").html.contains("robert@example.test")))
            #expect(try await api.post("conversations.list", token: world.bobToken).status == .unauthorized)
        }
    }

    @Test("tag colours: from the palette only, set by the API and the admin page, drawn by class (no inline style)")
    func tagColours() async throws {
        try await withWebServer { api, browser, world in
            let made = try await api.post("tags.create", #"{"name":"VIP","color":"red"}"#, token: world.agentToken)
            #expect(made.status == .created && made.body["tag"]["color"].string == "red")
            #expect(try await api.post("tags.create", ##"{"name":"Odd","color":"#ff0000"}"##, token: world.agentToken).status == .badRequest)
            let tag = try #require(made.body["tag"]["id"].string)
            let number = try #require(ObjectID.parse(tag)).number
            let (page, csrf) = try await adminPage(browser, "/inbox/admin/tags")
            #expect(page.html.contains("<span class=\"badge tag-red\">VIP</span>"))
            let sent = try await browser.post("/inbox/admin/tags/\(number)/update", [("_csrf", csrf), ("name", "VIP"), ("color", "green")])
            #expect(sent.location == "/inbox/admin/tags?done=tag_updated")
            #expect(try await api.post("tags.get", #"{"id":"\#(tag)"}"#, token: world.agentToken).body["tag"]["color"].string == "green")
            let conversation = try await api.conversation(world.aliceToken)
            _ = try await api.post("conversations.update", #"{"id":"\#(conversation)","tags":{"add":[{"id":"\#(tag)"}]}}"#, token: world.agentToken)
            let id = try #require(ObjectID.parse(conversation)).number
            #expect(try await browser.get("/inbox/conversations/\(id)").html.contains("class=\"badge tag-green\""))
        }
    }

    @Test("mailboxes: added with a group, a relay and an IMAP account whose passwords are never shown again; a bad IMAP URL refused; deleted")
    func mailboxes() async throws {
        try await withWebServer { api, browser, world in
            let group = try #require(try await api.post("groups.create", #"{"name":"Email"}"#, token: world.agentToken).body["group"]["id"].string)
            let groupDisplay = try #require(ObjectID.parse(group)).displayID
            let (_, csrf) = try await adminPage(browser, "/inbox/admin/mailboxes")
            var sent = try await browser.post("/inbox/admin/mailboxes", [("_csrf", csrf), ("address", "Support@Acme.test"), ("display_name", "Acme <Support>"),
                                                                        ("group", groupDisplay), ("smtp_relay", "smtp://relay:hunter2@127.0.0.1:587"),
                                                                        ("imap", "imaps://support:imap-pass@127.0.0.1:9/INBOX")])
            #expect(sent.location == "/inbox/admin/mailboxes?done=mailbox_created")
            let page = try await browser.get("/inbox/admin/mailboxes").html
            #expect(page.contains("support@acme.test") && page.contains("Acme &lt;Support&gt;") && page.contains("smtp://127.0.0.1:587"))
            #expect(!page.contains("hunter2") && !page.contains("relay:"), "the relay's credentials are never shown")
            #expect(page.contains("imaps://127.0.0.1:9") && !page.contains("imap-pass") && !page.contains("support:"),
                    "nor the IMAP account's")
            sent = try await browser.post("/inbox/admin/mailboxes", [("_csrf", csrf), ("address", "help@acme.test"),
                                                                    ("imap", "imaps://support:x@127.0.0.1:9/INBOX?auth=bogus")])
            #expect(sent.location?.contains("error=") == true, "an IMAP URL the poller could not use is refused")
            sent = try await browser.post("/inbox/admin/mailboxes", [("_csrf", csrf), ("address", "not an address")])
            #expect(sent.location?.contains("error=") == true)
            let listed = try await api.post("mailboxes.list", token: adminToken).body["mailboxes"].array
            let mailboxID = try #require(listed.first?["id"].string)
            let number = try #require(ObjectID.parse(mailboxID)).number
            sent = try await browser.post("/inbox/admin/mailboxes/\(number)/delete", [("_csrf", csrf)])
            #expect(sent.location == "/inbox/admin/mailboxes?done=mailbox_deleted")
            #expect(try await api.post("mailboxes.list", token: adminToken).body["mailboxes"].array.isEmpty)
        }
    }
}
