import Hummingbird
import ParleyApp
import ParleyCore
import ParleyJSON
import ParleyStore

extension ParleyAPI {
    static let patType = "urn:devrev:params:oauth:token-type:pat"
    static let sessionType = "urn:devrev:params:oauth:token-type:session"

    func registerTokens(on router: RPCRouter) {
        router.rpc("auth-tokens.create", created: true) { fields, context in
            let caller = try context.requireAdmin()
            let requested = try fields.string("requested_token_type") ?? Self.patType
            let now = clock.now()
            let subject: Actor
            let kind: TokenKind
            let lifetime: Int
            switch requested {
            case Self.patType:
                let id = try fields.id("act_as", [.devUser]) ?? caller.actor.objectID
                subject = .devUser(try await devUser(id, field: "act_as").number)
                kind = .pat
                lifetime = try fields.int("expires_in") ?? 365 * 24 * 3600
            case Self.sessionType:
                guard let info = try fields.object("rev_info") else { throw APIError.missing("rev_info") }
                lifetime = try fields.int("expires_in") ?? 24 * 3600
                guard lifetime > 0 else { throw APIError.invalidField("expires_in", "must be a positive number of seconds") }
                subject = .revUser(try await sessionUser(info, caller: caller).number)
                kind = .session
            default:
                throw APIError.invalidEnum("requested_token_type", requested, allowed: [Self.patType, Self.sessionType])
            }
            guard lifetime > 0 else { throw APIError.invalidField("expires_in", "must be a positive number of seconds") }
            let token = TokenSecret.generate(prefix: kind == .pat ? "parley_pat_" : "parley_session_")
            try await app.issueToken(hash: TokenSecret.hash(token), token: StoredToken(
                subject: subject, kind: kind, createdDate: now, expiresAt: now.addingTimeInterval(Double(lifetime))))
            return .object([
                "access_token": .string(token),
                "token_type": .string("bearer"),
                "expires_in": .int(lifetime),
                "subject": .string(subject.objectID.don),
            ])
        }
    }

    /// The rev user a session token is for: `user_id`, or the one whose external ref is `user_ref`
    /// (created with `user_traits` if there is none yet, in the org whose external ref is `account_ref`/`org_ref`).
    private func sessionUser(_ info: Fields, caller: Caller) async throws -> RevUser {
        if let id = try info.id("user_id", [.revUser]) {
            return try await requireExists(RevUser.self, id, field: "rev_info.user_id")
        }
        guard let reference = try info.string("user_ref"), !reference.isEmpty else {
            throw APIError.missing("rev_info.user_id")
        }
        if let existing = try await store.find(RevUser.self, key: "external_ref", value: reference).first { return existing }
        let traits = try info.object("user_traits") ?? Fields([:])
        var revOrg: Int?
        for key in ["account_ref", "org_ref", "workspace_ref"] {
            guard let orgReference = try info.string(key) else { continue }
            if let org = try await store.find(RevOrg.self, key: "external_ref", value: orgReference).first {
                revOrg = org.number
            } else if let account = try await store.find(Account.self, key: "external_ref", value: orgReference).first {
                revOrg = account.defaultRevOrg
            }
            if revOrg != nil { break }
        }
        return try await createRevUser(
            displayName: try traits.string("display_name"), fullName: try traits.string("full_name"),
            email: try traits.string("email"), externalRef: reference, revOrg: revOrg,
            phoneNumbers: try traits.strings("phone_numbers") ?? [], description: try traits.string("description"),
            caller: caller.actor)
    }
}
