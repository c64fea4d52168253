import Hummingbird
import NIOCore
import ParleyApp
import ParleyCore

/// The request context of every Parley route: Hummingbird's core storage and the authenticated caller.
public struct ParleyRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var caller: Caller?
    /// The request's `If-Match` header, a precondition on a conversation's version.
    public var ifMatch: String?
    /// The peer's address.
    public let remoteAddress: SocketAddress?
    /// The client's address as limits count it: the peer's, or behind a trusted proxy the forwarded client's
    /// (set by `AuthenticationMiddleware`; "local" in router tests, which have no socket).
    var clientAddress: String
    /// The signed-in browser of an inbox or widget page (from its cookie; never used by the API).
    var webSession: WebSession?
    /// The SHA-256 of the API token the request was authenticated with (`auth-tokens.delete` without an id
    /// revokes it; event streams check it as they go).
    var tokenHash: String?
    /// `scheme://host[:port]` as the client reached this server (links the API hands out start with it).
    var origin: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        // Worked out once per request by `AuthenticationMiddleware`, which every route goes through.
        clientAddress = "local"
        caller = nil
        ifMatch = nil
        webSession = nil
        tokenHash = nil
        origin = "http://localhost"
    }

    /// Refuses a request larger than DevRev's limit before reading it.
    public var maxUploadSize: Int { 1 << 20 }

    func requireCaller() throws(APIError) -> Caller {
        guard let caller else { throw APIError.unauthenticated }
        return caller
    }

    func requireAgent() throws(APIError) -> Caller {
        let caller = try requireCaller()
        guard caller.isAgent else { throw APIError.forbidden("this endpoint is for the support team, not customers") }
        return caller
    }

    func requireAdmin() throws(APIError) -> Caller {
        let caller = try requireCaller()
        guard caller.isAdmin else { throw APIError.forbidden("this endpoint needs an admin token") }
        return caller
    }
}
