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
            let lifetime: Int
            let token: String
            let number: Int
            switch requested {
            case Self.patType:
                let id = try fields.id("act_as", [.devUser]) ?? caller.actor.objectID
                subject = .devUser(id.number)
                lifetime = try fields.int("expires_in") ?? 365 * 24 * 3600
                guard lifetime > 0 else { throw APIError.invalidField("expires_in", "must be a positive number of seconds") }
                token = TokenSecret.generate(prefix: "parley_pat_")
                number = try await app.issuePersonalToken(hash: TokenSecret.hash(token), for: id.number, at: now,
                                                          expiresAt: now.addingTimeInterval(Double(lifetime)), hint: TokenSecret.hint(token))
            case Self.sessionType:
                guard let info = try fields.object("rev_info") else { throw APIError.missing("rev_info") }
                lifetime = try fields.int("expires_in") ?? 24 * 3600
                guard lifetime > 0 else { throw APIError.invalidField("expires_in", "must be a positive number of seconds") }
                subject = .revUser(try await sessionUser(info, caller: caller).number)
                token = TokenSecret.generate(prefix: "parley_session_")
                number = try await app.issueToken(hash: TokenSecret.hash(token), token: StoredToken(
                    subject: subject, kind: .session, createdDate: now, expiresAt: now.addingTimeInterval(Double(lifetime)),
                    hint: TokenSecret.hint(token)))
            default:
                throw APIError.invalidEnum("requested_token_type", requested, allowed: [Self.patType, Self.sessionType])
            }
            return .object([
                "access_token": .string(token),
                "token_type": .string("bearer"),
                "expires_in": .int(lifetime),
                "subject": .string(subject.objectID.don),
                "token_id": .string(ObjectID(.token, number).don),
            ])
        }

        // Token metadata, never a secret: an admin lists anyone's, an agent their own (ParleyApp decides).
        router.rpc("auth-tokens.list", readable: true) { fields, context in
            let caller = try context.requireAgent()
            let subject: Actor
            if let id = try fields.id("subject", [.devUser, .revUser]) {
                subject = try await tokenSubject(id)
            } else {
                subject = caller.actor
            }
            let kinds: Set<TokenKind>?
            if let type = try fields.string("requested_token_type") {
                guard let kind = Self.tokenKinds.first(where: { $0.value == type })?.key else {
                    throw APIError.invalidEnum("requested_token_type", type, allowed: Self.tokenKinds.values.sorted())
                }
                kinds = [kind]
            } else {
                kinds = nil
            }
            let now = clock.now()
            let tokens = try await app.tokens(of: subject, by: caller).filter { kinds?.contains($0.token.kind) ?? true }
            return .object(["tokens": .array(tokens.map { Self.render($0, now: now) })])
        }

        // `token_id`: that token (an admin's: any; an agent's: their own); without it, the token of this request.
        router.rpc("auth-tokens.delete") { fields, context in
            let caller = try context.requireCaller()
            if let id = try fields.id("token_id", [.token]) {
                try await app.revokeToken(number: id.number, by: caller, at: clock.now())
            } else if let hash = context.tokenHash {
                try await app.revokeCurrentToken(hash: hash)
            } else {
                throw APIError.missing("token_id")
            }
            return .object([:])
        }
    }

    /// DevRev's `requested_token_type` for each kind of token (an inbox browser session is a dev user's session).
    static let tokenKinds: [TokenKind: String] = [
        .pat: patType, .session: sessionType, .webSession: "urn:devrev:params:oauth:token-type:session:dev",
    ]

    /// A token's metadata as DevRev's `auth-token`: never its secret, nor its hash.
    static func render(_ numbered: NumberedToken, now: Date) -> JSONValue {
        let token = numbered.token
        let id = ObjectID(.token, numbered.number)
        let status = token.revoked ? "revoked" : (token.expiresAt.map { $0 <= now } ?? false) ? "expired" : "active"
        var fields = Wire.atom(id)
        fields["requested_token_type"] = .optional(tokenKinds[token.kind])
        fields["status"] = .string(status)
        fields["subject"] = .string(token.subject.objectID.don)
        fields["issued_at"] = Timestamp.json(token.createdDate)
        fields["created_date"] = Timestamp.json(token.createdDate)
        fields["expires_at"] = Timestamp.json(token.expiresAt)
        fields["token_hint"] = .optional(token.hint)
        return .object(fields)
    }

    /// The holder `auth-tokens.list` asks about, which must exist.
    private func tokenSubject(_ id: ObjectID) async throws -> Actor {
        switch id.kind {
        case .devUser: return .devUser(try await devUser(id, field: "subject").number)
        default: return .revUser(try await requireExists(RevUser.self, id, field: "subject").number)
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
