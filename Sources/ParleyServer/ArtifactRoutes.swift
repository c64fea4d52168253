import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

/// DevRev's artifacts API: `artifacts.prepare` gives an id, an upload URL and the form fields to post the
/// file with (as DevRev's storage does: a plain `multipart/form-data` post, authorised by its key, not by a
/// token); `artifacts.get`, `artifacts.list` (a comment's files) and `artifacts.locate`, a download URL valid
/// for ten minutes that carries its own signature. A comment takes its files with `artifacts` on
/// `timeline-entries.create`.
extension ParleyAPI {
    /// How long a `artifacts.locate` URL stays valid.
    static let downloadURLLifetime = 600.0

    func registerArtifacts(on router: RPCRouter) {
        router.rpc("artifacts.prepare") { fields, context in
            let caller = try context.requireCaller()
            let key = TokenSecret.generate(prefix: "upload_")
            let artifact = try await app.prepareArtifact(fileName: try fields.requiredString("file_name"),
                                                         uploadKeyHash: TokenSecret.hash(key), by: caller)
            let formData: [JSONValue] = [("artifact", artifact.id.don), ("key", key)].map { .object(["key": .string($0.0), "value": .string($0.1)]) }
            return .object(["id": .string(artifact.id.don), "url": .string(context.origin + "/artifacts.upload"),
                            "form_data": .array(formData)])
        }
        router.rpc("artifacts.get", readable: true) { fields, context in
            let caller = try context.requireCaller()
            let artifact = try await app.visibleArtifact(try fields.requiredID("id", [.artifact]).number, for: caller)
            return .object(["artifact": Self.artifact(artifact)])
        }
        router.rpc("artifacts.list", readable: true) { fields, context in
            let caller = try context.requireCaller()
            let parent = try fields.requiredID("parent_id", [.comment])
            return .object(["artifacts": .array(try await app.artifacts(of: parent, for: caller).map(Self.artifact))])
        }
        router.rpc("artifacts.locate", readable: true) { fields, context in
            let caller = try context.requireCaller()
            let artifact = try await app.visibleArtifact(try fields.requiredID("id", [.artifact]).number, for: caller)
            guard artifact.isUploaded else { throw APIError.notFound(artifact.id.displayID) }
            let expires = Int(clock.now().timeIntervalSince1970 + Self.downloadURLLifetime)
            let signature = try await downloadSignature(artifact.number, expires: expires)
            return .object(["url": .string("\(context.origin)/artifacts.download?id=\(artifact.id.displayID)&expires=\(expires)&signature=\(signature)"),
                            "expires_at": .string(Timestamp.format(Date(timeIntervalSince1970: Double(expires))))])
        }
        // The upload a prepare answered: the form's fields, then the file (any field name; the first file).
        router.router.post("/artifacts.upload") { request, context in
            guard let boundary = MultipartForm.boundary(of: request.headers[.contentType]) else {
                throw APIError(.badRequest, type: "invalid_content_type", message: "post the file as multipart/form-data with the prepared form's fields")
            }
            let body = try await request.body.collect(upTo: app.attachmentLimits.maxBytes + 64 * 1024)
            let form = try MultipartForm(body, boundary: boundary)
            let field = { (name: String) in form.fields.first { $0.name == name }?.value }
            guard let id = field("artifact") else { throw APIError.missing("artifact") }
            guard let key = field("key") else { throw APIError.missing("key") }
            guard let file = form.files.first else { throw APIError.missing("file") }
            let number = try Fields.parseID(id, field: "artifact", [.artifact]).number
            let artifact = try await app.uploadPreparedArtifact(number, uploadKeyHash: TokenSecret.hash(key), content: file.content)
            return JSONResponse.make(status: .ok, .object(["artifact": Self.artifact(artifact)]))
        }
        // A download: with the signature `artifacts.locate` made, or as an authenticated caller who may see it.
        router.router.get("/artifacts.download") { request, context in
            let query = FormData(encoded: request.uri.query ?? "")
            guard let id = query.text("id") else { throw APIError.missing("id") }
            let number = try Fields.parseID(id, field: "id", [.artifact]).number
            if let signature = query.text("signature") {
                let notFound = APIError.notFound(ObjectID(.artifact, number).displayID)
                guard let expires = query.text("expires").flatMap(Int.init), Double(expires) >= clock.now().timeIntervalSince1970,
                      try await downloadSignature(number, expires: expires) == signature,
                      let artifact = try await store.artifacts(numbers: [number])[number],
                      let content = try await store.artifactContent(number: number) else {
                    throw notFound
                }
                return Self.download(artifact, content)
            }
            let (artifact, content) = try await app.artifactContent(number, for: try context.requireCaller())
            return Self.download(artifact, content)
        }
    }

    /// The signature of a download URL: HMAC-SHA256 of the artifact number and the expiry under a key kept
    /// in the database (made on first use), so that a URL one server made is good on every server.
    func downloadSignature(_ number: Int, expires: Int) async throws -> String {
        let name = "artifact_url_key"
        var key = try await store.setting(name)
        if key == nil {
            try await store.setSetting(name, value: TokenSecret.generate(prefix: ""))
            key = try await store.setting(name)
        }
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(number).\(expires)".utf8), using: SymmetricKey(data: Array((key ?? "").utf8)))
        return TokenSecret.hex(Array(mac))
    }

    /// An artifact as DevRev's `artifact`: its id and `file` (type, name, size), who uploaded it and when.
    static func artifact(_ artifact: Artifact) -> JSONValue {
        var fields = Wire.atom(artifact.id)
        fields["file"] = .object(["type": .string(artifact.contentType), "name": .string(artifact.fileName), "size": .int(artifact.size)])
        fields["created_by"] = .object(Wire.atom(artifact.uploader.objectID))
        fields["created_date"] = Timestamp.json(artifact.createdDate)
        return .object(fields)
    }

    /// A file as a response that no browser runs: raster images may show in a page (`inline`), everything
    /// else (HTML and SVG above all) is an `attachment` typed `application/octet-stream`; `nosniff` and a
    /// sandboxing CSP either way, so that even a file opened directly runs no script.
    static func download(_ artifact: Artifact, _ content: [UInt8]) -> Response {
        let image = artifact.isPreviewableImage
        var headers = HTTPFields()
        headers[.contentType] = image ? artifact.contentType : "application/octet-stream"
        headers[.contentDisposition] = (image ? "inline" : "attachment") + "; " + contentDispositionName(artifact.fileName)
        headers[.xContentTypeOptions] = "nosniff"
        headers[.contentSecurityPolicy] = "default-src 'none'; img-src 'self'; sandbox"
        headers[.cacheControl] = "private, no-store"
        headers[.crossOriginResourcePolicy] = "same-origin"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: content)))
    }

    /// `filename="…"` in ASCII (others as `_`) and `filename*=UTF-8''…` with the exact name (RFC 6266).
    static func contentDispositionName(_ name: String) -> String {
        let ascii = String(name.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0 != "\"" && $0 != "\\" ? Character($0) : "_" })
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "!#$&+-.^_`|~")
        let encoded = name.addingPercentEncoding(withAllowedCharacters: allowed) ?? ascii
        return "filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }
}
