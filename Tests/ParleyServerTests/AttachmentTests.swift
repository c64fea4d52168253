import Foundation
import HTTPTypes
import ParleyCore
import Testing

/// A 1×1 PNG.
let tinyPNG: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01,
                        0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41,
                        0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00,
                        0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]

@Suite("Attachments")
struct AttachmentTests {
    /// The path and query of a URL the API handed out.
    func path(_ url: String?) throws -> String {
        let url = try #require(url)
        let start = try #require(url.range(of: "://")).upperBound
        return String(url[try #require(url[start...].firstIndex(of: "/"))...])
    }

    @Test("prepare, upload, attach to a comment, see it in the timeline, locate and download it as DevRev's artifacts API does")
    func roundTrip() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let conversation = try await api.conversation(world.aliceToken)
            let artifact = try await api.upload("screen shot.png", tinyPNG, token: world.aliceToken)
            let got = try await api.post("artifacts.get", #"{"id":"\#(artifact)"}"#, token: world.aliceToken)
            #expect(got.body["artifact"]["file"]["type"].string == "image/png")
            #expect(got.body["artifact"]["file"]["size"].int == tinyPNG.count)
            #expect(got.body["artifact"]["file"]["name"].string == "screen shot.png")
            // Before it is attached, only its uploader sees it.
            #expect(try await api.post("artifacts.get", #"{"id":"\#(artifact)"}"#, token: world.agentToken).status == .notFound)
            let comment = try await api.post("timeline-entries.create",
                #"{"type":"timeline_comment","object":"\#(conversation)","body":"Here is what I see","artifacts":["\#(artifact)"]}"#,
                token: world.aliceToken)
            #expect(comment.status == .created, "\(comment.body)")
            #expect(comment.body["timeline_entry"]["artifacts"][0]["id"].string == artifact)
            #expect(comment.body["timeline_entry"]["artifacts"][0]["file"]["type"].string == "image/png")
            let entry = try #require(comment.body["timeline_entry"]["id"].string)
            let listed = try await api.post("artifacts.list", #"{"parent_id":"\#(entry)"}"#, token: world.agentToken)
            #expect(listed.body["artifacts"].array.compactMap { $0["id"].string } == [artifact])
            // The agent locates it; the URL downloads without a token, an image shown inline, never sniffed.
            let located = try await api.post("artifacts.locate", #"{"id":"\#(artifact)"}"#, token: world.agentToken)
            #expect(located.status == .ok)
            #expect(located.body["expires_at"].string != nil)
            let download = try await api.fetch(try path(located.body["url"].string))
            #expect(download.status == .ok)
            #expect(download.bytes == tinyPNG)
            #expect(download.headers[.contentType] == "image/png")
            #expect(download.headers[.contentDisposition]?.hasPrefix("inline; filename=\"screen shot.png\"") == true)
            #expect(download.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            // A tampered signature finds nothing.
            let forged = try path(located.body["url"].string).replacingOccurrences(of: "signature=", with: "signature=0")
            #expect(try await api.fetch(forged).status == .notFound)
            // A second comment cannot take the same file.
            let again = try await api.post("timeline-entries.create",
                #"{"type":"timeline_comment","object":"\#(conversation)","body":"again","artifacts":["\#(artifact)"]}"#, token: world.aliceToken)
            #expect(again.status == .badRequest)
            // Nor can someone else attach a file they did not upload.
            let bobs = try await api.upload("bob.txt", Array("bob's log".utf8), token: world.bobToken)
            let stolen = try await api.post("timeline-entries.create",
                #"{"type":"timeline_comment","object":"\#(conversation)","body":"x","artifacts":["\#(bobs)"]}"#, token: world.agentToken)
            #expect(stolen.status == .badRequest)
            #expect(stolen.body["type"].string == "invalid_id")
            // An upload with a wrong key stores nothing.
            let prepared = try await api.post("artifacts.prepare", #"{"file_name":"x.txt"}"#, token: world.aliceToken)
            let preparedID = try #require(prepared.body["id"].string)
            let wrongKey = try await api.postMultipart("artifacts.upload", [("artifact", preparedID), ("key", "upload_guess")],
                                                       files: [("file", "x.txt", Array("x".utf8))])
            #expect(wrongKey.status == .notFound)
        }
    }

    @Test("an HTML or SVG upload is never served as a page: a download typed application/octet-stream, nosniff, sandboxed")
    func markupIsNeverRendered() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let conversation = try await api.conversation(world.aliceToken)
            for (name, content) in [("invoice.html", "<html><script>alert(document.cookie)</script></html>"),
                                    ("logo.svg", #"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>"#),
                                    ("photo.png", "<script>alert(1)</script>")] {
                let artifact = try await api.upload(name, Array(content.utf8), token: world.aliceToken)
                let comment = try await api.post("timeline-entries.create",
                    #"{"type":"timeline_comment","object":"\#(conversation)","body":"see file","artifacts":["\#(artifact)"]}"#, token: world.aliceToken)
                #expect(comment.status == .created)
                let located = try await api.post("artifacts.locate", #"{"id":"\#(artifact)"}"#, token: world.agentToken)
                let download = try await api.fetch(try path(located.body["url"].string))
                #expect(download.status == .ok)
                #expect(download.headers[.contentType] == "application/octet-stream", "\(name)")
                #expect(download.headers[.contentDisposition]?.hasPrefix("attachment;") == true, "\(name)")
                #expect(download.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
                #expect(download.headers[.contentSecurityPolicy]?.contains("sandbox") == true)
                // With a token instead of a signature, the same.
                let direct = try await api.fetch("/artifacts.download?id=\(artifact)", token: world.agentToken)
                #expect(direct.headers[.contentType] == "application/octet-stream")
            }
        }
    }

    @Test("a customer cannot reach another customer's file nor an internal note's; the team can")
    func visibility() async throws {
        try await withServer { api, _ in
            let world = try await World.make(api)
            let alices = try await api.conversation(world.aliceToken)
            let file = try await api.upload("receipt.pdf", Array("%PDF-1.4 receipt".utf8), token: world.aliceToken)
            let comment = try await api.post("timeline-entries.create",
                #"{"type":"timeline_comment","object":"\#(alices)","body":"my receipt","artifacts":["\#(file)"]}"#, token: world.aliceToken)
            #expect(comment.status == .created)
            let note = try await api.upload("internal.txt", Array("the customer is on the old plan".utf8), token: world.agentToken)
            let noted = try await api.post("timeline-entries.create",
                #"{"type":"timeline_comment","object":"\#(alices)","body":"context","visibility":"internal","artifacts":["\#(note)"]}"#,
                token: world.agentToken)
            #expect(noted.status == .created)
            for (token, id, expected) in [(world.bobToken, file, HTTPResponse.Status.notFound), (world.carolToken, file, .notFound),
                                          (world.aliceToken, note, .notFound), (world.aliceToken, file, .ok),
                                          (world.agentToken, note, .ok), (world.agentToken, file, .ok)] {
                #expect(try await api.post("artifacts.get", #"{"id":"\#(id)"}"#, token: token).status == expected)
                #expect(try await api.post("artifacts.locate", #"{"id":"\#(id)"}"#, token: token).status == expected)
                #expect(try await api.fetch("/artifacts.download?id=\(id)", token: token).status == expected)
            }
            #expect(try await api.fetch("/artifacts.download?id=\(file)").status == .unauthorized)
            // The customer's view of the timeline lists no note, so no note's file.
            let timeline = try await api.post("timeline-entries.list", #"{"object":"\#(alices)"}"#, token: world.aliceToken)
            #expect(!timeline.body.description.contains(note))
        }
    }

    @Test("limits: a file over the size limit and more files than a message may carry answer 413")
    func limits() async throws {
        try await withServer(attachmentLimits: AttachmentLimits(maxBytes: 1024, maxFilesPerMessage: 2)) { api, _ in
            let world = try await World.make(api)
            let conversation = try await api.conversation(world.aliceToken)
            let prepared = try await api.post("artifacts.prepare", #"{"file_name":"big.log"}"#, token: world.aliceToken)
            let fields = prepared.body["form_data"].array.compactMap { field -> (String, String)? in
                guard let key = field["key"].string, let value = field["value"].string else { return nil }
                return (key, value)
            }
            let big = try await api.postMultipart("artifacts.upload", fields, files: [("file", "big.log", Array(repeating: UInt8(ascii: "a"), count: 1025))])
            #expect(big.status == .contentTooLarge)
            let huge = try await api.postMultipart("artifacts.upload", fields, files: [("file", "big.log", Array(repeating: UInt8(ascii: "a"), count: 200_000))])
            #expect(huge.status == .contentTooLarge)
            var ids: [String] = []
            for index in 0..<3 { ids.append(try await api.upload("part\(index).txt", Array("part \(index)".utf8), token: world.aliceToken)) }
            let list = ids.map { "\"\($0)\"" }.joined(separator: ",")
            let three = try await api.post("timeline-entries.create",
                #"{"type":"timeline_comment","object":"\#(conversation)","body":"files","artifacts":[\#(list)]}"#, token: world.aliceToken)
            #expect(three.status == .contentTooLarge)
            #expect(three.body["type"].string == "request_entity_too_large")
        }
    }

    @Test("pages: a customer attaches a screenshot in the widget and the agent sees it in the inbox; a note's file never reaches the widget; a form without its CSRF token is refused")
    func pages() async throws {
        try await withWebServer { api, browser, world in
            let id = try await api.conversation(world.aliceToken, title: "Export fails")
            let number = try #require(ObjectID.parse(id)).number
            let widget = Browser(browser.client)
            _ = try await widget.get("/widget?token=\(world.aliceToken)")
            let thread = try await widget.get("/widget/conversations/\(number)")
            #expect(thread.html.contains("enctype=\"multipart/form-data\""))
            let csrf = try #require(Browser.csrf(thread))
            let refused = try await widget.postMultipart("/widget/conversations/\(number)/reply", [("body", "no token")],
                                                         files: [("files", "shot.png", tinyPNG)])
            #expect(refused.status == .forbidden)
            let sent = try await widget.postMultipart("/widget/conversations/\(number)/reply", [("_csrf", csrf), ("body", "")],
                                                      files: [("files", "shot.png", tinyPNG)])
            #expect(sent.location == "/widget/conversations/\(number)")
            let shown = try await widget.get("/widget/conversations/\(number)").html
            let src = try #require(shown.range(of: "<img src=\"/widget/files/"))
            let artifact = Int(shown[src.upperBound...].prefix { $0.isNumber })!
            #expect(try await widget.get("/widget/files/\(artifact)").status == .ok)
            // The agent's conversation page previews it; the file comes through the inbox's own route.
            try await signIn(browser)
            let page = try await browser.get("/inbox/conversations/\(number)")
            #expect(page.html.contains("<img src=\"/inbox/files/\(artifact)\" alt=\"shot.png\""))
            #expect(page.html.contains("<dd id=\"customer\">Alice &lt;alice@example.test&gt;</dd>"), "the customer's address on the page")
            let file = try await browser.get("/inbox/files/\(artifact)")
            #expect(file.status == .ok && file.headers[.contentType] == "image/png")
            // An internal note with a file: the team sees it, the widget does not, and its URL finds nothing.
            let inboxCSRF = try #require(Browser.csrf(page))
            let noted = try await browser.postMultipart("/inbox/conversations/\(number)/reply", [("_csrf", inboxCSRF), ("body", "see the trace"),
                                                        ("visibility", "internal")], files: [("files", "trace.txt", Array("secret trace".utf8))])
            #expect(noted.status == .seeOther, "\(noted.html.prefix(300))")
            let withNote = try await browser.get("/inbox/conversations/\(number)").html
            let link = try #require(withNote.range(of: "href=\"/inbox/files/", options: .backwards, range: withNote.range(of: "trace.txt").map { withNote.startIndex..<$0.lowerBound }))
            let noteFile = Int(withNote[link.upperBound...].prefix { $0.isNumber })!
            #expect(noteFile != artifact)
            #expect(try await browser.get("/inbox/files/\(noteFile)").html == "secret trace")
            #expect(try await widget.get("/widget/files/\(noteFile)").status == .notFound)
            #expect(!(try await widget.get("/widget/conversations/\(number)").html.contains("trace.txt")))
            // The customer's session cannot use the inbox's route.
            #expect(try await widget.get("/inbox/files/\(artifact)").status == .seeOther)
        }
    }
}
