import Hummingbird
import ParleyApp
import ParleyCore
import ParleyStore

/// Files on the pages: a message's attachments (images previewed, every file a link), the file picker of a
/// reply form, and the download routes of the inbox and the widget (each through its own signed-in cookie,
/// with the application layer's visibility rule: an internal note's files never reach a customer).
extension WebPages {
    /// A message's files, under its text: raster images shown small (a link opens them whole), others as a
    /// download link with their size. `base`: `/inbox/files` or `/widget/files`.
    func attachments(_ entry: TimelineEntry, _ references: References, base: String) -> HTML {
        guard !entry.artifacts.isEmpty, !entry.isDeleted else { return .empty }
        let items = entry.artifacts.compactMap { number -> HTML? in
            guard let artifact = references.artifacts[number] else { return nil }
            let link = "\(base)/\(number)"
            let size = AttachmentLimits.describe(artifact.size)
            if artifact.isPreviewableImage {
                return """
                <a class="attachment image" href="\(link)" target="_blank" rel="noopener" data-artifact="\(artifact.id.displayID)"><img src="\(link)" alt="\(artifact.fileName)" loading="lazy"><span class="small muted">\(artifact.fileName) · \(size)</span></a>
                """
            }
            return """
            <a class="attachment file" href="\(link)" download data-artifact="\(artifact.id.displayID)">↓ \(artifact.fileName) <span class="small muted">· \(size)</span></a>
            """
        }
        return "<div class=\"attachments\">\(HTML.join(items))</div>"
    }

    /// The reply form's file picker (the page's script adds drag and drop and pasted screenshots to it).
    func filePicker(_ limits: AttachmentLimits) -> HTML {
        """
        <label class="files small muted" data-files>Attach files (up to \(limits.maxFilesPerMessage), \(AttachmentLimits.describe(limits.maxBytes)) each; drop or paste them here)
          <input type="file" name="files" multiple></label>
        """
    }
}

extension WebInterface {
    func registerAttachments(on router: Router<ParleyRequestContext>) {
        router.get("/inbox/files/:number") { _, context in
            guard let session = context.webSession, session.caller.isAgent else { return Self.redirect("/inbox/sign-in") }
            return try await file(context, session: session)
        }
        router.get("/widget/files/:number") { _, context in
            guard let session = context.webSession else { return Self.page(pages.message(title: "Support", text: "This support session has ended."), status: .unauthorized) }
            return try await file(context, session: session)
        }
    }

    private func file(_ context: ParleyRequestContext, session: WebSession) async throws -> Response {
        let number = try context.parameters.require("number", as: Int.self)
        let (artifact, content) = try await api.app.artifactContent(number, for: session.caller)
        return ParleyAPI.download(artifact, content)
    }

    /// The files of a submitted form stored (each checked against the limits), for the comment to carry.
    func uploadedArtifacts(_ form: FormData, by caller: Caller) async throws -> [Int] {
        guard form.files.count <= attachmentLimits.maxFilesPerMessage else { throw attachmentLimits.tooManyFiles }
        var numbers: [Int] = []
        for file in form.files {
            numbers.append(try await api.app.uploadArtifact(fileName: file.fileName, content: file.content, by: caller).number)
        }
        return numbers
    }
}
