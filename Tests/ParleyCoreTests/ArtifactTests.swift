import Foundation
import ParleyCore
import Testing

@Suite("Attachments in the domain")
struct ArtifactTests {
    @Test("a file's kind comes from its bytes, not its name: images, documents, markup and text")
    func sniffing() {
        #expect(FileKind.sniff([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0]) == .png)
        #expect(FileKind.sniff([0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg)
        #expect(FileKind.sniff(Array("GIF89a....".utf8)) == .gif)
        #expect(FileKind.sniff(Array("%PDF-1.7\n".utf8)) == .pdf)
        #expect(FileKind.sniff(Array("  \n<!DOCTYPE html><html><script>alert(1)</script>".utf8)) == .html)
        #expect(FileKind.sniff(Array("<SCRIPT>alert(1)</SCRIPT>".utf8)) == .html)
        #expect(FileKind.sniff(Array(#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>"#.utf8)) == .svg)
        #expect(FileKind.sniff(Array("2026-12-02 ERROR export failed\n\tat line 3\n".utf8)) == .text)
        #expect(FileKind.sniff([0, 1, 2, 3, 0xFE]) == .unknown)
        #expect(FileKind.sniff([]) == .unknown)
        // Only raster images may show in a page.
        #expect(FileKind.png.isRasterImage && !FileKind.svg.isRasterImage && !FileKind.html.isRasterImage)
    }

    @Test("stored content sets the size and the sniffed type; a second upload and an oversized file are refused")
    func storing() throws {
        let at = Date(timeIntervalSince1970: 1_750_000_000)
        let prepared = Artifact(number: 3, fileName: "../../etc/screenshot.png", uploader: .revUser(1), at: at)
        #expect(prepared.fileName == "screenshot.png")
        #expect(!prepared.isUploaded)
        let html = Array("<html><body>hi</body></html>".utf8)
        let stored = try prepared.storing(html, at: at, limits: AttachmentLimits())
        #expect(stored.contentType == "text/html" && stored.size == html.count && !stored.isPreviewableImage)
        #expect(throws: DomainError.self) { try stored.storing(html, at: at, limits: AttachmentLimits()) }
        #expect(throws: DomainError.tooLarge("'screenshot.png' is larger than 10 bytes, the largest file accepted")) {
            try prepared.storing(html, at: at, limits: AttachmentLimits(maxBytes: 10))
        }
    }

    @Test("only its uploader may attach a file, once, and only after uploading it")
    func attaching() throws {
        let at = Date(timeIntervalSince1970: 1_750_000_000)
        let prepared = Artifact(number: 3, fileName: "log.txt", uploader: .revUser(1), at: at)
        #expect(prepared.refusalToAttach(by: .revUser(1)) != nil, "not uploaded")
        var uploaded = try prepared.storing(Array("log".utf8), at: at, limits: AttachmentLimits())
        #expect(uploaded.refusalToAttach(by: .revUser(1)) == nil)
        #expect(uploaded.refusalToAttach(by: .revUser(2)) == .notFound("ARTIFACT-3"))
        uploaded.comment = 9
        uploaded.conversation = 4
        #expect(uploaded.refusalToAttach(by: .revUser(1)) != nil, "already attached")
    }

    @Test("an uploaded name keeps its last path component, without quotes or control characters")
    func names() {
        #expect(Artifact.cleanName("C:\\Users\\me\\report \"final\".pdf") == "report final.pdf")
        #expect(Artifact.cleanName("a\u{0}b\nc.txt") == "abc.txt")
        #expect(Artifact.cleanName("..") == "file")
        #expect(Artifact.cleanName("") == "file")
    }
}
