import ParleyCore
import ParleyStore

/// Attachments: files uploaded, then attached to a comment, whose readers alone may download them.
extension ParleyApp {
    /// `artifacts.prepare`: an artifact without content, to be uploaded into with the key whose hash is
    /// given (the upload is a plain form post, as to DevRev's storage, carrying that key, not a token).
    public func prepareArtifact(fileName: String, uploadKeyHash: String, by caller: Caller) async throws -> Artifact {
        guard !fileName.trimmed.isEmpty else { throw DomainError.missingField("file_name") }
        let now = clock.now()
        let uploader = caller.actor
        return try await store.createArtifact(content: nil) { number in
            var artifact = Artifact(number: number, fileName: fileName, uploader: uploader, at: now)
            artifact.uploadKeyHash = uploadKeyHash
            return artifact
        }
    }

    /// Stores the content of a prepared artifact, for whoever holds its upload key (once).
    public func uploadPreparedArtifact(_ number: Int, uploadKeyHash: String, content: [UInt8]) async throws -> Artifact {
        let now = clock.now()
        let limits = attachmentLimits
        let notFound = DomainError.notFound(ObjectID(.artifact, number).displayID)
        guard content.count <= limits.maxBytes else { throw limits.fileTooLarge("the file") }
        return try await store.uploadArtifact(number: number, content: content) { artifact in
            guard let expected = artifact.uploadKeyHash, expected == uploadKeyHash else { throw notFound }
            var stored = try artifact.storing(content, at: now, limits: limits)
            stored.uploadKeyHash = nil
            return stored
        }
    }

    /// A file uploaded in one step (the inbox and widget forms): prepared and stored together.
    public func uploadArtifact(fileName: String, content: [UInt8], by caller: Caller) async throws -> Artifact {
        let now = clock.now()
        let limits = attachmentLimits
        let uploader = caller.actor
        guard content.count <= limits.maxBytes else { throw limits.fileTooLarge(Artifact.cleanName(fileName)) }
        guard !content.isEmpty else { throw DomainError.invalidField("file", message: "'\(Artifact.cleanName(fileName))' is empty") }
        return try await store.createArtifact(content: content) { number in
            try Artifact(number: number, fileName: fileName, uploader: uploader, at: now).storing(content, at: now, limits: limits)
        }
    }

    /// Keeps a received mail as it came (`message.eml`), for agents only (`Artifact.isOriginalMessage`).
    func storeOriginalMessage(_ raw: [UInt8]) async throws -> Artifact {
        let now = clock.now()
        let limits = AttachmentLimits(maxBytes: max(attachmentLimits.maxBytes, raw.count), maxFilesPerMessage: 1)
        return try await store.createArtifact(content: raw) { number in
            var artifact = try Artifact(number: number, fileName: "message.eml", uploader: .system, at: now).storing(raw, at: now, limits: limits)
            artifact.isOriginalMessage = true
            return artifact
        }
    }

    /// The artifact, if `caller` may see it: a received mail as it came, agents only; its uploader until it is attached; then whoever may read the
    /// comment it is attached to (`visibleEntry`: a customer never reaches a note's files nor another
    /// customer's conversation). Otherwise `notFound`, whatever the reason.
    public func visibleArtifact(_ number: Int, for caller: Caller) async throws -> Artifact {
        let notFound = DomainError.notFound(ObjectID(.artifact, number).displayID)
        guard let artifact = try await store.artifacts(numbers: [number])[number] else { throw notFound }
        if artifact.isOriginalMessage == true {
            guard caller.isAgent else { throw notFound }
            return artifact
        }
        guard let comment = artifact.comment, let conversation = artifact.conversation else {
            guard artifact.uploader == caller.actor else { throw notFound }
            return artifact
        }
        do {
            let entry = try await visibleEntry(ObjectID(.comment, comment, parent: conversation), for: caller)
            guard !entry.isDeleted, entry.artifacts.contains(number) else { throw notFound }
        } catch DomainError.notFound {
            throw notFound
        }
        return artifact
    }

    /// A file's content, for those who may see it (an artifact not uploaded yet has none: `notFound`).
    public func artifactContent(_ number: Int, for caller: Caller) async throws -> (Artifact, [UInt8]) {
        let artifact = try await visibleArtifact(number, for: caller)
        guard artifact.isUploaded, let content = try await store.artifactContent(number: number) else {
            throw DomainError.notFound(artifact.id.displayID)
        }
        return (artifact, content)
    }

    /// The files of a comment (`artifacts.list` with a comment as parent), in the order attached.
    public func artifacts(of comment: ObjectID, for caller: Caller) async throws -> [Artifact] {
        let entry = try await visibleEntry(comment, for: caller)
        guard !entry.isDeleted else { return [] }
        let found = try await store.artifacts(numbers: Set(entry.artifacts))
        return entry.artifacts.compactMap { found[$0] }
    }

    /// Checks, before a comment is written, the files it names: at most the limit, each `caller`'s own,
    /// uploaded and attached nowhere yet (the store checks again in the comment's transaction).
    /// Returns them in order.
    func checkAttachable(_ numbers: [Int], by caller: Caller) async throws -> [Artifact] {
        guard !numbers.isEmpty else { return [] }
        guard numbers.count <= attachmentLimits.maxFilesPerMessage else { throw attachmentLimits.tooManyFiles }
        guard Set(numbers).count == numbers.count else { throw DomainError.invalidField("artifacts", message: "an artifact is named twice") }
        let found = try await store.artifacts(numbers: Set(numbers))
        for number in numbers {
            guard let artifact = found[number] else { throw DomainError.invalidID(field: "artifacts", value: ObjectID(.artifact, number).don) }
            if let refusal = artifact.refusalToAttach(by: caller.actor) {
                if case .notFound = refusal { throw DomainError.invalidID(field: "artifacts", value: artifact.id.don) }
                throw refusal
            }
        }
        return numbers.compactMap { found[$0] }
    }
}
