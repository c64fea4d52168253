import Foundation

/// A file attached to a message (DevRev's artifact, `ARTIFACT-n`): a screenshot, a log. It is uploaded by
/// someone first (prepared, then its content stored), and then attached to exactly one comment, whose
/// visibility it takes: whoever may read that comment may download the file, nobody else; until it is
/// attached, only its uploader may.
public struct Artifact: Hashable, Sendable, Codable {
    public var number: Int
    /// The name the uploader gave (its path stripped), shown and offered as the download's name.
    public var fileName: String
    /// What the content is, judged from its first bytes (`FileKind.sniff`), never from what the uploader
    /// said: `image/png`, `text/plain`, … or `application/octet-stream`.
    public var contentType: String
    /// Bytes; 0 until the content is stored.
    public var size: Int
    public var uploader: Actor
    public var createdDate: Date
    /// When the content was stored; nil for an artifact prepared and not uploaded yet.
    public var uploadedDate: Date?
    /// The comment it is attached to, and that comment's conversation; nil until attached.
    public var comment: Int?
    public var conversation: Int?
    /// The hash of the key a prepared artifact's upload must carry (`artifacts.prepare`); nil once uploaded,
    /// and for files uploaded in one step.
    public var uploadKeyHash: String?
    /// A received mail as it came (`.eml`), kept beside the message it became: for agents only, never
    /// attached to the message (customers never see it listed or served).
    public var isOriginalMessage: Bool?

    public init(number: Int, fileName: String, uploader: Actor, at: Date) {
        self.number = number
        self.fileName = Artifact.cleanName(fileName)
        self.contentType = FileKind.unknown.contentType
        self.size = 0
        self.uploader = uploader
        self.createdDate = at
    }

    public var id: ObjectID { ObjectID(.artifact, number) }
    public var isUploaded: Bool { uploadedDate != nil }
    public var isAttached: Bool { comment != nil }

    /// The artifact with `content` stored: its size and sniffed type. An artifact holds one content, once.
    public func storing(_ content: [UInt8], at now: Date, limits: AttachmentLimits) throws(DomainError) -> Artifact {
        guard !isUploaded else { throw .conflict("\(id.displayID) has its content already; prepare another artifact") }
        guard content.count <= limits.maxBytes else { throw limits.fileTooLarge(fileName) }
        var next = self
        next.size = content.count
        next.contentType = FileKind.sniff(content).contentType
        next.uploadedDate = now
        return next
    }

    /// Why `author` may not attach this artifact to a new comment, or nil when they may: it must be theirs,
    /// uploaded, and not attached to another comment yet.
    public func refusalToAttach(by author: Actor) -> DomainError? {
        if uploader != author { return .notFound(id.displayID) }
        if !isUploaded { return .invalidField("artifacts", message: "\(id.displayID) has no content yet: upload it first") }
        if let comment, let conversation {
            return .invalidField("artifacts", message: "\(id.displayID) is already attached to \(ObjectID(.comment, comment, parent: conversation).don)")
        }
        return nil
    }

    /// The last path component of an uploaded name, without control characters, at most 200 characters;
    /// "file" when nothing is left.
    public static func cleanName(_ name: String) -> String {
        let last = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let kept = String(String.UnicodeScalarView(last.unicodeScalars.filter {
            !CharacterSet.controlCharacters.contains($0) && $0 != "\"" })).trimmingCharacters(in: .whitespaces)
        let short = String(kept.prefix(200))
        return short.isEmpty || short == "." || short == ".." ? "file" : short
    }

    /// Whether a browser may show it in the page (`<img>`): raster images only. Everything else, HTML and SVG
    /// included, is served as a download.
    public var isPreviewableImage: Bool { FileKind(contentType: contentType)?.isRasterImage ?? false }
}

/// How many files a message may carry and how large each may be (beyond: 413).
public struct AttachmentLimits: Sendable, Equatable {
    public var maxBytes: Int
    public var maxFilesPerMessage: Int

    public init(maxBytes: Int = 10 << 20, maxFilesPerMessage: Int = 5) {
        self.maxBytes = maxBytes
        self.maxFilesPerMessage = maxFilesPerMessage
    }

    public func fileTooLarge(_ name: String) -> DomainError {
        .tooLarge("'\(name)' is larger than \(Self.describe(maxBytes)), the largest file accepted")
    }

    public var tooManyFiles: DomainError {
        .tooLarge("a message carries at most \(maxFilesPerMessage) files")
    }

    /// `10 MiB`, `512 KiB`, `300 bytes`.
    public static func describe(_ bytes: Int) -> String {
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }
}

/// A file's kind as its first bytes tell it (the WHATWG MIME-sniffing signatures, the ones a helpdesk sees),
/// so that a file named `photo.png` holding HTML is never served as an image, nor anything as HTML.
public enum FileKind: String, Sendable, CaseIterable {
    case png, jpeg, gif, webp, pdf, zip, gzip, html, svg, xml, text, unknown

    public var contentType: String {
        switch self {
        case .png: "image/png"
        case .jpeg: "image/jpeg"
        case .gif: "image/gif"
        case .webp: "image/webp"
        case .pdf: "application/pdf"
        case .zip: "application/zip"
        case .gzip: "application/gzip"
        // Stored as what they are, so agents know; never served as such (see `Artifact.isPreviewableImage`).
        case .html: "text/html"
        case .svg: "image/svg+xml"
        case .xml: "text/xml"
        case .text: "text/plain"
        case .unknown: "application/octet-stream"
        }
    }

    public init?(contentType: String) {
        guard let kind = FileKind.allCases.first(where: { $0.contentType == contentType }) else { return nil }
        self = kind
    }

    public var isRasterImage: Bool { [.png, .jpeg, .gif, .webp].contains(self) }

    public static func sniff(_ bytes: [UInt8]) -> FileKind {
        func starts(_ prefix: [UInt8]) -> Bool { bytes.count >= prefix.count && Array(bytes.prefix(prefix.count)) == prefix }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts(Array("RIFF".utf8)), bytes.count >= 12, Array(bytes[8..<12]) == Array("WEBP".utf8) { return .webp }
        if starts(Array("%PDF-".utf8)) { return .pdf }
        if starts([0x50, 0x4B, 0x03, 0x04]) { return .zip }
        if starts([0x1F, 0x8B, 0x08]) { return .gzip }
        // Markup: what a browser would sniff as a document, looked for after leading blanks, any case.
        let head = String(decoding: bytes.prefix(1024), as: UTF8.self)
        let lowered = head.drop(while: { $0.isWhitespace || $0 == "\u{FEFF}" }).lowercased()
        for tag in ["<!doctype html", "<html", "<head", "<body", "<script", "<iframe", "<h1", "<div", "<font", "<table", "<a ",
                    "<style", "<title", "<b>", "<br", "<p>", "<p ", "<!--"] where lowered.hasPrefix(tag) {
            return .html
        }
        if lowered.contains("<svg") { return .svg }
        if lowered.hasPrefix("<?xml") { return .xml }
        // Text: valid UTF-8 with no control bytes other than tab, newlines and form feed.
        let sample = Array(bytes.prefix(4096))
        let controls = sample.contains { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D && $0 != 0x0C }
        guard !controls, !sample.isEmpty else { return .unknown }
        // A sample cut inside a character: up to three bytes of it dropped.
        let cuts = sample.count < bytes.count ? 0...3 : 0...0
        return cuts.contains { String(validating: sample.dropLast($0), as: UTF8.self) != nil } ? .text : .unknown
    }
}
