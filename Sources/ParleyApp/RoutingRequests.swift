import ParleyCore
import ParleyStore

extension RoutingRequest {
    /// The account's default owner, if that dev user is active (an inactive one gets no conversations); read
    /// from the store unless `known` has it.
    public static func activeDefaultOwner(of account: Account?, in store: any ParleyStore, known: [Int: DevUser] = [:]) async throws -> Int? {
        guard let owner = account?.defaultOwner else { return nil }
        var user = known[owner]
        if user == nil { user = try await store.object(DevUser.self, number: owner) }
        return user?.state == .active ? owner : nil
    }

    /// What routing knows of a stored conversation: its title, its first public message, its org. Used to
    /// route an approved conversation, and by `parley routing simulate` to replay stored ones.
    public static func replaying(_ conversation: Conversation, store: any ParleyStore,
                                 keepPriority: Bool) async throws -> RoutingRequest {
        var first = TimelineQuery(conversation: conversation.number, viewer: .system)
        first.page.limit = 1
        first.visibilities = [.external, .public]
        var body = conversation.description ?? ""
        if case .comment(let entry)? = try await store.listTimeline(first).items.first { body = entry.body }
        var account: Account?
        if let number = conversation.account { account = try await store.object(Account.self, number: number) }
        return RoutingRequest(
            title: conversation.title, body: body, channel: conversation.sourceChannel, revOrg: conversation.revOrg,
            tags: conversation.tags.map(\.tag), orgDefaultOwner: try await activeDefaultOwner(of: account, in: store),
            orgCreatedAt: account?.createdDate, explicitPriority: keepPriority ? conversation.priority : nil)
    }
}
